/// The refcount table of an image file and the stored refcounts behind it: the one reader
/// of refcount table entries and refcount blocks (entry unpacking is ``RefcountWidth``'s).
///
/// Two ways to read, for two callers:
/// - ``loadEntries()`` reads the whole table (at most 8 MiB, qemu's cap) once, and
///   ``refcount(ofCluster:)`` then keeps the last refcount block read: `qemu-img check`
///   walks every cluster in order.
/// - Without it, each lookup reads the table entry (8 bytes) and the refcount entry (1 to
///   8 bytes): `inspect`'s audit asks about one or two clusters.
struct RefcountTable {
    /// Which refcount blocks may be read (a block refused gives a `nil` refcount).
    enum BlockRule {
        /// qemu's `qcow2_get_refcount`: the block is cluster aligned and ends before qemu's
        /// largest request end; a block past the end of the file reads as zeros.
        case qemu
        /// The block is cluster aligned and lies wholly inside the file (the audit's rule).
        case insideFile
    }

    let file: ImageFile
    /// File offset of the table.
    let offset: UInt64
    /// Number of 8-byte entries.
    let count: Int
    let clusterBits: Int
    let width: RefcountWidth
    let rule: BlockRule
    /// The raw table entries, once ``loadEntries()`` has read them.
    private(set) var entries: [UInt64]?
    private var cachedBlockOffset: UInt64 = .max
    private var cachedBlock = BigEndianBytes([])

    /// The table `layout` describes (its size already checked against qemu's cap).
    init(file: ImageFile, layout: ImageLayout, rule: BlockRule = .qemu) {
        self.file = file
        offset = layout.refcountTableOffset
        count = layout.refcountTableEntries
        clusterBits = layout.clusterBits
        width = layout.width
        self.rule = rule
    }

    /// The table of a parsed image (the header parse checked its size and alignment).
    init(image: QCOW2Image, rule: BlockRule) {
        let header = image.header
        file = image.file
        offset = header.refcountTableOffset
        clusterBits = Int(header.clusterBits)
        count = Int(header.refcountTableClusters) << clusterBits / 8
        width = RefcountWidth(clampedOrder: Int(header.refcountOrder))
        self.rule = rule
    }

    var clusterSize: Int { 1 << clusterBits }
    /// Size of the table in bytes.
    var byteCount: UInt64 { UInt64(count) * 8 }
    /// Whether the whole table lies inside the file.
    var isInsideFile: Bool { offset < file.size && byteCount <= file.size - offset }
    /// Clusters one refcount block covers, as a power of two.
    var entriesPerBlockBits: Int { clusterBits + 3 - width.order }

    /// Reads the table. Entries past the end of the file read as zeros, so only the entries
    /// that start inside the file are held (``entry(_:)`` gives 0 for the rest): a table that
    /// claims 8 MiB in a small file costs what the file holds, not 8 MiB of zeros.
    mutating func loadEntries() throws {
        let table = BigEndianBytes(try file.readInsideFile(count: count * 8, at: offset))
        // Entries that start inside the file (the last one may end past it: zeros fill it).
        let held = (table.count + 7) / 8
        entries = [UInt64](unsafeUninitializedCapacity: held) { buffer, initialized in
            for i in 0..<held { buffer[i] = table.u64(i * 8) }
            initialized = held
        }
    }

    /// Table entry `index` as stored (0 past the table, or past the end of the file).
    func entry(_ index: UInt64) throws -> UInt64 {
        guard index < UInt64(count) else { return 0 }
        if let entries { return index < UInt64(entries.count) ? entries[Int(index)] : 0 }
        return BigEndianBytes(try file.read(count: 8, at: offset + index * 8)).u64(0)
    }

    /// The last table entry before index `end` that is not zero, with its index; `nil` when
    /// every one is. Reads the whole table (``loadEntries()``) when it is not held yet.
    mutating func lastNonZeroEntry(before end: Int) throws -> (index: Int, entry: UInt64)? {
        if entries == nil { try loadEntries() }
        let held = entries ?? []
        var index = min(end, held.count)
        while index > 0 {
            index -= 1
            if held[index] != 0 { return (index, held[index]) }
        }
        return nil
    }

    /// The refcount block offset an entry names (reserved bits cleared).
    static func blockOffset(_ entry: UInt64) -> UInt64 { entry & QCOW2Format.refcountTableOffsetMask }

    /// Whether the refcount block at `blockOffset` (not 0) may be read under ``rule``.
    func mayRead(block blockOffset: UInt64) -> Bool {
        let cluster = UInt64(clusterSize)
        guard blockOffset & (cluster - 1) == 0 else { return false }
        switch rule {
        case .qemu: return blockOffset <= QCOW2Format.maximumRequestEnd - cluster
        case .insideFile: return blockOffset < file.size && cluster <= file.size - blockOffset
        }
    }

    /// The stored refcount of `cluster`: 0 past the table or for a missing block, `nil` when
    /// its refcount block may not be read (``BlockRule``; qemu: -EIO).
    mutating func refcount(ofCluster cluster: UInt64) throws -> UInt64? {
        let tableIndex = cluster >> UInt64(entriesPerBlockBits)
        guard tableIndex < UInt64(count) else { return 0 }
        let blockOffset = Self.blockOffset(try entry(tableIndex))
        guard blockOffset != 0 else { return 0 }
        guard mayRead(block: blockOffset) else { return nil }
        let index = cluster & ((UInt64(1) << UInt64(entriesPerBlockBits)) - 1)
        guard entries != nil else {
            // One lookup: read only the bytes holding the entry.
            let place = width.location(ofEntry: index)
            let bytes = BigEndianBytes(try file.read(count: place.byteCount, at: blockOffset + place.byteOffset))
            return width.entry(place.indexInBytes, in: bytes) ?? 0
        }
        if blockOffset != cachedBlockOffset {
            cachedBlock = BigEndianBytes(try file.read(count: clusterSize, at: blockOffset))
            cachedBlockOffset = blockOffset
        }
        return width.entry(Int(index), in: cachedBlock) ?? 0
    }

    /// The refcount block at `blockOffset`, whole (for scans).
    func block(at blockOffset: UInt64) throws -> [UInt8] {
        try file.read(count: clusterSize, at: blockOffset)
    }
}
