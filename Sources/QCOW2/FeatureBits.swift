/// Incompatible feature bits (header bytes 72–79): a reader that does not know a set bit
/// must refuse the image.
public struct QCOW2IncompatibleFeatures: OptionSet, Sendable, Hashable {
    /// The raw 64-bit field.
    public var rawValue: UInt64
    /// Wraps a raw field value.
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// Bit 0: refcounts may be stale (lazy refcounts in use and not cleanly closed).
    public static let dirty = Self(rawValue: 1 << 0)
    /// Bit 1: qemu found corruption in metadata; the image must not be written.
    public static let corrupt = Self(rawValue: 1 << 1)
    /// Bit 2: guest data lives in an external data file.
    public static let externalDataFile = Self(rawValue: 1 << 2)
    /// Bit 3: the compression type field (header byte 104) is meaningful.
    public static let compressionType = Self(rawValue: 1 << 3)
    /// Bit 4: L2 entries are 128 bits with 32 subclusters.
    public static let extendedL2 = Self(rawValue: 1 << 4)

    /// Every bit qemu 7.2 knows.
    public static let known: Self = [.dirty, .corrupt, .externalDataFile, .compressionType, .extendedL2]
    /// Bits that are set but unknown to qemu 7.2.
    public var unknown: Self { subtracting(Self.known) }
}

/// Compatible feature bits (header bytes 80–87): unknown ones may be ignored.
public struct QCOW2CompatibleFeatures: OptionSet, Sendable, Hashable {
    /// The raw 64-bit field.
    public var rawValue: UInt64
    /// Wraps a raw field value.
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// Bit 0: refcount updates may be delayed (the dirty bit tracks it).
    public static let lazyRefcounts = Self(rawValue: 1 << 0)

    /// Every bit qemu 7.2 knows.
    public static let known: Self = [.lazyRefcounts]
    /// Bits that are set but unknown to qemu 7.2.
    public var unknown: Self { subtracting(Self.known) }
}

/// Autoclear feature bits (header bytes 88–95): a writer that does not know a bit clears it.
public struct QCOW2AutoclearFeatures: OptionSet, Sendable, Hashable {
    /// The raw 64-bit field.
    public var rawValue: UInt64
    /// Wraps a raw field value.
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// Bit 0: the bitmaps extension is consistent.
    public static let bitmaps = Self(rawValue: 1 << 0)
    /// Bit 1: the external data file is a valid raw image by itself.
    public static let rawExternalData = Self(rawValue: 1 << 1)

    /// Every bit qemu 7.2 knows.
    public static let known: Self = [.bitmaps, .rawExternalData]
    /// Bits that are set but unknown to qemu 7.2.
    public var unknown: Self { subtracting(Self.known) }
}

/// Which of the three feature fields a bit belongs to (the feature-name table's type byte).
public enum QCOW2FeatureKind: UInt8, Sendable, Hashable, CaseIterable {
    /// Incompatible features (type 0).
    case incompatible = 0
    /// Compatible features (type 1).
    case compatible = 1
    /// Autoclear features (type 2).
    case autoclear = 2

    /// The word qemu uses for this kind in messages.
    public var word: String {
        switch self {
        case .incompatible: return "incompatible"
        case .compatible: return "compatible"
        case .autoclear: return "autoclear"
        }
    }

    /// qemu's own name for `bit` of this kind, or `nil` when qemu 7.2 does not know it.
    public func builtInName(ofBit bit: Int) -> String? {
        switch (self, bit) {
        case (.incompatible, 0): return "dirty bit"
        case (.incompatible, 1): return "corrupt bit"
        case (.incompatible, 2): return "external data file"
        case (.incompatible, 3): return "compression type"
        case (.incompatible, 4): return "extended L2 entries"
        case (.compatible, 0): return "lazy refcounts"
        case (.autoclear, 0): return "bitmaps"
        case (.autoclear, 1): return "raw external data"
        default: return nil
        }
    }
}

/// One 48-byte entry of the feature-name table extension (`0x6803F857`).
public struct QCOW2FeatureName: Sendable, Hashable {
    /// Which feature field the bit is in. `nil` when the type byte is not 0, 1 or 2.
    public var kind: QCOW2FeatureKind?
    /// The raw type byte.
    public var rawKind: UInt8
    /// Bit number, 0–63 (other values are kept as stored).
    public var bit: UInt8
    /// The name: up to 46 bytes, NUL padded; bytes after the first NUL are dropped.
    public var nameBytes: [UInt8]

    /// The name decoded as UTF-8 (invalid sequences replaced).
    public var name: String { String(decoding: nameBytes, as: UTF8.self) }

    /// Creates an entry.
    public init(rawKind: UInt8, bit: UInt8, nameBytes: [UInt8]) {
        self.rawKind = rawKind
        self.kind = QCOW2FeatureKind(rawValue: rawKind)
        self.bit = bit
        self.nameBytes = nameBytes
    }
}

extension Array where Element == QCOW2FeatureName {
    /// The image's own name for a bit, falling back to qemu's built-in name.
    public func name(of kind: QCOW2FeatureKind, bit: Int) -> String? {
        if let entry = first(where: { $0.kind == kind && Int($0.bit) == bit }) { return entry.name }
        return kind.builtInName(ofBit: bit)
    }

    /// Names for every set bit of `mask`, lowest bit first; unnamed bits read like qemu's
    /// "Unknown incompatible feature: 40".
    public func names(of kind: QCOW2FeatureKind, mask: UInt64) -> [String] {
        var result: [String] = []
        for bit in 0..<64 where mask & (UInt64(1) << UInt64(bit)) != 0 {
            if let name = name(of: kind, bit: bit) {
                result.append(name)
            } else {
                result.append("Unknown \(kind.word) feature: \(String(UInt64(1) << UInt64(bit), radix: 16))")
            }
        }
        return result
    }
}
