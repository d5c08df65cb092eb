// A minimal HTTP/1.1 server on 127.0.0.1 that answers every GET with one file, optionally paced
// to a fixed rate, and notes when it sends the first byte of the body: the start of
// StreamBenchmark's "bytes start arriving → instance ready" interval. DownloadBenchmark uses it too.
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Seconds on CLOCK_MONOTONIC, the clock both the server thread and the benchmark read.
public func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// Serves `path` to every request, one connection at a time, on a thread of its own.
public final class ArchiveServer: @unchecked Sendable {
    /// The port it listens on (chosen by the kernel).
    public let port: UInt16
    private let listener: Int32
    private let path: String
    private let lock = NSLock()
    private var pacing: Double?
    private var firstByte: Double?

    /// Listens on 127.0.0.1 and starts serving `path`.
    public init(serving path: String) throws {
        self.path = path
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw FixtureError("socket: errno \(errno)") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 16) == 0 else { close(fd); throw FixtureError("bind/listen: errno \(errno)") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        listener = fd
        port = UInt16(bigEndian: address.sin_port)
        Thread.detachNewThread { [self] in acceptLoop() }
    }

    /// The body's pace in bytes per second for the next requests (nil: as fast as loopback goes).
    public func setPace(bytesPerSecond: Double?) {
        lock.withLock { pacing = bytesPerSecond }
    }

    /// Forgets the last first-byte time; call before each request.
    public func resetFirstByte() { lock.withLock { firstByte = nil } }

    /// When the body's first byte of the latest request was sent (monotonic seconds).
    public var firstByteSent: Double? { lock.withLock { firstByte } }

    private func acceptLoop() {
        while true {
            let connection = accept(listener, nil, nil)
            if connection < 0 {
                if errno == EINTR { continue }
                return
            }
            serve(connection)
            close(connection)
        }
    }

    private func serve(_ connection: Int32) {
        // The request head: read until the blank line (GET only, no body).
        var head: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !head.ends(with: [13, 10, 13, 10]) {
            let count = buffer.withUnsafeMutableBytes { recv(connection, $0.baseAddress, $0.count, 0) }
            if count <= 0 || head.count > 65536 { return }
            head.append(contentsOf: buffer[0..<count])
        }
        let file = open(path, O_RDONLY | O_CLOEXEC)
        guard file >= 0 else { return }
        defer { close(file) }
        var status = stat()
        guard fstat(file, &status) == 0 else { return }
        let size = Int(status.st_size)
        let header = "HTTP/1.1 200 OK\r\nContent-Type: application/zstd\r\nContent-Length: \(size)\r\nConnection: close\r\n\r\n"
        guard sendAll(connection, Array(header.utf8)[...]) else { return }

        let pace = lock.withLock { pacing }
        var chunk = [UInt8](repeating: 0, count: 256 << 10)
        var sent = 0
        let start = monotonicSeconds()
        while sent < size {
            if let pace {
                let due = start + Double(sent) / pace
                let wait = due - monotonicSeconds()
                if wait > 0 { usleep(useconds_t(wait * 1e6)) }
            }
            let count = chunk.withUnsafeMutableBytes { pread(file, $0.baseAddress, min($0.count, size - sent), off_t(sent)) }
            guard count > 0 else { return }
            if sent == 0 { lock.withLock { firstByte = monotonicSeconds() } }
            guard sendAll(connection, chunk[0..<count]) else { return }
            sent += count
        }
    }

    private func sendAll(_ connection: Int32, _ bytes: ArraySlice<UInt8>) -> Bool {
        var rest = bytes
        while !rest.isEmpty {
            let count = rest.withUnsafeBytes { send(connection, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { return false }
            rest = rest.dropFirst(count)
        }
        return true
    }
}

private extension Array where Element == UInt8 {
    func ends(with suffix: [UInt8]) -> Bool { count >= suffix.count && Array(self[(count - suffix.count)...]) == suffix }
}
