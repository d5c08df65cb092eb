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
    public init(parsing bytes: [UInt8], extension ext: QCOW2BitmapsExtension, clusterSize: Int, virtualSize: UInt64) throws {
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
                || bitmap.tableSize > 0x800_0000 || bitmap.granularityBits > 31 || bitmap.granularityBits < 9
                || bitmap.flags & ~3 != 0 || nameSize > 1023 || bitmap.type != 1
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
    public static func read(from image: QCOW2Image) throws -> QCOW2BitmapDirectory? {
        guard image.header.hasBitmaps, let ext = image.header.bitmapsExtension else { return nil }
        guard ext.directorySize <= maximumBytes else { throw QCOW2HeaderError.bitmapDirectoryTooLarge(ext.directorySize) }
        try QCOW2Header.checkReadable("Failed to read bitmap directory", offset: ext.directoryOffset, length: ext.directorySize)
        let bytes = try image.read(at: ext.directoryOffset, count: Int(ext.directorySize))
        return try QCOW2BitmapDirectory(parsing: bytes, extension: ext, clusterSize: image.header.clusterSize, virtualSize: image.header.virtualSize)
    }
}
