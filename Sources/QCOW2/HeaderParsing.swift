extension QCOW2Header {
    /// Parses and validates a header from the first bytes of a file.
    ///
    /// - Parameters:
    ///   - bytes: the file's first bytes. The first cluster (or the whole file, when it is
    ///     shorter: see ``bytesNeeded(forPrefix:fileSize:)``) always suffices; fewer do when
    ///     the header, its extensions and the backing name lie inside them (typically the
    ///     first 4 KiB). Bytes past the end of the file read as zeros, as in qemu.
    ///   - fileSize: the file's size in bytes.
    ///   - forCheck: parse as `qemu-img check` opens (qemu's `BDRV_O_CHECK`): an image
    ///     without a refcount table is accepted, so that the check can report it.
    /// - Throws: ``QCOW2HeaderError/insufficientInput(have:need:)`` when `bytes` stop
    ///   before something the parser must read (read `need` bytes and call again);
    ///   otherwise the first check qemu 7.2 would fail, in qemu's order.
    ///
    /// Allocates at most the first cluster's worth of extension and name data, whatever
    /// the header claims.
    public init(parsing bytes: [UInt8], fileSize: UInt64, forCheck: Bool = false) throws {
        // Only the first cluster (or the file, when shorter) matters; look at no more.
        let b = BigEndianBytes(bytes, count: Self.bytesNeeded(forPrefix: bytes, fileSize: fileSize))
        let have = b.count
        /// Throws when `end` lies past what we were given but inside the first cluster
        /// and the file: the caller must read `need` bytes.
        func require(_ end: Int, cluster: Int) throws {
            let limit = Int(min(UInt64(cluster), fileSize))
            if end > have, have < limit { throw QCOW2HeaderError.insufficientInput(have: have, need: limit) }
        }
        try require(QCOW2Format.version3MinimumHeaderLength, cluster: QCOW2Format.version3MinimumHeaderLength)

        let magic = b.u32(0)
        guard magic == QCOW2Format.magic else { throw QCOW2HeaderError.badMagic(magic) }
        version = b.u32(4)
        guard version == 2 || version == 3 else { throw QCOW2HeaderError.unsupportedVersion(version) }
        backingFileOffset = b.u64(8)
        backingFileSize = b.u32(16)
        clusterBits = b.u32(20)
        virtualSize = b.u64(24)
        cryptMethod = b.u32(32)
        l1Size = b.u32(36)
        l1TableOffset = b.u64(40)
        refcountTableOffset = b.u64(48)
        refcountTableClusters = b.u32(56)
        snapshotCount = b.u32(60)
        snapshotsOffset = b.u64(64)
        guard QCOW2Format.clusterBits.contains(clusterBits) else {
            throw QCOW2HeaderError.unsupportedClusterBits(clusterBits)
        }
        let clusterSize = UInt64(1) << UInt64(clusterBits)

        if version == 2 {
            incompatibleFeatures = []
            compatibleFeatures = []
            autoclearFeatures = []
            refcountOrder = 4
            headerLength = UInt32(QCOW2Format.version2HeaderLength)
        } else {
            incompatibleFeatures = QCOW2IncompatibleFeatures(rawValue: b.u64(72))
            compatibleFeatures = QCOW2CompatibleFeatures(rawValue: b.u64(80))
            autoclearFeatures = QCOW2AutoclearFeatures(rawValue: b.u64(88))
            refcountOrder = b.u32(96)
            headerLength = b.u32(100)
            guard headerLength >= UInt32(QCOW2Format.version3MinimumHeaderLength) else {
                throw QCOW2HeaderError.headerTooShort(headerLength: headerLength)
            }
            guard UInt64(headerLength) <= clusterSize else {
                throw QCOW2HeaderError.headerExceedsCluster(headerLength: headerLength, clusterSize: clusterSize)
            }
        }
        // headerLength ≤ clusterSize ≤ 2 MiB from here on.
        let length = Int(headerLength)
        try require(length, cluster: Int(clusterSize))
        compressionTypeByte = length > QCOW2Format.version3MinimumHeaderLength ? b.u8(104) : 0
        additionalHeaderBytes = length > 105 ? b.slice(105, count: length - 105) : []

        guard backingFileOffset <= clusterSize else {
            throw QCOW2HeaderError.backingFileOffsetInvalid(offset: backingFileOffset, clusterSize: clusterSize)
        }
        let extensionAreaEnd = backingFileOffset != 0 ? Int(backingFileOffset) : Int(clusterSize)

        // Compression type (qemu's validate_compression_type).
        guard QCOW2CompressionType(rawValue: compressionTypeByte) != nil else {
            throw QCOW2HeaderError.unknownCompressionType(compressionTypeByte)
        }
        if compressionTypeByte == 0 {
            if incompatibleFeatures.contains(.compressionType) { throw QCOW2HeaderError.compressionBitWithZlib }
        } else if !incompatibleFeatures.contains(.compressionType) {
            throw QCOW2HeaderError.compressionTypeWithoutBit(compressionTypeByte)
        }

        // Unknown incompatible features: name them from the image's own table, if readable.
        let unknown = incompatibleFeatures.unknown
        if !unknown.isEmpty {
            let scan = try Self.readExtensions(b, from: length, to: extensionAreaEnd, cryptMethod: cryptMethod, autoclear: autoclearFeatures, clusterSize: clusterSize, require: require)
            let table = scan.extensions.last(where: { $0.type == QCOW2HeaderExtension.featureNameTableType })?.featureNames ?? []
            throw QCOW2HeaderError.unsupportedFeatures(mask: unknown.rawValue, names: Self.unsupportedNames(table, mask: unknown.rawValue))
        }

        if incompatibleFeatures.contains(.extendedL2), clusterBits < 14 {
            throw QCOW2HeaderError.unsupportedSubclusterSize(Int(clusterSize) / 32)
        }
        guard refcountOrder <= 6 else { throw QCOW2HeaderError.refcountOrderTooLarge(refcountOrder) }
        guard cryptMethod <= 2 else { throw QCOW2HeaderError.unsupportedEncryptionMethod(cryptMethod) }

        guard refcountTableClusters != 0 || forCheck else { throw QCOW2HeaderError.noRefcountTable }
        try Self.validateTable(
            "Reference count table", offset: refcountTableOffset, entries: UInt64(refcountTableClusters),
            entryLength: clusterSize, maximumBytes: QCOW2Format.maximumRefcountTableBytes, clusterSize: clusterSize)
        try Self.validateTable(
            "Snapshot table", offset: snapshotsOffset, entries: UInt64(snapshotCount),
            entryLength: 40, maximumBytes: 40 * QCOW2Format.maximumSnapshots, clusterSize: clusterSize)
        try Self.validateTable(
            "Active L1 table", offset: l1TableOffset, entries: UInt64(l1Size),
            entryLength: 8, maximumBytes: QCOW2Format.maximumL1Bytes, clusterSize: clusterSize)

        // qemu computes size_to_l1 in int64 arithmetic; sizes past INT64_MAX go negative there.
        guard virtualSize <= UInt64(Int64.max) else { throw QCOW2HeaderError.imageTooBig(virtualSize: virtualSize) }
        extensions = []
        extensionsEnd = length
        hasEndMarker = false
        backingFileNameBytes = nil
        let needed1 = l1EntriesNeeded
        guard needed1 <= UInt64(Int32.max) else { throw QCOW2HeaderError.imageTooBig(virtualSize: virtualSize) }
        guard UInt64(l1Size) >= needed1 else { throw QCOW2HeaderError.l1TableTooSmall(l1Size: l1Size, needed: needed1) }
        if l1Size > 0 {
            try Self.checkReadable("Could not read L1 table", offset: l1TableOffset, length: UInt64(l1Size) * 8)
        }
        try Self.checkReadable(
            "Could not initialize refcount handling", offset: refcountTableOffset,
            length: UInt64(refcountTableClusters) * clusterSize)

        // Header extensions, now with their errors.
        let scan = try Self.readExtensions(b, from: length, to: extensionAreaEnd, cryptMethod: cryptMethod, autoclear: autoclearFeatures, clusterSize: clusterSize, require: require)
        if let error = scan.error { throw error }
        extensions = scan.extensions
        extensionsEnd = scan.end
        hasEndMarker = scan.sawEnd

        // qemu-img info (7.2) opens images whose data-file bits lack a name without complaint;
        // the audit flags them instead.

        // Backing file name.
        if backingFileOffset != 0 {
            let limit = min(UInt64(QCOW2Format.maximumBackingNameLength), clusterSize - backingFileOffset)
            guard UInt64(backingFileSize) <= limit else {
                throw QCOW2HeaderError.backingFileNameTooLong(offset: backingFileOffset, length: backingFileSize, clusterSize: clusterSize)
            }
            try require(Int(backingFileOffset) + Int(backingFileSize), cluster: Int(clusterSize))
            backingFileNameBytes = b.slice(Int(backingFileOffset), count: Int(backingFileSize))
        }
    }

    /// qemu's `qcow2_validate_table`: the size cap, then alignment and `INT64_MAX` overflow.
    static func validateTable(_ table: String, offset: UInt64, entries: UInt64, entryLength: UInt64,
                              maximumBytes: UInt64, clusterSize: UInt64) throws {
        guard entries <= maximumBytes / entryLength else {
            throw QCOW2HeaderError.tableTooLarge(table: table, entries: entries, maximumBytes: maximumBytes)
        }
        let bytes = entries * entryLength  // ≤ maximumBytes, cannot overflow
        guard UInt64(Int64.max) - bytes >= offset, offset & (clusterSize - 1) == 0 else {
            throw QCOW2HeaderError.tableOffsetInvalid(table: table, offset: offset)
        }
    }

    /// Throws the EIO qemu's block layer gives a read ending past ``QCOW2Format/maximumRequestEnd``.
    static func checkReadable(_ operation: String, offset: UInt64, length: UInt64) throws {
        guard offset <= QCOW2Format.maximumRequestEnd, length <= QCOW2Format.maximumRequestEnd - offset else {
            throw QCOW2HeaderError.unreadable(operation: operation, offset: offset, length: length)
        }
    }

    /// The names qemu's `report_unsupported_feature` prints for `mask`.
    static func unsupportedNames(_ table: [QCOW2FeatureName], mask: UInt64) -> [String] {
        var remaining = mask
        var names: [String] = []
        for entry in table where entry.kind == .incompatible && entry.bit < 64 {
            let bit = UInt64(1) << UInt64(entry.bit)
            if remaining & bit != 0 {
                names.append(entry.name)
                remaining &= ~bit
            }
        }
        if remaining != 0 { names.append("Unknown incompatible feature: \(String(remaining, radix: 16))") }
        return names
    }

    struct ExtensionScan {
        var extensions: [QCOW2HeaderExtension] = []
        var end: Int
        var sawEnd = false
        var error: QCOW2HeaderError?
    }

    /// qemu's `qcow2_read_extensions` over `[start, end)`; stops at the first error.
    /// `end` ≤ the cluster size ≤ 2 MiB, so no extension can claim more than that.
    /// `require(end, cluster)` throws when bytes up to `end` were not supplied.
    static func readExtensions(_ b: BigEndianBytes, from start: Int, to end: Int, cryptMethod: UInt32,
                               autoclear: QCOW2AutoclearFeatures, clusterSize: UInt64,
                               require: (Int, Int) throws -> Void) throws -> ExtensionScan {
        var scan = ExtensionScan(end: start)
        var offset = start
        while offset < end {
            try require(offset + 8, Int(clusterSize))
            let type = b.u32(offset)
            let length = b.u32(offset + 4)
            let dataStart = offset + 8
            guard dataStart <= end, UInt64(length) <= UInt64(end - dataStart) else {
                scan.error = .extensionTooLarge(offset: offset, type: type, length: length, areaEnd: end)
                return scan
            }
            if type == QCOW2HeaderExtension.endType {
                scan.sawEnd = true
                scan.end = dataStart
                return scan
            }
            try require(dataStart + Int(length), Int(clusterSize))
            let data = b.slice(dataStart, count: Int(length))
            switch type {
            case QCOW2HeaderExtension.backingFormatType where length >= 16:
                scan.error = .backingFormatTooLong(length: length)
                return scan
            case QCOW2HeaderExtension.fullDiskEncryptionType:
                guard cryptMethod == 2 else {
                    scan.error = .cryptoHeaderWithoutLUKS(cryptMethod: cryptMethod)
                    return scan
                }
                guard let pointer = QCOW2EncryptionHeaderPointer(data: data) else {
                    scan.error = .cryptoHeaderSize(length)
                    return scan
                }
                guard pointer.offset % clusterSize == 0 else {
                    scan.error = .cryptoHeaderOffsetUnaligned(offset: pointer.offset, clusterSize: clusterSize)
                    return scan
                }
            case QCOW2HeaderExtension.bitmapsType:
                if let error = bitmapsError(data, autoclear: autoclear, clusterSize: clusterSize) {
                    scan.error = error
                    return scan
                }
            default:
                break
            }
            let record = QCOW2HeaderExtension(type: type, offset: offset, data: data)
            scan.extensions.append(record)
            // Padding to 8 can step past `end`; the loop then stops, as qemu's does.
            offset = dataStart + ((Int(length) + 7) & ~7)
            scan.end = offset
        }
        return scan
    }

    /// The bitmaps-extension checks qemu makes while reading extensions (the value checks
    /// only when autoclear bit 0 says the extension is in force).
    static func bitmapsError(_ data: [UInt8], autoclear: QCOW2AutoclearFeatures,
                             clusterSize: UInt64) -> QCOW2HeaderError? {
        guard let bitmaps = QCOW2BitmapsExtension(data: data) else {
            return .bitmapsExtensionSize(UInt32(clamping: data.count))
        }
        guard autoclear.contains(.bitmaps) else { return nil }
        if bitmaps.reserved != 0 { return .bitmapsReservedNotZero(bitmaps.reserved) }
        if bitmaps.bitmapCount > 65535 { return .tooManyBitmaps(bitmaps.bitmapCount) }
        if bitmaps.bitmapCount == 0 { return .zeroBitmaps }
        if bitmaps.directoryOffset % clusterSize != 0 { return .bitmapDirectoryOffsetInvalid(bitmaps.directoryOffset) }
        if bitmaps.directorySize > 65535 * 1024 { return .bitmapDirectoryTooLarge(bitmaps.directorySize) }
        return nil
    }
}
