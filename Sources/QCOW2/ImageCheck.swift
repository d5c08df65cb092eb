import ByteStreams

/// A read-only consistency check of a qcow2 image, counting what `qemu-img check` counts.
///
/// It walks every piece of metadata (header cluster, the active L1/L2 tables and those
/// of every snapshot, the snapshot table, the refcount table and blocks, the bitmap
/// directory and tables, an encryption header), computes the refcount each cluster
/// should have, and compares it with the stored one. The rules and the order of the
/// walk follow qemu 7.2's `qcow2_check_refcounts`, so the counts agree with qemu-img.
///
/// Memory: the computed refcounts take 2 bytes per cluster of the file, capped at
/// ``maximumClusters`` clusters; tables are read one cluster (or one L1 chunk) at a time.
/// Messages are handed to the caller as they are found (``run(_:report:)``), as qemu-img
/// prints them, so metadata that many snapshots share cannot make the check hold millions.
public enum ImageCheck {
    /// The most file clusters whose refcounts are computed in memory (32 MiB of counts).
    static let maximumClusters = 1 << 24

    /// Checks the image in `file`, handing each message to `report` the moment it is found
    /// (in qemu's order); the result's ``CheckResult/messages`` stays empty.
    ///
    /// - Throws: ``ImageAccessError`` when the header cannot be used at all (then the
    ///   check is "not completed": `qemu-img check` exits 1), or an I/O error.
    public static func run(_ file: ImageFile, report: @escaping (String) -> Void) throws -> CheckResult {
        try run(QCOW2Image(descriptor: file.descriptor, path: file.path, fileSize: file.size, forCheck: true), report: report)
    }

    /// Checks an image already opened (parsed as `qemu-img check` opens it: `forCheck`, see
    /// ``QCOW2Image/init(descriptor:path:fileSize:forCheck:)``), handing each message to
    /// `report` the moment it is found; the header is not parsed again.
    ///
    /// - Throws: ``ImageAccessError`` when the header cannot be used at all, or an I/O error.
    public static func run(_ image: QCOW2Image, report: @escaping (String) -> Void) throws -> CheckResult {
        let file = image.file
        let layout = try ImageLayout(image: image)
        var walker = try CheckWalker(file: file, layout: layout, report: report)
        return try walker.run()
    }

    /// Checks the image in `file`, keeping every message in ``CheckResult/messages``.
    ///
    /// The messages grow with the damage found (one per bad entry per snapshot walking it):
    /// use ``run(_:report:)`` for an image from a stranger.
    public static func run(_ file: ImageFile) throws -> CheckResult {
        final class Collector { var messages: [String] = [] }
        let collector = Collector()
        var result = try run(file) { collector.messages.append($0) }
        result.messages = collector.messages
        return result
    }
}

/// Computed refcounts: 16 bits a cluster, with the rare larger counts on the side.
struct ComputedRefcounts {
    private(set) var counts: [UInt16]
    private var large: [Int: UInt64] = [:]

    init(count: Int) { counts = [UInt16](repeating: 0, count: count) }

    var count: Int { counts.count }

    subscript(index: Int) -> UInt64 {
        let small = counts[index]
        return small == .max ? (large[index] ?? UInt64(UInt16.max)) : UInt64(small)
    }

    mutating func grow(to newCount: Int) {
        if newCount > counts.count { counts.append(contentsOf: repeatElement(0, count: newCount - counts.count)) }
    }

    mutating func increment(_ index: Int) {
        let small = counts[index]
        if small < .max - 1 {
            counts[index] = small + 1
        } else if small == .max - 1 {
            counts[index] = .max
            large[index] = UInt64(UInt16.max)
        } else {
            large[index, default: UInt64(UInt16.max)] += 1
        }
    }
}

struct CheckWalker {
    let file: ImageFile
    let layout: ImageLayout
    let clusterSize: Int
    let clusterBits: Int
    var result = CheckResult()
    /// Where each message goes as it is found.
    let report: (String) -> Void
    var computed: ComputedRefcounts
    var stored: RefcountTable

