import Foundation
import Testing
import TestSupport

/// `new-disk`, `package`, `extract` and `verify` on real folders and archives: interop with GNU
/// tar, bsdtar, zstd and qemu-img, sparseness, archives of the old shell pipeline, and hostile
/// archives built here (each must exit 2 with one line naming the member and the rule, and leave
/// no output folder).
@Suite struct ArchiveTests {
    static let hasArchivers = Oracle.has("zstd") && Oracle.has("tar")
    static let hasOldPipeline = hasArchivers && Tool.hasQemu

    /// A folder holding `img/` made by `new-disk` (1 GiB) with data written at 300 MiB and 700 MiB.
    func imageFolder(_ folder: TemporaryFolder) throws -> String {
        let made = try Tool.run(["new-disk", "img", "--size", "1"], in: folder.path)
        #expect(made.status == 0, "\(made.stderr)")
        let disk = folder.file("img/disk.img")
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: disk))
        var random = SplitMix64(seed: 7)
        for offset in [300 << 20, 700 << 20] {
            try handle.seek(toOffset: UInt64(offset))
            try handle.write(contentsOf: Data(random.bytes(12_345)))
        }
        try handle.close()
        return folder.file("img")
    }

    @Test("new-disk makes a sparse disk and a machine.json; refuses bad sizes, an existing folder, a bad machine")
    func newDisk() throws {
        let folder = try TemporaryFolder("qcowtool-newdisk")
        defer { folder.remove() }
        let made = try Tool.run(["new-disk", "img", "--size", "2"], in: folder.path)
        #expect(made.status == 0, "\(made.stderr)")
        let disk = Tool.sizes(folder.file("img/disk.img"))
        #expect(disk.size == 2 << 30)
        #expect(disk.allocated < 1 << 20, "new disk takes \(disk.allocated) bytes")
        let machine = try JSON.parse(try Data(contentsOf: URL(fileURLWithPath: folder.file("img/machine.json"))), "machine.json")
        #expect((machine as? [String: Any])?["version"] as? Int == 1)

        let again = try Tool.run(["new-disk", "img", "--size", "1"], in: folder.path)
        #expect(again.status == 1 && Tool.errorLines(again).count == 1 && again.stderr.contains("img"), "\(again.stderr)")
        for size in ["0", "81", "-3", "lots"] {
            let bad = try Tool.run(["new-disk", "big", "--size", size], in: folder.path)
            #expect(bad.status != 0 && !bad.stderr.contains("Fatal error"), "--size \(size): \(bad.status)")
            #expect(!Tool.exists(folder.file("big")), "--size \(size) left a folder")
        }
        try Data("{\"version\": 1, \"bogus".utf8).write(to: URL(fileURLWithPath: folder.file("bad.json")))
        let badMachine = try Tool.run(["new-disk", "m", "--size", "1", "--machine", "bad.json"], in: folder.path)
        #expect(badMachine.status == 2 && Tool.errorLines(badMachine).count == 1 && badMachine.stderr.contains("bad.json"),
                "\(badMachine.status) \(badMachine.stderr)")
        #expect(!Tool.exists(folder.file("m")))
        let goodMachine = try Tool.run(["new-disk", "g", "--size", "1", "--machine", "img/machine.json"], in: folder.path)
        #expect(goodMachine.status == 0, "\(goodMachine.stderr)")
    }

    @Test("package output extracts with GNU tar and bsdtar, stays sparse, its layer passes qemu-img check; extract and verify accept it",
          .enabled(if: ArchiveTests.hasArchivers))
    func packageInterop() throws {
        let folder = try TemporaryFolder("qcowtool-package")
        defer { folder.remove() }
        let image = try imageFolder(folder)
        let packed = try Tool.run(["package", image, "out.tar.zst", "-q"], in: folder.path)
        #expect(packed.status == 0, "\(packed.stderr)")
        #expect(Tool.sizes(folder.file("out.tar.zst")).size < 200_000)

        var extractors: [(String, String)] = [("gnu", "zstd -dc ../out.tar.zst | tar -xSf -")]
        if Oracle.has("bsdtar") { extractors.append(("bsd", "bsdtar -xf ../out.tar.zst")) }
        for (label, command) in extractors {
            let target = folder.file(label)
            try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: false)
            let result = try Oracle.shell(command, currentDirectory: target)
            #expect(result.status == 0, "\(label): \(result.stderr)")
            let names = try FileManager.default.contentsOfDirectory(atPath: target).sorted()
            #expect(names == ["disk.img", "layer.qcow2", "machine.json"], "\(label): \(names)")
            let disk = Tool.sizes("\(target)/disk.img")
            #expect(disk.size == 1 << 30)
            #expect(disk.allocated < 4 << 20, "\(label): disk.img takes \(disk.allocated) bytes: not sparse")
            #expect(FileManager.default.contentsEqual(atPath: "\(target)/disk.img", andPath: "\(image)/disk.img"), "\(label)")
            if Tool.hasQemu {
                let check = try Oracle.run("qemu-img", ["check", "layer.qcow2"], currentDirectory: target)
                #expect(check.status == 0, "\(label): qemu-img check layer.qcow2: \(check.text)\(check.stderr)")
                let info = try Oracle.run("qemu-img", ["info", "--output=json", "layer.qcow2"], currentDirectory: target)
                let json = try JSON.parse(info.stdout, "layer info") as? [String: Any]
                #expect(json?["backing-filename"] as? String == "disk.img")
                #expect(json?["backing-filename-format"] as? String == "raw")
            }
        }

        let verify = try Tool.run(["verify", "out.tar.zst"], in: folder.path)
        #expect(verify.status == 0, "\(verify.stderr)")
        #expect(verify.text == "out.tar.zst: valid image; disk 1073741824 bytes virtual, 32768 bytes of data\n", "\(verify.text)")
        let extract = try Tool.run(["extract", "out.tar.zst", "ours"], in: folder.path)
        #expect(extract.status == 0, "\(extract.stderr)")
        #expect(extract.text.hasPrefix("ours: disk.img 1073741824 bytes virtual"), "\(extract.text)")
        let disk = Tool.sizes(folder.file("ours/disk.img"))
        #expect(disk.size == 1 << 30 && disk.allocated < 4 << 20, "\(disk)")
        #expect(FileManager.default.contentsEqual(atPath: folder.file("ours/disk.img"), andPath: "\(image)/disk.img"))
        let strict = try Tool.run(["inspect", "--strict", "ours/layer.qcow2"], in: folder.path)
        #expect(strict.status == 0, "\(strict.text)")

        // extract never writes into an existing folder.
        let exists = try Tool.run(["extract", "out.tar.zst", "ours", "-q"], in: folder.path)
        #expect(exists.status != 0 && Tool.errorLines(exists).count == 1, "\(exists.stderr)")
    }

    @Test("package refuses a folder that breaks a rule (exit 2), and a missing folder (exit 1)")
    func packageRefusals() throws {
        let folder = try TemporaryFolder("qcowtool-package")
        defer { folder.remove() }
        let image = try imageFolder(folder)
        try Data("not json".utf8).write(to: URL(fileURLWithPath: "\(image)/machine.json"))
        let bad = try Tool.run(["package", image, "out.tar.zst", "-q"], in: folder.path)
        #expect(bad.status == 2 && Tool.errorLines(bad).count == 1 && bad.stderr.contains("machine.json"), "\(bad.status) \(bad.stderr)")
        #expect(!Tool.exists(folder.file("out.tar.zst")))
        let missing = try Tool.run(["package", "nowhere", "out.tar.zst", "-q"], in: folder.path)
        #expect(missing.status == 1 && missing.stderr == "qcowtool: package: cannot open 'nowhere': No such file or directory\n", "\(missing.stderr)")
        #expect(!Tool.exists(folder.file("out.tar.zst")))
    }

    @Test("extract and verify accept archives of the old pipeline (qemu-img create + tar -cS + zstd -3), and the sample",
          .enabled(if: ArchiveTests.hasOldPipeline))
    func oldPipeline() throws {
        let folder = try TemporaryFolder("qcowtool-old")
        defer { folder.remove() }
        let image = try imageFolder(folder)
        let made = try Oracle.shell("""
            qemu-img create -q -f qcow2 -F raw -b disk.img -o lazy_refcounts=on layer.qcow2 && \
            tar -cSf - disk.img layer.qcow2 machine.json | zstd -q -3 > ../old.tar.zst
            """, currentDirectory: image)
        try #require(made.status == 0, "\(made.stderr)")
        #expect(try Tool.run(["verify", "-q", "old.tar.zst"], in: folder.path).status == 0)
        let extract = try Tool.run(["extract", "-q", "old.tar.zst", "out"], in: folder.path)
        #expect(extract.status == 0, "\(extract.stderr)")
        #expect(FileManager.default.contentsEqual(atPath: folder.file("out/disk.img"), andPath: "\(image)/disk.img"))
        #expect(FileManager.default.contentsEqual(atPath: folder.file("out/layer.qcow2"), andPath: "\(image)/layer.qcow2"))
        #expect(Tool.sizes(folder.file("out/disk.img")).allocated < 4 << 20)

        let sample = "\(Tool.fixtures("sample"))/image.tar.zst"
        let verify = try Tool.run(["verify", sample])
        #expect(verify.status == 0, "\(verify.stderr)")
        #expect(verify.text.contains("valid image; disk 1073741824 bytes virtual"), "\(verify.text)")
        let extracted = try Tool.run(["extract", "-q", sample, folder.file("sample")])
        #expect(extracted.status == 0, "\(extracted.stderr)")
        let check = try Oracle.run("qemu-img", ["check", "layer.qcow2"], currentDirectory: folder.file("sample"))
        #expect(check.status == 0, "\(check.text)")
    }

    /// One hostile archive: the shell commands (run in a folder holding a good `img/`) that write
    /// `bad.tar.zst`, and the words the error line must contain (member and rule).
    struct Hostile: Sendable, CustomTestStringConvertible {
        var label: String
        var script: String
        var mustName: [String]
        var testDescription: String { label }
    }

    static let hostile: [Hostile] = [
        Hostile(label: "fourth member", script: """
            cd img && cp layer.qcow2 extra.bin && tar -cSf - disk.img layer.qcow2 machine.json extra.bin | zstd -q > ../bad.tar.zst
            """, mustName: ["extra.bin", "unexpected-member"]),
        Hostile(label: "symlink named disk.img", script: """
            mkdir s && ln -s /etc/passwd s/disk.img && cp img/layer.qcow2 img/machine.json s/ && \
            tar -C s -cf - disk.img layer.qcow2 machine.json | zstd -q > bad.tar.zst
            """, mustName: ["disk.img", "member-type"]),
        Hostile(label: "layer backed by /etc/shadow", script: """
            mkdir e && cp --sparse=always img/disk.img img/machine.json e/ && \
            qemu-img create -q -f qcow2 -F raw -b /etc/shadow -u e/layer.qcow2 1G && \
            tar -C e -cSf - disk.img layer.qcow2 machine.json | zstd -q > bad.tar.zst
            """, mustName: ["layer.qcow2", "layer-backing", "/etc/shadow"]),
        Hostile(label: "gzip named .tar.zst", script: """
            tar -C img -cSf - disk.img layer.qcow2 machine.json | gzip > bad.tar.zst
            """, mustName: ["bad.tar.zst", "zstd"]),
        Hostile(label: "truncated archive", script: """
            head -c 400 good.tar.zst > bad.tar.zst
            """, mustName: ["bad.tar.zst", "truncated"]),
        Hostile(label: "machine.json missing", script: """
            tar -C img -cSf - disk.img layer.qcow2 | zstd -q > bad.tar.zst
            """, mustName: ["machine.json"]),
        Hostile(label: "disk.img is a qcow2 image", script: """
            mkdir q && cp img/layer.qcow2 img/machine.json q/ && cp img/layer.qcow2 q/disk.img && \
            tar -C q -cf - disk.img layer.qcow2 machine.json | zstd -q > bad.tar.zst
            """, mustName: ["disk.img"]),
    ]

    @Test("hostile archives: extract and verify exit 2, one line naming member and rule, no output folder",
          .enabled(if: ArchiveTests.hasOldPipeline), arguments: ArchiveTests.hostile)
    func hostileArchives(_ hostile: Hostile) throws {
        let folder = try TemporaryFolder("qcowtool-hostile")
        defer { folder.remove() }
        let image = try imageFolder(folder)
        #expect(try Tool.run(["package", "-q", image, "good.tar.zst"], in: folder.path).status == 0)
        let made = try Oracle.shell(hostile.script, currentDirectory: folder.path)
        try #require(made.status == 0, "\(hostile.label): \(made.stderr)")
        for command in [["verify", "-q", "bad.tar.zst"], ["extract", "-q", "bad.tar.zst", "out"]] {
            let result = try Tool.run(command, in: folder.path)
            #expect(result.status == 2, "\(hostile.label) \(command[0]): exit \(result.status) \(result.stderr)")
            let lines = Tool.errorLines(result)
            #expect(lines.count == 1, "\(hostile.label) \(command[0]): \(result.stderr)")
            for word in hostile.mustName {
                #expect(result.stderr.contains(word), "\(hostile.label) \(command[0]): '\(word)' not in \(result.stderr)")
            }
            #expect(!Tool.exists(folder.file("out")), "\(hostile.label): extract left its folder")
        }
    }

    @Test("the hostile tars of TestImages/tar, zstd-compressed, are refused with exit 2 and one line",
          .enabled(if: Oracle.has("zstd")))
    func hostileTarFixtures() throws {
        let source = Tool.fixtures("tar")
        let names = try FileManager.default.contentsOfDirectory(atPath: source).filter { $0.hasPrefix("hostile-") && $0.hasSuffix(".tar") }.sorted()
        #expect(names.count >= 16)
        let folder = try TemporaryFolder("qcowtool-hostile-tar")
        defer { folder.remove() }
        for name in names {
            let archive = folder.file("\(name).zst")
            #expect(try Oracle.run("zstd", ["-q", "-f", "\(source)/\(name)", "-o", archive]).status == 0)
            for command in [["verify", "-q", archive], ["extract", "-q", archive, folder.file("out")]] {
                let result = try Tool.run(command, in: folder.path)
                #expect(result.status == 2, "\(name) \(command[0]): exit \(result.status) \(result.stderr)")
                #expect(Tool.errorLines(result).count == 1 && result.stderr.contains("malformed payload"), "\(name): \(result.stderr)")
                #expect(!Tool.exists(folder.file("out")), "\(name): extract left its folder")
            }
        }
    }
}
