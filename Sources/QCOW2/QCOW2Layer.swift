import ByteStreams

/// What one qcow2 file says about a run of guest bytes (qemu's block status of one layer).
enum LayerRun: Equatable {
    /// Data stored at `host` (in the image file, or the external data file).
    case data(host: UInt64)
    /// Reads as zeros; `host` when a cluster stays preallocated.
    case zero(host: UInt64?)
    /// Part of the compressed cluster that starts at guest offset `clusterStart`.
    case compressed(CompressedClusterDescriptor, clusterStart: UInt64)
    /// Not allocated here: the backing file decides (`host` for an allocated cluster's
    /// unallocated subcluster).
    case unallocated(host: UInt64?)
}

/// Guest-offset lookups through one qcow2 file's L1 and L2 tables, with a one-table cache.
final class QCOW2Layer {
    let file: ImageFile
    let layout: ImageLayout
    let dataFile: ImageFile?
    private var cachedL2Offset: UInt64 = .max
    private var cachedL2 = BigEndianBytes([])
    private var l1: L1Table

    init(file: ImageFile, layout: ImageLayout, dataFile: ImageFile?) throws {
        self.file = file
        self.layout = layout
        self.dataFile = dataFile
        l1 = try L1Table(file: file, layout: layout)
    }

    var virtualSize: UInt64 { layout.virtualSize }
    /// Whether offset 0 with the copied flag means data (external data file).
    var dataFileMode: Bool { layout.hasDataFile }

    private var window: [UInt8] = []
    private var windowStart: UInt64 = 0
    private static let windowSize = 1 << 20

    /// `count` bytes of compressed data at `offset`, served from a read-ahead window of up
    /// to 1 MiB (compressed clusters are usually stored one after another). The window
    /// stops at the end of the file, where there is nothing left to read ahead.
    func compressedBytes(at offset: UInt64, count: Int) throws -> [UInt8] {
        if count > Self.windowSize { return try file.read(count: count, at: offset) }
        let end = offset.addingReportingOverflow(UInt64(count))
        if end.overflow { return try file.read(count: count, at: offset) }
        if !(offset >= windowStart && end.partialValue <= windowStart + UInt64(window.count)) {
            let toEnd = offset < file.size ? file.size - offset : 0
            window = try file.read(count: Int(max(UInt64(count), min(UInt64(Self.windowSize), toEnd))), at: offset)
            windowStart = offset
        }
        let start = Int(offset - windowStart)
        return Array(window[start..<(start + count)])
    }

    private var preallocationChecked = false
    private var preallocated = false

    /// qemu's `qcow2_detect_metadata_preallocation`: the file is sparse enough that
    /// more clusters carry a refcount than the file system has allocated (by a margin).
    /// Only then does qemu's block status look for holes inside data clusters.
    func hasMetadataPreallocation() -> Bool {
        if preallocationChecked { return preallocated }
        preallocationChecked = true
        guard let status = try? SparseFile.status(of: file.descriptor, path: file.path),
              case var refcounts = RefcountTable(file: file, layout: layout, rule: .qemu),
              (try? refcounts.loadEntries()) != nil else { return false }
        let realClusters = status.allocatedBytes / UInt64(layout.clusterSize)
        let threshold = max(realClusters * 10 / 9, realClusters + 2)
        let endCluster = (file.size + UInt64(layout.clusterSize) - 1) >> UInt64(layout.clusterBits)
        var counted: UInt64 = 0
        var cluster: UInt64 = 0
        while cluster < endCluster && counted < threshold {
            guard let refcount = try? refcounts.refcount(ofCluster: cluster) else { return false }
            if refcount != 0 { counted += 1 }
            cluster += 1
        }
        preallocated = counted >= threshold
        return preallocated
    }

    private func l2Table(at offset: UInt64) throws -> BigEndianBytes {
        if offset != cachedL2Offset {
            cachedL2 = BigEndianBytes(try file.read(count: layout.l2Entries * layout.l2EntrySize, at: offset))
            cachedL2Offset = offset
        }
        return cachedL2
    }

