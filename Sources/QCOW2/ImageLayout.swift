/// The facts about an image's metadata layout that checking, mapping and reading need,
/// taken from the header, its extensions and the snapshot table.
struct ImageLayout: Sendable {
    struct Snapshot: Sendable {
        var l1Offset: UInt64
        var l1Size: UInt32
    }
    struct Bitmaps: Sendable {
        var count: UInt32
        var directoryOffset: UInt64
        var directorySize: UInt64
    }

    var version: UInt32
    var clusterBits: Int
    var virtualSize: UInt64
    var l1Size: UInt32
    var l1Offset: UInt64
    var refcountTableOffset: UInt64
    var refcountTableClusters: UInt32
    var refcountOrder: Int
    var snapshotsOffset: UInt64
    var snapshotCount: UInt32
    var incompatibleFeatures: UInt64
    var autoclearFeatures: UInt64
    var compressionType: UInt8
    var cryptMethod: UInt32
    var backingName: [UInt8]?
    var backingFormat: String?
    var dataFileName: String?
    var bitmaps: Bitmaps?
    var cryptoHeader: (offset: UInt64, length: UInt64)?
    var snapshots: [Snapshot] = []
    var snapshotsSize: UInt64 = 0

    var clusterSize: Int { 1 << clusterBits }
    var extendedL2: Bool { incompatibleFeatures & (1 << 4) != 0 }
    var hasDataFile: Bool { incompatibleFeatures & (1 << 2) != 0 }
    var l2EntrySize: Int { extendedL2 ? 16 : 8 }
    var l2Entries: Int { clusterSize / l2EntrySize }
    var subclusterSize: Int { extendedL2 ? clusterSize / 32 : clusterSize }
    var refcountTableEntries: Int { Int(refcountTableClusters) * clusterSize / 8 }
    var width: RefcountWidth { RefcountWidth(order: refcountOrder) ?? RefcountWidth(order: 4)! }

    static let l1OffsetMask: UInt64 = 0x00FF_FFFF_FFFF_FE00
    static let maxL1Bytes: UInt64 = 32 << 20
    static let maxRefcountTableBytes: UInt64 = 8 << 20

