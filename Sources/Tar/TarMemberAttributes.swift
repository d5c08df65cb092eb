import ByteStreams
import SystemPackage

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Owner, permissions and time of a member: what ``TarWriter`` records (fix them for
/// byte-identical archives of identical input) and what ``TarEntry/attributes`` reads back.
public struct TarMemberAttributes: Sendable, Equatable {
    /// Permission bits. The writer keeps `0o7777` at most; a read entry has the `mode` field
    /// as stored (file type bits included when the writer put them there).
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
        let st = try SystemCall.status(of: descriptor, path: path)
        return TarMemberAttributes(
            mode: UInt32(st.st_mode) & 0o7777, uid: UInt64(st.st_uid), gid: UInt64(st.st_gid),
            modificationTime: Int64(st.st_mtim.tv_sec))
    }
}
