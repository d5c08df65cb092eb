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
                refusals.append(Finding(code: .readError, severity: .error, message: "\(error)"))
            }
            return nil
        }
        if image.header.snapshotCount > 0 {
            facts.snapshots = attempt { try image.snapshotTable() }
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
        let cluster = UInt64(image.header.clusterSize)
        guard image.fileSize > 0 else { return 0 }
        let lastCluster = (image.fileSize - 1) / cluster
        var table = RefcountTable(image: image, rule: .insideFile)
        if let count = try table.refcount(ofCluster: lastCluster), count != 0 {
            return (lastCluster + 1) * cluster
        }
        return try scanImageEnd(of: table)
    }

    /// The slow path of ``imageEnd(of:)``: the last non-zero refcount in the table (at most
    /// 16 refcount blocks read, from the last one named).
    static func scanImageEnd(of table: RefcountTable) throws -> UInt64? {
        var table = table
        let cluster = UInt64(table.clusterSize)
        // ≤ 8 MiB (header check), read whole once.
        guard table.isInsideFile else { return nil }
        let entriesPerBlock = UInt64(1) << UInt64(table.entriesPerBlockBits)
        var scanEnd = table.count
        var blocksTried = 0
        while blocksTried < 16, let (index, entry) = try table.lastNonZeroEntry(before: scanEnd) {
            scanEnd = index
            let blockOffset = RefcountTable.blockOffset(entry)
            if blockOffset == 0 { continue }
            blocksTried += 1
            guard table.mayRead(block: blockOffset) else { return nil }
            guard let last = table.width.lastNonZeroEntry(in: try table.block(at: blockOffset)) else { continue }
            let (clusters, o1) = UInt64(index).multipliedReportingOverflow(by: entriesPerBlock)
            let (total, o2) = clusters.addingReportingOverflow(UInt64(last) + 1)
            let (end, o3) = total.multipliedReportingOverflow(by: cluster)
            return o1 || o2 || o3 ? nil : end
        }
        return nil
    }

    /// Whether an active L2 table maps a compressed cluster; `nil` when more than `limit`
    /// L2 tables would have to be read, or the L1 table is not inside the file.
    static func hasCompressedClusters(_ image: QCOW2Image, limit: Int) throws -> Bool? {
        let h = image.header
        guard h.l1Size > 0 else { return false }
        let l1 = try L1Table(file: image.file, offset: h.l1TableOffset, count: Int(h.l1Size))
        guard l1.isInsideFile else { return nil }
        let cluster = UInt64(h.clusterSize)
        let entrySize = QCOW2Format.l2EntrySize(extended: h.hasExtendedL2)
        var scanned = 0
        var answer: Bool? = false
        try l1.visit { _, entry in
            let l2Offset = entry.l2Offset
            guard l2Offset != 0, l2Offset % cluster == 0, l2Offset < image.fileSize, cluster <= image.fileSize - l2Offset else { return true }
            scanned += 1
            // At most `limit` tables and at most 64 MiB of them, whatever the cluster size.
            if scanned > limit || UInt64(scanned) * cluster > QCOW2Format.maximumAuditL2ScanBytes {
                answer = nil
                return false
            }
            let l2 = try image.file.bytes(count: Int(cluster), at: l2Offset)
            if Self.mapsCompressedCluster(l2, entrySize: entrySize) {
                answer = true
                return false
            }
            return true
        }
        return answer
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
