/// The facts about an image's metadata layout that checking, mapping and reading need,
/// taken from the header, its extensions and the snapshot table.
struct ImageLayout: Sendable {
    struct Snapshot: Sendable {
        var l1Offset: UInt64
        var l1Size: UInt32
        var id: String = ""
        var name: String = ""
        /// Where the snapshot's table entry ends in the file.
        var entryEnd: UInt64 = 0
        /// Bytes of extra data in the entry.
        var extraDataSize: UInt32 = 0
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
    var extendedL2: Bool { incompatibleFeatures & QCOW2IncompatibleFeatures.extendedL2.rawValue != 0 }
    var hasDataFile: Bool { incompatibleFeatures & QCOW2IncompatibleFeatures.externalDataFile.rawValue != 0 }
    var l2EntrySize: Int { QCOW2Format.l2EntrySize(extended: extendedL2) }
    var l2Entries: Int { clusterSize / l2EntrySize }
    var subclusterSize: Int { extendedL2 ? clusterSize / QCOW2Format.subclustersPerCluster : clusterSize }
    var refcountTableEntries: Int { Int(refcountTableClusters) * clusterSize / 8 }
    var width: RefcountWidth { RefcountWidth(clampedOrder: refcountOrder) }

    /// Parses the header with ``QCOW2Header`` (which validates it in qemu's order) and
    /// reads the snapshot table's L1 pointers.
    init(file: ImageFile, forCheck: Bool = false) throws {
        try self.init(image: QCOW2Image(descriptor: file.descriptor, path: file.path, fileSize: file.size, forCheck: forCheck))
    }

    /// The layout of an opened image; reads the snapshot table with ``QCOW2SnapshotTable``.
    init(image: QCOW2Image) throws {
        let header = image.header
        version = header.version
        clusterBits = Int(header.clusterBits)
        // qemu's block layer counts whole sectors: a size that is not a multiple of 512 is
        // cut down to one (check, map and convert see this size; info prints the header's).
        virtualSize = header.virtualSize & ~UInt64(511)
        l1Size = header.l1Size
        l1Offset = header.l1TableOffset
        refcountTableOffset = header.refcountTableOffset
        refcountTableClusters = header.refcountTableClusters
        refcountOrder = Int(header.refcountOrder)
        snapshotsOffset = header.snapshotsOffset
        snapshotCount = header.snapshotCount
        incompatibleFeatures = header.incompatibleFeatures.rawValue
        autoclearFeatures = header.autoclearFeatures.rawValue
        compressionType = header.incompatibleFeatures.contains(.compressionType) ? header.compressionTypeByte : 0
        cryptMethod = header.cryptMethod
        backingName = header.backingFileNameBytes
        backingFormat = header.backingFormat
        dataFileName = header.dataFileName
        if let ext = header.bitmapsExtension {
            bitmaps = Bitmaps(count: ext.bitmapCount, directoryOffset: ext.directoryOffset, directorySize: ext.directorySize)
        }
        if let pointer = header.encryptionHeaderPointer {
            cryptoHeader = (pointer.offset, pointer.length)
        }
        // Limits the walkers depend on, whatever the header validation let through.
        guard QCOW2Format.clusterBits.contains(UInt32(clamping: clusterBits)),
              (0...QCOW2Format.maximumRefcountOrder).contains(refcountOrder) else {
            throw ImageAccessError.invalidField(field: "cluster_bits/refcount_order", value: UInt64(clusterBits),
                                                reason: "outside 9…21 / 0…6")
        }
        guard UInt64(l1Size) * 8 <= QCOW2Format.maximumL1Bytes else {
            throw ImageAccessError.tooLarge(what: "the active L1 table", size: UInt64(l1Size) * 8, limit: QCOW2Format.maximumL1Bytes)
        }
        let reftableBytes = UInt64(refcountTableClusters) << UInt64(clusterBits)
        guard reftableBytes <= QCOW2Format.maximumRefcountTableBytes else {
            throw ImageAccessError.tooLarge(what: "the refcount table", size: reftableBytes, limit: QCOW2Format.maximumRefcountTableBytes)
        }
        let l2Coverage = UInt64(1) << UInt64(clusterBits + header.l2Bits)
        let needed = header.virtualSize / l2Coverage + (header.virtualSize % l2Coverage == 0 ? 0 : 1)
        guard UInt64(l1Size) >= needed else {
            throw ImageAccessError.invalidField(field: "l1_size", value: UInt64(l1Size),
                                                reason: "too small for the virtual size (needs \(needed))")
        }
        guard !header.hasExtendedL2 || clusterBits >= QCOW2Format.minimumExtendedL2ClusterBits else {
            throw ImageAccessError.invalidField(field: "cluster_bits", value: UInt64(clusterBits),
                                                reason: "extended L2 entries need clusters of at least 16 KiB")
        }
        if snapshotCount > 0 {
            let table = try image.snapshotTable()
            snapshots = table.snapshots.map {
                Snapshot(l1Offset: $0.l1TableOffset, l1Size: $0.l1Size, id: $0.id, name: $0.name,
                         entryEnd: $0.entryOffset &+ UInt64($0.entryLength), extraDataSize: $0.extraDataSize)
            }
            snapshotsSize = table.length
        }
    }
}