    init(file: ImageFile, layout: ImageLayout, report: @escaping (String) -> Void) throws {
        self.file = file
        self.report = report
        self.layout = layout
        clusterBits = layout.clusterBits
        clusterSize = layout.clusterSize
        let clusters = (file.size + UInt64(clusterSize) - 1) >> UInt64(clusterBits)
        guard clusters <= UInt64(ImageCheck.maximumClusters) else {
            throw ImageAccessError.tooLarge(what: "checking \(clusters) clusters", size: clusters * 2,
                                            limit: UInt64(ImageCheck.maximumClusters) * 2)
        }
        computed = ComputedRefcounts(count: Int(clusters))
        stored = RefcountTable(file: file, layout: layout, rule: .qemu)
        try stored.loadEntries()
    }

    mutating func run() throws -> CheckResult {
        let virtualBytes = layout.virtualSize
        result.totalClusters = (virtualBytes + UInt64(clusterSize) - 1) >> UInt64(clusterBits)

        // qemu's qcow2_check_read_snapshot_table runs before the refcount walk, so its
        // messages come first: a version 3 entry must carry at least the 16 bytes of extra
        // data (64-bit VM state size, disk size) the specification requires.
        if layout.version >= 3 {
            for (index, snapshot) in layout.snapshots.enumerated() where snapshot.extraDataSize < 16 {
                result.corruptions += 1
                report("ERROR snapshot table entry \(index) is incomplete")
            }
        }

        // What should be: header, tables, data.
        increment(offset: 0, size: UInt64(clusterSize))
        try walkL1(offset: layout.l1Offset, entries: Int(layout.l1Size), active: true)
        // qemu's check: internal snapshots cannot coexist with an external data file.
        if layout.hasDataFile && !layout.snapshots.isEmpty {
            result.corruptions += 1
            report("ERROR \(layout.snapshots.count) snapshots in image with data file")
        }
        for snapshot in layout.snapshots {
            // Like qemu: a snapshot whose L1 table is unaligned or too large is reported, not walked.
            if snapshot.l1Offset & UInt64(clusterSize - 1) != 0 {
                result.corruptions += 1
                report("ERROR snapshot \(TerminalText.escaping(snapshot.id)) (\(TerminalText.escaping(snapshot.name))) l1_offset=0x\(hex(snapshot.l1Offset)): L1 table is not cluster aligned; snapshot table entry corrupted")
                continue
            }
            if UInt64(snapshot.l1Size) * 8 > QCOW2Format.maximumL1Bytes {
                result.corruptions += 1
                report("ERROR snapshot \(TerminalText.escaping(snapshot.id)) (\(TerminalText.escaping(snapshot.name))) l1_size=0x\(hex(UInt64(snapshot.l1Size))): L1 table is too large; snapshot table entry corrupted")
                continue
            }
            try walkL1(offset: snapshot.l1Offset, entries: Int(snapshot.l1Size), active: false)
        }
        increment(offset: layout.snapshotsOffset, size: layout.snapshotsSize)
        increment(offset: layout.refcountTableOffset, size: UInt64(layout.refcountTableEntries) * 8)
        if let crypto = layout.cryptoHeader, layout.cryptMethod == 2 {
            increment(offset: crypto.offset, size: crypto.length)
        }
        try walkBitmaps()
        checkRefcountBlocks()
        // What is.
        try compareRefcounts()
        try checkCopiedFlags()
        return result
    }

    // MARK: - Counting references

    /// qemu's `qcow2_inc_refcounts_imrt`.
    mutating func increment(offset: UInt64, size: UInt64) {
        guard size > 0 else { return }
        let (end, overflow) = offset.addingReportingOverflow(size)
        // qemu compares with the file length in whole sectors (rounded up to 512 bytes).
        let fileLength = QCOW2Format.roundedUpToSectors(file.size) ?? file.size
        if overflow || end >= fileLength &+ UInt64(clusterSize) || (end > fileLength && end - fileLength >= UInt64(clusterSize)) {
            result.corruptions += 1
            report("ERROR: counting reference for region exceeding the end of the file by one cluster or more: offset 0x\(hex(offset)) size 0x\(hex(size))")
            return
        }
        let first = Int(offset >> UInt64(clusterBits))
        let last = Int((end - 1) >> UInt64(clusterBits))
        if last >= computed.count { computed.grow(to: last + 1) }
        let maximum = layout.width.maximum
        for cluster in first...last {
            if computed[cluster] >= maximum {
                result.corruptions += 1
                report("ERROR: overflow cluster offset=0x\(hex(UInt64(cluster) << UInt64(clusterBits)))")
                // qemu-img's advice follows each overflow line, word for word.
                report("Use qemu-img amend to increase the refcount entry width or qemu-img convert to create a clean copy if the image cannot be opened for writing")
                continue
            }
            computed.increment(cluster)
        }
    }

