import Zstd

/// The layout of an image archive (`image.tar.zst`): one zstd stream of a tar holding
/// exactly ``diskName``, ``layerName`` and ``machineName``, each a regular file.
public enum ImageArchive {
    /// The raw, sparse disk.
    public static let diskName = "disk.img"
    /// The qcow2 overlay whose backing file is ``diskName`` (format raw).
    public static let layerName = "layer.qcow2"
    /// The machine definition.
    public static let machineName = "machine.json"
    /// The three members, in the order they are written.
    public static let memberNames = [diskName, layerName, machineName]
}

/// Limits applied to image archives before a byte is written: sizes, and the threads that
/// reading one may use.
public struct ImageLimits: Sendable, Equatable {
    /// The largest compressed archive, member, and virtual disk size accepted (50 GiB by default).
    public var maxImageSize: UInt64
    /// The largest `machine.json` accepted (1 MiB).
    public var maxMachineSize: UInt64
    /// The most threads decoding an archive's independent zstd frames at once (one per core
    /// by default); `0` decodes every frame on the calling thread.
    public var maxDecodingThreads: Int

    /// Limits of `maxImageSize` bytes for the archive, each member and the virtual size.
    public init(maxImageSize: UInt64 = 50 << 30, maxMachineSize: UInt64 = UInt64(Machine.maxDefinitionSize),
                maxDecodingThreads: Int = ZstdCompressionOptions.availableCores) {
        self.maxImageSize = maxImageSize
        self.maxMachineSize = maxMachineSize
        self.maxDecodingThreads = max(0, maxDecodingThreads)
    }
}

/// What a valid image archive holds, as found by extraction or verification.
public struct ImageContents: Sendable, Equatable {
    /// The size of `disk.img` (the guest disk's virtual size).
    public var virtualSize: UInt64
    /// Bytes of `disk.img` stored in the archive as data (holes are not stored).
    public var diskDataBytes: UInt64
    /// The size of `layer.qcow2`.
    public var layerSize: UInt64
    /// The machine definition, migrated and validated.
    public var machine: Machine
    /// Compressed bytes read.
    public var archiveBytes: UInt64
}

extension PayloadRule {
    /// The archive is not a well-formed zstd stream (not zstd, damaged, truncated, a bad trailing frame).
    public static let zstdStream = PayloadRule(rawValue: "zstd-stream")
    /// The tar inside is malformed (bad checksum, truncated, bad sparse map, bad header).
    public static let tarFormat = PayloadRule(rawValue: "tar-format")
    /// A member other than `disk.img`, `layer.qcow2` and `machine.json`.
    public static let unexpectedMember = PayloadRule(rawValue: "unexpected-member")
    /// A member that is not a regular file (directory, link, device, FIFO).
    public static let memberType = PayloadRule(rawValue: "member-type")
    /// A member that appears more than once.
    public static let duplicateMember = PayloadRule(rawValue: "duplicate-member")
    /// One of the three members is missing.
    public static let missingMember = PayloadRule(rawValue: "missing-member")
    /// Bytes after the end of the tar archive that are not zero padding.
    public static let trailingData = PayloadRule(rawValue: "trailing-data")
    /// `disk.img` starts with the header of another image format.
    public static let formatConfusion = PayloadRule(rawValue: "format-confusion")
    /// `layer.qcow2` is not a qcow2 image, or its backing file or format is not `disk.img`/raw.
    public static let layerBacking = PayloadRule(rawValue: "layer-backing")
    /// `layer.qcow2` fails the audit (dirty, corrupt, external data file, encryption…).
    public static let layerAudit = PayloadRule(rawValue: "layer-audit")
    /// `layer.qcow2` holds data clusters or internal snapshots.
    public static let layerData = PayloadRule(rawValue: "layer-data")
    /// The layer's virtual size differs from the disk's size.
    public static let virtualSize = PayloadRule(rawValue: "virtual-size")
}
