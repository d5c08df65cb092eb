/// What `qemu-img info` (7.2) reports about a qcow2 or raw file, field for field.
///
/// ``json`` prints it with qemu-img's field names, layout and member order, so the output
/// of `qemu-img info --output=json FILE` and ours can be compared byte for byte.
public struct ImageInfo: Sendable, Hashable {
    /// The file name as given.
    public var filename: String
    /// `qcow2` or `raw`.
    public var format: String
    /// Incompatible bit 0 (qcow2); `false` for raw.
    public var dirtyFlag: Bool?
    /// Bytes allocated on disk (`st_blocks * 512`), when known.
    public var actualSize: UInt64?
    /// Guest-visible size in bytes (qemu rounds: qcow2 down, raw up, to 512).
    public var virtualSize: UInt64
    /// Cluster size (qcow2 only).
    public var clusterSize: Int?
    /// `true` for encrypted images; absent otherwise.
    public var encrypted: Bool?
    /// The stored backing file name (before any NUL); absent when empty.
    public var backingFilename: String?
    /// The backing name resolved against the image's folder, as qemu resolves it.
    public var fullBackingFilename: String?
    /// The backing format extension, when there is a backing name.
    public var backingFilenameFormat: String?
    /// Internal snapshots.
    public var snapshots: [SnapshotInfo]
    /// The qcow2-specific part (`format-specific`).
    public var formatSpecific: QCOW2FormatInfo?

    /// One internal snapshot as `qemu-img info` lists it.
    public struct SnapshotInfo: Sendable, Hashable {
        /// `id`.
        public var id: String
        /// `name`.
        public var name: String
        /// `vm-state-size`.
        public var vmStateSize: UInt64
        /// `date-sec`.
        public var dateSeconds: UInt32
        /// `date-nsec`.
        public var dateNanoseconds: UInt32
        /// `vm-clock-sec` and `vm-clock-nsec` together.
        public var vmClockNanoseconds: UInt64
        /// `icount`, absent when the snapshot has none.
        public var icount: UInt64?

        /// The entry as qemu shows it (ID and name truncated to 127 and 255 bytes).
        public init(_ snapshot: QCOW2Snapshot) {
            id = snapshot.id
            name = snapshot.name
            vmStateSize = snapshot.vmStateSize
            dateSeconds = snapshot.dateSeconds
            dateNanoseconds = snapshot.dateNanoseconds
            vmClockNanoseconds = snapshot.vmClockNanoseconds
            icount = snapshot.icount
        }
    }

    /// The qcow2 part: `format-specific.data`.
    public struct QCOW2FormatInfo: Sendable, Hashable {
        /// `0.10` (v2) or `1.1` (v3).
        public var compat: String
        /// The external data file name, when the extension is present.
        public var dataFile: String?
        /// Autoclear bit 1, shown only when qemu uses an external data file.
        public var dataFileRaw: Bool?
        /// Incompatible bit 4 (v3 only).
        public var extendedL2: Bool?
        /// Compatible bit 0 (v3 only).
        public var lazyRefcounts: Bool?
        /// Incompatible bit 1 (v3 only).
        public var corrupt: Bool?
        /// Refcount width.
        public var refcountBits: Int
        /// Encryption details.
        public var encrypt: Encryption?
        /// Persistent bitmaps (absent when there are none).
        public var bitmaps: [BitmapInfo]?
        /// `zlib` or `zstd`.
        public var compressionType: String
    }

    /// `format-specific.data.encrypt`.
    public enum Encryption: Sendable, Hashable {
        /// Legacy AES: qemu prints only `format`.
        case aes
        /// LUKS: the header's algorithms, offsets and key slots.
        case luks(LUKSHeader)
    }

    /// One persistent bitmap as `qemu-img info` lists it.
    public struct BitmapInfo: Sendable, Hashable {
        /// `name`.
        public var name: String
        /// `granularity` in bytes.
        public var granularity: UInt64
        /// `flags`: `in-use`, `auto`.
        public var flags: [String]

        /// The entry as qemu shows it.
        public init(_ bitmap: QCOW2Bitmap) {
            name = bitmap.name
            granularity = bitmap.granularity
            flags = (bitmap.isInUse ? ["in-use"] : []) + (bitmap.isAuto ? ["auto"] : [])
        }
    }
}

