/// The qcow2 format's constants in one place (our `qcow2.h`): the magic, header field limits,
/// the masks and flag bits of L1, L2, refcount table and bitmap table entries, and qemu's caps.
///
/// Sources: qemu's `docs/interop/qcow2.rst` (the format) and `block/qcow2.h` (qemu 7.2's
/// masks and limits). Every reader, checker, auditor and writer in this module takes these
/// numbers from here; feature bits are ``QCOW2IncompatibleFeatures``,
/// ``QCOW2CompatibleFeatures`` and ``QCOW2AutoclearFeatures``.
enum QCOW2Format {
    // MARK: Header

    /// `QFI\xfb`.
    static let magic: UInt32 = 0x5146_49FB
    /// Length of a version 2 header.
    static let version2HeaderLength = 72
    /// Minimum `header_length` of a version 3 header (with the compression type byte and padding).
    static let version3MinimumHeaderLength = 104
    /// `cluster_bits` qemu accepts (512 bytes to 2 MiB).
    static let clusterBits: ClosedRange<UInt32> = 9...21
    /// Cluster sizes in bytes qemu accepts (`MIN_CLUSTER_BITS`…`MAX_CLUSTER_BITS`): 2 to the
    /// power of each ``clusterBits``, 512 bytes to 2 MiB.
    static let clusterSizes: ClosedRange<UInt64> = (1 << UInt64(clusterBits.lowerBound))...(1 << UInt64(clusterBits.upperBound))
    /// Largest `refcount_order` (64-bit refcounts).
    static let maximumRefcountOrder = 6
    /// Smallest `cluster_bits` with extended L2 entries (32 subclusters of at least 512 bytes).
    static let minimumExtendedL2ClusterBits = 14
    /// Subclusters per cluster with extended L2 entries.
    static let subclustersPerCluster = 32
    /// Longest backing file name qemu accepts (`backing_file_size` up to 1023, qemu's
    /// `1023` in `qcow2_do_open`); also the longest data-file name our name rule allows.
    static let maximumBackingNameLength = 1023

    // MARK: Sectors

    /// `BDRV_SECTOR_SIZE`: qemu's block layer counts lengths in whole 512-byte sectors.
    static let sectorSize: UInt64 = 512

    /// `bytes` rounded up to whole sectors (``sectorSize``), as qemu's `bdrv_getlength`
    /// reports a file's length; `nil` when that would pass `UInt64.max`.
    static func roundedUpToSectors(_ bytes: UInt64) -> UInt64? {
        guard bytes <= UInt64.max - (sectorSize - 1) else { return nil }
        return (bytes + (sectorSize - 1)) & ~(sectorSize - 1)
    }

    // MARK: qemu's caps (block/qcow2.h)

    /// `QCOW_MAX_L1_SIZE`: the most bytes of an L1 table.
    static let maximumL1Bytes: UInt64 = 32 << 20
    /// `QCOW_MAX_REFTABLE_SIZE`: the most bytes of the refcount table.
    static let maximumRefcountTableBytes: UInt64 = 8 << 20
    /// `QCOW_MAX_SNAPSHOTS`.
    static let maximumSnapshots: UInt64 = 65536
    /// Host offsets are below 2^56 (the offset masks keep bits 9–55).
    static let hostOffsetLimit: UInt64 = 1 << 56
    /// `BDRV_MAX_LENGTH`: qemu's block layer refuses a request ending past this.
    static let maximumRequestEnd: UInt64 = UInt64(Int64.max) & ~((1 << 30) - 1)

    // MARK: L1 entries

    /// `L1E_OFFSET_MASK`: the L2 table's offset (bits 9–55).
    static let l1OffsetMask: UInt64 = 0x00FF_FFFF_FFFF_FE00
    /// `L1E_RESERVED_MASK`: bits an L1 entry must leave clear.
    static let l1ReservedMask: UInt64 = 0x7F00_0000_0000_01FF

    // MARK: L2 entries

    /// `L2E_OFFSET_MASK`: the host cluster's offset of a standard descriptor (bits 9–55).
    static let l2OffsetMask: UInt64 = 0x00FF_FFFF_FFFF_FE00
    /// `L2E_STD_RESERVED_MASK`: bits a standard (uncompressed) descriptor must leave clear.
    static let l2StandardReservedMask: UInt64 = 0x3F00_0000_0000_01FE
    /// `QCOW_OFLAG_COPIED`, bit 63 of L1 and L2 entries: the refcount is exactly one.
    static let copiedFlag: UInt64 = 1 << 63
    /// `QCOW_OFLAG_COMPRESSED`, bit 62 of an L2 entry.
    static let compressedFlag: UInt64 = 1 << 62
    /// `QCOW_OFLAG_ZERO`, bit 0 of a standard L2 entry: reads as zeros.
    static let zeroFlag: UInt64 = 1
    /// Bytes of an L2 entry: 8, or 16 with extended L2 entries.
    static func l2EntrySize(extended: Bool) -> Int { extended ? 16 : 8 }

    // MARK: Refcount table entries

    /// `REFT_OFFSET_MASK`: the refcount block's offset.
    static let refcountTableOffsetMask: UInt64 = 0xFFFF_FFFF_FFFF_FE00
    /// `REFT_RESERVED_MASK`: bits a refcount table entry must leave clear.
    static let refcountTableReservedMask: UInt64 = 0x1FF

    // MARK: Bitmaps (block/qcow2-bitmap.c)

    /// `BME_MAX_TABLE_SIZE`: the most entries of one bitmap's table.
    static let maximumBitmapTableEntries: UInt32 = 0x800_0000
    /// `BME_MIN_GRANULARITY_BITS`…`BME_MAX_GRANULARITY_BITS`: a bitmap's granularity, as a
    /// power of two (512 bytes to 2 GiB).
    static let bitmapGranularityBits: ClosedRange<UInt8> = 9...31
    /// `BME_MAX_NAME_SIZE`: the longest bitmap name.
    static let maximumBitmapNameLength = 1023
    /// Not qemu's: the most bytes of a bitmap directory, and of one bitmap table, that
    /// `check` reads into memory (64 MiB, the memory bound of every command). qemu's own caps
    /// (`QCOW2_MAX_BITMAP_DIRECTORY_SIZE`, 65535 KiB, and `BME_MAX_TABLE_SIZE` entries) are
    /// checked where the directory is parsed; past this one `check` counts a corruption.
    static let maximumCheckedBitmapBytes: UInt64 = 64 << 20

    // MARK: Audit budget

    /// Not qemu's: the most bytes of active L2 tables the audit reads to find a compressed
    /// cluster (64 MiB, whatever the cluster size); past it that check is skipped.
    static let maximumAuditL2ScanBytes: UInt64 = 64 << 20

    // MARK: Bitmap table entries (block/qcow2-bitmap.c)

    /// `BME_TABLE_ENTRY_OFFSET_MASK`.
    static let bitmapTableOffsetMask: UInt64 = 0x00FF_FFFF_FFFF_FE00
    /// `BME_TABLE_ENTRY_RESERVED_MASK`.
    static let bitmapTableReservedMask: UInt64 = 0xFF00_0000_0000_01FE
    /// `BME_TABLE_ENTRY_FLAG_ALL_ONES`.
    static let bitmapTableAllOnesFlag: UInt64 = 1
}
