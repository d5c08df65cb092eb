/// One header extension: a big-endian (type, length) pair at `offset` followed by `length`
/// bytes of data, padded to a multiple of 8.
public struct QCOW2HeaderExtension: Sendable, Hashable {
    /// Type 0: end of the extension list.
    public static let endType: UInt32 = 0
    /// Backing file format name (e.g. `raw`, `qcow2`).
    public static let backingFormatType: UInt32 = 0xE279_2ACA
    /// Feature-name table (48-byte entries).
    public static let featureNameTableType: UInt32 = 0x6803_F857
    /// Persistent dirty bitmaps.
    public static let bitmapsType: UInt32 = 0x2385_2875
    /// Full-disk-encryption (LUKS) header pointer.
    public static let fullDiskEncryptionType: UInt32 = 0x0537_BE77
    /// External data file name.
    public static let externalDataFileType: UInt32 = 0x4441_5441

    /// The 32-bit type.
    public var type: UInt32
    /// File offset of the 8-byte (type, length) pair.
    public var offset: Int
    /// The data (exactly `length` bytes, without padding).
    public var data: [UInt8]

    /// Creates an extension record.
    public init(type: UInt32, offset: Int, data: [UInt8]) {
        self.type = type
        self.offset = offset
        self.data = data
    }

    /// File offset just past the padded data.
    public var end: Int { offset + 8 + ((data.count + 7) & ~7) }

    /// Whether qemu 7.2 knows this extension type.
    public var isKnown: Bool {
        switch type {
        case Self.backingFormatType, Self.featureNameTableType, Self.bitmapsType,
             Self.fullDiskEncryptionType, Self.externalDataFileType:
            return true
        default:
            return false
        }
    }

    /// A short name for messages: qemu's wording for known types, hex for others.
    public var name: String {
        switch type {
        case Self.backingFormatType: return "backing format"
        case Self.featureNameTableType: return "feature name table"
        case Self.bitmapsType: return "bitmaps"
        case Self.fullDiskEncryptionType: return "full disk encryption header pointer"
        case Self.externalDataFileType: return "external data file"
        default: return "unknown 0x" + String(type, radix: 16)
        }
    }
}

/// The bitmaps extension (`0x23852875`): where the bitmap directory is.
public struct QCOW2BitmapsExtension: Sendable, Hashable {
    /// Number of bitmaps in the directory (1…65535).
    public var bitmapCount: UInt32
    /// Reserved; must be zero.
    public var reserved: UInt32
    /// Size of the bitmap directory in bytes.
    public var directorySize: UInt64
    /// File offset of the bitmap directory (cluster aligned).
    public var directoryOffset: UInt64

    /// Decodes the 24 data bytes; `nil` when `data` is not 24 bytes.
    public init?(data: [UInt8]) {
        guard data.count == 24 else { return nil }
        let b = BigEndianBytes(data)
        bitmapCount = b.u32(0)
        reserved = b.u32(4)
        directorySize = b.u64(8)
        directoryOffset = b.u64(16)
    }
}

/// The full-disk-encryption extension (`0x0537BE77`): where the LUKS header lives.
public struct QCOW2EncryptionHeaderPointer: Sendable, Hashable {
    /// File offset of the LUKS header (cluster aligned).
    public var offset: UInt64
    /// Length of the LUKS header area in bytes.
    public var length: UInt64

    /// Decodes the 16 data bytes; `nil` when `data` is not 16 bytes.
    public init?(data: [UInt8]) {
        guard data.count == 16 else { return nil }
        let b = BigEndianBytes(data)
        offset = b.u64(0)
        length = b.u64(8)
    }
}

extension QCOW2HeaderExtension {
    /// The feature-name entries, as qemu reads them: whole 48-byte entries up to the first
    /// one with an empty name.
    public var featureNames: [QCOW2FeatureName] {
        guard type == Self.featureNameTableType else { return [] }
        var names: [QCOW2FeatureName] = []
        var at = 0
        let b = BigEndianBytes(data)
        while at + 48 <= data.count {
            let name = b.slice(at + 2, count: 46).untilNUL
            if name.isEmpty { break }
            names.append(QCOW2FeatureName(rawKind: b.u8(at), bit: b.u8(at + 1), nameBytes: name))
            at += 48
        }
        return names
    }
}
