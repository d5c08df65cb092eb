/// What ``Tar/extract(from:into:options:)`` may create. The defaults allow regular files only.
public struct TarExtractionOptions: Sendable, Equatable {
    /// When set, only these (normalized) member names may appear; any other name fails.
    public var allowedNames: Set<String>?
    /// The member kinds that may be created: `.regular`, `.directory`, `.symbolicLink`,
    /// `.hardLink`. Devices, FIFOs and other types are always refused. Default: regular only.
    public var allowedKinds: Set<TarEntryKind> = [.regular]
    /// The largest logical size any one member may declare. Default: no limit.
    public var maximumMemberSize: UInt64 = .max
    /// The largest sum of declared member sizes. Default: no limit.
    public var maximumTotalSize: UInt64 = .max
    /// The most members. Default 1,000,000.
    public var maximumMembers: Int = 1_000_000
    /// Leave runs of zero blocks in member data unwritten, so they become holes. Default on.
    public var holesFromZeroRuns: Bool = true
    /// Block size for zero-run detection, aligned to file offsets. Default 4 KiB.
    public var zeroBlockSize: Int = 4096
    /// Apply the members' permission bits (setuid, setgid and sticky are always dropped);
    /// otherwise files get 0644 and directories 0755. Default on.
    public var restoresPermissions: Bool = true
    /// Refuse the archive when anything but zero padding (at most 16 MiB of it) follows the
    /// end-of-archive marker. Default on.
    public var refusesTrailingData: Bool = true
    /// Apply the members' modification times. Default on.
    public var restoresModificationTime: Bool = true

    /// The defaults: regular files only, no size limits.
    public init() {}
}

/// One member that ``Tar/extract(from:into:options:)`` created.
public struct TarExtractedMember: Sendable, Equatable {
    /// The normalized member name (relative to the target folder).
    public var name: String
    /// What was created.
    public var kind: TarEntryKind
    /// The member's logical size.
    public var size: UInt64
    /// Data bytes actually written (holes and skipped zero runs excluded).
    public var bytesWritten: UInt64
}
