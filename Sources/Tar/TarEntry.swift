import ByteStreams

/// What a tar member is.
public enum TarEntryKind: Sendable, Hashable {
    /// A regular file (type `0`, NUL, `7` contiguous, or GNU `S` sparse).
    case regular
    /// A hard link to an earlier member (type `1`).
    case hardLink
    /// A symbolic link (type `2`).
    case symbolicLink
    /// A character device (type `3`).
    case characterDevice
    /// A block device (type `4`).
    case blockDevice
    /// A directory (type `5`, or GNU `D`).
    case directory
    /// A named pipe (type `6`).
    case fifo
    /// Any other type flag (GNU volume label `V`, multi-volume `M`, vendor types…).
    case other(UInt8)
}

extension TarEntryKind: CustomStringConvertible {
    /// The kind in words, as every message names it: `regular file`, `symbolic link`, …,
    /// `member of type 'V'` (the flag escaped for a terminal).
    public var description: String {
        switch self {
        case .regular: "regular file"
        case .hardLink: "hard link"
        case .symbolicLink: "symbolic link"
        case .characterDevice: "character device"
        case .blockDevice: "block device"
        case .directory: "directory"
        case .fifo: "FIFO"
        case .other(let flag): "member of type \(TerminalText.quoted([flag]))"
        }
    }
}

/// The header dialect a member was written in.
public enum TarFormat: Sendable, Hashable {
    /// Unix V7: no magic.
    case v7
    /// POSIX ustar (`ustar\0` `00`).
    case ustar
    /// GNU (`ustar  \0`), possibly with `L`/`K` long names and base-256 numbers.
    case gnu
    /// POSIX pax: a ustar header preceded by an `x` (or global `g`) record.
    case pax
}

/// How a sparse member's map was stored.
public enum TarSparseFormat: Sendable, Hashable {
    /// Old GNU type `S`: map in the header and extension blocks.
    case oldGNU
    /// PAX 0.0: repeated `GNU.sparse.offset`/`GNU.sparse.numbytes` records.
    case pax0_0
    /// PAX 0.1: one `GNU.sparse.map` record.
    case pax0_1
    /// PAX 1.0: the map as decimal lines at the start of the member's data.
    case pax1_0
}

/// One member of a tar archive, with every extension (pax, GNU long names, sparse maps)
/// already applied.
public struct TarEntry: Sendable, Equatable {
    /// The member's path as stored (after pax `path`, GNU `L` or `GNU.sparse.name`).
    /// Bytes that are not UTF-8 are replaced by U+FFFD.
    public var name: String
    /// What the member is.
    public var kind: TarEntryKind
    /// The raw type flag byte of the member's header.
    public var typeFlag: UInt8
    /// Permissions, owner and modification time, as the header and its pax records give them.
    public var attributes: TarMemberAttributes
    /// Link target of a hard or symbolic link (empty otherwise).
    public var linkName: String
    /// Logical size: for a sparse member its real size, holes included.
    public var size: UInt64
    /// Bytes of member data stored in the archive (for a sparse member, the data runs only).
    public var storedSize: UInt64
    /// The data runs of a sparse member; `nil` for a dense one.
    public var sparseMap: SparseMap?
    /// How the sparse map was stored; `nil` for a dense member.
    public var sparseFormat: TarSparseFormat?
    /// The header dialect.
    public var format: TarFormat
    /// Device major number (devices only).
    public var deviceMajor: UInt32
    /// Device minor number (devices only).
    public var deviceMinor: UInt32
    /// Archive offset of the first header belonging to this member (its pax or GNU long-name
    /// header, if any).
    public var headerOffset: UInt64
    /// Archive offset of the member's stored data.
    public var dataOffset: UInt64
}

extension TarEntry {
    /// Permission and file type bits as stored: ``TarMemberAttributes/mode`` of ``attributes``.
    public var mode: UInt32 {
        get { attributes.mode }
        set { attributes.mode = newValue }
    }
    /// The owner's numeric id, kept in ``attributes``.
    public var uid: UInt64 {
        get { attributes.uid }
        set { attributes.uid = newValue }
    }
    /// The group's numeric id, kept in ``attributes``.
    public var gid: UInt64 {
        get { attributes.gid }
        set { attributes.gid = newValue }
    }
    /// The owner's name (may be empty), kept in ``attributes``.
    public var userName: String {
        get { attributes.userName }
        set { attributes.userName = newValue }
    }
    /// The group's name (may be empty), kept in ``attributes``.
    public var groupName: String {
        get { attributes.groupName }
        set { attributes.groupName = newValue }
    }
    /// Seconds since the epoch, whole, kept in ``attributes``.
    public var modificationTime: Int64 {
        get { attributes.modificationTime }
        set { attributes.modificationTime = newValue }
    }
}