    /// The run starting at guest offset `guest` (below the virtual size), at most `limit` bytes.
    func run(at guest: UInt64, limit: UInt64) throws -> (run: LayerRun, length: UInt64) {
        let clusterBits = UInt64(layout.clusterBits)
        let clusterSize = UInt64(layout.clusterSize)
        let limit = min(limit, layout.virtualSize - guest)
        let cluster = guest >> clusterBits
        let l2Entries = UInt64(layout.l2Entries)
        let l1Index = cluster / l2Entries
        var l2Index = Int(cluster % l2Entries)
        let inCluster = guest & (clusterSize - 1)
        // Bytes to the end of this L2 table's coverage.
        let tableEnd = (UInt64(layout.l2Entries - l2Index) << clusterBits) - inCluster
        guard l1Index < UInt64(layout.l1Size) else { return (.unallocated(host: nil), min(limit, tableEnd)) }
        let l2Offset = try l1.entry(Int(l1Index)).l2Offset
        guard l2Offset != 0 else { return (.unallocated(host: nil), min(limit, tableEnd)) }
        guard l2Offset & (clusterSize - 1) == 0 else {
            throw ImageAccessError.corruptEntry(guestOffset: guest, reason: "L2 table offset 0x\(String(l2Offset, radix: 16)) is not cluster aligned")
        }
        let table = try l2Table(at: l2Offset)
        let extended = layout.extendedL2
        guard let entry = L2Entry.read(from: table, index: l2Index, extended: extended) else {
            throw ImageAccessError.corruptEntry(guestOffset: guest, reason: "L2 index out of range")
        }
        let run: LayerRun
        var length: UInt64
        if extended {
            let subclusterSize = UInt64(layout.subclusterSize)
            let first = Int(inCluster / subclusterSize)
            let kind = entry.subclusterKind(first, extended: true, externalDataFile: dataFileMode)
            var last = first
            while last + 1 < 32 && entry.subclusterKind(last + 1, extended: true, externalDataFile: dataFileMode) == kind { last += 1 }
            length = UInt64(last + 1) * subclusterSize - inCluster
            run = try self.run(for: entry, kind: kind, guest: guest, inCluster: inCluster)
        } else {
            let kind = entry.subclusterKind(0, extended: false, externalDataFile: dataFileMode)
            run = try self.run(for: entry, kind: kind, guest: guest, inCluster: inCluster)
            length = clusterSize - inCluster
            // Extend over following entries of the same kind (and contiguous host clusters).
            if case .compressed = run {} else {
                var expectedHost = entry.hostOffset &+ clusterSize
                while length < limit && l2Index + 1 < layout.l2Entries {
                    l2Index += 1
                    guard let next = L2Entry.read(from: table, index: l2Index, extended: false),
                          next.subclusterKind(0, extended: false, externalDataFile: dataFileMode) == kind else { break }
                    if kind == .normal || kind == .zeroAllocated {
                        guard next.hostOffset == expectedHost else { break }
                        expectedHost &+= clusterSize
                    }
                    length += clusterSize
                }
            }
        }
        return (run, min(length, limit))
    }

    private func run(for entry: L2Entry, kind: SubclusterKind, guest: UInt64, inCluster: UInt64) throws -> LayerRun {
        let clusterSize = UInt64(layout.clusterSize)
        func checkedHost() throws -> UInt64 {
            let host = entry.hostOffset
            guard host & (clusterSize - 1) == 0 else {
                throw ImageAccessError.corruptEntry(guestOffset: guest, reason: "host offset 0x\(String(host, radix: 16)) is not cluster aligned")
            }
            // qemu (qcow2_get_host_offset): an external data file maps each guest cluster to
            // the same offset in the data file; any other offset is corruption, not a read.
            let guestCluster = guest - inCluster
            guard !layout.hasDataFile || host == guestCluster else {
                throw ImageAccessError.corruptEntry(
                    guestOffset: guest,
                    reason: "external data file offset 0x\(String(host, radix: 16)) does not match the guest cluster offset 0x\(String(guestCluster, radix: 16))")
            }
            return host + inCluster
        }
        // qemu (qcow2_get_host_offset): zero clusters exist from version 3 on; in a
        // version 2 image the zero flag is corruption, and reads fail.
        if layout.version < 3 && (kind == .zeroPlain || kind == .zeroAllocated) {
            throw ImageAccessError.corruptEntry(guestOffset: guest, reason: "zero cluster entry in a version 2 image (zero clusters need version 3)")
        }
        switch kind {
        case .normal: return .data(host: try checkedHost())
        case .zeroAllocated: return .zero(host: try checkedHost())
        case .zeroPlain: return .zero(host: nil)
        case .unallocatedAllocated: return .unallocated(host: try checkedHost())
        case .unallocatedPlain:
            // With an external data file, offset 0 plus the copied flag is data at 0.
            if layout.hasDataFile && entry.isCopied { return .data(host: inCluster) }
            return .unallocated(host: nil)
        case .compressed:
            guard !layout.hasDataFile else {
                throw ImageAccessError.corruptEntry(guestOffset: guest, reason: "compressed cluster in an image with an external data file")
            }
            return .compressed(entry.compressedDescriptor(clusterBits: layout.clusterBits), clusterStart: guest - inCluster)
        case .invalid:
            throw ImageAccessError.corruptEntry(guestOffset: guest, reason: "the subcluster bitmaps are invalid (0x\(String(entry.bitmap, radix: 16)))")
        }
    }
}
