extension Audit {
    /// Audits an open qcow2 image: the header, then the snapshot table, bitmap directory
    /// and LUKS header (with qemu's checks; a table qemu would refuse becomes an error
    /// finding), the image end from the refcounts, and the active L2 tables for compressed
    /// clusters (at most `l2ScanLimit` tables; past that the check is skipped).
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
    static func imageEnd(of image: QCOW2Image) throws -> UInt64? {
        let h = image.header
        let cluster = UInt64(h.clusterSize)
        let tableBytes = UInt64(h.refcountTableClusters) * cluster  // ≤ 8 MiB (header check)
        guard h.refcountTableOffset < image.fileSize, tableBytes <= image.fileSize - h.refcountTableOffset else { return nil }
        let table = BigEndianBytes(try image.read(at: h.refcountTableOffset, count: Int(tableBytes)))
        let entriesPerBlock = (cluster * 8) >> UInt64(h.refcountOrder)
        var index = Int(tableBytes / 8)
        var blocksTried = 0
        while index > 0, blocksTried < 16 {
            index -= 1
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
        guard let byteIndex = block.lastIndex(where: { $0 != 0 }) else { return nil }
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
            if scanned > limit { return nil }
            let l2 = BigEndianBytes(try image.read(at: l2Offset, count: Int(cluster)))
            var at = 0
            while at < Int(cluster) {
                if l2.u64(at) & (1 << 62) != 0 { return true }
                at += entrySize
            }
        }
        return false
    }
}
