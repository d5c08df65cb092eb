import ByteStreams
import SystemPackage

/// An open image file read with `pread`; reads past the end yield zeros, as qemu's do.
///
/// The descriptor is borrowed: closing it stays the caller's job.
public struct ImageFile: Sendable {
    /// The descriptor read from.
    public let descriptor: FileDescriptor
    /// The path, for messages.
    public let path: String
    /// The file's size when opened.
    public let size: UInt64

    /// Wraps an open descriptor; reads its size with `fstat`.
    public init(descriptor: FileDescriptor, path: String) throws {
        self.descriptor = descriptor
        self.path = path
        do {
            size = try SparseFile.status(of: descriptor, path: path).size
        } catch {
            throw ImageAccessError.io(path: path, reason: "\(error)")
        }
    }

    /// Wraps an open descriptor whose size is already known (no `fstat`).
    init(descriptor: FileDescriptor, path: String, size: UInt64) {
        self.descriptor = descriptor
        self.path = path
        self.size = size
    }

    /// Fills `buffer` from `offset`; bytes past the end of the file read as zeros.
    public func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws {
        do {
            try fill(buffer, at: offset)
        } catch {
            throw ImageAccessError.io(path: path, reason: "\(error)")
        }
    }

    /// `count` bytes from `offset` (zeros past the end); `count` must be reasonable.
    public func read(count: Int, at offset: UInt64) throws -> [UInt8] {
        do {
            return try bytes(count: count, at: offset)
        } catch {
            throw ImageAccessError.io(path: path, reason: "\(error)")
        }
    }

    /// The part of the `count` bytes from `offset` that lies inside the file: what a read of
    /// `count` bytes gives, without the zeros past the end (a ``BigEndianBytes`` view of the
    /// result reads them as zeros). A table that claims megabytes past the end of a small
    /// file then costs what the file holds.
    func readInsideFile(count: Int, at offset: UInt64) throws -> [UInt8] {
        guard count > 0, offset < size else { return [] }
        return try read(count: Int(min(UInt64(count), size - offset)), at: offset)
    }

    /// The one `pread` of this module's image reads: fills `buffer` from `offset`, bytes past
    /// the end of the file (or past a short read's end) zeroed. Throws the system's error,
    /// naming ``path`` (none when it is empty: an image opened without a path).
    func fill(_ buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws {
        guard buffer.count > 0 else { return }
        var got = 0
        defer {
            // Also on a throw: the caller may have handed uninitialised memory.
            if got < buffer.count {
                UnsafeMutableRawBufferPointer(rebasing: buffer[got...]).initializeMemory(as: UInt8.self, repeating: 0)
            }
        }
        if offset < size {
            let available = Int(min(UInt64(buffer.count), size - offset))
            got = try descriptor.pread(into: UnsafeMutableRawBufferPointer(rebasing: buffer[..<available]), at: offset, path: path.isEmpty ? nil : path)
        }
    }

    /// `count` bytes from `offset` through ``fill(_:at:)``, not zero-filled first (`pread`
    /// writes what it got, the rest is zeroed), throwing the system's error as it is (what
    /// the table readers whose errors become audit findings or `inspect` messages show);
    /// ``read(count:at:)`` wraps it in ``ImageAccessError``. `count` must already be capped
    /// by the caller.
    func bytes(count: Int, at offset: UInt64) throws -> [UInt8] {
        guard count > 0 else { return [] }
        return try [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            defer { initialized = count }
            try fill(UnsafeMutableRawBufferPointer(buffer), at: offset)
        }
    }
}

extension ImageFile {
    /// Opens a path the user named (possibly a symlink the user made) read-only and
    /// non-blocking, so a FIFO fails instead of hanging; the caller closes it.
    ///
    /// - Throws: ``SystemCallError`` naming the path and `open`'s errno.
    static func openArgument(_ path: String) throws(SystemCallError) -> FileDescriptor {
        try SystemCall.openForReading(path, nonBlocking: true)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension ImageFile {
    /// Whether the file stores data or a hole at `offset`, and for how many bytes (at
    /// most `length`), from `SEEK_DATA`/`SEEK_HOLE` — the question qemu's file driver
    /// answers for block status. Past the end of the file is a hole; a file system
    /// that cannot tell reports data.
    func extent(at offset: UInt64, length: UInt64) -> (isHole: Bool, length: UInt64) {
        guard length > 0 else { return (false, 0) }
        guard offset < size, Int64(exactly: offset) != nil else { return (true, length) }
        let next: UInt64?
        do throws(SystemCallError) {
            next = try SystemCall.nextData(in: descriptor, from: offset, path: path)
        } catch {
            return (false, length)  // the file system cannot tell: data
        }
        guard let data = next else { return (true, length) }  // no data before the end
        if data == offset {
            guard let hole = try? SystemCall.nextHole(in: descriptor, from: offset, path: path), hole > offset else { return (false, length) }
            return (false, min(hole - offset, length))
        }
        return (true, min(data - offset, length))
    }
}
