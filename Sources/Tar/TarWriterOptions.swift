import ByteStreams
import SystemPackage

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Owner, permissions and time recorded for a member. Fix them for byte-identical archives
/// of identical input.
public struct TarMemberAttributes: Sendable, Equatable {
    /// Permission bits (`0o7777` at most are kept).
    public var mode: UInt32
    /// Owner's numeric id.
    public var uid: UInt64
    /// Group's numeric id.
    public var gid: UInt64
    /// Owner's name (may be empty).
    public var userName: String
    /// Group's name (may be empty).
    public var groupName: String
    /// Modification time, seconds since the epoch.
    public var modificationTime: Int64

    /// Attributes with the given values; the defaults (0644, root-less ids 0, time 0) make
    /// archives that do not depend on who made them or when.
    public init(
        mode: UInt32 = 0o644, uid: UInt64 = 0, gid: UInt64 = 0, userName: String = "", groupName: String = "",
        modificationTime: Int64 = 0
    ) {
        self.mode = mode
        self.uid = uid
        self.gid = gid
        self.userName = userName
        self.groupName = groupName
        self.modificationTime = modificationTime
    }

    /// The mode, ids and modification time of an open file (`fstat`); names stay empty.
    public static func of(_ descriptor: FileDescriptor, path: String? = nil) throws -> TarMemberAttributes {
        var st = stat()
        guard fstat(descriptor.rawValue, &st) == 0 else {
            throw ByteStreamError.system(operation: "fstat", path: path, errno: Errno(rawValue: errno))
        }
        return TarMemberAttributes(
            mode: UInt32(st.st_mode) & 0o7777, uid: UInt64(st.st_uid), gid: UInt64(st.st_gid),
            modificationTime: Int64(st.st_mtim.tv_sec))
    }
}

/// How a ``TarWriter`` stores files.
public struct TarWriterOptions: Sendable, Equatable {
    /// Ask the file system where the holes are (`SEEK_DATA`/`SEEK_HOLE`) and store only data.
    /// Default on.
    public var findsHoles: Bool = true
    /// Also store runs of zero blocks inside data as holes (needs a first pass over the data).
    /// Default on. Applies to files without holes; a file the file system reports holes in
    /// is scanned only when ``scansFilesWithHoles`` is on.
    public var detectsZeroRuns: Bool = true
    /// Scan a file with holes for zero runs too. Default off: as GNU tar does, the data
    /// extents `SEEK_DATA`/`SEEK_HOLE` report for a file that has holes are stored as they
    /// are, so its data is read once, not twice. A file without holes (copied dense, or on a
    /// file system that keeps none) is still scanned, so it is stored sparse anyway.
    public var scansFilesWithHoles: Bool = false
    /// The block size zero runs are detected in, aligned to file offsets. Default 4 KiB.
    public var zeroBlockSize: Int = 4096
    /// Size of the buffer files are read into and the sink is written from. Default 1 MiB.
    public var chunkSize: Int = 1 << 20
    /// The most data runs one sparse member gets; beyond it, the smallest holes are filled
    /// with zeros so the map (and memory) stays bounded. Default 262,144.
    public var maximumSparseExtents: Int = 1 << 18

    /// The defaults.
    public init() {}
}
