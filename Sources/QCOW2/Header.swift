/// A parsed qcow2 header (version 2 or 3): every field of the fixed header, the header
/// extensions, and the backing file name.
///
/// Parsing is a pure function of the first cluster's bytes and the file size, and makes
/// the checks qemu 7.2 makes when it opens an image (see ``QCOW2HeaderError``), in qemu's
/// order, so an image this accepts is one `qemu-img info` accepts and the first error
/// matches qemu's. Checks qemu does not make (tables inside the file, overlaps, unsafe
/// names) are the ``Audit``'s job.
public struct QCOW2Header: Sendable, Hashable {
    /// Largest first cluster the parser ever needs (2 MiB).
    public static let maximumClusterSize = 1 << Int(QCOW2Format.clusterBits.upperBound)

    /// 2 or 3.
    public var version: UInt32
    /// File offset of the backing file name, 0 when there is none.
    public var backingFileOffset: UInt64
    /// Length of the backing file name in bytes.
    public var backingFileSize: UInt32
    /// log2 of the cluster size (9…21).
    public var clusterBits: UInt32
    /// Virtual disk size in bytes (`size`).
    public var virtualSize: UInt64
    /// `crypt_method`: 0 none, 1 AES, 2 LUKS.
    public var cryptMethod: UInt32
    /// Number of active L1 entries.
    public var l1Size: UInt32
    /// File offset of the active L1 table.
    public var l1TableOffset: UInt64
    /// File offset of the refcount table.
    public var refcountTableOffset: UInt64
    /// Clusters occupied by the refcount table.
    public var refcountTableClusters: UInt32
    /// Number of internal snapshots.
    public var snapshotCount: UInt32
    /// File offset of the snapshot table.
    public var snapshotsOffset: UInt64
    /// Incompatible feature bits (0 in v2).
    public var incompatibleFeatures: QCOW2IncompatibleFeatures
    /// Compatible feature bits (0 in v2).
    public var compatibleFeatures: QCOW2CompatibleFeatures
    /// Autoclear feature bits (0 in v2).
    public var autoclearFeatures: QCOW2AutoclearFeatures
    /// log2 of the refcount width in bits (4 in v2).
    public var refcountOrder: UInt32
    /// Length of the header (72 in v2).
    public var headerLength: UInt32
    /// Header byte 104 when `header_length` > 104, else 0.
    public var compressionTypeByte: UInt8
    /// Header bytes from 105 to `header_length` (padding and fields newer than qemu 7.2).
    public var additionalHeaderBytes: [UInt8]
    /// The header extensions in file order, up to (not including) the end marker.
    public var extensions: [QCOW2HeaderExtension]
    /// File offset just past the last extension, or past the end marker when there is one.
    public var extensionsEnd: Int
    /// Whether the extension list ended with a type-0 marker (rather than running into the
    /// backing name or the end of the cluster).
    public var hasEndMarker: Bool
    /// The stored backing file name bytes, exactly `backingFileSize` of them; `nil` when
    /// `backingFileOffset` is 0.
    public var backingFileNameBytes: [UInt8]?

    /// Bytes in a cluster.
    public var clusterSize: Int { 1 << Int(clusterBits) }
    /// Width of a refcount entry in bits.
    public var refcountBits: Int { 1 << Int(refcountOrder) }
    /// Whether L2 entries are 128-bit with subclusters (incompatible bit 4).
    public var hasExtendedL2: Bool { incompatibleFeatures.contains(.extendedL2) }
    /// log2 of the entries in one L2 table.
    public var l2Bits: Int { Int(clusterBits) - 3 - (hasExtendedL2 ? 1 : 0) }
    /// Incompatible bit 0.
    public var isDirty: Bool { incompatibleFeatures.contains(.dirty) }
    /// Incompatible bit 1.
    public var isCorrupt: Bool { incompatibleFeatures.contains(.corrupt) }
    /// Whether the image is encrypted (any `crypt_method`).
    public var isEncrypted: Bool { cryptMethod != 0 }
    /// The compression type in force: byte 104 when present, else zlib.
    public var compressionType: QCOW2CompressionType { QCOW2CompressionType(rawValue: compressionTypeByte) ?? .zlib }
    /// Entries the L1 table needs to map `virtualSize` (qemu's `size_to_l1`).
    public var l1EntriesNeeded: UInt64 {
        let shift = UInt64(Int(clusterBits) + l2Bits)
        let (q, r) = (virtualSize >> shift, virtualSize & ((1 << shift) - 1))
        return q + (r == 0 ? 0 : 1)
    }

