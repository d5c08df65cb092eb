import Foundation
@testable import QCOW2
import Testing
import TestSupport

/// ``ForeignFormat/detect(_:fileName:)`` against qemu-img 7.2's own probe: a table per
/// driver of files qemu-img probes as that driver's format and near misses it probes as raw.
/// Each row is written to a file and given to `qemu-img info --output=json`; qemu-img either
/// opens it and names its `format`, or (for bytes no driver can open) fails, which a raw
/// file never does, with the words of the driver that claimed it.
@Suite(.enabled(if: Oracle.has("qemu-img")))
struct FormatProbeTests {
    /// One file: its bytes and name, the format qemu-img probes ("raw" for raw), and, when
    /// qemu-img cannot open it, words of the claiming driver's error.
    struct Row {
        var label: String
        var bytes: [UInt8]
        var name = "probe.img"
        var format: String
        var refusal: String?
        /// Other files written beside it (a VMDK descriptor's extent).
        var siblings: [String: [UInt8]] = [:]
    }

    /// What qemu-img says about `row`: the format it opened, or its error.
    static func qemu(_ row: Row, in folder: TemporaryFolder) throws -> (format: String?, error: String) {
        for (name, bytes) in row.siblings { try Data(bytes).write(to: URL(fileURLWithPath: folder.file(name))) }
        try Data(row.bytes).write(to: URL(fileURLWithPath: folder.file(row.name)))
        defer { try? FileManager.default.removeItem(atPath: folder.file(row.name)) }
        let out = try Oracle.run("qemu-img", ["info", "--output=json", row.name], currentDirectory: folder.path)
        guard out.status == 0 else { return (nil, out.stderr) }
        let object = try JSONSerialization.jsonObject(with: out.stdout) as? [String: Any]
        return (object?["format"] as? String, out.stderr)
    }

    /// Checks every row: qemu-img agrees with the row, and so does our probe (and the raw
    /// audit reports format confusion exactly when the probe is not raw).
    static func check(_ rows: [Row]) throws {
        let folder = try TemporaryFolder("format-probe")
        defer { folder.remove() }
        for row in rows {
            let qemu = try qemu(row, in: folder)
            if let refusal = row.refusal {
                #expect(qemu.format == nil && qemu.error.contains(refusal), "\(row.label): qemu-img \(qemu)")
            } else {
                #expect(qemu.format == row.format, "\(row.label): qemu-img \(qemu)")
            }
            let ours = ForeignFormat.detect(Array(row.bytes.prefix(ForeignFormat.prefixLength)), fileName: row.name)
            #expect((ours?.rawValue ?? "raw") == row.format, "\(row.label): ours \(ours?.rawValue ?? "raw")")
            let audit = Audit(rawPrefix: Array(row.bytes.prefix(ForeignFormat.prefixLength)), fileSize: UInt64(row.bytes.count), fileName: row.name)
            #expect(audit.contains(.formatConfusion) == (row.format != "raw"), "\(row.label)")
        }
    }

    /// An image of `format` made by `qemu-img create` (1 MiB virtual), its bytes.
    static func created(_ format: String, _ options: [String] = []) throws -> [UInt8] {
        let folder = try TemporaryFolder("format-probe-create")
        defer { folder.remove() }
        let out = try Oracle.run("qemu-img", ["create", "-q", "-f", format] + options + ["image", "1M"], currentDirectory: folder.path)
        try #require(out.status == 0, "qemu-img create -f \(format): \(out.stderr)")
        return [UInt8](try Data(contentsOf: URL(fileURLWithPath: folder.file("image"))))
    }

    /// `bytes` with `patch` written at `offset` (growing with zeros if needed).
    static func patched(_ bytes: [UInt8], _ patch: [UInt8], at offset: Int = 0) -> [UInt8] {
        var result = bytes
        if result.count < offset + patch.count { result += [UInt8](repeating: 0, count: offset + patch.count - result.count) }
        result.replaceSubrange(offset..<(offset + patch.count), with: patch)
        return result
    }

