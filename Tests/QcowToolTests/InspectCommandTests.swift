import Foundation
import Testing
import TestSupport

/// `qcowtool inspect` on the `TestImages/qcow2` fixtures: exit codes, stdout and the one stderr line.
@Suite struct InspectCommandTests {
    func run(_ arguments: [String]) throws -> Oracle.Output {
        try Tool.run(arguments, in: HeaderImages.folder)
    }

    /// `text` without its `"actual-size"` lines (the allocation differs between checkouts).
    static func withoutActualSize(_ text: String) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false)
            .filter { !$0.contains("\"actual-size\"") }.joined(separator: "\n")
    }

    @Test func humanReportOfASafeLayer() throws {
        let out = try run(["inspect", "layer.qcow2"])
        #expect(out.status == 0 && out.stderr.isEmpty)
        #expect(out.text.contains("backing file: disk.img\nbacking file format: raw\n"))
        #expect(out.text.hasSuffix("audit: safe\n"))
    }

    @Test func jsonIsQemuImgsPlusAudit() throws {
        let out = try run(["info", "--json", "snapshots.qcow2"])
        #expect(out.status == 0)
        let qemu = try String(contentsOfFile: "\(HeaderImages.folder)/snapshots.qcow2.info.json", encoding: .utf8)
        let qemuBody = Self.withoutActualSize(String(qemu.dropLast(3)))  // drop "\n}\n"
        #expect(Self.withoutActualSize(out.text).hasPrefix(qemuBody + ",\n    \"audit\": {\n        \"safe\": true,"))
        #expect(out.text.contains("\"code\": \"internal-snapshots\""))
    }

    @Test func qemuImgSpellingOfJSON() throws {
        let ours = try run(["info", "--output=json", "v3.qcow2"])
        let spelled = try run(["inspect", "--json", "v3.qcow2"])
        #expect(ours.status == 0 && ours.text == spelled.text)
    }

    @Test func unparseableFileGivesOneStderrLine() throws {
        let out = try run(["inspect", "hostile-l1-too-large.qcow2"])
        #expect(out.status == 1 && out.text.isEmpty)
        let lines = out.stderr.split(separator: "\n")
        #expect(lines.count == 1)
        #expect(lines.first?.contains("hostile-l1-too-large.qcow2") == true)
        #expect(lines.first?.contains("Active L1 table too large") == true)
    }

    @Test func strictFailsOnAuditErrors() throws {
        #expect(try run(["inspect", "flagged-backing-absolute.qcow2"]).status == 0)
        #expect(try run(["inspect", "--strict", "flagged-backing-absolute.qcow2"]).status == 1)
        #expect(try run(["inspect", "--strict", "snapshots.qcow2"]).status == 0)  // warnings only
    }

    @Test func forcedRawFormatAndSeveralFiles() throws {
        let forced = try run(["inspect", "-f", "raw", "--json", "raw-qcow2.img"])
        #expect(forced.status == 0 && forced.text.contains("\"format\": \"raw\"") && forced.text.contains("format-confusion"))
        let several = try run(["inspect", "--json", "v2.qcow2", "missing.qcow2", "v3.qcow2"])
        #expect(several.status == 1)
        #expect(several.text.hasPrefix("[\n    {\n") && several.text.contains("\"filename\": \"v3.qcow2\""))
        #expect(several.stderr.split(separator: "\n").count == 1 && several.stderr.contains("missing.qcow2"))
    }
}
