/// One L1 table entry: the offset of an L2 table plus flags.
struct L1Entry: Sendable, Equatable {
    /// The entry as stored (host byte order).
    var raw: UInt64

    /// The L2 table's offset (bits 9–55); 0 when no L2 table is allocated.
    var l2Offset: UInt64 { raw & QCOW2Format.l1OffsetMask }
    /// The reserved bits set (should be 0; qemu's check reports them).
    var reservedBits: UInt64 { raw & QCOW2Format.l1ReservedMask }
    /// Whether the copied flag (bit 63) is set.
    var isCopied: Bool { raw & QCOW2Format.copiedFlag != 0 }
}

/// An L1 table in an image file (the active one or a snapshot's), read in chunks of
/// ``chunkEntries`` entries so a 32 MiB table never sits in memory at once. Bytes past the
/// end of the file read as zeros (unallocated), as qemu reads them.
///
/// The one reader of L1 tables: the check, the audit, the guest-offset lookup and
/// ``QCOW2Image/firstAllocatedL1Index()`` all go through it.
struct L1Table {
    /// Entries read at a time (64 KiB).
    static let chunkEntries = 8192

    let file: ImageFile
    /// File offset of the table.
    let offset: UInt64
    /// Number of entries.
    let count: Int

    private var chunk = BigEndianBytes([])
    private var chunkStart = -1

    /// The table of `count` entries at `offset` of `file`.
    ///
    /// - Throws: ``ImageAccessError/tooLarge(what:size:limit:)`` past qemu's 32 MiB cap.
    init(file: ImageFile, offset: UInt64, count: Int) throws {
        guard count >= 0, UInt64(count) <= QCOW2Format.maximumL1Bytes / 8 else {
            throw ImageAccessError.tooLarge(what: "an L1 table", size: UInt64(max(count, 0)) &* 8, limit: QCOW2Format.maximumL1Bytes)
        }
        self.file = file
        self.offset = offset
        self.count = count
    }

    /// The active L1 table of `layout`'s image.
    init(file: ImageFile, layout: ImageLayout) throws {
        try self.init(file: file, offset: layout.l1Offset, count: Int(layout.l1Size))
    }

    /// Size of the table in bytes.
    var byteCount: UInt64 { UInt64(count) * 8 }

    /// Whether the whole table lies inside the file.
    var isInsideFile: Bool { offset < file.size && byteCount <= file.size - offset }

    /// Entries `start..<start + n` (n ≤ ``chunkEntries``, clipped to the table), read in one
    /// `pread`; `nil` when their file offset does not fit in 64 bits.
    private func readChunk(at start: Int) throws -> BigEndianBytes? {
        let entries = min(Self.chunkEntries, count - start)
        let (position, overflow) = offset.addingReportingOverflow(UInt64(start) * 8)
        guard !overflow else { return nil }
        return BigEndianBytes(try file.read(count: entries * 8, at: position))
    }

    /// Visits the entries in order, a chunk read at a time, until `body` returns `false`.
    /// Entries whose file offset would overflow are not visited.
    func visit(_ body: (_ index: Int, _ entry: L1Entry) throws -> Bool) throws {
        var start = 0
        while start < count {
            guard let bytes = try readChunk(at: start) else { return }
            let entries = bytes.count / 8
            for i in 0..<entries {
                guard try body(start + i, L1Entry(raw: bytes.u64(i * 8))) else { return }
            }
            start += entries
        }
    }

    /// Entry `index` (0 ≤ index < ``count``), through a one-chunk cache.
    mutating func entry(_ index: Int) throws -> L1Entry {
        guard index >= 0, index < count else { return L1Entry(raw: 0) }
        let start = index - index % Self.chunkEntries
        if start != chunkStart {
            chunk = try readChunk(at: start) ?? BigEndianBytes([])
            chunkStart = start
        }
        return L1Entry(raw: chunk.u64((index - start) * 8))
    }
}

extension QCOW2Image {
    /// The index of the first active L1 entry that points to an L2 table, or `nil` when the
    /// image maps no guest cluster itself (every read goes to the backing file, or is zeros).
    ///
    /// A freshly created overlay has none: this is how an image's layer is known to hold no
    /// data. Reads the active L1 table in 64 KiB chunks (its size and place were checked by
    /// the header parse; entries past the end of the file read as unallocated).
    ///
    /// - Throws: ``ImageAccessError`` when the table cannot be read.
    public func firstAllocatedL1Index() throws -> Int? {
        let table = try L1Table(file: file, offset: header.l1TableOffset, count: Int(header.l1Size))
        var found: Int?
        try table.visit { index, entry in
            if entry.l2Offset != 0 { found = index }
            return found == nil
        }
        return found
    }
}
