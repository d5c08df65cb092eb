import ByteStreams

extension Audit {
    /// What the audit knows about a qcow2 image beyond its header; each part is optional
    /// (an absent part skips the checks that need it). Gathered by ``init(image:l2ScanLimit:)``.
    struct QCOW2Facts: Sendable, Hashable {
        /// The snapshot table.
        var snapshots: QCOW2SnapshotTable?
        /// The bitmap directory.
        var bitmaps: QCOW2BitmapDirectory?
        /// End of the last cluster with a non-zero refcount (qemu-img check's image end).
        var imageEnd: UInt64?
        /// Whether an active L2 table holds a compressed cluster.
        var hasCompressedClusters: Bool?

        /// Creates facts.
        init(snapshots: QCOW2SnapshotTable? = nil, bitmaps: QCOW2BitmapDirectory? = nil,
                    imageEnd: UInt64? = nil, hasCompressedClusters: Bool? = nil) {
            self.snapshots = snapshots
            self.bitmaps = bitmaps
            self.imageEnd = imageEnd
            self.hasCompressedClusters = hasCompressedClusters
        }
    }

    /// Backing formats a qcow2 image may name: image formats only, never a protocol or a
    /// driver that exposes host files (`vvfat`, `file`, `nbd`, …).
    /// (An array, not a `Set`: `inspect` is a whole process per image, and a `Set<String>` is
    /// one more generic type for the runtime to instantiate at start-up.)
    static let safeBackingFormats: [String] = ["raw", "qcow2", "qcow", "qed", "vmdk", "vdi", "vhdx", "vpc"]

    /// Audits a parsed qcow2 header of a file of `fileSize` bytes (a pure function; the rules
    /// that read tables are ``init(image:l2ScanLimit:)``'s).
    public init(header: QCOW2Header, fileSize: UInt64) {
        self.init(header: header, fileSize: fileSize, facts: QCOW2Facts())
    }

    /// Audits a parsed qcow2 header plus whatever `facts` hold (a pure function).
    init(header: QCOW2Header, fileSize: UInt64, facts: QCOW2Facts) {
        findings = []
        auditNames(header)
        auditFeatures(header)
        auditExtensions(header)
        auditRegions(header, fileSize: fileSize, facts: facts)
        if header.snapshotCount > 0 {
            warning(.internalSnapshots, "the image holds \(header.snapshotCount) internal snapshot(s), whose data stays in the file")
        }
        if let compressed = facts.hasCompressedClusters, compressed {
            warning(.compressedClusters, "the image holds compressed clusters (\(header.compressionType.name))")
        }
        if let end = facts.imageEnd, fileSize > end {
            warning(.trailingGarbage, "the file is \(fileSize) bytes but its last allocated cluster ends at \(end): \(fileSize - end) bytes follow")
        }
    }

    private mutating func auditNames(_ header: QCOW2Header) {
        if let name = header.backingFileNameBytes, !name.untilNUL.isEmpty {
            if let problem = BackingNameProblem.check(name) {
                error(.name(problem, dataFile: false), "backing file name \(Self.show(name)): \(problem)")
            }
            if header.backingFileOffset < UInt64(header.extensionsEnd) {
                error(.backingNameOverlapsHeader, "backing_file_offset \(header.backingFileOffset) lies inside the header and its extensions (which end at \(header.extensionsEnd))")
            }
            if let format = header.backingFormat, !format.isEmpty {
                if !Self.safeBackingFormats.contains(format) {
                    error(.backingFormatUnsafe, "backing format \(TerminalText.quoted(format)) is not an image format this tool allows (\(Self.safeBackingFormats.sorted().joined(separator: ", ")))")
                }
            } else {
                error(.backingWithoutFormat, "backing file \(Self.show(name)) has no backing format, so qemu would probe it (a raw backing file could then pose as qcow2)")
            }
        }
        if header.hasExternalDataFile || header.dataFileNameBytes != nil {
            let name = header.dataFileNameBytes.map(Self.show) ?? "(no name)"
            error(.externalDataFile, "guest data lives in an external data file \(name) (incompatible bit 2: \(header.hasExternalDataFile))")
            if let bytes = header.dataFileNameBytes, let problem = BackingNameProblem.check(bytes) {
                error(.name(problem, dataFile: true), "data file name \(Self.show(bytes)): \(problem)")
            }
        }
    }

