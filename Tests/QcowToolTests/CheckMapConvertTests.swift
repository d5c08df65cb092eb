import Foundation
import Testing
import TestSupport

/// One qcow2 fixture for the check/map/convert comparisons: its folder and name.
struct Fixture: Sendable, CustomTestStringConvertible {
    var folder: String
    var name: String
    var testDescription: String { key }
    /// The name for the deviation tables: the TestImages/qcow2 name, or `data:NAME` for qcow2-data.
    var key: String { folder == HeaderImages.folder ? name : "data:\(name)" }

    /// Every qcow2 image of `TestImages/qcow2` that qemu-img info opens.
    static let headerImages = HeaderImages.openedQcow2.map { Fixture(folder: HeaderImages.folder, name: $0) }
}

/// Where qcowtool deliberately (or, for `knownBugs`, wrongly) differs from qemu-img on a fixture
/// qemu-img opens. Every other fixture must match qemu-img exactly.
enum Deviation {
    /// Backing chains qemu-img follows and qcowtool refuses to (absolute, `json:` or unformatted
    /// backing names): map shows the image alone, convert refuses. (An empty backing name, as in
    /// flagged-truncated-extensions.qcow2, is no backing file at all, for qemu and for us.)
    static let unsafeChain: Set<String> = ["backing-noformat.qcow2", "flagged-backing-absolute.qcow2",
                                           "flagged-backing-json.qcow2"]
    /// External data files that map and convert refuse: none any more (they read a data file
    /// when qemu's working-directory-relative name and the name beside the image are one file).
    static let dataFile: Set<String> = []
    /// A snapshot table outside the file: none any more (qcowtool now reports the incomplete
    /// entry as a corruption and maps and converts the image, as qemu-img does).
    static let snapshotTableOutside: Set<String> = []
    /// Bugs found and not fixed yet (none now): fixture names per command, not asserted.
    static let knownBugs: [String: Set<String>] = [:]
}

/// `check`, `map` and `convert` against qemu-img, live and stored, plus human output and exit codes.
@Suite struct CheckMapConvertTests {
    // MARK: stored qemu-img verdicts (no oracle needed beyond zstd to unpack)

    @Test("check --json, map --json and convert -O raw match the stored qemu-img verdicts of qcow2-data",
          .enabled(if: DataImages.shared != nil))
    func storedVerdicts() throws {
        let images = try #require(DataImages.shared)
        #expect(images.names.count >= 16)
        for name in images.names {
            let check = try Tool.run(["check", "--json", name], in: images.folder.path)
            let storedRC = String(decoding: try images.stored(name, "check.rc"), as: UTF8.self)
                .trimmingCharacters(in: .whitespacesAndNewlines)
            #expect("\(check.status)" == storedRC, "\(name): check exit \(check.status), qemu-img \(storedRC)")
            let checkDiff = JSON.differences(try JSON.parse(try images.stored(name, "check.json"), "\(name).check.json"),
                                             try JSON.parse(check.stdout, "check \(name)"), ignoring: ["filename"])
            #expect(checkDiff.isEmpty, "\(name) check: \(checkDiff.joined(separator: "; "))")

            let map = try Tool.run(["map", "--json", name], in: images.folder.path)
            #expect(map.status == 0, "\(name): \(map.stderr)")
            let mapDiff = JSON.differences(try JSON.parse(try images.stored(name, "map.json"), "\(name).map.json"),
                                           try JSON.parse(map.stdout, "map \(name)"))
            #expect(mapDiff.isEmpty, "\(name) map: \(mapDiff.joined(separator: "; "))")

            let raw = images.folder.file("\(name).stored.raw")
            let convert = try Tool.run(["convert", "-O", "raw", name, raw], in: images.folder.path)
            #expect(convert.status == 0, "\(name): \(convert.stderr)")
            let expected = String(decoding: try images.stored(name, "raw.sha256"), as: UTF8.self).prefix { !$0.isWhitespace }
            #expect(try Tool.sha256(raw) == String(expected), "\(name): convert output differs from qemu-img's")
            try? FileManager.default.removeItem(atPath: raw)
        }
    }

    // MARK: live qemu-img

    /// Every qcow2 fixture: the qcow2-data images (unpacked) and the TestImages/qcow2 ones qemu opens.
    static let liveFixtures: [Fixture] = {
        let data = DataImages.shared.map { images in images.names.map { Fixture(folder: images.folder.path, name: $0) } } ?? []
        return data + Fixture.headerImages
    }()

