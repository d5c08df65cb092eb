import ByteStreams

/// Why a qcow2 header (or the metadata it points to) cannot be opened.
///
/// Each case is a check qemu 7.2's `qcow2_do_open` (or `qcow2_read_extensions`,
/// `qcow2_read_snapshots`) makes and refuses the image on; the description names the
/// header field, its value and qemu's own wording.
public enum QCOW2HeaderError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The caller passed fewer bytes than the first cluster (or the whole file, if shorter).
    case insufficientInput(have: Int, need: Int)
    /// The first four bytes are not `QFI\xfb`.
    case badMagic(UInt32)
    /// `version` is not 2 or 3.
    case unsupportedVersion(UInt32)
    /// `cluster_bits` is outside 9…21.
    case unsupportedClusterBits(UInt32)
    /// v3 `header_length` below 104.
    case headerTooShort(headerLength: UInt32)
    /// v3 `header_length` larger than a cluster.
    case headerExceedsCluster(headerLength: UInt32, clusterSize: UInt64)
    /// `backing_file_offset` beyond the first cluster.
    case backingFileOffsetInvalid(offset: UInt64, clusterSize: UInt64)
    /// `compression_type` neither 0 (zlib) nor 1 (zstd).
    case unknownCompressionType(UInt8)
    /// Compression type zlib with incompatible bit 3 set.
    case compressionBitWithZlib
    /// Compression type zstd without incompatible bit 3.
    case compressionTypeWithoutBit(UInt8)
    /// Incompatible bits qemu does not know; names from the image's feature table.
    case unsupportedFeatures(mask: UInt64, names: [String])
    /// Extended L2 with clusters so small that a subcluster is under 512 bytes.
    case unsupportedSubclusterSize(Int)
    /// `refcount_order` above 6 (refcounts wider than 64 bits).
    case refcountOrderTooLarge(UInt32)
    /// `crypt_method` not 0, 1 or 2.
    case unsupportedEncryptionMethod(UInt32)
    /// `refcount_table_clusters` is 0.
    case noRefcountTable
    /// A table larger than qemu's cap (`table` is qemu's name, e.g. "Active L1 table").
    case tableTooLarge(table: String, entries: UInt64, maximumBytes: UInt64)
    /// A table offset not cluster aligned, or offset + size beyond `INT64_MAX`.
    case tableOffsetInvalid(table: String, offset: UInt64)
    /// A table read that qemu's block layer refuses with EIO: it ends past
    /// `BDRV_MAX_LENGTH` (2^63 − 2^30). `operation` is qemu's wording, e.g.
    /// "Could not read L1 table".
    case unreadable(operation: String, offset: UInt64, length: UInt64)
    /// `size` needs more than `INT_MAX` L1 entries.
    case imageTooBig(virtualSize: UInt64)
    /// `l1_size` smaller than `size` needs.
    case l1TableTooSmall(l1Size: UInt32, needed: UInt64)
    /// A header extension whose length runs past the end of the extension area.
    case extensionTooLarge(offset: Int, type: UInt32, length: UInt32, areaEnd: Int)
    /// A backing-format extension of 16 bytes or more.
    case backingFormatTooLong(length: UInt32)
    /// A full-disk-encryption extension in an image not using LUKS.
    case cryptoHeaderWithoutLUKS(cryptMethod: UInt32)
    /// A full-disk-encryption extension not exactly 16 bytes long.
    case cryptoHeaderSize(UInt32)
    /// The encryption header offset is not cluster aligned.
    case cryptoHeaderOffsetUnaligned(offset: UInt64, clusterSize: UInt64)
    /// A bitmaps extension not 24 bytes long.
    case bitmapsExtensionSize(UInt32)
    /// A bitmaps extension whose reserved field is not zero.
    case bitmapsReservedNotZero(UInt32)
    /// More than 65535 bitmaps.
    case tooManyBitmaps(UInt32)
    /// A bitmaps extension announcing zero bitmaps.
    case zeroBitmaps
    /// The bitmap directory offset is not cluster aligned.
    case bitmapDirectoryOffsetInvalid(UInt64)
    /// The bitmap directory is larger than qemu's cap (65535 × 1024 bytes).
    case bitmapDirectoryTooLarge(UInt64)
    /// `backing_file_size` above 1023 or past the end of the first cluster.
    case backingFileNameTooLong(offset: UInt64, length: UInt32, clusterSize: UInt64)
    /// A snapshot table entry with more than 1024 bytes of extra data.
    case snapshotExtraDataTooLarge(index: Int, size: UInt32)
    /// The snapshot table grows beyond qemu's 64 MiB cap.
    case snapshotTableTooLarge(index: Int)
    /// A bitmap directory entry that is malformed.
    case bitmapDirectoryEntryInvalid(index: Int, reason: String)
    /// A LUKS header that cannot be parsed.
    case luksHeaderInvalid(reason: String)

    /// One line naming the field, its value and what is wrong (with qemu's wording).
    public var description: String {
        switch self {
        case let .insufficientInput(have, need):
            return "parser given \(have) bytes but the first cluster needs \(need)"
        case let .badMagic(magic):
            return "magic is 0x\(String(magic, radix: 16)), not 0x514649fb: Image is not in qcow2 format"
        case let .unsupportedVersion(version):
            return "version is \(version): Unsupported qcow2 version \(version)"
        case let .unsupportedClusterBits(bits):
            return "cluster_bits is \(bits), outside 9...21: Unsupported cluster size: 2^\(bits)"
        case let .headerTooShort(length):
            return "header_length is \(length), below 104: qcow2 header too short"
        case let .headerExceedsCluster(length, clusterSize):
            return "header_length is \(length), larger than the \(clusterSize)-byte cluster: qcow2 header exceeds cluster size"
        case let .backingFileOffsetInvalid(offset, clusterSize):
            return "backing_file_offset is \(offset), beyond the \(clusterSize)-byte first cluster: Invalid backing file offset"
        case let .unknownCompressionType(type):
            return "compression_type is \(type): qcow2: unknown compression type: \(type)"
        case .compressionBitWithZlib:
            return "incompatible bit 3 is set but compression_type is 0 (zlib): qcow2: Compression type incompatible feature bit must not be set"
        case let .compressionTypeWithoutBit(type):
            return "compression_type is \(type) but incompatible bit 3 is clear: qcow2: Compression type incompatible feature bit must be set"
        case let .unsupportedFeatures(mask, names):
            return "incompatible_features has unknown bits 0x\(String(mask, radix: 16)): Unsupported qcow2 feature(s): \(names.map(TerminalText.escaping).joined(separator: ", "))"
        case let .unsupportedSubclusterSize(size):
            return "extended L2 with cluster_bits below 14: Unsupported subcluster size: \(size)"
        case let .refcountOrderTooLarge(order):
            return "refcount_order is \(order), above 6: Reference count entry width too large; may not exceed 64 bits"
        case let .unsupportedEncryptionMethod(method):
            return "crypt_method is \(method): Unsupported encryption method \(method)"
        case .noRefcountTable:
            return "refcount_table_clusters is 0: Image does not contain a reference count table"
        case let .tableTooLarge(table, entries, maximumBytes):
            return "\(table) has \(entries) entries, more than qemu's \(maximumBytes)-byte cap: \(table) too large"
        case let .tableOffsetInvalid(table, offset):
            return "\(table) offset \(offset) is not cluster aligned or overflows: \(table) offset invalid"
        case let .unreadable(operation, offset, length):
            return "\(length) bytes at offset \(offset) end past qemu's maximum file length: \(operation): Input/output error"
        case let .imageTooBig(size):
            return "size is \(size): Image is too big"
        case let .l1TableTooSmall(l1Size, needed):
            return "l1_size is \(l1Size) but size needs \(needed) entries: L1 table is too small"
        case let .extensionTooLarge(offset, type, length, areaEnd):
            return "header extension 0x\(String(type, radix: 16)) at byte \(offset) has length \(length), past the extension area end \(areaEnd): Header extension too large"
        case let .backingFormatTooLong(length):
            return "backing format extension is 16 bytes or more: ERROR: ext_backing_format: len=\(length) too large (>=16)"
        case let .cryptoHeaderWithoutLUKS(method):
            return "full-disk-encryption extension with crypt_method \(method): CRYPTO header extension only expected with LUKS encryption method"
        case let .cryptoHeaderSize(length):
            return "full-disk-encryption extension length is \(length), expected 16"
        case let .cryptoHeaderOffsetUnaligned(offset, clusterSize):
            return "Encryption header offset '\(offset)' is not a multiple of cluster size '\(clusterSize)'"
        case let .bitmapsExtensionSize(length):
            return "bitmaps extension length is \(length), expected 24: bitmaps_ext: Invalid extension length"
        case let .bitmapsReservedNotZero(value):
            return "bitmaps extension reserved field is \(value): bitmaps_ext: Reserved field is not zero"
        case let .tooManyBitmaps(count):
            return "bitmaps extension nb_bitmaps is \(count), exceeding the QEMU supported maximum of 65535"
        case .zeroBitmaps:
            return "bitmaps extension nb_bitmaps is 0: found bitmaps extension with zero bitmaps"
        case let .bitmapDirectoryOffsetInvalid(offset):
            return "bitmap_directory_offset \(offset) is not cluster aligned: bitmaps_ext: invalid bitmap directory offset"
        case let .bitmapDirectoryTooLarge(size):
            return "bitmap_directory_size \(size) exceeds the maximum supported size (67107840)"
        case let .backingFileNameTooLong(offset, length, clusterSize):
            return "backing_file_size is \(length) at offset \(offset), more than \(QCOW2Format.maximumBackingNameLength) or past the \(clusterSize)-byte first cluster: Backing file name too long"
        case let .snapshotExtraDataTooLarge(index, size):
            return "snapshot \(index) has \(size) bytes of extra data, above 1024: Too much extra metadata in snapshot table entry \(index)"
        case let .snapshotTableTooLarge(index):
            return "snapshot table passes 64 MiB at entry \(index): Snapshot table exceeds the maximum size"
        case let .bitmapDirectoryEntryInvalid(index, reason):
            return "bitmap directory entry \(index): \(reason)"
        case let .luksHeaderInvalid(reason):
            return "LUKS header: \(reason)"
        }
    }
}
