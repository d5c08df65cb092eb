/// A model of qemu 7.2's cluster allocator (`block/qcow2-refcount.c`) for a fresh image,
/// so the layout we write is the one `qemu-img create` writes: the same placement of L1,
/// L2 and refcount blocks, the same self-describing refcount blocks, the same retries when
/// a new refcount block lands where an allocation wanted to go, and the same refcount-table
/// growth. It keeps everything in memory; ``CreateImagePlan`` turns it into writes.
///
/// All arithmetic is on cluster indices bounded by the validated image size (qemu's 32 MiB L1
/// cap keeps every offset far below 2^56), so plain operators cannot overflow.
struct CreateRefcountModel {
    /// A failed allocation that qemu answers by searching again (`-EAGAIN`).
    enum Step { case done, again }

    let clusterBits: UInt64
    let clusterSize: UInt64
    let refcountOrder: UInt64
    /// log2 of the entries in one refcount block (`refcount_block_bits`).
    let refblockBits: UInt64
    /// Entries in one refcount block (`refcount_block_size`).
    let refblockEntries: UInt64

    /// The refcount table (`refcount_table`, `refcount_table_size` entries).
    private(set) var reftable: [UInt64]
    /// Where the refcount table lives.
    private(set) var reftableOffset: UInt64
    private var maxReftableIndex: Int
    /// qemu's `free_cluster_index`: where the next search for free clusters starts.
    private(set) var freeClusterIndex: UInt64 = 0
    /// Refcount blocks by host offset, as their on-disk bytes.
    private(set) var blocks: [UInt64: [UInt8]] = [:]
    /// Refcount tables that were replaced when the table grew: qemu leaves their bytes in the file.
    private(set) var retiredTables: [(offset: UInt64, entries: [UInt64])] = []
    /// One past the last byte qemu has written so far (the file length it ends with).
    private(set) var fileEnd: UInt64

    /// The state right after `qcow2_co_create` wrote its minimal header, a one-cluster refcount
    /// table at cluster 1 pointing to an empty refcount block at cluster 2, and reopened the image.
    init(clusterBits: UInt64, refcountOrder: UInt64) {
        self.clusterBits = clusterBits
        self.clusterSize = 1 << clusterBits
        self.refcountOrder = refcountOrder
        self.refblockBits = clusterBits + 3 - refcountOrder
        self.refblockEntries = 1 << refblockBits
        var table = [UInt64](repeating: 0, count: Int(clusterSize / 8))
        table[0] = 2 * clusterSize
        self.reftable = table
        self.reftableOffset = clusterSize
        self.maxReftableIndex = 0
        self.blocks = [2 * clusterSize: [UInt8](repeating: 0, count: Int(clusterSize))]
        self.fileEnd = 3 * clusterSize
    }

    /// Records that qemu wrote `length` bytes at `offset` (only the file length follows from it).
    mutating func noteWrite(at offset: UInt64, length: UInt64) {
        fileEnd = max(fileEnd, offset + length)
    }

    // MARK: refcount entries

    func refcount(ofCluster index: UInt64) -> UInt64 {
        let tableIndex = index >> refblockBits
        guard tableIndex < UInt64(reftable.count) else { return 0 }
        let blockOffset = reftable[Int(tableIndex)]
        guard blockOffset != 0, let block = blocks[blockOffset] else { return 0 }
        return Self.entry(block, Int(index & (refblockEntries - 1)), order: refcountOrder)
    }

    static func entry(_ block: [UInt8], _ i: Int, order: UInt64) -> UInt64 {
        switch order {
        case 0...2:
            let bits = 1 << order
            let perByte = 8 >> order
            let shift = (i % perByte) * bits
            return UInt64((block[i / perByte] >> shift) & UInt8((1 << bits) - 1))
        default:
            let width = 1 << (order - 3)
            var value: UInt64 = 0
            for k in 0..<width { value = value << 8 | UInt64(block[i * width + k]) }
            return value
        }
    }