    /// The backing file name as qemu shows it: the bytes before any NUL, decoded the way
    /// qemu decodes them (``QemuJSON/cString(_:)``).
    public var backingFileName: String? {
        backingFileNameBytes.map(QemuJSON.cString)
    }

    /// The last extension of `type`, as qemu keeps the last one it reads.
    public func lastExtension(ofType type: UInt32) -> QCOW2HeaderExtension? {
        extensions.last(where: { $0.type == type })
    }

    /// The backing format bytes (e.g. `raw`), as stored, or `nil` when absent.
    public var backingFormatBytes: [UInt8]? { lastExtension(ofType: QCOW2HeaderExtension.backingFormatType)?.data }
    /// The backing format as qemu shows it (bytes before any NUL).
    public var backingFormat: String? { backingFormatBytes.map(QemuJSON.cString) }
    /// The external data file name bytes, as stored, or `nil` when absent.
    public var dataFileNameBytes: [UInt8]? { lastExtension(ofType: QCOW2HeaderExtension.externalDataFileType)?.data }
    /// The external data file name as qemu shows it (bytes before any NUL).
    public var dataFileName: String? { dataFileNameBytes.map(QemuJSON.cString) }
    /// The image's own feature-name table (empty when there is none).
    public var featureNames: [QCOW2FeatureName] {
        lastExtension(ofType: QCOW2HeaderExtension.featureNameTableType)?.featureNames ?? []
    }
    /// The bitmaps extension, when present and well formed.
    public var bitmapsExtension: QCOW2BitmapsExtension? {
        lastExtension(ofType: QCOW2HeaderExtension.bitmapsType).flatMap { QCOW2BitmapsExtension(data: $0.data) }
    }
    /// The LUKS header pointer, when present and well formed.
    public var encryptionHeaderPointer: QCOW2EncryptionHeaderPointer? {
        lastExtension(ofType: QCOW2HeaderExtension.fullDiskEncryptionType).flatMap { QCOW2EncryptionHeaderPointer(data: $0.data) }
    }
    /// Whether qemu uses an external data file (incompatible bit 2).
    public var hasExternalDataFile: Bool { incompatibleFeatures.contains(.externalDataFile) }
    /// Whether the bitmaps extension is in force: qemu ignores it unless autoclear bit 0 is set.
    public var hasBitmaps: Bool { autoclearFeatures.contains(.bitmaps) && bitmapsExtension != nil }

    /// How many leading bytes of the file ``init(parsing:fileSize:)`` needs: the first
    /// cluster (at most 2 MiB), or the whole file when it is shorter. Call with the first
    /// 104 bytes to learn the cluster size; returns 104 when the magic or the cluster bits
    /// are wrong (parsing then fails on them).
    public static func bytesNeeded(forPrefix prefix: [UInt8], fileSize: UInt64) -> Int {
        let b = BigEndianBytes(prefix)
        let bits = b.u32(20)
        let usable = b.u32(0) == QCOW2Format.magic && QCOW2Format.clusterBits.contains(bits)
        let cluster = usable ? 1 << Int(bits) : QCOW2Format.version3MinimumHeaderLength
        return Int(min(UInt64(cluster), fileSize))
    }
}

/// How compressed clusters are compressed (header byte 104).
public enum QCOW2CompressionType: UInt8, Sendable, Hashable {
    /// Raw deflate (qemu calls it zlib).
    case zlib = 0
    /// Zstandard.
    case zstd = 1

    /// qemu's name (`compression-type` in `qemu-img info`).
    public var name: String { self == .zlib ? "zlib" : "zstd" }
}

/// `crypt_method` values.
public enum QCOW2EncryptionMethod: UInt32, Sendable, Hashable {
    /// No encryption.
    case none = 0
    /// The legacy, broken AES-CBC scheme.
    case aes = 1
    /// LUKS, with the header in a full-disk-encryption extension.
    case luks = 2

    /// qemu's name in `format-specific.data.encrypt.format`.
    public var name: String {
        switch self {
        case .none: return "none"
        case .aes: return "aes"
        case .luks: return "luks"
        }
    }
}