    @Test("check, map and convert agree with live qemu-img", .enabled(if: Tool.hasQemu), arguments: CheckMapConvertTests.liveFixtures)
    func matchesLiveQemu(fixture: Fixture) throws {
        let name = fixture.name
        let folder = fixture.folder
        let key = fixture.key
        let bugs = Deviation.knownBugs

        // check: same exit status and JSON, on every image qemu-img could open.
        let qemuCheck = try Oracle.run("qemu-img", ["check", "-f", "qcow2", "--output=json", name], currentDirectory: folder)
        let ourCheck = try Tool.run(["check", "-f", "qcow2", "--json", name], in: folder)
        let qemuOpened = !qemuCheck.stdout.isEmpty  // exit 1 with JSON: the check ran but hit check-errors
        if Deviation.snapshotTableOutside.contains(key) {
            #expect(qemuCheck.status == 2 && ourCheck.status == 1, "\(name): qemu \(qemuCheck.status), ours \(ourCheck.status)")
            #expect(Tool.errorLines(ourCheck).count == 1, "\(name): \(ourCheck.stderr)")
        } else if qemuOpened && !(bugs["check"]?.contains(key) ?? false) {
            #expect(ourCheck.status == qemuCheck.status, "\(name): check exit \(ourCheck.status), qemu-img \(qemuCheck.status)")
            let differences = JSON.differences(try JSON.parse(qemuCheck.stdout, "qemu-img check \(name)"),
                                               try JSON.parse(ourCheck.stdout, "qcowtool check \(name)"))
            #expect(differences.isEmpty, "\(name) check: \(differences.joined(separator: "; "))")
        } else if !(bugs["check"]?.contains(key) ?? false) {
            // qemu-img could not open the image (or what it names): exit 1, one line, no JSON.
            #expect(ourCheck.status == 1 && ourCheck.stdout.isEmpty, "\(name): qemu-img check refused (\(qemuCheck.stderr)), ours exited \(ourCheck.status)")
            #expect(Tool.errorLines(ourCheck).count == 1, "\(name): \(ourCheck.stderr)")
        }

        // map: same records where both follow the same chain.
        let qemuMap = try Oracle.run("qemu-img", ["map", "-f", "qcow2", "--output=json", name], currentDirectory: folder)
        let ourMap = try Tool.run(["map", "--json", name], in: folder)
        if Deviation.dataFile.contains(key) || Deviation.snapshotTableOutside.contains(key) {
            #expect(ourMap.status == 1 && Tool.errorLines(ourMap).count == 1, "\(name): \(ourMap.status) \(ourMap.stderr)")
        } else if Deviation.unsafeChain.contains(key) {
            #expect(ourMap.status == 0, "\(name): \(ourMap.stderr)")
            let records = try #require(try JSON.parse(ourMap.stdout, "map \(name)") as? [[String: Any]])
            #expect(records.allSatisfy { $0["depth"] as? Int == 0 }, "\(name): followed a refused backing chain")
        } else if qemuMap.status == 0 && !(bugs["map"]?.contains(key) ?? false) {
            #expect(ourMap.status == 0, "\(name): \(ourMap.stderr)")
            let differences = JSON.differences(try JSON.parse(qemuMap.stdout, "qemu-img map \(name)"),
                                               try JSON.parse(ourMap.stdout, "qcowtool map \(name)"))
            #expect(differences.isEmpty, "\(name) map: \(differences.joined(separator: "; "))")
        } else if qemuMap.status != 0 {
            #expect(ourMap.status == 1 && Tool.errorLines(ourMap).count == 1, "\(name): qemu-img map refused (\(qemuMap.stderr)), ours: \(ourMap.status) \(ourMap.stderr)")
        }

        // convert -O raw: the same bytes, or both refuse.
        let out = try TemporaryFolder("qcowtool-convert")
        defer { out.remove() }
        let qemuConvert = try Oracle.run("qemu-img", ["convert", "-f", "qcow2", "-O", "raw", name, out.file("qemu.raw")],
                                         currentDirectory: folder)
        let ourConvert = try Tool.run(["convert", "-O", "raw", name, out.file("ours.raw")], in: folder)
        if bugs["convert"]?.contains(key) ?? false { return }
        if qemuConvert.status != 0 || Deviation.unsafeChain.contains(key) || Deviation.dataFile.contains(key)
            || Deviation.snapshotTableOutside.contains(key) {
            #expect(ourConvert.status == 1, "\(name): qemu-img refused (\(qemuConvert.stderr)) but convert exited \(ourConvert.status)")
            #expect(Tool.errorLines(ourConvert).count == 1, "\(name): \(ourConvert.stderr)")
            let left = (try? FileManager.default.contentsOfDirectory(atPath: out.path)) ?? []
            #expect(left.allSatisfy { $0 == "qemu.raw" }, "\(name): partial output left: \(left)")
        } else {
            #expect(ourConvert.status == 0, "\(name): \(ourConvert.stderr)")
            #expect(try Tool.sha256(out.file("ours.raw")) == (try Tool.sha256(out.file("qemu.raw"))), "\(name): raw differs")
        }
    }

