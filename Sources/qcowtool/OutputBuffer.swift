import ByteStreams
import SystemPackage

/// Text for one file descriptor, written in 64 KiB pieces: a command that prints millions of
/// lines as it finds them (check's messages, map's records) makes one system call per piece,
/// not one per line, and holds no more than one piece.
final class OutputBuffer {
    /// The descriptor written to (standard output or standard error).
    let descriptor: FileDescriptor
    private var bytes: [UInt8] = []
    private static let capacity = 1 << 16

    /// A buffer for `descriptor`.
    init(descriptor: FileDescriptor) {
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

    /// Writes out what is buffered (`SystemCall.writeAll`: short writes and `EINTR` are
    /// retried; a write error, such as a closed pipe, drops it, as for unbuffered standard
    /// error).
    func flush() {
        bytes.withUnsafeBytes { try? SystemCall.writeAll($0, to: descriptor, path: nil) }
        bytes.removeAll(keepingCapacity: true)
    }
}
