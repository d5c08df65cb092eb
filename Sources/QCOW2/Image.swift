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
    /// ``snapshotTable()``, once read.
    private let snapshots = OnceCache<QCOW2SnapshotTable>()

    /// Bytes read by the first `pread`: enough for the header, extensions and backing
    /// name of typical images (they read the whole first cluster only when needed).
    static let firstRead = 4096

    /// Opens the image on `descriptor` (any position; reads use absolute offsets).
    ///
    /// - Throws: ``QCOW2HeaderError`` when qemu would refuse the header,
    ///   `SystemCallError` (ByteStreams) when the file cannot be read.
    public init(descriptor: FileDescriptor, path: String? = nil) throws {
        let status = try SparseFile.status(of: descriptor, path: path)
        try self.init(descriptor: descriptor, path: path, fileSize: status.size)
    }

    /// Opens the image when the file size is already known (saves the `fstat`).
    /// `forCheck` parses as `qemu-img check` opens (see ``QCOW2Header/init(parsing:fileSize:forCheck:)``).
    public init(descriptor: FileDescriptor, path: String? = nil, fileSize: UInt64, forCheck: Bool = false) throws {
        let prefix = try Self.readPrefix(descriptor, path: path, fileSize: fileSize, count: Self.firstRead)
        try self.init(descriptor: descriptor, path: path, fileSize: fileSize, prefix: prefix, forCheck: forCheck)
    }

    /// Opens the image from its already-read first bytes (any number of them: a second
    /// read fetches the rest of the first cluster only when the parser asks for it).
    /// `forCheck` parses as `qemu-img check` opens (see ``QCOW2Header/init(parsing:fileSize:forCheck:)``).
    public init(descriptor: FileDescriptor, path: String? = nil, fileSize: UInt64, prefix: [UInt8], forCheck: Bool = false) throws {
        self.descriptor = descriptor
        self.path = path
        self.fileSize = fileSize
        do {
            self.header = try QCOW2Header(parsing: prefix, fileSize: fileSize, forCheck: forCheck)
        } catch let QCOW2HeaderError.insufficientInput(have, need) where need > have {
            let more = try Self.readPrefix(descriptor, path: path, fileSize: fileSize, count: need)
            self.header = try QCOW2Header(parsing: more, fileSize: fileSize, forCheck: forCheck)
        }
    }

    /// Opens `path` read-only, parses it and closes the file again.
    public static func header(atPath path: String) throws -> QCOW2Header {
        let fd = try ImageFile.openArgument(path)
        defer { SystemCall.closeIgnoringErrors(fd) }
        return try QCOW2Image(descriptor: fd, path: path).header
    }

    /// The file's first cluster (at most 2 MiB), or the whole file when shorter: always
    /// enough for ``QCOW2Header/init(parsing:fileSize:)``. One `pread` for clusters up to
    /// 64 KiB, two for larger ones.
    static func readPrefix(_ descriptor: FileDescriptor, path: String?, fileSize: UInt64) throws -> [UInt8] {
        let first = try readPrefix(descriptor, path: path, fileSize: fileSize, count: 64 << 10)
        let needed = QCOW2Header.bytesNeeded(forPrefix: first, fileSize: fileSize)
        guard needed > first.count, first.count == 64 << 10 else { return first }
        return try readPrefix(descriptor, path: path, fileSize: fileSize, count: needed)
    }

    /// The file's first `count` bytes (fewer when the file is shorter), in one `pread`.
    static func readPrefix(_ descriptor: FileDescriptor, path: String?, fileSize: UInt64,
                                  count: Int) throws -> [UInt8] {
        let wanted = Int(min(UInt64(max(0, count)), fileSize))
        var bytes = [UInt8](repeating: 0, count: wanted)
        let got = try bytes.withUnsafeMutableBytes { try descriptor.pread(into: $0, at: 0, path: path) }
        if got < wanted { bytes.removeLast(wanted - got) }
        return bytes
    }

    /// The snapshot table, read at most once per opened image (qemu reads it once too, at
    /// open): the audit, the layout the walkers use and the info share it, so a table of
    /// 65,535 entries is parsed once, not four times.
    /// - Throws: ``QCOW2HeaderError`` when qemu would refuse the table, `SystemCallError` when
    ///   it cannot be read (the same error on every call).
    public func snapshotTable() throws -> QCOW2SnapshotTable {
        try snapshots.value { try QCOW2SnapshotTable(image: self) }
    }

    /// The image file as the table readers and walkers read it (the same borrowed descriptor).
    var file: ImageFile { ImageFile(descriptor: descriptor, path: path ?? "", size: fileSize) }
}
