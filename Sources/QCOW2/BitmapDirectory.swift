import ByteStreams

/// One entry of the bitmap directory (persistent dirty bitmaps).
public struct QCOW2Bitmap: Sendable, Hashable {
    /// File offset of the bitmap table.
    public var tableOffset: UInt64
    /// Entries in the bitmap table.
    public var tableSize: UInt32
    /// Flag bits: 0 in use, 1 auto, 2 extra data compatible.
    public var flags: UInt32
    /// Bitmap type (1: dirty tracking).
    public var type: UInt8
    /// log2 of the bytes one bit covers.
    public var granularityBits: UInt8
    /// The name as stored.
    public var nameBytes: [UInt8]

    /// The name as qemu shows it (bytes before a NUL, decoded like qemu).
    public var name: String { QemuJSON.cString(nameBytes) }
    /// Bytes one bit covers.
    public var granularity: UInt64 { UInt64(1) << UInt64(granularityBits) }
    /// Flag bit 0: the bitmap was not saved cleanly.
    public var isInUse: Bool { flags & 1 != 0 }
    /// Flag bit 1: qemu updates the bitmap on writes.
    public var isAuto: Bool { flags & 2 != 0 }
}

/// The bitmap directory, read and checked the way qemu 7.2's `bitmap_list_load` does.
public struct QCOW2BitmapDirectory: Sendable, Hashable {
    /// qemu's cap on the directory (`QCOW2_MAX_BITMAP_DIRECTORY_SIZE`).
    public static let maximumBytes: UInt64 = 65535 * 1024

    /// The entries in directory order.
    public var bitmaps: [QCOW2Bitmap]

    /// qemu's cap on the bytes one bitmap's data may occupy (`BME_MAX_PHYS_SIZE`).
    public static let maximumBitmapBytes: UInt64 = 0x2000_0000

    /// Parses the directory from its bytes (exactly `extension.directorySize` of them),
    /// with qemu's `check_dir_entry` checks (a bitmap not in use must cover `virtualSize`).
    init(parsing bytes: [UInt8], extension ext: QCOW2BitmapsExtension, clusterSize: Int, virtualSize: UInt64) throws {
        guard ext.directorySize != 0 else { throw QCOW2HeaderError.bitmapDirectoryEntryInvalid(index: 0, reason: "Requested bitmap directory size is zero") }
        guard ext.directorySize <= Self.maximumBytes, bytes.count == Int(ext.directorySize) else {
            throw QCOW2HeaderError.bitmapDirectoryTooLarge(ext.directorySize)
        }
        let b = BigEndianBytes(bytes)
        bitmaps = []
        var at = 0
        while at < bytes.count {
            let index = bitmaps.count
            guard at + 24 <= bytes.count else { throw QCOW2HeaderError.bitmapDirectoryEntryInvalid(index: index, reason: "Broken bitmap directory") }
            guard index < Int(ext.bitmapCount) else {
                throw QCOW2HeaderError.bitmapDirectoryEntryInvalid(index: index, reason: "More bitmaps found than specified in header extension")
            }
            let nameSize = Int(b.u16(at + 18))
            let extraSize = b.u32(at + 20)
            guard UInt64(extraSize) <= UInt64(bytes.count) else {
                throw QCOW2HeaderError.bitmapDirectoryEntryInvalid(index: index, reason: "Broken bitmap directory")
            }
            let next = at + ((24 + Int(extraSize) + nameSize + 7) & ~7)
            guard next <= bytes.count else { throw QCOW2HeaderError.bitmapDirectoryEntryInvalid(index: index, reason: "Broken bitmap directory") }
            guard extraSize == 0 else { throw QCOW2HeaderError.bitmapDirectoryEntryInvalid(index: index, reason: "Bitmap extra data is not supported") }
            let bitmap = QCOW2Bitmap(
                tableOffset: b.u64(at), tableSize: b.u32(at + 8), flags: b.u32(at + 12),
                type: b.u8(at + 16), granularityBits: b.u8(at + 17),
                nameBytes: b.slice(at + 24, count: nameSize))
            let cluster = UInt64(clusterSize)
            let bad = bitmap.tableSize == 0 || bitmap.tableOffset == 0 || bitmap.tableOffset % cluster != 0
                || bitmap.tableSize > QCOW2Format.maximumBitmapTableEntries || !QCOW2Format.bitmapGranularityBits.contains(bitmap.granularityBits)
                || bitmap.flags & ~3 != 0 || nameSize > QCOW2Format.maximumBitmapNameLength || bitmap.type != 1
                || UInt64(bitmap.tableSize) * cluster > Self.maximumBitmapBytes
                || (!bitmap.isInUse && virtualSize > (UInt64(bitmap.tableSize) * cluster * 8) << UInt64(bitmap.granularityBits))
            guard !bad else {
                throw QCOW2HeaderError.bitmapDirectoryEntryInvalid(index: index, reason: "Bitmap \(TerminalText.quoted(bitmap.name)) doesn't satisfy the constraints")
            }
            bitmaps.append(bitmap)
            at = next
        }
        guard bitmaps.count == Int(ext.bitmapCount) else {
            throw QCOW2HeaderError.bitmapDirectoryEntryInvalid(index: bitmaps.count, reason: "Less bitmaps found than specified in header extension")
        }
    }