    mutating func walkL1(offset: UInt64, entries: Int, active: Bool) throws {
        guard entries > 0 else { return }
        let bytes = UInt64(entries) * 8
        increment(offset: offset, size: bytes)
        // qemu's check_refcounts_l1 reads the table through the block layer, which fails a
        // request ending past BDRV_MAX_LENGTH (a snapshot's L1 offset is a raw 64-bit field):
        // the check then stops, "Check failed: Input/output error", exit 1.
        guard offset <= QCOW2Format.maximumRequestEnd, bytes <= QCOW2Format.maximumRequestEnd - offset else {
            result.checkErrors += 1
            report("ERROR: I/O error in check_refcounts_l1")
            throw ImageAccessError.invalidField(
                field: "\(active ? "active" : "snapshot") L1 table offset", value: offset,
                reason: "the table of \(entries) entries cannot be read (it ends past 2^63 - 2^30), so the check cannot complete")
        }
        let table = try L1Table(file: file, offset: offset, count: entries)
        try table.visit { _, entry in
            guard entry.raw != 0 else { return true }
            if entry.reservedBits != 0 {
                result.corruptions += 1
                report("ERROR found L1 entry with reserved bits set: \(hex(entry.raw))")
            }
            let l2Offset = entry.l2Offset
            increment(offset: l2Offset, size: UInt64(clusterSize))
            if l2Offset & UInt64(clusterSize - 1) != 0 {
                result.corruptions += 1
                report("ERROR l2_offset=\(hex(l2Offset)): Table is not cluster aligned; L1 entry corrupted")
            }
            try walkL2(offset: l2Offset, active: active)
            return true
        }
    }

    /// The entries of the L2 table at `offset` that start inside the file, and how many.
    /// The rest read as zeros (unallocated: no reference, no message), so they are not read;
    /// an entry the end of the file cuts is read whole, zero-filled.
    func l2TableInsideFile(at offset: UInt64) throws -> (table: BigEndianBytes, entries: Int) {
        guard offset < file.size else { return (BigEndianBytes([]), 0) }
        let entrySize = UInt64(layout.l2EntrySize)
        let inside = (file.size - offset + entrySize - 1) / entrySize
        let entries = Int(min(UInt64(layout.l2Entries), inside))
        return (BigEndianBytes(try file.read(count: entries * layout.l2EntrySize, at: offset)), entries)
    }

