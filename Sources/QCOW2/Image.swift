import ByteStreams
import SystemPackage

/// An open qcow2 image: the parsed header plus the (borrowed) descriptor it came from.
///
/// Opening costs one `fstat` and, for clusters up to 64 KiB, one `pread`. The descriptor
/// stays the caller's: this never closes it.
public struct QCOW2Image: Sendable {
    /// The image file, borrowed.
    public let descriptor: FileDescriptor
    /// The path, for messages only.
    public let path: String?
    /// Size of the image file in bytes when it was opened.
    public let fileSize: UInt64
    /// The parsed, validated header.
    public let header: QCOW2Header

    /// Bytes read by the first `pread`: enough for the whole first cluster of most images.
    static let firstRead = 64 << 10

    /// Opens the image on `descriptor` (any position; reads use absolute offsets).
    ///
    /// - Throws: ``QCOW2HeaderError`` when qemu would refuse the header,
    ///   `ByteStreamError` when the file cannot be read.
    public init(descriptor: FileDescriptor, path: String? = nil) throws {
        let status = try SparseFile.status(of: descriptor, path: path)
        try self.init(descriptor: descriptor, path: path, fileSize: status.size)
    }

    /// Opens the image when the file size is already known (saves the `fstat`).
    public init(descriptor: FileDescriptor, path: String? = nil, fileSize: UInt64) throws {
        self.descriptor = descriptor
        self.path = path
        self.fileSize = fileSize
        let prefix = try Self.readPrefix(descriptor, path: path, fileSize: fileSize)
        self.header = try QCOW2Header(parsing: prefix, fileSize: fileSize)
    }

    /// Opens `path` read-only, parses it and closes the file again.
    public static func header(atPath path: String) throws -> QCOW2Header {
        let fd: FileDescriptor
        do {
            fd = try FileDescriptor.open(FilePath(path), .readOnly, options: [.closeOnExec])
        } catch let errno as Errno {
            throw ByteStreamError.system(operation: "open", path: path, errno: errno)
        }
        defer { try? fd.close() }
        return try QCOW2Image(descriptor: fd, path: path).header
    }

    /// The file's first cluster (at most 2 MiB), or the whole file when shorter: what
    /// ``QCOW2Header/init(parsing:fileSize:)`` needs. One `pread` for clusters ≤ 64 KiB.
    public static func readPrefix(_ descriptor: FileDescriptor, path: String?, fileSize: UInt64) throws -> [UInt8] {
        let first = Int(min(UInt64(firstRead), fileSize))
        var bytes = [UInt8](repeating: 0, count: first)
        let got = try bytes.withUnsafeMutableBytes { try descriptor.pread(into: $0, at: 0, path: path) }
        if got < first { bytes.removeLast(first - got) }
        let needed = QCOW2Header.bytesNeeded(forPrefix: bytes, fileSize: fileSize)
        if needed > bytes.count, got == first {
            let have = bytes.count
            bytes.append(contentsOf: repeatElement(0, count: needed - have))
            let more = try bytes.withUnsafeMutableBytes {
                try descriptor.pread(into: UnsafeMutableRawBufferPointer(rebasing: $0[have...]), at: UInt64(have), path: path)
            }
            if more < needed - have { bytes.removeLast(needed - have - more) }
        }
        return bytes
    }

    /// Reads `count` bytes at `offset`; bytes past the end of the file read as zeros (as
    /// qemu's block layer returns them). `count` must already be capped by the caller.
    public func read(at offset: UInt64, count: Int) throws -> [UInt8] {
        guard count > 0 else { return [] }
        var bytes = [UInt8](repeating: 0, count: count)
        guard offset < fileSize else { return bytes }
        let available = Int(min(UInt64(count), fileSize - offset))
        let got = try bytes.withUnsafeMutableBytes {
            try descriptor.pread(into: UnsafeMutableRawBufferPointer(rebasing: $0[..<available]), at: offset, path: path)
        }
        if got < available {
            for i in got..<available { bytes[i] = 0 }
        }
        return bytes
    }
}