    /// Reads and parses the directory of `image`; `nil` when the image has no bitmaps in
    /// force (no extension, or autoclear bit 0 clear).
    static func read(from image: QCOW2Image) throws -> QCOW2BitmapDirectory? {
        guard image.header.hasBitmaps, let ext = image.header.bitmapsExtension else { return nil }
        guard ext.directorySize <= maximumBytes else { throw QCOW2HeaderError.bitmapDirectoryTooLarge(ext.directorySize) }
        try QCOW2Header.checkReadable("Failed to read bitmap directory", offset: ext.directoryOffset, length: ext.directorySize)
        let bytes = try image.file.bytes(count: Int(ext.directorySize), at: ext.directoryOffset)
        let directory = try QCOW2BitmapDirectory(parsing: bytes, extension: ext, clusterSize: image.header.clusterSize, virtualSize: image.header.virtualSize)
        try directory.checkLoad(of: image)
        return directory
    }

    /// The most bytes of bitmap tables inside the file one ``read(from:)`` scans (tables
    /// shared by many entries are scanned once): a directory of 65,535 entries each naming
    /// a different 8 MiB table would otherwise cost gigabytes of reads to open.
    static let maximumTableBytesScanned: UInt64 = 256 << 20

    /// qemu's `load_bitmap`, which `qcow2_load_dirty_bitmaps` runs at open for every bitmap
    /// not in use: the bitmap table is read and each entry checked (`bitmap_table_load`,
    /// `check_table_entry`), then the table must have exactly the entries the virtual size
    /// needs at the bitmap's granularity (`load_bitmap_data`). qemu refuses to open the image
    /// otherwise (for info, check, map and convert alike).
    func checkLoad(of image: QCOW2Image) throws {
        let cluster = UInt64(image.header.clusterSize)
        // bdrv_getlength of a qcow2 image: the virtual size in whole 512-byte sectors.
        let length = image.header.virtualSize / 512 * 512
        var budget = Self.maximumTableBytesScanned
        var scanned = Set<ScannedTable>()
        for (index, bitmap) in bitmaps.enumerated() where !bitmap.isInUse {
            let table = ScannedTable(offset: bitmap.tableOffset, entries: bitmap.tableSize)
            if !scanned.contains(table) {
                try Self.checkTableEntries(table, of: image, clusterSize: cluster, budget: &budget) { reason in
                    QCOW2HeaderError.bitmapDirectoryEntryInvalid(
                        index: index, reason: "Could not read bitmap_table table from image for bitmap \(TerminalText.quoted(bitmap.name)): \(reason)")
                }
                scanned.insert(table)
            }
            // hbitmap's serialization: one 64-bit word per 64 granules, in whole clusters.
            let words = length == 0 ? 0 : ((length - 1) >> (UInt64(bitmap.granularityBits) + 6)) + 1
            let needed = (words * 8 + cluster - 1) / cluster
            guard needed == UInt64(bitmap.tableSize) else {
                throw QCOW2HeaderError.bitmapDirectoryEntryInvalid(
                    index: index,
                    reason: "Could not read bitmap \(TerminalText.quoted(bitmap.name)) from image: Invalid argument (its table has \(bitmap.tableSize) entries, the virtual size needs \(needed))")
            }
        }
    }

    /// A bitmap table by place and length.
    struct ScannedTable: Hashable {
        var offset: UInt64
        var entries: UInt32
    }

    /// Reads `table` (entries past the end of the file read as zeros, which are valid) in
    /// pieces of at most 1 MiB and throws `failure(reason)` at the first entry qemu's
    /// `check_table_entry` refuses, or when it cannot be read.
    static func checkTableEntries(_ table: ScannedTable, of image: QCOW2Image, clusterSize: UInt64, budget: inout UInt64,
                                  failure: (String) -> QCOW2HeaderError) throws {
        let bytes = UInt64(table.entries) * 8
        guard table.offset <= QCOW2Format.maximumRequestEnd, bytes <= QCOW2Format.maximumRequestEnd - table.offset else {
            throw failure("Input/output error")
        }
        let file = image.file
        let inside = table.offset < file.size ? min(bytes, file.size - table.offset) : 0
        guard inside <= budget else {
            throw failure("the bitmap tables to check pass \(maximumTableBytesScanned >> 20) MiB; refusing to read more")
        }
        budget -= inside
        let piece: UInt64 = 1 << 20
        var done: UInt64 = 0
        while done < inside {
            let count = min(piece, inside - done)
            let chunk = BigEndianBytes(try file.readInsideFile(count: Int(count), at: table.offset + done))
            var at = 0
            while UInt64(at) < count {
                let entry = chunk.u64(at)
                let offset = entry & QCOW2Format.bitmapTableOffsetMask
                if entry & QCOW2Format.bitmapTableReservedMask != 0
                    || (offset != 0 && (entry & QCOW2Format.bitmapTableAllOnesFlag != 0 || offset % clusterSize != 0)) {
                    throw failure("Invalid argument")
                }
                at += 8
            }
            done += count
        }
    }
}
