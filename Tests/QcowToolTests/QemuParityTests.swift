import Foundation
import Testing
import TestSupport

/// Where qcowtool must behave exactly like the installed qemu-img: backing names with any
/// bytes, images whose backing or data file qemu-img cannot open, check's JSON text, and
/// create's refusal of an unknown format. Each test runs both tools now, on the same files.
@Suite(.enabled(if: Tool.hasQemu)) struct QemuParityTests {
    /// The lines of `text` that name the backing file (`backing-filename`, `full-backing-filename`).
    static func backingLines(_ text: String) -> [Substring] {
        text.split(separator: "\n").filter { $0.contains("backing-filename\"") }
    }

    /// Overwrites the stored backing name of `path` (same length) with `name`.
    static func patchBackingName(_ path: String, _ name: [UInt8]) throws {
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let offset = bytes[8..<16].reduce(0) { $0 << 8 | Int($1) }
        let length = bytes[16..<20].reduce(0) { $0 << 8 | Int($1) }
        try #require(name.count == length)
        bytes.replaceSubrange(offset..<(offset + length), with: name)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    static let backingNames: [[UInt8]] = [
        [0x62, 0x61, 0xFF, 0x73, 0x65], [0xC3, 0x28], [0xE2, 0x82], [0xF0, 0x9F, 0x98, 0x80], [0xC0, 0x80, 0x78],
        [0xEF, 0xBF, 0xBE], [0xED, 0xA0, 0x80], [0x01, 0x02, 0x1F, 0x7F], Array("a\"b\\c/d".utf8),
        [0x08, 0x0C, 0x0A, 0x0D, 0x09], [0xC2, 0x80, 0xC2, 0xA0], [0xF4, 0x90, 0x80, 0x80],
        [0xF8, 0x88, 0x80, 0x80, 0x80], [0xFC, 0x84, 0x80, 0x80, 0x80, 0x80], [0xFE, 0xFF], [0xE0, 0x80, 0xAF],
        [0xC1, 0xBF], [0xEF, 0xB7, 0x90], [0xF0, 0x8F, 0xBF, 0xBF], [0x80, 0x80], [0xC3], [0x78, 0xE2],
        [0xF7, 0xBF, 0xBF, 0xBF], [0xEF, 0xBF, 0xBF], [0xF3, 0xBF, 0xBF, 0xBE],
    ]

    @Test("inspect --json prints backing names with invalid UTF-8 and control characters byte for byte as qemu-img info does")
    func backingNameBytes() throws {
        let folder = try TemporaryFolder("qcowtool-names")
        defer { folder.remove() }
        let placeholder = String(repeating: "A", count: 12)
        let made = try Oracle.run("qemu-img", ["create", "-q", "-f", "qcow2", "-u", "-b", placeholder, "-F", "raw", "base.qcow2", "1M"],
                                  currentDirectory: folder.path)
        try #require(made.status == 0, "\(made.stderr)")
        for (index, name) in Self.backingNames.enumerated() {
            let file = "name\(index).qcow2"
            try FileManager.default.copyItem(atPath: folder.file("base.qcow2"), toPath: folder.file(file))
            try Self.patchBackingName(folder.file(file), name + [UInt8](repeating: 0x7A, count: 12 - name.count))
            let qemu = try Oracle.run("qemu-img", ["info", "--output=json", file], currentDirectory: folder.path)
            let ours = try Tool.run(["inspect", "--json", file], in: folder.path)
            #expect(qemu.status == 0 && ours.status == 0, "\(name): \(qemu.stderr) \(ours.stderr)")
            let expected = Self.backingLines(qemu.text)
            #expect(expected.count == 2, "\(name): \(qemu.text)")
            #expect(Self.backingLines(ours.text) == expected, "bytes \(name)")
        }
    }

    @Test("check --json prints exactly qemu-img check --output=json's text on every fixture qemu-img checks")
    func checkJSONText() throws {
        let names = HeaderImages.openedQcow2 + HeaderImages.refused.filter { $0.hasSuffix(".qcow2") }
        #expect(names.contains("hostile-no-refcount-table.qcow2"))
        for name in names {
            let qemu = try Oracle.run("qemu-img", ["check", "-f", "qcow2", "--output=json", name], currentDirectory: HeaderImages.folder)
            let ours = try Tool.run(["check", "-f", "qcow2", "--json", name], in: HeaderImages.folder)
            #expect(ours.status == qemu.status, "\(name): qemu-img \(qemu.status) (\(qemu.stderr)), ours \(ours.status) (\(ours.stderr))")
            #expect(ours.text == qemu.text, "\(name): check JSON text differs")
            if qemu.stdout.isEmpty {
                #expect(Tool.errorLines(ours).count == 1, "\(name): \(ours.stderr)")
            }
        }
    }

    @Test("check without -f probes like qemu-img: a raw file has no check (exit 63), another format's header fails (exit 1)")
    func checkProbesTheFormat() throws {
        let names = HeaderImages.opened.filter { !$0.hasSuffix(".qcow2") } + ["hostile-bad-magic.qcow2", "v3.qcow2"]
        for name in names {
            let qemu = try Oracle.run("qemu-img", ["check", name], currentDirectory: HeaderImages.folder)
            let ours = try Tool.run(["check", name], in: HeaderImages.folder)
            #expect(ours.status == qemu.status, "\(name): qemu-img \(qemu.status) \(qemu.stderr), ours \(ours.status) \(ours.stderr)")
            if qemu.status != 0 { #expect(Tool.errorLines(ours).count == 1, "\(name): \(ours.stderr)") }
        }
        #expect(try Tool.run(["check", "raw.img"], in: HeaderImages.folder).status == 63)
        #expect(try Tool.run(["check", "-f", "qcow2", "raw.img"], in: HeaderImages.folder).status == 1)
    }

    @Test("map and convert without -f read a file qemu-img probes as raw like qemu-img: holes, data, a partial last sector")
    func rawInput() throws {
        let folder = try TemporaryFolder("qcowtool-raw-input")
        defer { folder.remove() }
        let made = try Oracle.shell("head -c 3000 /dev/urandom > odd.raw && truncate -s 1M holes.raw "
                                    + "&& printf abc | dd of=holes.raw bs=1 seek=600000 conv=notrunc 2>/dev/null", currentDirectory: folder.path)
        try #require(made.status == 0, "\(made.stderr)")
        let inputs = [folder.file("odd.raw"), folder.file("holes.raw")]
            + ["raw.img", "disk.img", "hostile-bad-magic.qcow2"].map { "\(HeaderImages.folder)/\($0)" }
        for input in inputs {
            let qemuMap = try Oracle.run("qemu-img", ["map", "--output=json", input])
            let ourMap = try Tool.run(["map", "--json", input])
            #expect(qemuMap.status == 0 && ourMap.status == 0, "\(input): \(qemuMap.stderr) \(ourMap.stderr)")
            let differences = JSON.differences(try JSON.parse(qemuMap.stdout, "qemu-img map"), try JSON.parse(ourMap.stdout, "map"))
            #expect(differences.isEmpty, "\(input): \(differences)")
            let qemuConvert = try Oracle.run("qemu-img", ["convert", "-O", "raw", input, folder.file("qemu.out")])
            let ourConvert = try Tool.run(["convert", "-O", "raw", input, folder.file("ours.out")])
            #expect(qemuConvert.status == 0 && ourConvert.status == 0, "\(input): \(ourConvert.stderr)")
            #expect(try Tool.sha256(folder.file("ours.out")) == (try Tool.sha256(folder.file("qemu.out"))), "\(input)")
        }
        // Forced to qcow2, a raw file cannot be opened.
        #expect(try Tool.run(["map", "-f", "qcow2", folder.file("odd.raw")]).status == 1)
    }

    @Test("a missing backing file: check, map and convert exit 1 with one line like qemu-img; info still exits 0")
    func missingBackingFile() throws {
        let folder = try TemporaryFolder("qcowtool-missing")
        defer { folder.remove() }
        let sh = { (command: String) throws in
            let out = try Oracle.shell(command, currentDirectory: folder.path)
            try #require(out.status == 0, "\(command): \(out.stderr)")
        }
        try sh("qemu-img create -q -f raw base.raw 1M && qemu-img create -q -f qcow2 -b base.raw -F raw top.qcow2")
        try sh("qemu-img create -q -f qcow2 -b top.qcow2 -F qcow2 upper.qcow2")
        for present in [true, false] {
            if !present { try sh("rm base.raw") }
            for image in ["top.qcow2", "upper.qcow2"] {
                for command in [["check", "--json"], ["map", "--json"], ["convert", "-O", "raw"], ["info", "--json"]] {
                    let qemuCommand = command[0] == "check" || command[0] == "map" || command[0] == "info"
                        ? [command[0], "--output=json", image] : ["convert", "-O", "raw", image, "qemu.raw"]
                    let ourCommand = command[0] == "convert" ? command + [image, "ours.raw"] : command + [image]
                    let qemu = try Oracle.run("qemu-img", qemuCommand, currentDirectory: folder.path)
                    let ours = try Tool.run(ourCommand, in: folder.path)
                    #expect(ours.status == qemu.status, "\(command[0]) \(image), base present \(present): qemu-img \(qemu.status) \(qemu.stderr), ours \(ours.status) \(ours.stderr)")
                    if qemu.status == 1 {
                        #expect(ours.stdout.isEmpty && Tool.errorLines(ours).count == 1, "\(command[0]) \(image): \(ours.stderr)")
                        #expect(ours.stderr.contains("base.raw"), "\(command[0]) \(image): \(ours.stderr)")
                    }
                }
                try? FileManager.default.removeItem(atPath: folder.file("qemu.raw"))
                try? FileManager.default.removeItem(atPath: folder.file("ours.raw"))
            }
        }
        // An unsafe backing name is looked up, not read: a missing absolute path fails like qemu-img.
        try sh("qemu-img create -q -f qcow2 -u -b /nonexistent/qcowtool-base.raw -F raw abs.qcow2 1M")
        let qemu = try Oracle.run("qemu-img", ["check", "abs.qcow2"], currentDirectory: folder.path)
        let ours = try Tool.run(["check", "abs.qcow2"], in: folder.path)
        #expect(qemu.status == 1 && ours.status == 1 && Tool.errorLines(ours).count == 1, "\(ours.stderr)")
    }

    @Test("an external data file is opened relative to the working directory, as qemu-img does")
    func dataFileFromAnotherDirectory() throws {
        let folder = try TemporaryFolder("qcowtool-datafile")
        defer { folder.remove() }
        let made = try Oracle.shell("""
            mkdir sub other && cd sub && qemu-img create -q -f qcow2 -o data_file=img.data img.qcow2 1M \
            && qemu-io -f qcow2 -c 'write -P 5 0 64k' -c 'write -P 6 512k 4k' img.qcow2 >/dev/null
            """, currentDirectory: folder.path)
        try #require(made.status == 0, "\(made.stderr)")
        for (cwd, image) in [("sub", "img.qcow2"), ("other", "../sub/img.qcow2"), (".", "sub/img.qcow2")] {
            let directory = folder.file(cwd)
            let qemuCheck = try Oracle.run("qemu-img", ["check", "--output=json", image], currentDirectory: directory)
            let ourCheck = try Tool.run(["check", "--json", image], in: directory)
            #expect(ourCheck.status == qemuCheck.status && ourCheck.text == qemuCheck.text, "check from \(cwd): \(ourCheck.stderr)")
            let qemuMap = try Oracle.run("qemu-img", ["map", "--output=json", image], currentDirectory: directory)
            let ourMap = try Tool.run(["map", "--json", image], in: directory)
            #expect(ourMap.status == qemuMap.status, "map from \(cwd): qemu-img \(qemuMap.stderr), ours \(ourMap.stderr)")
            if qemuMap.status == 0 {
                let differences = JSON.differences(try JSON.parse(qemuMap.stdout, "qemu-img map"), try JSON.parse(ourMap.stdout, "map"))
                #expect(differences.isEmpty, "map from \(cwd): \(differences)")
            } else {
                #expect(Tool.errorLines(ourMap).count == 1 && ourMap.stderr.contains("img.data"), "\(ourMap.stderr)")
            }
            let qemuConvert = try Oracle.run("qemu-img", ["convert", "-O", "raw", image, folder.file("qemu.raw")], currentDirectory: directory)
            let ourConvert = try Tool.run(["convert", "-O", "raw", image, folder.file("ours.raw")], in: directory)
            #expect(ourConvert.status == qemuConvert.status, "convert from \(cwd): \(ourConvert.stderr)")
            if qemuConvert.status == 0 {
                #expect(try Tool.sha256(folder.file("ours.raw")) == (try Tool.sha256(folder.file("qemu.raw"))), "convert from \(cwd)")
            } else {
                #expect(!Tool.exists(folder.file("ours.raw")), "convert from \(cwd) left output")
            }
            try? FileManager.default.removeItem(atPath: folder.file("qemu.raw"))
            try? FileManager.default.removeItem(atPath: folder.file("ours.raw"))
        }
    }

    @Test("create -f with a format qcowtool does not make: one line on stderr, exit 1, no file (qemu-img exits 1 for a format it does not know)")
    func createUnknownFormat() throws {
        let folder = try TemporaryFolder("qcowtool-create-format")
        defer { folder.remove() }
        let qemu = try Oracle.run("qemu-img", ["create", "-f", "nosuchformat", "x.img", "1M"], currentDirectory: folder.path)
        #expect(qemu.status == 1)
        for format in ["nosuchformat", "vmdk"] {
            let ours = try Tool.run(["create", "-f", format, "y.img", "1M"], in: folder.path)
            #expect(ours.status == 1 && ours.stdout.isEmpty, "\(format): \(ours.status)")
            #expect(Tool.errorLines(ours).count == 1 && ours.stderr.contains("'\(format)'") && !ours.stderr.contains("Usage"), "\(ours.stderr)")
            #expect(!Tool.exists(folder.file("y.img")))
        }
    }
}