    private mutating func auditFeatures(_ header: QCOW2Header) {
        if header.cryptMethod != 0 {
            let method = QCOW2EncryptionMethod(rawValue: header.cryptMethod)?.name ?? String(header.cryptMethod)
            error(.encrypted, "the image is encrypted (crypt_method \(header.cryptMethod), \(method)); it cannot be read without a key")
        }
        if header.isDirty {
            error(.dirty, "incompatible bit 0 (dirty) is set: refcounts may be stale, the image was not closed cleanly")
        }
        if header.isCorrupt {
            error(.corrupt, "incompatible bit 1 (corrupt) is set: qemu found its metadata corrupt")
        }
        let names = header.featureNames
        if !header.compatibleFeatures.unknown.isEmpty {
            let list = names.names(of: .compatible, mask: header.compatibleFeatures.unknown.rawValue).map(TerminalText.escaping).joined(separator: ", ")
            warning(.unknownCompatibleFeatures, "compatible_features has bits unknown to qemu 7.2: \(list)")
        }
        if !header.autoclearFeatures.unknown.isEmpty {
            let list = names.names(of: .autoclear, mask: header.autoclearFeatures.unknown.rawValue).map(TerminalText.escaping).joined(separator: ", ")
            warning(.unknownAutoclearFeatures, "autoclear_features has bits unknown to qemu 7.2: \(list)")
        }
    }

    private mutating func auditExtensions(_ header: QCOW2Header) {
        if header.additionalHeaderBytes.contains(where: { $0 != 0 }) {
            warning(.unknownHeaderFields, "header bytes 105..<\(header.headerLength) hold non-zero values in fields unknown to qemu 7.2")
        }
        // Known types only: a handful, so a list (no `Set` to instantiate at start-up).
        var seen: [UInt32] = []
        for ext in header.extensions {
            if !ext.isKnown {
                warning(.unknownHeaderExtension, "header extension type 0x\(String(ext.type, radix: 16)) at byte \(ext.offset) (\(ext.data.count) bytes) is unknown to qemu 7.2")
            } else if seen.contains(ext.type) {
                error(.duplicateHeaderExtension, "the \(ext.name) extension appears more than once (again at byte \(ext.offset)); tools disagree on which one counts")
            } else {
                seen.append(ext.type)
            }
        }
        if header.bitmapsExtension != nil {
            let note = header.hasBitmaps ? "" : " (autoclear bit 0 is clear, so qemu treats them as inconsistent)"
            warning(.bitmaps, "the image holds \(header.bitmapsExtension?.bitmapCount ?? 0) persistent dirty bitmap(s)\(note)")
        }
    }

    /// A metadata region: a table or header area the image points at.
    struct Region {
        /// Which table or area (its `-outside-file` code: ``Code/outsideFile(_:)``).
        enum Kind {
            case header, l1Table, refcountTable, snapshotTable, snapshotL1Table, bitmapDirectory, bitmapTable, encryptionHeader
        }
        var name: String
        var kind: Kind
        var offset: UInt64
        var length: UInt64
    }

