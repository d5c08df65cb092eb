import Foundation
import Testing
import TestSupport

/// The `qcowtool` binary `swift build` leaves in `.build/debug`.
let qcowtoolPath: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url.appendingPathComponent(".build/debug/qcowtool").path
}()

/// `qcowtool inspect` as a process: exit codes, stdout and the one stderr line.
/// Runs the binary `swift build` left in `.build/debug`; skipped when it is not there.
@Suite(.enabled(if: FileManager.default.isExecutableFile(atPath: qcowtoolPath)))
struct InspectCommandTests {
    static let tool = qcowtoolPath

    func run(_ arguments: [String]) throws -> Oracle.Output {
        try Oracle.run(Self.tool, arguments, currentDirectory: HeaderFixtures.folder)
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
        let qemu = try String(contentsOfFile: HeaderFixtures.path("snapshots.qcow2.info.json"), encoding: .utf8)
        let qemuBody = InfoTests.withoutActualSize(String(qemu.dropLast(3)))  // drop "\n}\n"
        #expect(InfoTests.withoutActualSize(out.text).hasPrefix(qemuBody + ",\n    \"audit\": {\n        \"safe\": true,"))
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