    /// Reads and validates what the walkers rely on. Everything else is the audit's job.
    init(file: ImageFile) throws {
        let head = try file.read(count: 512, at: 0)
        func u32(_ o: Int) -> UInt32 { head.withUnsafeBytes { BigEndian.uint32($0, at: o) } }
        func u64(_ o: Int) -> UInt64 { head.withUnsafeBytes { BigEndian.uint64($0, at: o) } }
        guard u32(0) == 0x5146_49FB else {
            throw ImageAccessError.invalidField(field: "magic", value: UInt64(u32(0)), reason: "not a qcow2 image")
        }
        version = u32(4)
        guard version == 2 || version == 3 else {
            throw ImageAccessError.invalidField(field: "version", value: UInt64(version), reason: "only 2 and 3 exist")
        }
        let bits = u32(20)
        guard (9...21).contains(bits) else {
            throw ImageAccessError.invalidField(field: "cluster_bits", value: UInt64(bits), reason: "must be 9…21")
        }
        clusterBits = Int(bits)
        virtualSize = u64(24)
        cryptMethod = u32(32)
        l1Size = u32(36)
        l1Offset = u64(40)
        refcountTableOffset = u64(48)
        refcountTableClusters = u32(56)
        snapshotCount = u32(60)
        snapshotsOffset = u64(64)
        var headerLength: UInt32 = 72
        if version >= 3 {
            incompatibleFeatures = u64(72)
            autoclearFeatures = u64(88)
            refcountOrder = Int(u32(96))
            headerLength = u32(100)
            compressionType = headerLength > 104 ? head[104] : 0
        } else {
            incompatibleFeatures = 0
            autoclearFeatures = 0
            refcountOrder = 4
            compressionType = 0
        }
        guard (0...6).contains(refcountOrder) else {
            throw ImageAccessError.invalidField(field: "refcount_order", value: UInt64(refcountOrder), reason: "must be 0…6")
        }
        guard UInt64(l1Size) * 8 <= Self.maxL1Bytes else {
            throw ImageAccessError.tooLarge(what: "the active L1 table", size: UInt64(l1Size) * 8, limit: Self.maxL1Bytes)
        }
        let reftableBytes = UInt64(refcountTableClusters) << UInt64(clusterBits)
        guard reftableBytes <= Self.maxRefcountTableBytes else {
            throw ImageAccessError.tooLarge(what: "the refcount table", size: reftableBytes, limit: Self.maxRefcountTableBytes)
        }
        guard virtualSize <= (UInt64(1) << 62) else {
            throw ImageAccessError.invalidField(field: "size", value: virtualSize, reason: "larger than 2^62")
        }
        // Enough L1 entries to map the virtual size.
        let l2Coverage = UInt64(1) << UInt64(clusterBits + clusterBits - (incompatibleFeatures & (1 << 4) != 0 ? 4 : 3))
        let needed = (virtualSize + l2Coverage - 1) / l2Coverage
        guard UInt64(l1Size) >= needed else {
            throw ImageAccessError.invalidField(field: "l1_size", value: UInt64(l1Size),
                                                reason: "too small for the virtual size (needs \(needed))")
        }
        if incompatibleFeatures & (1 << 4) != 0 && clusterBits < 14 {
            throw ImageAccessError.invalidField(field: "cluster_bits", value: UInt64(clusterBits),
                                                reason: "extended L2 entries need clusters of at least 16 KiB")
        }

        // Header extensions (v3: after header_length; v2: after the 72-byte header).
        let clusterSize = 1 << clusterBits
        let headerBytes = try file.read(count: clusterSize, at: 0)
        var offset = Int(headerLength)
        guard offset <= clusterSize, headerLength >= (version >= 3 ? 104 : 72) else {
            throw ImageAccessError.invalidField(field: "header_length", value: UInt64(headerLength), reason: "outside the first cluster")
        }
        let backingOffset = u64(8)
        let backingSize = u32(16)
        let extensionsEnd = backingOffset > 0 ? min(Int(clamping: backingOffset), clusterSize) : clusterSize
        while offset + 8 <= extensionsEnd {
            let type = headerBytes.withUnsafeBytes { BigEndian.uint32($0, at: offset) }
            let length = Int(headerBytes.withUnsafeBytes { BigEndian.uint32($0, at: offset + 4) })
            if type == 0 { break }
            let dataStart = offset + 8
            guard length <= extensionsEnd - dataStart else {
                throw ImageAccessError.invalidField(field: "header extension 0x\(String(type, radix: 16)) length",
                                                    value: UInt64(length), reason: "runs past the extension area")
            }
            let data = Array(headerBytes[dataStart..<(dataStart + length)])
            switch type {
            case 0xE279_2ACA:
                backingFormat = String(decoding: data, as: UTF8.self)
            case 0x4441_5441:
                dataFileName = String(decoding: data, as: UTF8.self)
            case 0x2385_2875 where length >= 24:
                bitmaps = data.withUnsafeBytes {
                    Bitmaps(count: BigEndian.uint32($0, at: 0), directoryOffset: BigEndian.uint64($0, at: 16),
                            directorySize: BigEndian.uint64($0, at: 8))
                }
            case 0x0537_BE77 where length >= 16:
                cryptoHeader = data.withUnsafeBytes { (BigEndian.uint64($0, at: 0), BigEndian.uint64($0, at: 8)) }
            default:
                break
            }
            offset = dataStart + ((length + 7) & ~7)
        }
        if backingOffset != 0 {
            guard backingSize <= 1023, backingOffset < UInt64(clusterSize),
                  Int(backingOffset) + Int(backingSize) <= clusterSize else {
                throw ImageAccessError.invalidField(field: "backing_file_offset", value: backingOffset,
                                                    reason: "the name (\(backingSize) bytes) is not inside the first cluster")
            }
            backingName = Array(headerBytes[Int(backingOffset)..<(Int(backingOffset) + Int(backingSize))])
        }
        try readSnapshots(file)
    }

    private mutating func readSnapshots(_ file: ImageFile) throws {
        guard snapshotCount > 0 else { return }
        guard snapshotCount <= 65536 else {
            throw ImageAccessError.invalidField(field: "nb_snapshots", value: UInt64(snapshotCount), reason: "more than 65536")
        }
        var offset = snapshotsOffset
        var chunk: [UInt8] = []
        for index in 0..<Int(snapshotCount) {
            chunk = try file.read(count: 40, at: offset)
            let l1Offset = chunk.withUnsafeBytes { BigEndian.uint64($0, at: 0) }
            let l1Size = chunk.withUnsafeBytes { BigEndian.uint32($0, at: 8) }
            let idSize = UInt64(chunk.withUnsafeBytes { BigEndian.uint16($0, at: 12) })
            let nameSize = UInt64(chunk.withUnsafeBytes { BigEndian.uint16($0, at: 14) })
            let extraSize = UInt64(chunk.withUnsafeBytes { BigEndian.uint32($0, at: 36) })
            guard extraSize <= 1024 else {
                throw ImageAccessError.invalidField(field: "snapshot \(index) extra_data_size", value: extraSize, reason: "more than 1024")
            }
            guard UInt64(l1Size) * 8 <= Self.maxL1Bytes else {
                throw ImageAccessError.tooLarge(what: "the L1 table of snapshot \(index)", size: UInt64(l1Size) * 8, limit: Self.maxL1Bytes)
            }
            snapshots.append(Snapshot(l1Offset: l1Offset, l1Size: l1Size))
            let entry = (40 + extraSize + idSize + nameSize + 7) & ~7
            let (next, overflow) = offset.addingReportingOverflow(entry)
            guard !overflow, next <= file.size else {
                throw ImageAccessError.invalidField(field: "snapshot \(index)", value: offset, reason: "the table runs past the end of the file")
            }
            offset = next
        }
        snapshotsSize = offset - snapshotsOffset
    }
}
