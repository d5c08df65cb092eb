import Foundation
import Testing
import TestSupport

/// `qcowtool check`, `map` and `convert` on the qemu-made `qcow2-data` images: the exact text of
/// the JSON and the human output, the spellings of `--json`, and what a refusal leaves behind.
@Suite(.enabled(if: DataImages.shared != nil))
struct CheckMapConvertCommandTests {
    func run(_ arguments: [String]) throws -> Oracle.Output {
        try Tool.run(arguments, in: try #require(DataImages.shared).folder.path)
    }

    /// The stored qemu-img verdict `NAME.qcow2.SUFFIX` as text.
    func oracle(_ name: String, _ suffix: String) throws -> String {
        String(decoding: try #require(DataImages.shared).stored("\(name).qcow2", suffix), as: UTF8.self)
    }

    @Test(arguments: ["compat010", "leak", "badref", "zlib", "snapshots"])
    func checkPrintsQemuJSONAndExitCode(name: String) throws {
        let out = try run(["check", "--json", "\(name).qcow2"])
        #expect(out.text == (try oracle(name, "check.json")))
        #expect("\(out.status)\n" == (try oracle(name, "check.rc")))
        let qemuSpelling = try run(["check", "--output=json", "\(name).qcow2"])
        #expect(qemuSpelling.text == out.text && qemuSpelling.status == out.status)
        let human = try run(["check", "\(name).qcow2"])
        #expect(human.status == out.status)
        #expect(human.text.contains("Image end offset: "))
    }

    @Test func checkOfAMissingFileIsOneLineAndExit1() throws {
        let out = try run(["check", "missing.qcow2"])
        #expect(out.status == 1 && out.text.isEmpty)
        #expect(out.stderr == "qcowtool: check: cannot open 'missing.qcow2': No such file or directory\n")
    }

    /// The open goes through `SystemCall`; the line names the file once and says why, also
    /// when the format is forced (convert then reads the source as raw).
    @Test func mapAndConvertOfAMissingFileAreOneLineAndExit1() throws {
        let map = try run(["map", "missing.qcow2"])
        #expect(map.status == 1 && map.text.isEmpty)
        #expect(map.stderr == "qcowtool: map: cannot open 'missing.qcow2': No such file or directory\n")
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("qcowtool-missing-\(UUID().uuidString).raw").path
        for format in [[], ["-f", "raw"], ["-f", "qcow2"]] {
            let convert = try run(["convert", "-O", "raw"] + format + ["missing.qcow2", output])
            #expect(convert.status == 1 && convert.text.isEmpty)
            #expect(convert.stderr == "qcowtool: convert: cannot open 'missing.qcow2': No such file or directory\n", "\(format)")
            #expect(!Tool.exists(output))
        }
    }

    @Test func mapJSONMatchesQemuAndHumanNamesKinds() throws {
        let out = try run(["map", "--json", "chain-top.qcow2"])
        let expected = try oracle("chain-top", "map.json")
        #expect(out.status == 0 && out.text == expected)
        let human = try run(["map", "zlib.qcow2"])
        #expect(human.status == 0 && human.text.contains("compressed") && human.text.contains("data"))
    }

    @Test func convertWritesTheGuestDisk() throws {
        let folder = try TemporaryFolder("convert-cli")
        defer { folder.remove() }
        let out = try run(["convert", "-O", "raw", "chain-top.qcow2", folder.file("disk.raw")])
        #expect(out.status == 0 && out.stderr.isEmpty)
        let expectedSum = try oracle("chain-top", "raw.sha256")
        #expect(try Tool.sha256(folder.file("disk.raw")) + "\n" == expectedSum)
        let wrongFormat = try run(["convert", "-O", "qcow2", "zlib.qcow2", folder.file("x")])
        #expect(wrongFormat.status != 0)
        #expect(!Tool.exists(folder.file("x")))
    }

    @Test func convertRefusesAnUnsafeChainAndLeavesNothing() throws {
        let images = try #require(DataImages.shared)
        let folder = try TemporaryFolder("convert-evil")
        defer { folder.remove() }
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: images.folder.file("chain-top.qcow2"))))
        let name = Array("chain-mid2.qcow2".utf8)
        let at = try #require((0..<4096).first { Array(bytes[$0..<($0 + name.count)]) == name })
        // An absolute name that exists (a missing one fails earlier, as qemu-img's open does).
        bytes.replaceSubrange(at..<(at + name.count), with: Array("/etc//////passwd".utf8))
        try Data(bytes).write(to: URL(fileURLWithPath: folder.file("evil.qcow2")))
        let out = try Tool.run(["convert", "-O", "raw", "evil.qcow2", "out.raw"], in: folder.path)
        #expect(out.status == 1)
        #expect(out.stderr.split(separator: "\n").count == 1 && out.stderr.contains("absolute path"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["evil.qcow2"])
    }
}