    private mutating func auditRegions(_ header: QCOW2Header, fileSize: UInt64, facts: QCOW2Facts) {
        let cluster = UInt64(header.clusterSize)
        // The header area itself: qemu reads bytes past the end of a short file as zeros, so
        // a truncated file can still "have" a header, extensions or a backing name.
        if UInt64(header.headerLength) > fileSize {
            error(.headerOutsideFile, "header_length \(header.headerLength) reaches past the end of the \(fileSize)-byte file")
        }
        for ext in header.extensions where UInt64(ext.end) > fileSize {
            error(.headerExtensionOutsideFile, "the \(ext.name) extension at byte \(ext.offset) ends at \(ext.end), past the end of the \(fileSize)-byte file")
        }
        if let name = header.backingFileNameBytes, !name.isEmpty, header.backingFileOffset + UInt64(name.count) > fileSize {
            error(.backingNameOutsideFile, "the backing file name at \(header.backingFileOffset) (\(name.count) bytes) ends past the end of the \(fileSize)-byte file")
        }
        var regions = [Region(name: "header cluster", kind: .header, offset: 0, length: cluster)]
        regions.append(Region(name: "active L1 table", kind: .l1Table, offset: header.l1TableOffset, length: UInt64(header.l1Size) * 8))
        regions.append(Region(name: "refcount table", kind: .refcountTable, offset: header.refcountTableOffset,
                              length: UInt64(header.refcountTableClusters) * cluster))
        if let table = facts.snapshots {
            regions.append(Region(name: "snapshot table", kind: .snapshotTable, offset: table.offset, length: table.length))
            for (i, snapshot) in table.snapshots.enumerated() {
                let bytes = UInt64(snapshot.l1Size) * 8
                if bytes > QCOW2Format.maximumL1Bytes {
                    error(.snapshotL1TableTooLarge, "snapshot \(i) (\(TerminalText.quoted(snapshot.name))) has an L1 table of \(snapshot.l1Size) entries, above qemu's 32 MiB cap")
                    continue
                }
                if snapshot.l1TableOffset % cluster != 0 {
                    error(.snapshotL1TableUnaligned, "snapshot \(i) (\(TerminalText.quoted(snapshot.name))) L1 table offset \(snapshot.l1TableOffset) is not cluster aligned")
                }
                regions.append(Region(name: "L1 table of snapshot \(i)", kind: .snapshotL1Table, offset: snapshot.l1TableOffset, length: bytes))
            }
        } else if header.snapshotCount > 0 {
            regions.append(Region(name: "snapshot table", kind: .snapshotTable, offset: header.snapshotsOffset, length: UInt64(header.snapshotCount) * 40))
        }
        if header.hasBitmaps, let ext = header.bitmapsExtension {
            regions.append(Region(name: "bitmap directory", kind: .bitmapDirectory, offset: ext.directoryOffset, length: ext.directorySize))
            for bitmap in facts.bitmaps?.bitmaps ?? [] {
                regions.append(Region(name: "table of bitmap \(TerminalText.quoted(bitmap.name))", kind: .bitmapTable, offset: bitmap.tableOffset, length: UInt64(bitmap.tableSize) * 8))
            }
        }
        if let pointer = header.encryptionHeaderPointer {
            regions.append(Region(name: "LUKS header", kind: .encryptionHeader, offset: pointer.offset, length: pointer.length))
        }

        var placed: [Region] = []
        var outside = 0
        for region in regions where region.length > 0 {
            let (end, overflow) = region.offset.addingReportingOverflow(region.length)
            if overflow || end > QCOW2Format.hostOffsetLimit {
                error(.hostOffsetOutOfRange, "\(region.name) at \(region.offset) (\(region.length) bytes) reaches past 2^56, beyond any valid host offset")
                continue
            }
            if end > fileSize {
                outside += 1
                if outside <= 16 {
                    error(.outsideFile(region.kind), "\(region.name) at \(region.offset) (\(region.length) bytes) ends at \(end), past the end of the \(fileSize)-byte file")
                }
            }
            placed.append(region)
        }
        // Overlaps: sort by start, sweep keeping the region reaching furthest.
        placed.sort { $0.offset < $1.offset }
        var reported = 0
        var furthest: Region?
        for region in placed {
            if let previous = furthest, region.offset < previous.offset + previous.length {
                reported += 1
                if reported <= 16 {
                    error(.metadataOverlap, "\(region.name) at \(region.offset) overlaps the \(previous.name) at \(previous.offset) (\(previous.length) bytes)")
                }
            }
            if furthest.map({ region.offset + region.length > $0.offset + $0.length }) ?? true { furthest = region }
        }
    }

    /// A stored name quoted for a message through ``TerminalText`` (control characters, C1
    /// and invalid UTF-8 escaped; at most 256 bytes shown).
    static func show(_ bytes: [UInt8]) -> String {
        TerminalText.quoted(bytes)
    }
}
