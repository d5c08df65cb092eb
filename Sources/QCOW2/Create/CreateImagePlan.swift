/// The validated settings of one image to create, in the units the layout works in.
struct CreateResolvedSettings: Sendable, Equatable {
    var version: UInt32
    var clusterBits: UInt64
    var refcountOrder: UInt64
    var virtualSize: UInt64
    var lazyRefcounts: Bool
    var extendedL2: Bool
    var zstd: Bool
    var backingFile: [UInt8]?
    var backingFormat: String?
    var preallocateMetadata: Bool

    var clusterSize: UInt64 { 1 << clusterBits }
    /// Bytes per L2 entry (16 with extended L2 entries).
    var l2EntrySize: UInt64 { extendedL2 ? 16 : 8 }
    /// Entries in one L2 table.
    var l2Entries: UInt64 { clusterSize / l2EntrySize }
    /// qemu's `size_to_l1`: L1 entries needed for the virtual size.
    var l1Entries: UInt64 {
        let perL2 = clusterSize * l2Entries
        return virtualSize / perL2 + (virtualSize % perL2 == 0 ? 0 : 1)
    }
    /// qemu's cap on the active L1 table: 32 MiB of 8-byte entries.
    static let maxL1Entries: UInt64 = QCOW2Format.maximumL1Bytes / 8
    /// The most memory the planner may hold for refcount blocks and the L1 table.
    static let maxPlanningMemory: UInt64 = 40 << 20
}

/// Replays what `qemu-img create -f qcow2` 7.2 does to a new file — allocate the header and
/// refcount clusters, grow the L1 table to the virtual size, optionally preallocate metadata,
/// write the full header — against ``CreateRefcountModel``, and hands out the non-zero bytes
/// of the result. Everything not handed out is zero, so the writer can leave it a hole.
struct CreateImagePlan {
    /// Non-zero bytes to write at an offset.
    struct Region: Sendable, Equatable {
        var offset: UInt64
        var bytes: [UInt8]
    }

    /// Regions to write (header, refcount table(s), refcount blocks, L1; L2 tables go to the
    /// `emit` callback as they are completed).
    private(set) var regions: [Region] = []
    /// The file length qemu ends with.
    private(set) var fileLength: UInt64 = 0

    /// Plans `settings`. L2 tables (metadata preallocation only) are passed to `emit` as soon
    /// as they are final, so a huge preallocation never holds them all in memory.
    init(_ settings: CreateResolvedSettings, emit: (Region) throws(QCOW2CreateError) -> Void) throws(QCOW2CreateError) {
        let cs = settings.clusterSize
        var model = CreateRefcountModel(clusterBits: settings.clusterBits, refcountOrder: settings.refcountOrder)
        // Header, refcount table and first refcount block: clusters 0, 1 and 2.
        _ = try model.allocate(bytes: 3 * cs)

        // blk_truncate to the virtual size: qcow2_grow_l1_table with the exact size.
        let l1Entries = settings.l1Entries
        guard l1Entries <= CreateResolvedSettings.maxL1Entries else {
            throw .imageTooLarge(virtualSize: settings.virtualSize, clusterSize: cs)
        }
        var l1Offset: UInt64 = 0
        var l1 = [UInt64]()
        if l1Entries > 0 {
            l1Offset = try model.allocate(bytes: l1Entries * 8)
            model.noteWrite(at: l1Offset, length: l1Entries * 8)
            if settings.preallocateMetadata { l1 = [UInt64](repeating: 0, count: Int(l1Entries)) }
        }

        if settings.preallocateMetadata && settings.virtualSize > 0 {
            // Refcount blocks stay in memory while planning: bound them (and the L1) up front.
            let dataClusters = settings.virtualSize / cs + l1Entries + 8
            let refcountBytes = (dataClusters << settings.refcountOrder) / 8
            guard refcountBytes + l1Entries * 8 <= CreateResolvedSettings.maxPlanningMemory else {
                throw .preallocationTooLarge(virtualSize: settings.virtualSize, limit: CreateResolvedSettings.maxPlanningMemory)
            }
            var preallocator = CreateMetadataPreallocator(settings: settings, l1: l1)
            try preallocator.run(&model, emit: emit)
            l1 = preallocator.l1
        }

        let header = CreatedHeaderLayout(
            version: settings.version,
            clusterBits: UInt32(settings.clusterBits),
            virtualSize: settings.virtualSize,
            l1Size: UInt32(l1Entries),
            l1TableOffset: l1Offset,
            refcountTableOffset: model.reftableOffset,
            refcountTableClusters: UInt32(UInt64(model.reftable.count) * 8 / cs),
            incompatibleFeatures: (settings.zstd ? CreatedHeaderLayout.incompatibleCompressionType : 0)
                | (settings.extendedL2 ? CreatedHeaderLayout.incompatibleExtendedL2 : 0),
            compatibleFeatures: settings.lazyRefcounts ? CreatedHeaderLayout.compatibleLazyRefcounts : 0,
            refcountOrder: UInt32(settings.refcountOrder),
            compressionType: settings.zstd ? 1 : 0,
            backingFormat: settings.backingFormat,
            backingFile: settings.backingFile)
        regions.append(Region(offset: 0, bytes: header.encode()))
        for retired in model.retiredTables {
            appendTrimmed(entries: retired.entries, at: retired.offset)
        }
        appendTrimmed(entries: model.reftable, at: model.reftableOffset)
        for offset in model.blocks.keys.sorted() {
            appendTrimmed(model.blocks[offset] ?? [], at: offset)
        }
        if !l1.isEmpty { appendTrimmed(entries: l1, at: l1Offset) }
        regions.sort { $0.offset < $1.offset }
        fileLength = model.fileEnd
    }

    /// Adds `bytes` at `offset` without its leading and trailing zeros (nothing if all zero).
    private mutating func appendTrimmed(_ bytes: [UInt8], at offset: UInt64) {
        guard let used = Self.nonZeroRange(bytes) else { return }
        regions.append(Region(offset: offset + UInt64(used.lowerBound), bytes: Array(bytes[used])))
    }

    /// Adds big-endian `entries` at `offset`, encoding only the span between the first and
    /// last non-zero entry (a refcount table is mostly empty).
    private mutating func appendTrimmed(entries: [UInt64], at offset: UInt64) {
        guard let first = entries.firstIndex(where: { $0 != 0 }), let last = entries.lastIndex(where: { $0 != 0 }) else { return }
        appendTrimmed(Self.bigEndianBytes(entries[first...last]), at: offset + UInt64(first) * 8)
    }

    /// The range from the first to the last non-zero byte, scanning eight bytes at a time.
    static func nonZeroRange(_ bytes: [UInt8]) -> Range<Int>? {
        bytes.withUnsafeBytes { raw -> Range<Int>? in
            let count = raw.count
            var low = 0
            while low + 8 <= count && raw.loadUnaligned(fromByteOffset: low, as: UInt64.self) == 0 { low += 8 }
            while low < count && raw[low] == 0 { low += 1 }
            guard low < count else { return nil }
            var high = count
            while high - 8 >= low && raw.loadUnaligned(fromByteOffset: high - 8, as: UInt64.self) == 0 { high -= 8 }
            while high > low && raw[high - 1] == 0 { high -= 1 }
            return low..<high
        }
    }

    static func bigEndianBytes<C: Collection>(_ values: C) -> [UInt8] where C.Element == UInt64 {
        var out = [UInt8]()
        out.reserveCapacity(values.count * 8)
        for value in values { out.appendCreateBigEndian(value) }
        return out
    }
}
