import CSystemShim
import SystemPackage

/// A ``ByteSource`` reading a file descriptor from its current position.
///
/// The descriptor is borrowed: closing it stays the caller's job.
public struct FileSource: ByteSource, Sendable {
    /// The descriptor read from.
    public let descriptor: FileDescriptor
    /// The path, for error messages only.
    public let path: String?
    /// Bytes read so far.
    public private(set) var bytesRead: UInt64 = 0

    /// A source reading `descriptor`; `path` only names it in errors.
    public init(_ descriptor: FileDescriptor, path: String? = nil) {
        self.descriptor = descriptor
        self.path = path
    }

    /// Reads the next bytes (retrying on `EINTR`); throws ``SystemCallError``.
    public mutating func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let n = try SystemCall.readAvailable(descriptor, into: buffer, path: path)
        bytesRead &+= UInt64(n)
        return n
    }
}

/// A ``ByteSink`` writing to a file descriptor at its current position.
///
/// The descriptor is borrowed: closing it stays the caller's job.
public struct FileSink: ByteSink, Sendable {
    /// The descriptor written to.
    public let descriptor: FileDescriptor
    /// The path, for error messages only.
    public let path: String?
    /// Bytes written so far.
    public private(set) var bytesWritten: UInt64 = 0

    /// A sink writing to `descriptor`; `path` only names it in errors.
    public init(_ descriptor: FileDescriptor, path: String? = nil) {
        self.descriptor = descriptor
        self.path = path
    }

    /// Writes all of `bytes`, looping over short writes; throws ``SystemCallError``.
    public mutating func write(_ bytes: UnsafeRawBufferPointer) throws {
        try SystemCall.writeAll(bytes, to: descriptor, path: path)
        bytesWritten &+= UInt64(bytes.count)
    }
}

extension FileDescriptor {
    /// Reads exactly `buffer.count` bytes at `offset`, or fewer only at end of file
    /// (``SystemCall/readFully(_:into:at:path:)``).
    ///
    /// - Returns: the number of bytes read.
    public func pread(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64, path: String? = nil) throws(SystemCallError) -> Int {
        try SystemCall.readFully(self, into: buffer, at: offset, path: path)
    }

    /// Writes all of `bytes` at `offset` (``SystemCall/writeAll(_:to:at:path:)``).
    public func pwriteAll(_ bytes: UnsafeRawBufferPointer, at offset: UInt64, path: String? = nil) throws(SystemCallError) {
        try SystemCall.writeAll(bytes, to: self, at: offset, path: path)
    }

    /// Asks the kernel to start writing the dirty pages of `length` bytes at `offset` to
    /// storage, without waiting (`sync_file_range(SYNC_FILE_RANGE_WRITE)` on Linux; nothing
    /// elsewhere). Only a hint: it makes a later `fsync` shorter by overlapping the writeback
    /// with other work, and never replaces that `fsync`. Best effort: failures are ignored, since
    /// the `fsync` that follows reports any that matter (``SystemCall/startWriteback(_:offset:length:path:)``).
    public func startWriteback(offset: UInt64, length: UInt64) {
        guard length > 0 else { return }
        try? SystemCall.startWriteback(self, offset: offset, length: length, path: nil)
    }
}