    mutating func walkL2(offset: UInt64, active: Bool) throws {
        // A table wholly past the end of the file reads as zeros, and an all-zero table adds
        // nothing (no reference, no message): skip it rather than decode its entries. Garbage
        // snapshot L1 tables can point millions of times past the end (a fuzzer found a 700 KB
        // file that took 23 s of CPU here and 0.4 s in qemu-img check).
        guard offset < file.size else { return }
        let extended = layout.extendedL2
        let (table, entries) = try l2TableInsideFile(at: offset)
        var nextContiguous: UInt64 = 0
        for i in 0..<entries {
            guard let entry = L2Entry.read(from: table, index: i, extended: extended) else { break }
            let kind = entry.kind(extended: extended, externalDataFile: layout.hasDataFile)
            if kind != .compressed && entry.reservedBits != 0 {
                result.corruptions += 1
                report("ERROR found l2 entry with reserved bits set: \(hex(entry.descriptor))")
            }
            switch kind {
            case .compressed:
                if entry.isCopied {
                    result.corruptions += 1
                    let coffset = entry.compressedDescriptor(clusterBits: clusterBits).hostOffset
                    report("ERROR: coffset=0x\(hex(coffset)): copied flag must never be set for compressed clusters")
                }
                if layout.hasDataFile {
                    result.corruptions += 1
                    report("ERROR compressed cluster \(i) with data file, entry=0x\(hex(entry.descriptor))")
                    continue
                }
                if entry.bitmap != 0 {
                    result.corruptions += 1
                    report("ERROR compressed cluster \(i) with non-zero subcluster allocation bitmap, entry=0x\(hex(entry.descriptor))")
                    continue
                }
                let descriptor = entry.compressedDescriptor(clusterBits: clusterBits)
                increment(offset: descriptor.hostOffset, size: descriptor.byteCount)
                if active {
                    result.allocatedClusters += 1
                    result.compressedClusters += 1
                    result.fragmentedClusters += 1
                }
            case .zeroAllocated, .normal:
                let host = entry.hostOffset
                if entry.allocatedSubclusters & entry.zeroSubclusters != 0 {
                    result.corruptions += 1
                    report("ERROR offset=\(hex(host)): Allocated cluster has corrupted subcluster allocation bitmap")
                }
                if host & UInt64(clusterSize - 1) != 0 {
                    result.corruptions += 1
                    report("ERROR offset=\(hex(host)): cluster is not properly aligned; L2 entry corrupted.")
                }
                if active {
                    result.allocatedClusters += 1
                    if nextContiguous != 0 && host != nextContiguous { result.fragmentedClusters += 1 }
                    nextContiguous = host &+ UInt64(clusterSize)
                }
                if !layout.hasDataFile { increment(offset: host, size: UInt64(clusterSize)) }
            case .zeroPlain:
                break
            case .unallocated:
                if entry.allocatedSubclusters != 0 {
                    result.corruptions += 1
                    report("ERROR: Unallocated cluster has non-zero subcluster allocation map")
                }
            }
        }
    }

    mutating func walkBitmaps() throws {
        guard let bitmaps = layout.bitmaps, bitmaps.count > 0, layout.autoclearFeatures & QCOW2AutoclearFeatures.bitmaps.rawValue != 0 else { return }
        increment(offset: bitmaps.directoryOffset, size: bitmaps.directorySize)
        guard bitmaps.directorySize <= QCOW2Format.maximumCheckedBitmapBytes else {
            result.corruptions += 1
            report("ERROR bitmap directory of \(bitmaps.directorySize) bytes is too large")
            return
        }
        // Bytes past the end of the file read as zeros (the views supply them): a zero
        // directory entry names an empty table, a zero table entry no cluster.
        let directorySize = Int(bitmaps.directorySize)
        let directory = BigEndianBytes(try file.readInsideFile(count: directorySize, at: bitmaps.directoryOffset))
        var position = 0
        for _ in 0..<bitmaps.count {
            guard position + 24 <= directorySize else {
                result.corruptions += 1
                report("ERROR bitmap directory is truncated")
                return
            }
            let (tableOffset, tableSize, nameSize, extraSize) = (
                directory.u64(position), directory.u32(position + 8), Int(directory.u16(position + 18)), Int(directory.u32(position + 20)))
            position += (24 + extraSize + nameSize + 7) & ~7
            increment(offset: tableOffset, size: UInt64(tableSize) * 8)
            guard UInt64(tableSize) * 8 <= QCOW2Format.maximumCheckedBitmapBytes else {
                result.corruptions += 1
                continue
            }
            let table = BigEndianBytes(try file.readInsideFile(count: Int(tableSize) * 8, at: tableOffset))
            let entries = min(Int(tableSize), (table.count + 7) / 8)
            // qemu's bitmap_table_load checks every entry before any is counted; one it
            // refuses (reachable here only for a bitmap in use, which open does not load)
            // is a corruption that stops the check: "Check failed: Invalid argument", exit 1.
            for i in 0..<entries {
                let entry = table.u64(i * 8)
                let offset = entry & QCOW2Format.bitmapTableOffsetMask
                if entry & QCOW2Format.bitmapTableReservedMask != 0
                    || (offset != 0 && (entry & QCOW2Format.bitmapTableAllOnesFlag != 0 || offset & UInt64(clusterSize - 1) != 0)) {
                    result.corruptions += 1
                    throw ImageAccessError.invalidField(
                        field: "bitmap table entry at file offset \(tableOffset + UInt64(i) * 8)", value: entry,
                        reason: "reserved bits, an all-ones flag with an offset, or an unaligned offset: the check cannot complete (Invalid argument)")
                }
            }
            for i in 0..<entries {
                let offset = table.u64(i * 8) & QCOW2Format.bitmapTableOffsetMask
                if offset != 0 { increment(offset: offset, size: UInt64(clusterSize)) }
            }
        }
    }

