extension Audit {
    /// Audits an open qcow2 image: the header, then the snapshot table, bitmap directory
    /// and LUKS header (with qemu's checks; a table qemu would refuse becomes an error
    /// finding), the image end from the refcounts, and the active L2 tables for compressed
    /// clusters (at most `l2ScanLimit` tables and 64 MiB of them; past that the check is
    /// skipped).
    ///
    /// Reads: for an image without snapshots or bitmaps, the refcount table's first
    /// cluster, one refcount block and the L1 table (three `pread`s).
    public init(image: QCOW2Image, l2ScanLimit: Int = 256) {
        var facts = QCOW2Facts()
        var refusals: [Finding] = []
        func attempt<T>(_ body: () throws -> T?) -> T? {
            do { return try body() } catch let error as QCOW2HeaderError {
                refusals.append(Finding(code: error.code, severity: .error, message: error.description))
            } catch {
                refusals.append(Finding(code: "read-error", severity: .error, message: "\(error)"))
            }
            return nil
        }
        if image.header.snapshotCount > 0 {
            facts.snapshots = attempt { try QCOW2SnapshotTable(image: image) }
        }
        facts.bitmaps = attempt { try QCOW2BitmapDirectory.read(from: image) }
        _ = attempt { try LUKSHeader.read(from: image) }
        facts.imageEnd = attempt { try Self.imageEnd(of: image) }
        facts.hasCompressedClusters = attempt { try Self.hasCompressedClusters(image, limit: l2ScanLimit) }
        self.init(header: image.header, fileSize: image.fileSize, facts: facts)
        findings += refusals
    }

    /// End of the last cluster whose refcount is not zero, or `nil` when the refcount
    /// table or its last block is not inside the file (the region findings say why).
    ///
    /// Fast path (two reads of a few bytes): when the cluster holding the file's last byte
    /// is referenced, the image ends with the file's last cluster. Only otherwise is the
    /// refcount table scanned for the last referenced cluster.
    static func imageEnd(of image: QCOW2Image) throws -> UInt64? {
        let h = image.header
        let cluster = UInt64(h.clusterSize)
        guard image.fileSize > 0 else { return 0 }
        let lastCluster = (image.fileSize - 1) / cluster
        if let count = try refcount(ofCluster: lastCluster, in: image), count != 0 {
            return (lastCluster + 1) * cluster
        }
        return try scanImageEnd(of: image)
    }

    /// The refcount of cluster `index`, read with two small `pread`s; `nil` when the
    /// refcount block it needs is not a cluster inside the file.
    static func refcount(ofCluster index: UInt64, in image: QCOW2Image) throws -> UInt64? {
        let h = image.header
        let cluster = UInt64(h.clusterSize)
        let bits = UInt64(h.refcountBits)
        let entriesPerBlock = cluster * 8 / bits
        let blockIndex = index / entriesPerBlock
        guard blockIndex < UInt64(h.refcountTableClusters) * cluster / 8 else { return 0 }
        let tableEntry = h.refcountTableOffset + blockIndex * 8  // table ≤ 8 MiB, offset checked by the header parser
        let blockOffset = BigEndianBytes(try image.read(at: tableEntry, count: 8)).u64(0) & ~UInt64(0x1FF)
        if blockOffset == 0 { return 0 }
        guard blockOffset % cluster == 0, blockOffset < image.fileSize, cluster <= image.fileSize - blockOffset else { return nil }
        let bitPosition = (index % entriesPerBlock) * bits
        let width = Int(max(1, bits / 8))
        let raw = BigEndianBytes(try image.read(at: blockOffset + bitPosition / 8, count: width))
        if bits >= 8 {
            var value: UInt64 = 0
            for i in 0..<width { value = value << 8 | UInt64(raw.u8(i)) }
            return value
        }
        return UInt64(raw.u8(0) >> UInt8(bitPosition % 8)) & ((1 << bits) - 1)
    }