    // MARK: human output, exit codes, --svg

    @Test("check: human text and exit codes 0 clean, 3 leaks, 2 corruptions, 1 not completed",
          .enabled(if: DataImages.shared != nil))
    func checkExitCodes() throws {
        let images = try #require(DataImages.shared)
        let folder = images.folder.path
        let clean = try Tool.run(["check", "zero.qcow2"], in: folder)
        #expect(clean.status == 0)
        #expect(clean.text.contains("No errors were found on the image."), "\(clean.text)")
        #expect(clean.text.contains("Image end offset: "))
        let leak = try Tool.run(["check", "leak.qcow2"], in: folder)
        #expect(leak.status == 3)
        #expect(leak.text.contains("1 leaked clusters were found on the image."), "\(leak.text)")
        let bad = try Tool.run(["check", "badref.qcow2"], in: folder)
        #expect(bad.status == 2)
        #expect(bad.text.contains("2 errors were found on the image."), "\(bad.text)")
        let badJSON = try JSON.parse(try Tool.run(["check", "--json", "badref.qcow2"], in: folder).stdout, "badref") as? [String: Any]
        #expect(badJSON?["corruptions"] as? Int == 2)
        // Not a qcow2 image at all: raw has no check (63, as qemu-img); forced to qcow2, it cannot be opened (1).
        let raw = try Tool.run(["check", "raw.img"], in: HeaderImages.folder)
        #expect(raw.status == 63 && Tool.errorLines(raw).count == 1, "\(raw.status) \(raw.stderr)")
        let forced = try Tool.run(["check", "-f", "qcow2", "raw.img"], in: HeaderImages.folder)
        #expect(forced.status == 1 && Tool.errorLines(forced).count == 1, "\(forced.status) \(forced.stderr)")
        let hostile = try Tool.run(["check", "--json", "hostile-l1-too-large.qcow2"], in: HeaderImages.folder)
        #expect(hostile.status == 1 && Tool.errorLines(hostile).count == 1, "\(hostile.status) \(hostile.stderr)")
    }

    @Test("map: one human line per region with offsets, kind and depth; --svg draws a picture",
          .enabled(if: DataImages.shared != nil))
    func mapHumanAndSVG() throws {
        let images = try #require(DataImages.shared)
        let result = try Tool.run(["map", "chain-top.qcow2"], in: images.folder.path)
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.text.split(separator: "\n")
        #expect(lines.first?.hasPrefix("Offset") == true)
        // The regions tile the guest disk: each starts where the previous ended, up to 1 MiB.
        var next: UInt64 = 0
        var kinds: Set<String> = []
        for line in lines.dropFirst() {
            let fields = line.split(separator: " ")
            try #require(fields.count >= 4, "\(line)")
            let start = UInt64(fields[0].dropFirst(2), radix: 16)
            let length = UInt64(fields[1].dropFirst(2), radix: 16)
            #expect(start == next, "\(line)")
            next = (start ?? 0) + (length ?? 0)
            kinds.insert(String(fields[2]))
        }
        #expect(next == 1 << 20)
        #expect(kinds.isSuperset(of: ["data", "backing"]), "\(kinds)")

        let svg = images.folder.file("chain-top.svg")
        let drawn = try Tool.run(["map", "--svg", svg, "chain-top.qcow2"], in: images.folder.path)
        #expect(drawn.status == 0, "\(drawn.stderr)")
        #expect(drawn.text == result.text)
        let picture = try String(contentsOfFile: svg, encoding: .utf8)
        #expect(picture.hasPrefix("<svg") && picture.contains("<rect") && picture.contains("</svg>"))
        #expect(picture.contains("chain-top.qcow2"))
    }
}