    /// qemu's `check_refblocks`.
    mutating func checkRefcountBlocks() {
        // Entries past the end of the file are zero (``RefcountTable/loadEntries()`` does not
        // hold them): offset 0 is aligned and inside the image (the file has at least one
        // cluster), so qemu reports nothing for them.
        for (i, raw) in (stored.entries ?? []).enumerated() {
            let offset = RefcountTable.blockOffset(raw)
            let cluster = offset >> UInt64(clusterBits)
            if raw & QCOW2Format.refcountTableReservedMask != 0 {
                result.corruptions += 1
                report("ERROR refcount table entry \(i) has reserved bits set")
                continue
            }
            if offset & UInt64(clusterSize - 1) != 0 {
                result.corruptions += 1
                report("ERROR refcount block \(i) is not cluster aligned; refcount table entry corrupted")
                continue
            }
            if cluster >= UInt64(computed.count) {
                result.corruptions += 1
                report("ERROR refcount block \(i) is outside image")
                continue
            }
            if offset != 0 {
                increment(offset: offset, size: UInt64(clusterSize))
                let count = computed[Int(cluster)]
                if count != 1 {
                    result.corruptions += 1
                    report("ERROR refcount block \(i) refcount=\(count)")
                }
            }
        }
    }

    /// The stored refcount of `cluster`, or `nil` when its refcount block is unusable.
    mutating func storedRefcount(_ cluster: UInt64) throws -> UInt64? {
        try stored.refcount(ofCluster: cluster)
    }

    mutating func compareRefcounts() throws {
        var highest = 0
        for i in 0..<computed.count {
            guard let stored = try storedRefcount(UInt64(i)) else {
                result.checkErrors += 1
                report("Can't get refcount for cluster \(i): Input/output error")
                continue
            }
            let expected = computed[i]
            if stored > 0 || expected > 0 { highest = i }
            if stored != expected {
                if stored < expected {
                    result.corruptions += 1
                    report("ERROR cluster \(i) refcount=\(stored) reference=\(expected)")
                } else {
                    result.leaks += 1
                    report("Leaked cluster \(i) refcount=\(stored) reference=\(expected)")
                }
            }
        }
        result.imageEndOffset = UInt64(highest + 1) << UInt64(clusterBits)
    }

    /// qemu's `check_oflag_copied` on the active L1 table (read-only).
    mutating func checkCopiedFlags() throws {
        let extended = layout.extendedL2
        let l1 = try L1Table(file: file, layout: layout)
        try l1.visit { index, l1Entry in
            let l2Offset = l1Entry.l2Offset
            guard l2Offset != 0 else { return true }
            if let refcount = try storedRefcount(l2Offset >> UInt64(clusterBits)), (refcount == 1) != l1Entry.isCopied {
                result.corruptions += 1
                report("ERROR OFLAG_COPIED L2 cluster: l1_index=\(index) l1_entry=\(hex(l1Entry.raw)) refcount=\(refcount)")
            }
            let (table, entries) = try l2TableInsideFile(at: l2Offset)
            for j in 0..<entries {
                guard let entry = L2Entry.read(from: table, index: j, extended: extended) else { break }
                let kind = entry.kind(extended: extended, externalDataFile: layout.hasDataFile)
                guard kind == .normal || kind == .zeroAllocated else { continue }
                let refcount: UInt64
                if layout.hasDataFile {
                    refcount = 1
                } else {
                    guard let stored = try storedRefcount(entry.hostOffset >> UInt64(clusterBits)) else { continue }
                    refcount = stored
                }
                if (refcount == 1) != entry.isCopied {
                    result.corruptions += 1
                    report("ERROR OFLAG_COPIED data cluster: l2_entry=\(hex(entry.descriptor)) refcount=\(refcount)")
                }
            }
            return true
        }
    }

    private func hex(_ value: UInt64) -> String { String(value, radix: 16) }
}