extension ImageInfo {
    /// The info of a qcow2 image from its parsed parts (a pure function).
    public init(filename: String, header: QCOW2Header, snapshots: QCOW2SnapshotTable?,
                bitmaps: QCOW2BitmapDirectory?, luks: LUKSHeader?, actualSize: UInt64?) {
        self.filename = filename
        format = "qcow2"
        dirtyFlag = header.isDirty
        self.actualSize = actualSize
        virtualSize = header.virtualSize / 512 * 512
        clusterSize = header.clusterSize
        encrypted = header.isEncrypted ? true : nil
        let backing = header.backingFileName ?? ""
        if !backing.isEmpty {
            backingFilename = backing
            fullBackingFilename = Self.resolve(backing, relativeTo: filename)
            if let format = header.backingFormat, !format.isEmpty { backingFilenameFormat = format }
        }
        self.snapshots = snapshots?.snapshots.map(SnapshotInfo.init) ?? []
        let v3 = header.version == 3
        var encrypt: Encryption?
        if header.cryptMethod == 1 { encrypt = .aes }
        if let luks { encrypt = .luks(luks) }
        let bitmapList = (bitmaps?.bitmaps ?? []).map(BitmapInfo.init)
        formatSpecific = QCOW2FormatInfo(
            compat: v3 ? "1.1" : "0.10",
            dataFile: header.dataFileName,
            dataFileRaw: header.hasExternalDataFile ? header.autoclearFeatures.contains(.rawExternalData) : nil,
            extendedL2: v3 ? header.hasExtendedL2 : nil,
            lazyRefcounts: v3 ? header.compatibleFeatures.contains(.lazyRefcounts) : nil,
            corrupt: v3 ? header.isCorrupt : nil,
            refcountBits: header.refcountBits,
            encrypt: encrypt,
            bitmaps: bitmapList.isEmpty ? nil : bitmapList,
            compressionType: header.compressionType.name)
    }

    /// The info of a raw file of `fileSize` bytes.
    public init(rawFilename filename: String, fileSize: UInt64, actualSize: UInt64?) {
        self.filename = filename
        format = "raw"
        dirtyFlag = false
        self.actualSize = actualSize
        virtualSize = QCOW2Format.roundedUpToSectors(fileSize) ?? fileSize
        snapshots = []
    }

    /// Reads everything `qemu-img info` shows about an open qcow2 image: the snapshot
    /// table, the bitmap directory and the LUKS header, with qemu's checks on each.
    public init(image: QCOW2Image, filename: String, actualSize: UInt64?) throws {
        // qemu reads (and checks) the snapshot table on open, but lists no internal snapshots
        // of an image with an external data file (its snapshot calls return -ENOTSUP).
        let snapshots = image.header.snapshotCount > 0 ? try image.snapshotTable() : nil
        self.init(filename: filename, header: image.header, snapshots: image.header.hasExternalDataFile ? nil : snapshots,
                  bitmaps: try QCOW2BitmapDirectory.read(from: image), luks: try LUKSHeader.read(from: image),
                  actualSize: actualSize)
    }

    /// qemu's `bdrv_make_absolute_filename`: protocol names and absolute paths stay as
    /// they are; anything else is joined to the folder part of `image` (up to its last `/`).
    public static func resolve(_ backing: String, relativeTo image: String) -> String {
        let beforeSeparator = backing.prefix { $0 != ":" && $0 != "/" }
        let hasProtocol = beforeSeparator.count < backing.count && backing[beforeSeparator.endIndex] == ":"
        if hasProtocol || backing.hasPrefix("/") { return backing }
        guard let slash = image.lastIndex(of: "/") else { return backing }
        return String(image[...slash]) + backing
    }