    /// The slow path of ``imageEnd(of:)``: the last non-zero refcount in the table.
    static func scanImageEnd(of image: QCOW2Image) throws -> UInt64? {
        let h = image.header
        let cluster = UInt64(h.clusterSize)
        let tableBytes = UInt64(h.refcountTableClusters) * cluster  // ≤ 8 MiB (header check)
        guard h.refcountTableOffset < image.fileSize, tableBytes <= image.fileSize - h.refcountTableOffset else { return nil }
        let tableBytes8 = try image.read(at: h.refcountTableOffset, count: Int(tableBytes))
        let table = BigEndianBytes(tableBytes8)
        let entriesPerBlock = (cluster * 8) >> UInt64(h.refcountOrder)
        var scanEnd = tableBytes8.count
        var blocksTried = 0
        while blocksTried < 16, let lastByte = ZeroScan.lastNonZeroByte(tableBytes8, before: scanEnd) {
            let index = lastByte / 8
            scanEnd = index * 8
            let blockOffset = table.u64(index * 8) & ~UInt64(0x1FF)
            if blockOffset == 0 { continue }
            blocksTried += 1
            guard blockOffset % cluster == 0, blockOffset < image.fileSize, cluster <= image.fileSize - blockOffset else { return nil }
            let block = try image.read(at: blockOffset, count: Int(cluster))
            guard let last = lastNonZeroEntry(block, refcountOrder: Int(h.refcountOrder)) else { continue }
            let (clusters, o1) = UInt64(index).multipliedReportingOverflow(by: entriesPerBlock)
            let (total, o2) = clusters.addingReportingOverflow(UInt64(last) + 1)
            let (end, o3) = total.multipliedReportingOverflow(by: cluster)
            return o1 || o2 || o3 ? nil : end
        }
        return nil
    }

    /// Index of the last non-zero refcount in a block of `2^refcountOrder`-bit entries
    /// (sub-byte entries are packed from the least significant bit, as qemu packs them).
    static func lastNonZeroEntry(_ block: [UInt8], refcountOrder: Int) -> Int? {
        guard let byteIndex = ZeroScan.lastNonZeroByte(block) else { return nil }
        let bits = 1 << refcountOrder
        if bits >= 8 { return byteIndex / (bits / 8) }
        let byte = block[byteIndex]
        let highestBit = 7 - byte.leadingZeroBitCount
        return byteIndex * (8 / bits) + highestBit / bits
    }

    /// Whether an active L2 table maps a compressed cluster; `nil` when more than `limit`
    /// L2 tables would have to be read, or the L1 table is not inside the file.
    static func hasCompressedClusters(_ image: QCOW2Image, limit: Int) throws -> Bool? {
        let h = image.header
        guard h.l1Size > 0 else { return false }
        let l1Bytes = UInt64(h.l1Size) * 8  // ≤ 32 MiB (header check)
        guard h.l1TableOffset < image.fileSize, l1Bytes <= image.fileSize - h.l1TableOffset else { return nil }
        let l1 = BigEndianBytes(try image.read(at: h.l1TableOffset, count: Int(l1Bytes)))
        let cluster = UInt64(h.clusterSize)
        let entrySize = h.hasExtendedL2 ? 16 : 8
        var scanned = 0
        for i in 0..<Int(h.l1Size) {
            let l2Offset = l1.u64(i * 8) & 0x00FF_FFFF_FFFF_FE00
            guard l2Offset != 0, l2Offset % cluster == 0, l2Offset < image.fileSize, cluster <= image.fileSize - l2Offset else { continue }
            scanned += 1
            // At most `limit` tables and at most 64 MiB of them, whatever the cluster size.
            if scanned > limit || UInt64(scanned) * cluster > 64 << 20 { return nil }
            let l2 = try image.read(at: l2Offset, count: Int(cluster))
            if Self.mapsCompressedCluster(l2, entrySize: entrySize) { return true }
        }
        return false
    }

    /// Whether any entry of an L2 table (big-endian entries of `entrySize` bytes, 8 or 16;
    /// the standard 8-byte entry first) has the compressed flag, bit 62, set.
    ///
    /// Bit 62 is bit 6 of an entry's first byte. For 8-byte entries the flags of all entries
    /// are OR-ed together a word at a time (no branch per entry), then tested once.
    static func mapsCompressedCluster(_ table: [UInt8], entrySize: Int) -> Bool {
        table.withUnsafeBytes { raw -> Bool in
            guard let base = raw.baseAddress else { return false }
            let entries = raw.count / entrySize
            if entrySize == 8 {
                var flags: UInt64 = 0
                for index in 0..<entries {
                    flags |= base.loadUnaligned(fromByteOffset: index &* 8, as: UInt64.self)
                }
                // An entry's first byte is the low byte of a native load on a little-endian
                // machine, the high byte on a big-endian one.
                #if _endian(little)
                return flags & 0x40 != 0
                #else
                return flags & (0x40 << 56) != 0
                #endif
            }
            var flags: UInt8 = 0
            for index in 0..<entries { flags |= raw[index &* entrySize] }
            return flags & 0x40 != 0
        }
    }
}
