#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Text for one file descriptor, written in 64 KiB pieces: a command that prints millions of
/// lines as it finds them (check's messages, map's records) makes one system call per piece,
/// not one per line, and holds no more than one piece.
final class OutputBuffer {
    /// The descriptor written to (1 standard output, 2 standard error).
    let descriptor: Int32
    private var bytes: [UInt8] = []
    private static let capacity = 1 << 16

    /// A buffer for `descriptor`.
    init(descriptor: Int32) {
        self.descriptor = descriptor
        bytes.reserveCapacity(Self.capacity)
    }

    /// Adds `text`, writing the buffer out when it is full.
    func write(_ text: String) {
        bytes.append(contentsOf: text.utf8)
        if bytes.count >= Self.capacity { flush() }
    }

    /// Lets `body` append bytes, writing the buffer out when it is full.
    func append(_ body: (inout [UInt8]) -> Void) {
        body(&bytes)
        if bytes.count >= Self.capacity { flush() }
    }

    /// Writes out what is buffered (a write error, such as a closed pipe, drops it, as for
    /// unbuffered standard error).
    func flush() {
        bytes.withUnsafeBytes { writeAll(descriptor, $0) }
        bytes.removeAll(keepingCapacity: true)
    }
}

/// `write(2)` until `raw` is out, retrying on EINTR; stops at the first error.
private func writeAll(_ descriptor: Int32, _ raw: UnsafeRawBufferPointer) {
    guard let base = raw.baseAddress else { return }
    var done = 0
    while done < raw.count {
        let n = write(descriptor, base + done, raw.count - done)
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { return }
        done += n
    }
}