    static func text(_ string: String) -> [UInt8] { Array(string.utf8) }
    static func be32(_ value: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: value >> (24 - 8 * $0)) } }
    static func le32(_ value: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) } }
    static let qcowMagic: [UInt8] = [0x51, 0x46, 0x49, 0xFB]
    static let vdiSignature = le32(0xBEDA_107F)

    @Test func qcow2AndQcow() throws {
        try Self.check([
            Row(label: "qcow2 v3 made by qemu-img", bytes: try Self.created("qcow2"), format: "qcow2"),
            Row(label: "qcow2 v2 made by qemu-img", bytes: try Self.created("qcow2", ["-o", "compat=0.10"]), format: "qcow2"),
            Row(label: "8 bytes: magic, version 3 (zeros past EOF)", bytes: Self.qcowMagic + Self.be32(3), format: "qcow2", refusal: "cluster size"),
            Row(label: "version 0xffffffff", bytes: Self.qcowMagic + Self.be32(.max), format: "qcow2", refusal: "qcow2 version"),
            Row(label: "qcow v1 made by qemu-img", bytes: try Self.created("qcow"), format: "qcow"),
            Row(label: "magic, version 0", bytes: Self.qcowMagic + Self.be32(0) + [UInt8](repeating: 0, count: 100), format: "raw"),
            Row(label: "magic alone, 4 bytes", bytes: Self.qcowMagic, format: "raw"),
            Row(label: "QFI\\xfa version 3", bytes: [0x51, 0x46, 0x49, 0xFA] + Self.be32(3), format: "raw"),
            Row(label: "magic at byte 1", bytes: [0] + Self.qcowMagic + Self.be32(3), format: "raw"),
        ])
    }

    @Test func qed() throws {
        try Self.check([
            Row(label: "made by qemu-img", bytes: try Self.created("qed"), format: "qed"),
            Row(label: "magic alone", bytes: Self.text("QED\0"), format: "qed", refusal: "QED"),
            Row(label: "QED\\x01", bytes: Self.text("QED\u{1}"), format: "raw"),
            Row(label: "lower case", bytes: Self.text("qed\0"), format: "raw"),
        ])
    }

    @Test func vdi() throws {
        let vdi = try Self.created("vdi")
        try Self.check([
            Row(label: "made by qemu-img", bytes: vdi, format: "vdi"),
            Row(label: "signature alone at 64", bytes: Self.patched([], Self.vdiSignature, at: 64), format: "vdi", refusal: "VDI"),
            Row(label: "signature at 63", bytes: Self.patched([], Self.vdiSignature, at: 63), format: "raw"),
            Row(label: "signature big-endian", bytes: Self.patched([], [0xBE, 0xDA, 0x10, 0x7F], at: 64), format: "raw"),
            Row(label: "text header without signature", bytes: Self.patched(vdi, [0, 0, 0, 0], at: 64), format: "raw"),
        ])
    }

    @Test func vhdxAndVpc() throws {
        try Self.check([
            Row(label: "vhdx made by qemu-img", bytes: try Self.created("vhdx"), format: "vhdx"),
            Row(label: "vhdxfile alone", bytes: Self.text("vhdxfile"), format: "vhdx", refusal: "VHDX"),
            Row(label: "vhdxfilE", bytes: Self.text("vhdxfilE"), format: "raw"),
            Row(label: "vpc made by qemu-img", bytes: try Self.created("vpc"), format: "vpc"),
            Row(label: "conectix alone", bytes: Self.text("conectix"), format: "vpc", refusal: "checksum"),
            Row(label: "conectiX", bytes: Self.text("conectiX"), format: "raw"),
            Row(label: "conectix at byte 1", bytes: Self.text(" conectix"), format: "raw"),
        ])
    }

    @Test func vmdkBinary() throws {
        let sparse = try Self.created("vmdk")
        try Self.check([
            Row(label: "monolithicSparse made by qemu-img", bytes: sparse, format: "vmdk"),
            Row(label: "streamOptimized made by qemu-img", bytes: try Self.created("vmdk", ["-o", "subformat=streamOptimized"]), format: "vmdk"),
            Row(label: "KDMV alone", bytes: Self.text("KDMV"), format: "vmdk", refusal: "L1 entry size"),
            Row(label: "COWD alone", bytes: Self.text("COWD"), format: "vmdk", refusal: "Invalid argument"),
            Row(label: "KDMv", bytes: Self.patched(sparse, Self.text("KDMv")), format: "raw"),
        ])
    }

    /// A monolithicFlat descriptor body (after its version line) naming `flat.bin`.
    static func descriptor(_ newline: String = "\n") -> String {
        ["CID=fffffffe", "parentCID=ffffffff", "createType=\"monolithicFlat\"", "RW 16 FLAT \"flat.bin\" 0", ""].joined(separator: newline)
    }

    static func vmdkText(_ label: String, _ text: String, _ format: String, refusal: String? = nil) -> Row {
        Row(label: label, bytes: Array(text.utf8), format: format, refusal: refusal, siblings: ["flat.bin": [UInt8](repeating: 0x5A, count: 8192)])
    }

    @Test func vmdkDescriptor() throws {
        let body = Self.descriptor()
        let filler = String(repeating: "a", count: 600)
        try Self.check([
            Self.vmdkText("version=1", "version=1\n" + body, "vmdk"),
            Self.vmdkText("qemu-img's comment line", "# Disk DescriptorFile\nversion=1\n" + body, "vmdk"),
            Self.vmdkText("comments and lines of spaces", "#a\n# b\n  \n \r\n#\nversion=2\n" + body, "vmdk"),
            Self.vmdkText("CRLF throughout", "version=1\r\n" + Self.descriptor("\r\n"), "vmdk"),
            Self.vmdkText("version=3", "version=3\n" + body, "vmdk"),
            Self.vmdkText("issue 12's host-file extent", "version=1\ncreateType=\"monolithicFlat\"\nRW 16 FLAT \"/etc/hostname\" 0\n", "vmdk", refusal: "Invalid argument"),
            Self.vmdkText("version line ends at byte 512", "#" + String(repeating: "c", count: 500) + "\nversion=1\n", "vmdk", refusal: "invalid VMDK"),
            Self.vmdkText("version line ends at byte 513", "#" + String(repeating: "c", count: 501) + "\nversion=1\n", "raw"),
            Self.vmdkText("CRLF version line ends at byte 512", "#" + String(repeating: "c", count: 499) + "\nversion=1\r\n", "vmdk", refusal: "invalid VMDK"),
            Self.vmdkText("CRLF version line ends at byte 513", "#" + String(repeating: "c", count: 500) + "\nversion=1\r\n", "raw"),
            Self.vmdkText("comment past the window", "#" + filler + "\n" + "version=1\n" + body, "raw"),
            Self.vmdkText("leading LF", "\nversion=1\n" + body, "raw"),
            Self.vmdkText("empty line after a comment", "#x\n\nversion=1\n" + body, "raw"),
            Self.vmdkText("CR CR LF after spaces", "  \r\r\nversion=1\n" + body, "raw"),
            Self.vmdkText("lone CRLF line", "\r\nversion=1\n" + body, "raw"),
            Self.vmdkText("tab line", "\t\nversion=1\n" + body, "raw"),
            Self.vmdkText("leading space on the version line", " version=1\n" + body, "raw"),
            Self.vmdkText("version=4", "version=4\n" + body, "raw"),
            Self.vmdkText("version=1 at EOF", "version=1", "raw"),
            Self.vmdkText("version=1 CR at EOF", "version=1\r", "raw"),
            Self.vmdkText("spaces at EOF", "   ", "raw"),
            Self.vmdkText("comment without LF", "# only a comment", "raw"),
            Self.vmdkText("version = 1", "version = 1\n" + body, "raw"),
        ])
    }

    /// cloop's header with a one-block index (`block_size` 512) that qemu-img opens.
    static func cloopImage() -> [UInt8] {
        var header = Array(ForeignFormat.cloopMagic)
        header += [UInt8](repeating: 0, count: 128 - header.count)
        header += Self.be32(512) + Self.be32(1) + [0, 0, 0, 0] + Self.be32(152) + [0, 0, 0, 0] + Self.be32(162)
        return header + [UInt8](repeating: 0x78, count: 10)
    }

    @Test func cloopAndDmg() throws {
        let cloop = Self.cloopImage()
        let magic = Array(ForeignFormat.cloopMagic)
        try Self.check([
            Row(label: "cloop with a one-block index", bytes: cloop, format: "cloop"),
            Row(label: "cloop header alone", bytes: magic, format: "cloop", refusal: "block_size"),
            Row(label: "cloop header without its last LF", bytes: Array(magic.dropLast()), format: "raw"),
            Row(label: "cloop V2.1", bytes: Self.patched(cloop, Self.text("#V2.1"), at: 10), format: "raw"),
            Row(label: "*.dmg", bytes: Self.text("x"), name: "a.dmg", format: "dmg", refusal: "dmg"),
            Row(label: "*.dmg of zeros", bytes: [UInt8](repeating: 0, count: 4096), name: "zeros.dmg", format: "dmg", refusal: "dmg"),
            Row(label: "empty *.dmg (qemu does not probe empty files)", bytes: [], name: "e.dmg", format: "raw"),
            Row(label: "named .dmg (4 bytes)", bytes: Self.text("x"), name: ".dmg", format: "raw"),
            Row(label: "*.DMG", bytes: Self.text("x"), name: "a.DMG", format: "raw"),
            Row(label: "*.dmg.img", bytes: Self.text("x"), name: "a.dmg.img", format: "raw"),
        ])
    }

    /// A Bochs growing redolog of `version` with one catalog entry (4 KiB extent, 4 KiB disk).
    static func bochsImage(version: UInt32 = 0x0002_0000, magic: String = "Bochs Virtual HD Image", type: String = "Redolog") -> [UInt8] {
        func field(_ text: String, _ size: Int) -> [UInt8] { Array(text.utf8.prefix(size)) + [UInt8](repeating: 0, count: max(0, size - text.utf8.count)) }
        var header = field(magic, 32) + field(type, 16) + field("Growing", 16)
        header += Self.le32(version) + Self.le32(512)
        // catalog entries, bitmap size, extent size, then (v2) timestamp and disk size, or (v1) disk size.
        header += Self.le32(1) + Self.le32(512) + Self.le32(4096)
        header += version == 0x0001_0000 ? Self.le32(4096) + Self.le32(0) : Self.le32(0) + Self.le32(4096) + Self.le32(0)
        header += [UInt8](repeating: 0, count: 512 - header.count)
        return header + [0xFF, 0xFF, 0xFF, 0xFF]
    }

    @Test func bochs() throws {
        try Self.check([
            Row(label: "version 2", bytes: Self.bochsImage(), format: "bochs"),
            Row(label: "version 1", bytes: Self.bochsImage(version: 0x0001_0000), format: "bochs"),
            Row(label: "version 3", bytes: Self.bochsImage(version: 0x0003_0000), format: "raw"),
            Row(label: "magic not NUL-terminated (strcmp)", bytes: Self.bochsImage(magic: "Bochs Virtual HD ImageX"), format: "raw"),
            Row(label: "type Redolog2", bytes: Self.bochsImage(type: "Redolog2"), format: "raw"),
            Row(label: "type filling its field, no NUL", bytes: Self.bochsImage(type: "RedologRedologRe"), format: "raw"),
        ])
    }

    @Test func parallels() throws {
        let image = try Self.created("parallels")
        try Self.check([
            Row(label: "made by qemu-img", bytes: image, format: "parallels"),
            Row(label: "WithouFreSpacExt, version 2", bytes: Self.text("WithouFreSpacExt") + Self.le32(2), format: "parallels", refusal: "Invalid image"),
            Row(label: "version 3", bytes: Self.patched(image, Self.le32(3), at: 16), format: "raw"),
            Row(label: "WithoutFreeSpacE", bytes: Self.patched(image, Self.text("WithoutFreeSpacE")), format: "raw"),
        ])
    }

    @Test func luks() throws {
        var image = try HeaderFixtures.bytes("probe-luks1-header.bin")
        image += [UInt8](repeating: 0, count: 3_117_056 - image.count)
        try Self.check([
            Row(label: "LUKS1 header made by qemu-img", bytes: image, format: "luks"),
            Row(label: "magic, version 1 alone", bytes: [0x4C, 0x55, 0x4B, 0x53, 0xBA, 0xBE, 0, 1], format: "luks", refusal: "LUKS"),
            Row(label: "version 2", bytes: Self.patched(image, [0, 2], at: 6), format: "raw"),
            Row(label: "version 1 little-endian", bytes: Self.patched(image, [1, 0], at: 6), format: "raw"),
        ])
    }

    @Test func raw() throws {
        var random = SplitMix64(seed: 12)
        try Self.check([
            Row(label: "empty", bytes: [], format: "raw"),
            Row(label: "zeros", bytes: [UInt8](repeating: 0, count: 65536), format: "raw"),
            Row(label: "random", bytes: random.bytes(65536), format: "raw"),
            Row(label: "qcow2 magic past the window", bytes: Self.patched([UInt8](repeating: 0, count: 4096), Self.qcowMagic + Self.be32(3), at: 512), format: "raw"),
        ])
    }

    /// Bytes two drivers claim with the same score: the one earlier in qemu's list wins.
    @Test func ties() throws {
        let vdi = try Self.created("vdi")
        var rows: [Row] = [
            ("qcow2", Self.qcowMagic + Self.be32(3)), ("qcow", Self.qcowMagic + Self.be32(1)), ("vhdx", Self.text("vhdxfile")),
            ("vpc", Self.text("conectix")), ("vmdk KDMV", Self.text("KDMV")), ("vmdk COWD", Self.text("COWD")),
            ("vmdk descriptor", Self.text("version=1\n")), ("luks", [0x4C, 0x55, 0x4B, 0x53, 0xBA, 0xBE, 0, 1]),
        ].map { Row(label: "vdi under a \($0.0) magic", bytes: Self.patched(vdi, $0.1), format: "vdi") }
        rows.append(Row(label: "qed over a VDI signature", bytes: Self.patched(try Self.created("qed"), Self.vdiSignature, at: 64), format: "qed"))
        rows.append(Row(label: "parallels over a VDI signature",
                        bytes: Self.patched(try Self.created("parallels"), Self.vdiSignature, at: 64), format: "parallels"))
        rows.append(Row(label: "cloop named *.dmg", bytes: Self.cloopImage(), name: "c.dmg", format: "dmg", refusal: "dmg"))
        try Self.check(rows)
    }

    @Test func inspectionProbesAsQemuDoes() throws {
        let folder = try TemporaryFolder("format-probe-inspect")
        defer { folder.remove() }
        let path = folder.file("d.img")
        try Data("# Disk DescriptorFile\nversion=1\nRW 16 FLAT \"/etc/hostname\" 0\n".utf8).write(to: URL(fileURLWithPath: path))
        #expect(throws: UnreadFormatError(format: .vmdk)) { try ImageInspection(path: path) }
        let forced = try ImageInspection(path: path, format: .raw)
        #expect(forced.audit.contains(.formatConfusion) && !forced.audit.isSafe)
        #expect(forced.audit.errors.first?.message.contains("vmdk") == true)
        // A raw file qemu probes as raw stays raw, with no finding.
        try Data(Self.qcowMagic + Self.be32(1) + [UInt8](repeating: 0, count: 60)).write(to: URL(fileURLWithPath: path))
        #expect(throws: UnreadFormatError(format: .qcow)) { try ImageInspection(path: path) }
        try Data(Self.qcowMagic + Self.be32(0)).write(to: URL(fileURLWithPath: path))
        let nearMiss = try ImageInspection(path: path)
        #expect(nearMiss.format == .raw && nearMiss.audit.findings.isEmpty)
    }
}
