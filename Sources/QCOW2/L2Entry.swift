/// What an L2 entry says about one guest cluster (qemu's `QCow2ClusterType`).
public enum ClusterKind: Sendable, Equatable {
    /// No host cluster: reads come from the backing file, or zeros without one.
    case unallocated
    /// Reads as zeros, no host cluster (zero flag, offset 0; standard L2 only).
    case zeroPlain
    /// Reads as zeros, but a host cluster stays preallocated (zero flag with an offset).
    case zeroAllocated
    /// Data at a host cluster.
    case normal
    /// Compressed data described by a ``CompressedClusterDescriptor``.
    case compressed
}

/// What one subcluster reads as (qemu's `QCow2SubclusterType`).
public enum SubclusterKind: Sendable, Equatable {
    /// Unallocated, no host cluster: backing file or zeros.
    case unallocatedPlain
    /// Unallocated, though the cluster has a host cluster (extended L2 only).
    case unallocatedAllocated
    /// Zeros, no host cluster.
    case zeroPlain
    /// Zeros, with a host cluster.
    case zeroAllocated
    /// Data at the host cluster plus the subcluster's offset.
    case normal
    /// Part of a compressed cluster.
    case compressed
    /// The allocation and zero bitmaps contradict each other, or an unallocated
    /// cluster claims allocated subclusters.
    case invalid
}

/// One L2 table entry: the 64-bit standard descriptor plus, with extended L2
/// entries, the 64-bit subcluster bitmap (bits 0–31 allocated, 32–63 reads-as-zero).
public struct L2Entry: Sendable, Equatable, Hashable {
    /// Offset bits of a standard descriptor (bits 9–55).
    public static let offsetMask: UInt64 = 0x00FF_FFFF_FFFF_FE00
    /// Bits a standard (uncompressed) descriptor must leave clear (qemu's `L2E_STD_RESERVED_MASK`).
    public static let standardReservedMask: UInt64 = 0x3F00_0000_0000_01FE
    /// Bit 63: the refcount is exactly one (writes may go in place).
    public static let copiedFlag: UInt64 = 1 << 63
    /// Bit 62: the cluster is compressed.
    public static let compressedFlag: UInt64 = 1 << 62
    /// Bit 0: reads as zeros (standard L2 entries only).
    public static let zeroFlag: UInt64 = 1

    /// The descriptor word, host byte order.
    public var descriptor: UInt64
    /// The subcluster bitmap word (0 for standard entries).
    public var bitmap: UInt64

    /// An entry from its two words.
    public init(descriptor: UInt64, bitmap: UInt64 = 0) {
        self.descriptor = descriptor
        self.bitmap = bitmap
    }

    /// Reads entry `index` of an L2 table held in `table` (big-endian, 8 or 16 bytes an entry).
    ///
    /// - Returns: `nil` when the entry lies outside `table`.
    public static func read(from table: UnsafeRawBufferPointer, index: Int, extended: Bool) -> L2Entry? {
        let size = extended ? 16 : 8
        guard index >= 0, index < table.count / size else { return nil }
        let descriptor = BigEndian.uint64(table, at: index * size)
        let bitmap = extended ? BigEndian.uint64(table, at: index * size + 8) : 0
        return L2Entry(descriptor: descriptor, bitmap: bitmap)
    }

    /// Whether the copied flag (bit 63) is set.
    public var isCopied: Bool { descriptor & Self.copiedFlag != 0 }
    /// Whether the compressed flag (bit 62) is set.
    public var isCompressed: Bool { descriptor & Self.compressedFlag != 0 }
    /// Whether the zero flag (bit 0) is set (meaningful for standard L2 entries only).
    public var hasZeroFlag: Bool { descriptor & Self.zeroFlag != 0 }
    /// The host offset of an uncompressed cluster (bits 9–55).
    public var hostOffset: UInt64 { descriptor & Self.offsetMask }
    /// The reserved bits set in a standard descriptor (should be 0).
    public var reservedBits: UInt64 { descriptor & Self.standardReservedMask }
    /// Subclusters marked allocated (bitmap bits 0–31).
    public var allocatedSubclusters: UInt32 { UInt32(truncatingIfNeeded: bitmap) }
    /// Subclusters marked as reading zeros (bitmap bits 32–63).
    public var zeroSubclusters: UInt32 { UInt32(truncatingIfNeeded: bitmap >> 32) }

    /// The cluster's kind, as qemu classifies it (no external data file).
    ///
    /// - Parameter extended: whether the image uses extended L2 entries (then the
    ///   zero flag is ignored: zeros are per subcluster).
    public func kind(extended: Bool) -> ClusterKind {
        if isCompressed { return .compressed }
        if hasZeroFlag && !extended {
            return hostOffset != 0 ? .zeroAllocated : .zeroPlain
        }
        return hostOffset == 0 ? .unallocated : .normal
    }

    /// The kind of subcluster `index` (0…31); without extended entries the cluster's kind.
    public func subclusterKind(_ index: Int, extended: Bool) -> SubclusterKind {
        let kind = self.kind(extended: extended)
        guard extended else {
            switch kind {
            case .unallocated: return .unallocatedPlain
            case .zeroPlain: return .zeroPlain
            case .zeroAllocated: return .zeroAllocated
            case .normal: return .normal
            case .compressed: return .compressed
            }
        }
        let bit = UInt32(1) << UInt32(index & 31)
        switch kind {
        case .compressed:
            return .compressed
        case .normal:
            if allocatedSubclusters & zeroSubclusters != 0 { return .invalid }
            if zeroSubclusters & bit != 0 { return .zeroAllocated }
            if allocatedSubclusters & bit != 0 { return .normal }
            return .unallocatedAllocated
        default:
            if allocatedSubclusters != 0 { return .invalid }
            if zeroSubclusters & bit != 0 { return .zeroPlain }
            return .unallocatedPlain
        }
    }

    /// The compressed-data location of a compressed entry.
    public func compressedDescriptor(clusterBits: Int) -> CompressedClusterDescriptor {
        CompressedClusterDescriptor(descriptor: descriptor, clusterBits: clusterBits)
    }
}

/// Where a compressed cluster's bytes are: split at bit x = 62 − (cluster_bits − 8);
/// bits 0…x−1 are the host byte offset, bits x…61 the count of additional 512-byte
/// sectors after the one holding that offset.
public struct CompressedClusterDescriptor: Sendable, Equatable {
    /// Host byte offset of the compressed data (not aligned).
    public var hostOffset: UInt64
    /// 512-byte sectors touched, counting the one holding `hostOffset`.
    public var sectorCount: UInt64

    /// Decodes a compressed L2 descriptor for an image with `clusterBits` (9…21).
    public init(descriptor: UInt64, clusterBits: Int) {
        let bits = min(max(clusterBits, 9), 30)
        let shift = UInt64(62 - (bits - 8))
        let sizeMask = (UInt64(1) << UInt64(bits - 8)) - 1
        hostOffset = descriptor & ((UInt64(1) << shift) - 1)
        sectorCount = ((descriptor >> shift) & sizeMask) + 1
    }

    /// Bytes from `hostOffset` to the end of the last sector (qemu's `csize`):
    /// the compressed data, possibly followed by padding.
    public var byteCount: UInt64 { sectorCount * 512 - (hostOffset & 511) }
}

/// Big-endian loads from raw bytes (callers check bounds).
enum BigEndian {
    @inline(__always) static func uint64(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> UInt64 {
        UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }
    @inline(__always) static func uint32(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> UInt32 {
        UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }
    @inline(__always) static func uint16(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> UInt16 {
        UInt16(bigEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }
}
