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

    /// Fills `buffer` from `offset`; bytes past the end of the file read as zeros.
    public func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws {
        guard buffer.count > 0 else { return }
        var got = 0
        if offset < size {
            do {
                got = try descriptor.pread(into: buffer, at: offset, path: path)
            } catch {
                throw ImageAccessError.io(path: path, reason: "\(error)")
            }
        }
        if got < buffer.count {
            UnsafeMutableRawBufferPointer(rebasing: buffer[got...]).initializeMemory(as: UInt8.self, repeating: 0)
        }
    }

    /// `count` bytes from `offset` (zeros past the end); `count` must be reasonable.
    public func read(count: Int, at offset: UInt64) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        try bytes.withUnsafeMutableBytes { try read(into: $0, at: offset) }
        return bytes
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CSystemShim

extension ImageFile {
    /// Whether the file stores data or a hole at `offset`, and for how many bytes (at
    /// most `length`), from `SEEK_DATA`/`SEEK_HOLE` — the question qemu's file driver
    /// answers for block status. Past the end of the file is a hole; a file system
    /// that cannot tell reports data.
    func extent(at offset: UInt64, length: UInt64) -> (isHole: Bool, length: UInt64) {
        guard length > 0 else { return (false, 0) }
        guard offset < size, let start = Int64(exactly: offset) else { return (true, length) }
        let data = vmimage_seek_data(descriptor.rawValue, start)
        if data < 0 {
            return errno == ENXIO ? (true, length) : (false, length)
        }
        if data == start {
            let hole = vmimage_seek_hole(descriptor.rawValue, start)
            guard hole > start else { return (false, length) }
            return (false, min(UInt64(hole) - offset, length))
        }
        return (true, min(UInt64(data) - offset, length))
    }
}