    /// The qemu-img JSON value (members in QAPI order; printing reorders them like qemu).
    public var json: QemuJSON {
        var members: [(String, QemuJSON)] = [("filename", .string(filename)), ("format", .string(format))]
        if let dirtyFlag { members.append(("dirty-flag", .bool(dirtyFlag))) }
        if let actualSize { members.append(("actual-size", .uint(actualSize))) }
        members.append(("virtual-size", .uint(virtualSize)))
        if let clusterSize { members.append(("cluster-size", .int(Int64(clusterSize)))) }
        if let encrypted { members.append(("encrypted", .bool(encrypted))) }
        if let backingFilename { members.append(("backing-filename", .string(backingFilename))) }
        if let fullBackingFilename { members.append(("full-backing-filename", .string(fullBackingFilename))) }
        if let backingFilenameFormat { members.append(("backing-filename-format", .string(backingFilenameFormat))) }
        if !snapshots.isEmpty { members.append(("snapshots", .array(snapshots.map(\.json)))) }
        if let formatSpecific {
            members.append(("format-specific", .object([("type", .string("qcow2")), ("data", formatSpecific.json)])))
        }
        return .object(members)
    }
}

extension ImageInfo.SnapshotInfo {
    /// The snapshot as qemu-img prints it.
    public var json: QemuJSON {
        var members: [(String, QemuJSON)] = [
            ("id", .string(id)), ("name", .string(name)), ("vm-state-size", .uint(vmStateSize)),
            ("date-sec", .int(Int64(dateSeconds))), ("date-nsec", .int(Int64(dateNanoseconds))),
            ("vm-clock-sec", .uint(vmClockNanoseconds / 1_000_000_000)),
            ("vm-clock-nsec", .uint(vmClockNanoseconds % 1_000_000_000)),
        ]
        if let icount { members.append(("icount", .uint(icount))) }
        return .object(members)
    }
}

extension ImageInfo.QCOW2FormatInfo {
    /// `format-specific.data` as qemu-img prints it.
    public var json: QemuJSON {
        var members: [(String, QemuJSON)] = [("compat", .string(compat))]
        if let dataFile { members.append(("data-file", .string(dataFile))) }
        if let dataFileRaw { members.append(("data-file-raw", .bool(dataFileRaw))) }
        if let extendedL2 { members.append(("extended-l2", .bool(extendedL2))) }
        if let lazyRefcounts { members.append(("lazy-refcounts", .bool(lazyRefcounts))) }
        if let corrupt { members.append(("corrupt", .bool(corrupt))) }
        members.append(("refcount-bits", .int(Int64(refcountBits))))
        if let encrypt { members.append(("encrypt", encrypt.json)) }
        if let bitmaps { members.append(("bitmaps", .array(bitmaps.map(\.json)))) }
        members.append(("compression-type", .string(compressionType)))
        return .object(members)
    }
}

extension ImageInfo.Encryption {
    /// `encrypt` as qemu-img 7.2 prints it.
    public var json: QemuJSON {
        switch self {
        case .aes:
            return .object([("format", .string("aes"))])
        case let .luks(header):
            var members: [(String, QemuJSON)] = [
                ("format", .string("luks")), ("cipher-alg", .string(header.cipherAlgorithm)), ("cipher-mode", .string(header.cipherMode)),
                ("ivgen-alg", .string(header.ivGenerator)),
            ]
            if let hash = header.ivGeneratorHash { members.append(("ivgen-hash-alg", .string(hash))) }
            members += [
                ("hash-alg", .string(header.hashAlgorithm)), ("payload-offset", .int(Int64(header.payloadOffset))),
                ("master-key-iters", .int(Int64(header.masterKeyIterations))), ("uuid", .string(header.uuid)),
            ]
            let slots: [QemuJSON] = header.keySlots.map { slot in
                var s: [(String, QemuJSON)] = [("active", .bool(slot.isActive))]
                if slot.isActive { s += [("iters", .int(Int64(slot.iterations))), ("stripes", .int(Int64(slot.stripes)))] }
                s.append(("key-offset", .int(Int64(slot.keyOffset))))
                return .object(s)
            }
            members.append(("slots", .array(slots)))
            return .object(members)
        }
    }
}

extension ImageInfo.BitmapInfo {
    /// The bitmap as qemu-img prints it.
    public var json: QemuJSON {
        .object([("name", .string(name)), ("granularity", .uint(granularity)), ("flags", .array(flags.map { .string($0) }))])
    }
}
