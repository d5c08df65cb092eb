/// One internal snapshot: an entry of the snapshot table.
public struct QCOW2Snapshot: Sendable, Hashable {
    /// File offset of this entry (8-byte aligned).
    public var entryOffset: UInt64
    /// Bytes the entry occupies, from `entryOffset` to the end of its name (unpadded).
    public var entryLength: Int
    /// File offset of the snapshot's L1 table.
    public var l1TableOffset: UInt64
    /// Entries in the snapshot's L1 table.
    public var l1Size: UInt32
    /// The unique ID as stored (qemu uses decimal numbers: "1", "2", …).
    public var idBytes: [UInt8]
    /// The name as stored.
    public var nameBytes: [UInt8]
    /// Creation time, seconds since the epoch.
    public var dateSeconds: UInt32
    /// Creation time, nanoseconds part.
    public var dateNanoseconds: UInt32
    /// Guest clock when the snapshot was taken, in nanoseconds.
    public var vmClockNanoseconds: UInt64
    /// Size of the saved VM state: the 64-bit extra-data field when present, else the
    /// 32-bit one.
    public var vmStateSize: UInt64
    /// Bytes of extra data (≤ 1024).
    public var extraDataSize: UInt32
    /// Virtual disk size at snapshot time, when the extra data holds it.
    public var diskSize: UInt64?
    /// Guest instruction count, when the extra data holds it and it is not -1.
    public var icount: UInt64?
    /// Extra data beyond the 24 bytes qemu 7.2 knows.
    public var unknownExtraData: [UInt8]

    /// The ID as qemu shows it: bytes before a NUL, at most 127 of them, decoded like qemu.
    public var id: String { QemuJSON.cString(Array(idBytes.untilNUL.prefix(127))) }
    /// The name as qemu shows it: bytes before a NUL, at most 255 of them, decoded like qemu.
    public var name: String { QemuJSON.cString(Array(nameBytes.untilNUL.prefix(255))) }
}

/// The internal snapshot table, read the way qemu 7.2's `qcow2_read_snapshots` does.
public struct QCOW2SnapshotTable: Sendable, Hashable {
    /// qemu's cap on extra data per entry (`QCOW_MAX_SNAPSHOT_EXTRA_DATA`).
    public static let maximumExtraData: UInt32 = 1024
    /// qemu's cap on the whole table (`QCOW_MAX_SNAPSHOTS_SIZE`, 64 MiB).
    public static let maximumTableBytes: UInt64 = 1024 * 65536

    /// File offset of the table.
    public var offset: UInt64
    /// Bytes from `offset` to the end of the last entry's name.
    public var length: UInt64
    /// The entries in table order.
    public var snapshots: [QCOW2Snapshot]

    /// Parses `header.snapshotCount` entries from `bytes`, which hold the file from
    /// `header.snapshotsOffset` on (bytes past their end read as zeros, as qemu reads
    /// past the end of a file). A pure function, for tests and fuzzing.
    public init(parsing bytes: [UInt8], header: QCOW2Header) throws {
        let base = header.snapshotsOffset
        try self.init(header: header) { offset, count in
            // offset ≥ base always; past Int range only in absurd tables, which read as zeros.
            guard let at = Int(exactly: offset - base) else { return BigEndianBytes([]) }
            return BigEndianBytes(bytes, start: at, count: count)
        }
    }

    /// Reads the table of `image` with a few large `pread`s.
    public init(image: QCOW2Image) throws {
        var window = ReadWindow(image: image)
        try self.init(header: image.header) { offset, count in try window.read(at: offset, count: count) }
    }

    /// The parser proper: `read(offset, count)` returns a view of `count` file bytes
    /// (count ≤ 65535; zeros past what it holds), so no entry costs an allocation but for
    /// its ID and name.
    init(header: QCOW2Header, read: (UInt64, Int) throws -> BigEndianBytes) throws {
        offset = header.snapshotsOffset
        snapshots = []
        let count = Int(header.snapshotCount)  // ≤ 65536, checked by the header parser
        snapshots.reserveCapacity(min(count, 1024))
        var position = offset
        for index in 0..<count {
            position = (position + 7) & ~7
            let entryOffset = position
            try Self.checkReadable(position, 40)
            let h = try read(position, 40)
            position += 40
            var snapshot = QCOW2Snapshot(
                entryOffset: entryOffset, entryLength: 0,
                l1TableOffset: h.u64(0), l1Size: h.u32(8),
                idBytes: [], nameBytes: [],
                dateSeconds: h.u32(16), dateNanoseconds: h.u32(20), vmClockNanoseconds: h.u64(24),
                vmStateSize: UInt64(h.u32(32)), extraDataSize: h.u32(36),
                diskSize: nil, icount: nil, unknownExtraData: [])
            let idSize = Int(h.u16(12))
            let nameSize = Int(h.u16(14))
            guard snapshot.extraDataSize <= Self.maximumExtraData else {
                throw QCOW2HeaderError.snapshotExtraDataTooLarge(index: index, size: snapshot.extraDataSize)
            }
            let extraSize = Int(snapshot.extraDataSize)
            try Self.checkReadable(position, UInt64(extraSize + idSize + nameSize))
            let extra = try read(position, extraSize)
            if extraSize >= 8 { snapshot.vmStateSize = extra.u64(0) }
            snapshot.diskSize = extraSize >= 16 ? extra.u64(8) : nil
            if extraSize >= 24, extra.u64(16) != UInt64.max { snapshot.icount = extra.u64(16) }
            if extraSize > 24 { snapshot.unknownExtraData = extra.slice(24, count: extraSize - 24) }
            position += UInt64(extraSize)
            snapshot.idBytes = try read(position, idSize).slice(0, count: idSize)
            position += UInt64(idSize)
            snapshot.nameBytes = try read(position, nameSize).slice(0, count: nameSize)
            position += UInt64(nameSize)
            snapshot.entryLength = Int(position - entryOffset)
            guard position - offset <= Self.maximumTableBytes else {
                throw QCOW2HeaderError.snapshotTableTooLarge(index: index)
            }
            snapshots.append(snapshot)
        }
        length = position - offset
    }

    /// The EIO qemu's block layer gives reads ending past its maximum length.
    static func checkReadable(_ offset: UInt64, _ length: UInt64) throws {
        try QCOW2Header.checkReadable("Failed to read snapshot table", offset: offset, length: length)
    }
}

/// Serves small reads from one larger buffered `pread` (64 KiB at a time, less at the end
/// of the file).
struct ReadWindow {
    let image: QCOW2Image
    var start: UInt64 = 0
    var bytes: [UInt8] = []

    init(image: QCOW2Image) { self.image = image }

    mutating func read(at offset: UInt64, count: Int) throws -> BigEndianBytes {
        // Past the end of the file every byte reads as zero (as qemu's block layer reads it):
        // a table a hostile header puts there costs no read and no buffer.
        guard count > 0, offset < image.fileSize else { return BigEndianBytes([]) }
        if offset < start || offset - start + UInt64(count) > UInt64(bytes.count) {
            start = offset
            let toEnd = offset < image.fileSize ? image.fileSize - offset : 0
            bytes = try image.file.bytes(count: Int(max(UInt64(count), min(64 << 10, toEnd))), at: offset)
        }
        return BigEndianBytes(bytes, start: Int(offset - start), count: count)
    }
}
