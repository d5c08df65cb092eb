/// What an L2 entry says about one guest cluster (qemu's `QCow2ClusterType`).
enum ClusterKind: Sendable, Equatable {
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
enum SubclusterKind: Sendable, Equatable {
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
struct L2Entry: Sendable, Equatable, Hashable {
    /// The descriptor word, host byte order.
    var descriptor: UInt64
    /// The subcluster bitmap word (0 for standard entries).
    var bitmap: UInt64

    /// An entry from its two words.
    init(descriptor: UInt64, bitmap: UInt64 = 0) {
        self.descriptor = descriptor
        self.bitmap = bitmap
    }

    /// Reads entry `index` of an L2 table held in `table` (big-endian, 8 or 16 bytes an entry).
    ///
    /// - Returns: `nil` when the entry lies outside `table`.
    static func read(from table: BigEndianBytes, index: Int, extended: Bool) -> L2Entry? {
        let size = QCOW2Format.l2EntrySize(extended: extended)
        guard index >= 0, index < table.count / size else { return nil }
        let descriptor = table.u64(index * size)
        let bitmap = extended ? table.u64(index * size + 8) : 0
        return L2Entry(descriptor: descriptor, bitmap: bitmap)
    }

    /// Whether the copied flag (bit 63) is set.
    var isCopied: Bool { descriptor & QCOW2Format.copiedFlag != 0 }
    /// Whether the compressed flag (bit 62) is set.
    var isCompressed: Bool { descriptor & QCOW2Format.compressedFlag != 0 }
    /// Whether the zero flag (bit 0) is set (meaningful for standard L2 entries only).
    var hasZeroFlag: Bool { descriptor & QCOW2Format.zeroFlag != 0 }
    /// The host offset of an uncompressed cluster (bits 9–55).
    var hostOffset: UInt64 { descriptor & QCOW2Format.l2OffsetMask }
    /// The reserved bits set in a standard descriptor (should be 0).
    var reservedBits: UInt64 { descriptor & QCOW2Format.l2StandardReservedMask }
    /// Subclusters marked allocated (bitmap bits 0–31).
    var allocatedSubclusters: UInt32 { UInt32(truncatingIfNeeded: bitmap) }
    /// Subclusters marked as reading zeros (bitmap bits 32–63).
    var zeroSubclusters: UInt32 { UInt32(truncatingIfNeeded: bitmap >> 32) }

    /// The cluster's kind, as qemu classifies it.
    ///
    /// - Parameter extended: whether the image uses extended L2 entries (then the
    ///   zero flag is ignored: zeros are per subcluster).
    /// - Parameter externalDataFile: whether the image keeps its data in an external
    ///   file, where offset 0 is valid: then offset 0 with the copied flag is data.
    func kind(extended: Bool, externalDataFile: Bool = false) -> ClusterKind {
        if isCompressed { return .compressed }
        if hasZeroFlag && !extended {
            return hostOffset != 0 ? .zeroAllocated : .zeroPlain
        }
        if hostOffset == 0 { return externalDataFile && isCopied ? .normal : .unallocated }
        return .normal
    }

    /// The kind of subcluster `index` (0…31); without extended entries the cluster's kind.
    /// `externalDataFile` as for ``kind(extended:externalDataFile:)``.
    func subclusterKind(_ index: Int, extended: Bool, externalDataFile: Bool = false) -> SubclusterKind {
        let kind = self.kind(extended: extended, externalDataFile: externalDataFile)
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
    func compressedDescriptor(clusterBits: Int) -> CompressedClusterDescriptor {
        CompressedClusterDescriptor(descriptor: descriptor, clusterBits: clusterBits)
    }
}

/// Where a compressed cluster's bytes are: split at bit x = 62 − (cluster_bits − 8);
/// bits 0…x−1 are the host byte offset, bits x…61 the count of additional 512-byte
/// sectors after the one holding that offset.
struct CompressedClusterDescriptor: Sendable, Equatable {
    /// Host byte offset of the compressed data (not aligned).
    var hostOffset: UInt64
    /// 512-byte sectors touched, counting the one holding `hostOffset`.
    var sectorCount: UInt64

    /// Decodes a compressed L2 descriptor for an image with `clusterBits` (9…21).
    init(descriptor: UInt64, clusterBits: Int) {
        let bits = min(max(clusterBits, 9), 30)
        let shift = UInt64(62 - (bits - 8))
        let sizeMask = (UInt64(1) << UInt64(bits - 8)) - 1
        hostOffset = descriptor & ((UInt64(1) << shift) - 1)
        sectorCount = ((descriptor >> shift) & sizeMask) + 1
    }

    /// Bytes from `hostOffset` to the end of the last sector (qemu's `csize`):
    /// the compressed data, possibly followed by padding.
    var byteCount: UInt64 { sectorCount * 512 - (hostOffset & 511) }
}