    static func setEntry(_ block: inout [UInt8], _ i: Int, _ value: UInt64, order: UInt64) {
        switch order {
        case 0...2:
            let bits = 1 << order
            let perByte = 8 >> order
            let shift = (i % perByte) * bits
            let mask = UInt8((1 << bits) - 1) << shift
            block[i / perByte] = (block[i / perByte] & ~mask) | (UInt8(truncatingIfNeeded: value) << shift & mask)
        default:
            let width = 1 << (order - 3)
            for k in 0..<width {
                block[i * width + k] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(width - 1 - k)))
            }
        }
    }

    // MARK: allocation (qcow2_alloc_clusters and friends)

    /// `alloc_clusters_noref`: the first run of `count` clusters with refcount 0 at or after
    /// `freeClusterIndex`; returns its first cluster index.
    mutating func allocateNoRef(clusters count: UInt64) -> UInt64 {
        var found: UInt64 = 0
        while found < count {
            let index = freeClusterIndex
            freeClusterIndex += 1
            if refcount(ofCluster: index) != 0 { found = 0 } else { found += 1 }
        }
        return freeClusterIndex - count
    }

    /// `qcow2_alloc_clusters`: allocates `bytes` (rounded up to clusters) and returns the offset.
    mutating func allocate(bytes: UInt64) throws(QCOW2CreateError) -> UInt64 {
        let count = (bytes + clusterSize - 1) >> clusterBits
        while true {
            let first = allocateNoRef(clusters: count)
            if try updateRefcount(offset: first << clusterBits, length: bytes, decrease: false) == .done {
                return first << clusterBits
            }
            // The next search starts at the failed run again. When the retry came after a
            // partial update, undoing it already moved the index back here; when the very
            // first cluster needed a new refcount block, qemu 7.2 still places the retry at
            // `first` (seen with 512-byte clusters, where an L2 table falls on the first
            // cluster of a refcount block: qemu puts the table there and the block after it).
            freeClusterIndex = min(freeClusterIndex, first)
        }
    }

    /// `qcow2_alloc_clusters_at`: allocates up to `count` clusters at `offset`, stopping at the
    /// first one in use; returns how many it took.
    mutating func allocate(at offset: UInt64, clusters count: UInt64) throws(QCOW2CreateError) -> UInt64 {
        guard count > 0 else { return 0 }
        while true {
            var free: UInt64 = 0
            let first = offset >> clusterBits
            while free < count && refcount(ofCluster: first + free) == 0 { free += 1 }
            if try updateRefcount(offset: offset, length: free << clusterBits, decrease: false) == .done {
                return free
            }
        }
    }

    /// `qcow2_free_clusters` (without discard: qemu does not pass discards of this kind down).
    mutating func free(offset: UInt64, length: UInt64) throws(QCOW2CreateError) {
        _ = try updateRefcount(offset: offset, length: length, decrease: true)
    }

    /// `update_refcount` with an addend of 1.
    mutating func updateRefcount(offset: UInt64, length: UInt64, decrease: Bool) throws(QCOW2CreateError) -> Step {
        guard length > 0 else { return .done }
        let start = offset >> clusterBits
        let last = (offset + length - 1) >> clusterBits
        var loadedTableIndex: UInt64? = nil
        var index = start
        while index <= last {
            let tableIndex = index >> refblockBits
            if tableIndex != loadedTableIndex {
                if try allocateRefcountBlock(forCluster: index) == .again {
                    // Undo what this call changed, then let the caller search again.
                    if index > start {
                        _ = try updateRefcount(offset: offset, length: (index << clusterBits) - offset, decrease: !decrease)
                    }
                    return .again
                }
                loadedTableIndex = tableIndex
            }
            let blockOffset = reftable[Int(tableIndex)]
            let slot = Int(index & (refblockEntries - 1))
            let old = Self.entry(blocks[blockOffset]!, slot, order: refcountOrder)
            let new = decrease ? old - 1 : old + 1
            if new == 0 && index < freeClusterIndex { freeClusterIndex = index }
            Self.setEntry(&blocks[blockOffset]!, slot, new, order: refcountOrder)
            index += 1
        }
        return .done
    }

    /// `alloc_refcount_block`: makes sure the refcount block covering `cluster` exists;
    /// `.again` when it had to create one (or grow the table).
    private mutating func allocateRefcountBlock(forCluster cluster: UInt64) throws(QCOW2CreateError) -> Step {
        let tableIndex = cluster >> refblockBits
        if tableIndex < UInt64(reftable.count), reftable[Int(tableIndex)] != 0 { return .done }

        let newBlock = allocateNoRef(clusters: 1) << clusterBits
        if (newBlock >> clusterBits) >> refblockBits == tableIndex {
            // The new block describes itself.
            var block = [UInt8](repeating: 0, count: Int(clusterSize))
            Self.setEntry(&block, Int((newBlock >> clusterBits) & (refblockEntries - 1)), 1, order: refcountOrder)
            blocks[newBlock] = block
        } else {
            if try updateRefcount(offset: newBlock, length: clusterSize, decrease: false) == .again { return .again }
            blocks[newBlock] = [UInt8](repeating: 0, count: Int(clusterSize))
        }
        noteWrite(at: newBlock, length: clusterSize)

        if tableIndex < UInt64(reftable.count) {
            reftable[Int(tableIndex)] = newBlock
            maxReftableIndex = max(maxReftableIndex, Int(tableIndex))
            return .again
        }

        // Grow the refcount table: new self-describing structures after everything in use.
        let blocksUsed = (max(cluster + 1, (newBlock >> clusterBits) + 1) + refblockEntries - 1) / refblockEntries
        _ = try refcountArea(start: blocksUsed * refblockEntries * clusterSize, newBlockIndex: Int(tableIndex), newBlockOffset: newBlock)
        return .again
    }

    /// `qcow2_refcount_metadata_size`: refcount blocks needed for `clusters` clusters plus the
    /// refcount structures themselves (generous: room for 50% more table).
    static func refcountBlockCount(clusters: UInt64, clusterSize: UInt64, refcountOrder: UInt64, generous: Bool) -> UInt64 {
        let blocksPerTableCluster = clusterSize / 8
        let refcountsPerBlock = clusterSize * 8 / (1 << refcountOrder)
        var clusters = clusters
        var generous = generous
        var table: UInt64 = 0
        var blocks: UInt64 = 0
        var n: UInt64 = 0
        var last: UInt64
        repeat {
            last = n
            blocks = (clusters + table + blocks + refcountsPerBlock - 1) / refcountsPerBlock
            table = (blocks + blocksPerTableCluster - 1) / blocksPerTableCluster
            n = clusters + blocks + table
            if n == last && generous {
                clusters += (table + 1) / 2
                n = 0
                generous = false
            }
        } while n != last
        return blocks
    }

    /// `qcow2_refcount_area` with no additional clusters and a non-exact (50% larger) table.
    private mutating func refcountArea(start: UInt64, newBlockIndex: Int, newBlockOffset: UInt64) throws(QCOW2CreateError) -> UInt64 {
        let total = Self.refcountBlockCount(clusters: start / clusterSize, clusterSize: clusterSize, refcountOrder: refcountOrder, generous: true)
        // qemu's QCOW_MAX_REFTABLE_SIZE is 8 MiB; it compares entry counts against it.
        guard total <= QCOW2Format.maximumRefcountTableBytes else { throw .imageTooLarge(virtualSize: 0, clusterSize: clusterSize) }
        let areaIndex = Int((start / clusterSize) / refblockEntries)
        let perCluster = clusterSize / 8
        var tableSize = total + (total + 1) / 2
        tableSize = (tableSize + perCluster - 1) / perCluster * perCluster
        let tableClusters = tableSize * 8 / clusterSize
        guard tableSize <= QCOW2Format.maximumRefcountTableBytes else { throw .imageTooLarge(virtualSize: 0, clusterSize: clusterSize) }

        var newTable = [UInt64](repeating: 0, count: Int(tableSize))
        let copy = tableSize > UInt64(maxReftableIndex) ? maxReftableIndex + 1 : Int(tableSize)
        for i in 0..<min(copy, reftable.count) { newTable[i] = reftable[i] }
        newTable[newBlockIndex] = newBlockOffset

        var additional: UInt64 = 0
        for i in areaIndex..<Int(total) where newTable[i] == 0 { additional += 1 }
        let tableOffset = start + additional * clusterSize
        let endOffset = tableOffset + tableClusters * clusterSize

        var blockOffset = start
        for i in areaIndex..<Int(total) {
            if newTable[i] == 0 {
                blocks[blockOffset] = [UInt8](repeating: 0, count: Int(clusterSize))
                newTable[i] = blockOffset
                noteWrite(at: blockOffset, length: clusterSize)
                blockOffset += clusterSize
            }
            let firstCovered = UInt64(i) * refblockEntries * clusterSize
            if firstCovered < endOffset {
                var j = firstCovered < start ? (start - firstCovered) / clusterSize : 0
                let endIndex = min((endOffset - firstCovered) / clusterSize, refblockEntries)
                while j < endIndex {
                    Self.setEntry(&blocks[newTable[i]]!, Int(j), 1, order: refcountOrder)
                    j += 1
                }
            }
        }
        noteWrite(at: tableOffset, length: tableSize * 8)

        let oldOffset = reftableOffset
        let oldSize = UInt64(reftable.count)
        retiredTables.append((oldOffset, reftable))
        reftable = newTable
        reftableOffset = tableOffset
        var top = newTable.count - 1
        while top > 0 && newTable[top] == 0 { top -= 1 }
        maxReftableIndex = top
        try free(offset: oldOffset, length: oldSize * 8)
        return endOffset
    }
}
