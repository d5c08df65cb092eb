@testable import QCOW2
import Testing

/// The audit on every fixture qemu opens: exactly the expected finding codes.
struct AuditTests {
    /// Fixture → the codes its audit must report (and no others).
    static let expected: [String: Set<String>] = [
        "v2.qcow2": [], "v3.qcow2": [], "v3-4k.qcow2": [], "cluster512.qcow2": [], "cluster2m.qcow2": [],
        "refcount1.qcow2": [], "refcount64.qcow2": [], "lazy.qcow2": [], "extended-l2.qcow2": [],
        "chain-base.qcow2": [], "chain-mid.qcow2": [], "chain-top.qcow2": [], "layer.qcow2": [],
        "compressed-zlib.qcow2": ["compressed-clusters"], "compressed-zstd.qcow2": ["compressed-clusters"],
        "snapshots.qcow2": ["internal-snapshots"], "bitmap.qcow2": ["bitmaps"],
        "datafile.qcow2": ["external-data-file"], "datafile-raw.qcow2": ["external-data-file"],
        "luks.qcow2": ["encrypted"], "backing-noformat.qcow2": ["backing-without-format"],
        "dirty.qcow2": ["dirty"], "corrupt.qcow2": ["corrupt"],
        "flagged-unknown-extension.qcow2": ["unknown-header-extension"],
        "flagged-unknown-compatible-bit.qcow2": ["unknown-compatible-features"],
        "flagged-unknown-autoclear-bit.qcow2": ["unknown-autoclear-features"],
        "flagged-encryption-aes.qcow2": ["encrypted"],
        "flagged-backing-absolute.qcow2": ["backing-absolute-path"],
        "flagged-backing-slash.qcow2": ["backing-contains-slash"],
        "flagged-backing-dotdot.qcow2": ["backing-parent-reference"],
        "flagged-backing-json.qcow2": ["backing-json-pseudo-name"],
        "flagged-backing-protocol.qcow2": ["backing-protocol"],
        "flagged-backing-nul.qcow2": ["backing-invalid-characters"],
        "flagged-backing-bad-utf8.qcow2": ["backing-invalid-characters"],
        "flagged-data-file-absolute.qcow2": ["external-data-file", "data-file-absolute-path"],
        "flagged-data-file-bit-without-name.qcow2": ["external-data-file"],
        "flagged-data-file-raw-without-data-file.qcow2": [],
        "flagged-l1-beyond-eof.qcow2": ["l1-table-outside-file"],
        "flagged-l1-over-refcount-table.qcow2": ["metadata-overlap"],
        "flagged-l1-in-header-cluster.qcow2": ["metadata-overlap"],
        "flagged-l1-host-offset-2-56.qcow2": ["host-offset-out-of-range"],
        "flagged-refcount-table-beyond-eof.qcow2": ["refcount-table-outside-file"],
        "flagged-snapshots-beyond-eof.qcow2": ["snapshot-table-outside-file", "internal-snapshots"],
        "flagged-snapshots-over-l1.qcow2": ["metadata-overlap", "snapshot-table-outside-file", "internal-snapshots"],
        "flagged-trailing-garbage.qcow2": ["trailing-garbage"],
        "flagged-unknown-header-fields.qcow2": ["unknown-header-fields"],
        "flagged-truncated-extensions.qcow2": ["header-outside-file", "header-extension-outside-file", "backing-name-outside-file",
                                               "l1-table-outside-file", "refcount-table-outside-file"],
        "parity-datafile-snapshot-count.qcow2": ["external-data-file", "snapshot-l1-table-unaligned", "metadata-overlap",
                                                 "internal-snapshots"],
        "parity-empty-backing-name.qcow2": [], "parity-missing-backing.qcow2": [], "parity-size-1.qcow2": [],
        "parity-size-unaligned.qcow2": [], "parity-missing-data-file.qcow2": ["external-data-file"],
        "parity-truncated-in-l1.qcow2": ["l1-table-outside-file"], "parity-layer-l1-cut.qcow2": ["l1-table-outside-file"],
        "parity-refcount-table-on-l2.qcow2": ["external-data-file"], "parity-layer-l1-over-header.qcow2": ["metadata-overlap"],
        "raw.img": [], "disk.img": [],
        "raw-qcow2.img": ["format-confusion"], "raw-qcow1.img": ["format-confusion"],
        "raw-vmdk.img": ["format-confusion"], "raw-vmdk-descriptor.img": ["format-confusion"],
        "raw-vhd.img": ["format-confusion"], "raw-vhdx.img": ["format-confusion"], "raw-qed.img": ["format-confusion"],
        "raw-luks.img": ["format-confusion"], "raw-vdi.img": ["format-confusion"],
    ]

