/// `preallocation=metadata` as qemu 7.2's `preallocate_co` does it: walk the guest range in
/// chunks of at most `INT_MAX` bytes; for each, `qcow2_alloc_host_offset` allocates the L2
/// table when first touched (`handle_copied` → `get_cluster_table`) and then a run of host
/// clusters (`handle_alloc`), continuing contiguously while it can; the L2 entries point at
/// those clusters with the COPIED flag and no data is written. Finally the file is extended
/// to the last allocated byte.
struct CreateMetadataPreallocator {
    let settings: CreateResolvedSettings
    /// The L1 table being filled.
    private(set) var l1: [UInt64]
    /// The L2 table being filled (its offset and entries as bytes).
    private var currentL2: (offset: UInt64, bytes: [UInt8])?

    /// `QEMU_ALIGN_DOWN(INT_MAX, cluster_size)` is the chunk; `BDRV_REQUEST_MAX_BYTES` caps a run.
    static let intMax: UInt64 = 0x7FFF_FFFF
    static let requestMaxBytes: UInt64 = 0x7FFF_FE00

    /// Where finished L2 tables go.
    typealias Emit = (CreateImagePlan.Region) throws(QCOW2CreateError) -> Void

    init(settings: CreateResolvedSettings, l1: [UInt64]) {
        self.settings = settings
        self.l1 = l1
    }

    mutating func run(_ model: inout CreateRefcountModel, emit: Emit) throws(QCOW2CreateError) {
        let cs = settings.clusterSize
        var offset: UInt64 = 0
        var remaining = settings.virtualSize
        var hostOffset: UInt64 = 0
        var curBytes: UInt64 = 0
        while remaining > 0 {
            curBytes = min(remaining, Self.intMax / cs * cs)
            (hostOffset, curBytes) = try allocateHostOffset(&model, guestOffset: offset, bytes: curBytes, emit: emit)
            remaining -= curBytes
            offset += curBytes
        }
        try flushL2(emit)
        // Extend the file to the last allocated byte (bdrv_co_truncate, never shrinking).
        model.noteWrite(at: hostOffset, length: curBytes)
    }

    /// `qcow2_alloc_host_offset`: returns the host offset of `guestOffset` and how many bytes
    /// from there were allocated contiguously.
    private mutating func allocateHostOffset(_ model: inout CreateRefcountModel, guestOffset: UInt64, bytes: UInt64, emit: Emit) throws(QCOW2CreateError) -> (UInt64, UInt64) {
        var start = guestOffset
        var remaining = bytes
        var clusterOffset: UInt64? = nil
        var hostOffset: UInt64? = nil
        var cur: UInt64 = 0
        while true {
            if hostOffset == nil, let clusterOffset { hostOffset = clusterOffset }
            start += cur
            remaining -= cur
            if let c = clusterOffset { clusterOffset = c + cur }
            if remaining == 0 { break }
            cur = remaining
            // handle_copied: loads (allocating if needed) the L2 table; nothing is COPIED yet.
            try ensureL2(&model, guestOffset: start, emit: emit)
            // handle_alloc
            guard let allocated = try allocateRun(&model, guestOffset: start, bytes: cur, contiguousAt: clusterOffset) else {
                cur = 0
                break
            }
            clusterOffset = allocated.host
            cur = allocated.bytes
        }
        return (hostOffset ?? 0, bytes - remaining)
    }

    /// `get_cluster_table` for a fresh image: allocates the L2 table of `guestOffset` if the L1
    /// entry is still empty.
    private mutating func ensureL2(_ model: inout CreateRefcountModel, guestOffset: UInt64, emit: Emit) throws(QCOW2CreateError) {
        let cs = settings.clusterSize
        let l1Index = Int(guestOffset / (cs * settings.l2Entries))
        guard l1[l1Index] == 0 else { return }
        try flushL2(emit)
        let l2Offset = try model.allocate(bytes: cs)
        model.noteWrite(at: l2Offset, length: cs)
        l1[l1Index] = l2Offset | QCOW2Format.copiedFlag
        currentL2 = (l2Offset, [UInt8](repeating: 0, count: Int(cs)))
    }

    /// `handle_alloc`: allocates host clusters for guest clusters from `guestOffset` up to the
    /// end of its L2 table, at `contiguousAt` when given (possibly fewer, possibly none).
    private mutating func allocateRun(_ model: inout CreateRefcountModel, guestOffset: UInt64, bytes: UInt64, contiguousAt: UInt64?) throws(QCOW2CreateError) -> (host: UInt64, bytes: UInt64)? {
        let cs = settings.clusterSize
        let inCluster = guestOffset % cs
        var count = (inCluster + bytes + cs - 1) / cs
        count = min(count, Self.requestMaxBytes / cs)
        let l2Index = (guestOffset / cs) % settings.l2Entries
        count = min(count, settings.l2Entries - l2Index)
        let host: UInt64
        if let contiguousAt {
            host = contiguousAt / cs * cs
            count = try model.allocate(at: host, clusters: count)
            if count == 0 { return nil }
        } else {
            host = try model.allocate(bytes: count * cs)
        }
        let allocatedBytes = min(bytes, count * cs - inCluster)
        // Link the L2 entries (qcow2_alloc_cluster_link_l2 with prealloc: no subcluster bits).
        for i in 0..<count {
            let entry = (host + i * cs) | QCOW2Format.copiedFlag
            let slot = Int((l2Index + i) * settings.l2EntrySize)
            for k in 0..<8 { currentL2?.bytes[slot + k] = UInt8(truncatingIfNeeded: entry >> (56 - 8 * UInt64(k))) }
        }
        // A run ending inside a cluster gets its tail copied-on-write (zeros) to the host file.
        let guestEnd = guestOffset + allocatedBytes
        let cowUnit = settings.extendedL2 ? cs / 32 : cs
        if guestEnd % cowUnit != 0 {
            let runStart = guestOffset - inCluster
            let cowEnd = (guestEnd + cowUnit - 1) / cowUnit * cowUnit
            model.noteWrite(at: host, length: cowEnd - runStart)
        }
        return (host + inCluster, allocatedBytes)
    }

    private mutating func flushL2(_ emit: Emit) throws(QCOW2CreateError) {
        guard let table = currentL2 else { return }
        currentL2 = nil
        if let used = CreateImagePlan.nonZeroRange(table.bytes) {
            try emit(CreateImagePlan.Region(offset: table.offset + UInt64(used.lowerBound), bytes: Array(table.bytes[used])))
        }
    }
}