    /// Every fixture qemu opened has an expectation here (so a new fixture needs one).
    @Test func everyOpenableFixtureIsCovered() {
        let openable = Set(InfoTests.fixtures)
        #expect(openable.subtracting(Self.expected.keys).sorted() == [])
        #expect(Set(Self.expected.keys).subtracting(openable).sorted() == [])
    }

    @Test(arguments: expected.keys.sorted())
    func findings(name: String) throws {
        let format: ImageInspection.Format = name.hasSuffix(".img") ? .raw : .qcow2
        let inspection = try ImageInspection(path: HeaderFixtures.path(name), format: format)
        let codes = Set(inspection.audit.findings.map(\.code.rawValue))
        #expect(codes == Self.expected[name], "\(name): \(inspection.audit.findings)")
        let hasError = inspection.audit.findings.contains { $0.severity == .error }
        #expect(inspection.audit.isSafe == !hasError)
    }

    @Test func severities() throws {
        let warnings: Set<String> = ["internal-snapshots", "bitmaps", "compressed-clusters", "unknown-header-extension",
                                     "trailing-garbage", "unknown-compatible-features", "unknown-autoclear-features",
                                     "unknown-header-fields"]
        for name in Self.expected.keys.sorted() {
            let format: ImageInspection.Format = name.hasSuffix(".img") ? .raw : .qcow2
            for finding in try ImageInspection(path: HeaderFixtures.path(name), format: format).audit.findings {
                #expect((finding.severity == .warning) == warnings.contains(finding.code.rawValue), "\(name): \(finding)")
            }
        }
    }

    @Test func probingSeesThroughRawQcow2() throws {
        // Probed, a raw file holding a qcow2 header is qcow2, one holding a VMDK header is
        // VMDK (which is not read); forced raw, it is flagged.
        #expect(try ImageInspection(path: HeaderFixtures.path("raw-qcow2.img")).format == .qcow2)
        #expect(throws: UnreadFormatError(format: .vmdk)) { try ImageInspection(path: HeaderFixtures.path("raw-vmdk.img")) }
        let layer = try HeaderFixtures.bytes("layer.qcow2")
        let audit = Audit(rawPrefix: Array(layer.prefix(65536)), fileSize: UInt64(layer.count))
        #expect(audit.contains(.formatConfusion) && audit.contains(.rawBackingFile) && !audit.isSafe)
    }

    @Test func refusedImagesStillGetAnAudit() throws {
        let audit = try ImageInspection.audit(path: HeaderFixtures.path("hostile-unknown-incompatible-named.qcow2"))
        #expect(audit.findings.map(\.code) == [.unknownIncompatibleFeatures])
        #expect(audit.findings.first?.message.contains("future feature") == true)
        #expect(try ImageInspection.audit(path: HeaderFixtures.path("layer.qcow2")).isSafe)
    }

    @Test func qcowMagicIsConfusionOnlyWhereQemuProbesIt() {
        #expect(ForeignFormat.detect([0x51, 0x46, 0x49, 0xFB, 0, 0, 0, 2]) == .qcow2)
        #expect(ForeignFormat.detect([0x51, 0x46, 0x49, 0xFB, 0, 0, 0, 1]) == .qcow)
        #expect(ForeignFormat.detect([0x51, 0x46, 0x49, 0xFB]) == nil)  // version 0: raw, as qemu says
        #expect(ForeignFormat.detect([0x51, 0x46, 0x49, 0xFA, 0, 0, 0, 3]) == nil)
        #expect(ForeignFormat.detect([UInt8](repeating: 0, count: 512)) == nil)
        #expect(!Audit(rawPrefix: [0x51, 0x46, 0x49, 0xFB, 0, 0, 0, 0], fileSize: 8).contains(.formatConfusion))
        #expect(Audit(rawPrefix: [0x51, 0x46, 0x49, 0xFB, 0, 0, 0, 3], fileSize: 8).contains(.formatConfusion))
        #expect(Audit(rawPrefix: [0x78], fileSize: 1, fileName: "disk.dmg").contains(.formatConfusion))
        #expect(Audit(rawPrefix: [], fileSize: 0, fileName: "disk.dmg").findings.isEmpty)
    }

    @Test func refusalsGetStableCodes() {
        let audit = Audit(refusal: .unsupportedFeatures(mask: 1 << 9, names: ["x"]))
        #expect(audit.findings.map(\.code) == [.unknownIncompatibleFeatures] && !audit.isSafe)
        #expect(Audit(refusal: .tableTooLarge(table: "Active L1 table", entries: 1, maximumBytes: 1)).contains(.tableTooLarge))
    }

    @Test func codesAreTypedAndPrintedAsBefore() {
        let printed = Audit.Code.allCases.map(\.rawValue)
        #expect(Set(printed).count == printed.count)
        // Every code a fixture expects is a case; each prints as its string.
        #expect(Set(Self.expected.values.flatMap { $0 }).subtracting(printed).sorted() == [])
        #expect(Audit.Code(rawValue: "backing-absolute-path") == .backingAbsolutePath)
        #expect("\(Audit.Code.metadataOverlap)" == "metadata-overlap")
        let finding = Audit.Finding(code: .dirty, severity: .error, message: "m")
        #expect(finding.description == "error dirty: m")
    }

    @Test func chainPolicyDecidesOnTypedCodes() {
        let audit = Audit(findings: [
            Audit.Finding(code: .metadataOverlap, severity: .error, message: "a"),
            Audit.Finding(code: .dirty, severity: .error, message: "b"),
            Audit.Finding(code: .bitmaps, severity: .warning, message: "c"),
        ])
        // Reading a stranger's chain: own-table errors pass, others stop it; trusted, none do.
        #expect(ChainPolicy.untrusted.refusals(in: audit, for: .readThrough).map(\.code) == [.dirty])
        #expect(ChainPolicy.trusted.refusals(in: audit, for: .readThrough).isEmpty)
        // An image manager adopting a layer: every error stops it, whoever vouches.
        #expect(ChainPolicy.untrusted.refusals(in: audit, for: .adopt).map(\.code) == [.metadataOverlap, .dirty])
        #expect(ChainPolicy.trusted.refusals(in: audit, for: .adopt).map(\.code) == [.metadataOverlap, .dirty])
    }

    @Test func jsonCarriesTheAudit() throws {
        let inspection = try ImageInspection(path: HeaderFixtures.path("flagged-backing-absolute.qcow2"))
        let json = inspection.json
        #expect(json.contains("\"audit\": {\n        \"safe\": false,\n        \"findings\": [\n            {\n                \"code\": \"backing-absolute-path\""))
        #expect(json.hasSuffix("\n}"))
    }
}

/// The word-at-a-time compressed-flag scan over L2 tables, on hand-made tables.
struct CompressedFlagScanTests {
    /// A zeroed table of `cluster` bytes with the big-endian `value` stored at `offset`.
    static func table(cluster: Int = 65536, _ writes: [(offset: Int, value: UInt64)]) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: cluster)
        for (offset, value) in writes {
            for i in 0..<8 { bytes[offset + i] = UInt8(truncatingIfNeeded: value >> (56 - 8 * UInt64(i))) }
        }
        return bytes
    }

    @Test("8-byte entries: bit 62 in any entry, first or last, is found; other flags are not it")
    func standardEntries() {
        #expect(!Audit.mapsCompressedCluster(Self.table([]), entrySize: 8))
        #expect(Audit.mapsCompressedCluster(Self.table([(0, 1 << 62)]), entrySize: 8))
        #expect(Audit.mapsCompressedCluster(Self.table([(65528, (1 << 62) | 0x1234_0000)]), entrySize: 8))
        #expect(Audit.mapsCompressedCluster(Self.table(cluster: 512, [(504, 1 << 62)]), entrySize: 8))
        // Copied flag (bit 63), an offset with every other bit, and the zero flag (bit 0).
        let others: [(offset: Int, value: UInt64)] = [(8, 1 << 63), (16, 0x00FF_FFFF_FFFF_FE00), (24, 1), (32, ~(UInt64(1) << 62))]
        #expect(!Audit.mapsCompressedCluster(Self.table(others), entrySize: 8))
    }

    @Test("16-byte entries (extended L2): only the first word of each entry counts, not the subcluster bitmap")
    func extendedEntries() {
        #expect(Audit.mapsCompressedCluster(Self.table([(65520, 1 << 62)]), entrySize: 16))
        #expect(!Audit.mapsCompressedCluster(Self.table([(8, 1 << 62), (65528, ~UInt64(0))]), entrySize: 16))
        #expect(!Audit.mapsCompressedCluster(Self.table([(16, 1 << 63)]), entrySize: 16))
    }
}
