import Foundation
import Testing
import TestSupport

/// The one chain policy of `inspect --backing-chain`, `check`, `map` and `convert`: files an
/// image names are never waited on or read through (FIFO, symlink, directory, device), and
/// `--trust-chain` follows a user's own chain exactly as qemu-img does.
@Suite struct ChainPolicyTests {
    /// Runs qcowtool under `timeout`, so a command that blocks fails the test (status 124)
    /// instead of hanging it.
    static func timed(_ arguments: [String], in folder: String) throws -> Oracle.Output {
        try Oracle.run("timeout", ["30", Tool.binary] + arguments, currentDirectory: folder)
    }

    static func qemu(_ arguments: [String], in folder: String) throws -> Oracle.Output {
        try Oracle.run("qemu-img", arguments, currentDirectory: folder)
    }

    /// Turns the backing-format header extension of a v3 image into the end marker, as
    /// `break-headers.py --drop-backing-format` does (qemu-img 7.2 will not write such a file).
    static func dropBackingFormat(_ path: String) throws {
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        func u32(_ at: Int) -> Int { bytes[at..<at + 4].reduce(0) { $0 << 8 | Int($1) } }
        var at = u32(100)
        while at + 8 <= bytes.count {
            let type = u32(at), length = u32(at + 4)
            if type == 0 { break }
            if type == 0xE279_2ACA {
                bytes.replaceSubrange(at..<at + 8, with: [UInt8](repeating: 0, count: 8))
                try Data(bytes).write(to: URL(fileURLWithPath: path))
                return
            }
            at += 8 + (length + 7) / 8 * 8
        }
        throw TestFailure("no backing-format extension in \(path)")
    }

    /// `top.qcow2` naming `base.raw` (raw) beside it, with `base.raw` left for the caller to make.
    static func topNaming(_ name: String, format: String = "raw", in folder: TemporaryFolder) throws {
        let made = try qemu(["create", "-q", "-f", "qcow2", "-u", "-b", name, "-F", format, "top.qcow2", "1M"], in: folder.path)
        #expect(made.status == 0, "\(made.stderr)")
    }

    @Test("a FIFO, folder or device named as the backing file is never waited on or read, with or without --trust-chain",
          .enabled(if: Tool.hasQemu))
    func nonRegularBackingFiles() throws {
        var kinds: [(label: String, make: [String], word: String)] = [
            ("FIFO", ["mkfifo", "base.raw"], "FIFO"),
            ("folder", ["mkdir", "base.raw"], "directory"),
        ]
        if getuid() == 0 { kinds.append(("device", ["mknod", "base.raw", "c", "1", "3"], "character device")) }
        for kind in kinds {
            let folder = try TemporaryFolder("chain-\(kind.label)")
            defer { folder.remove() }
            try Self.topNaming("base.raw", in: folder)
            let made = try Oracle.run(kind.make[0], Array(kind.make.dropFirst()), currentDirectory: folder.path)
            #expect(made.status == 0, "\(kind.label): \(made.stderr)")
            for trust in [[], ["--trust-chain"]] {
                let what = "\(kind.label) \(trust)"
                let map = try Self.timed(["map"] + trust + ["top.qcow2"], in: folder.path)
                #expect(map.status == 0 && map.stderr.contains(kind.word), "\(what) map: \(map.status) \(map.stderr)")
                let convert = try Self.timed(["convert", "-O", "raw"] + trust + ["top.qcow2", "out.raw"], in: folder.path)
                #expect(convert.status == 1 && convert.stderr.contains(kind.word), "\(what) convert: \(convert.status) \(convert.stderr)")
                #expect(!FileManager.default.fileExists(atPath: folder.file("out.raw")))
                let inspect = try Self.timed(["inspect", "--backing-chain"] + trust + ["top.qcow2"], in: folder.path)
                #expect(inspect.status != 124 && inspect.stderr.contains(kind.word), "\(what) inspect: \(inspect.status) \(inspect.stderr)")
                #expect(inspect.text.components(separatedBy: "image: ").count == 2, "\(what): only the image itself is inspected")
                let check = try Self.timed(["check"] + trust + ["top.qcow2"], in: folder.path)
                #expect(check.status != 124, "\(what) check blocked")
            }
        }
    }

    @Test("a symlinked backing file is refused by inspect --backing-chain, map and convert, with or without --trust-chain",
          .enabled(if: Tool.hasQemu))
    func symlinkedBackingFiles() throws {
        let folder = try TemporaryFolder("chain-symlink")
        defer { folder.remove() }
        // A secret outside the image's control, and a disk.img beside the image linking to it.
        try Data("secret host data\n".utf8).write(to: URL(fileURLWithPath: folder.file("secret.txt")))
        try FileManager.default.createSymbolicLink(atPath: folder.file("disk.img"), withDestinationPath: folder.file("secret.txt"))
        try Self.topNaming("disk.img", in: folder)
        for trust in [[], ["--trust-chain"]] {
            let inspect = try Self.timed(["inspect", "--backing-chain", "--strict"] + trust + ["top.qcow2"], in: folder.path)
            #expect(inspect.status == 1 && inspect.stderr.contains("symbolic link"), "\(trust) inspect: \(inspect.status) \(inspect.stderr)")
            #expect(!inspect.text.contains("secret.txt") && inspect.text.components(separatedBy: "image: ").count == 2)
            let map = try Self.timed(["map"] + trust + ["top.qcow2"], in: folder.path)
            #expect(map.status == 0 && map.stderr.contains("symbolic link"), "\(trust) map: \(map.stderr)")
            let convert = try Self.timed(["convert", "-O", "raw"] + trust + ["top.qcow2", "out.raw"], in: folder.path)
            #expect(convert.status == 1 && convert.stderr.contains("symbolic link"), "\(trust) convert: \(convert.stderr)")
            #expect(Tool.errorLines(convert).count == 1)
        }
    }

    /// A libvirt-style chain, four files deep: `top.qcow2` names `sub/mid.qcow2` with no
    /// backing format (probed: qcow2), which names `low.qcow2` relative to its own folder
    /// (`sub/low.qcow2`, no format), which names `base.raw` by its absolute path, format raw.
    static func libvirtChain(in folder: TemporaryFolder) throws {
        try FileManager.default.createDirectory(atPath: folder.file("sub"), withIntermediateDirectories: false)
        let steps: [[String]] = [
            ["qemu-img", "create", "-q", "-f", "raw", "base.raw", "2M"],
            ["qemu-io", "-f", "raw", "-c", "write -P 0x11 0 64k", "-c", "write -P 0x12 1M 64k", "base.raw"],
            ["qemu-img", "create", "-q", "-f", "qcow2", "-b", folder.file("base.raw"), "-F", "raw", "sub/low.qcow2"],
            ["qemu-io", "-f", "qcow2", "-c", "write -P 0x22 64k 64k", "-c", "write -z 1M 4k", "sub/low.qcow2"],
            ["qemu-img", "create", "-q", "-f", "qcow2", "-b", "low.qcow2", "-F", "qcow2", "sub/mid.qcow2"],
            ["qemu-io", "-f", "qcow2", "-c", "write -P 0x44 192k 8k", "sub/mid.qcow2"],
            ["qemu-img", "create", "-q", "-f", "qcow2", "-b", "sub/mid.qcow2", "-F", "qcow2", "top.qcow2"],
            ["qemu-io", "-f", "qcow2", "-c", "write -P 0x33 128k 4k", "top.qcow2"],
        ]
        for step in steps {
            let run = try Oracle.run(step[0], Array(step.dropFirst()), currentDirectory: folder.path)
            #expect(run.status == 0, "\(step): \(run.stderr)")
        }
        try dropBackingFormat(folder.file("top.qcow2"))
        try dropBackingFormat(folder.file("sub/mid.qcow2"))
    }

    @Test("--trust-chain follows a libvirt-style chain as qemu-img does: map --json, convert -O raw, check, inspect",
          .enabled(if: Tool.hasQemu && Oracle.has("qemu-io")))
    func trustedChainMatchesQemu() throws {
        let folder = try TemporaryFolder("chain-libvirt")
        defer { folder.remove() }
        try Self.libvirtChain(in: folder)
        let top = "top.qcow2"

        let qemuMap = try Self.qemu(["map", "--output=json", top], in: folder.path)
        #expect(qemuMap.status == 0, "\(qemuMap.stderr)")
        let ourMap = try Self.timed(["map", "--json", "--trust-chain", top], in: folder.path)
        #expect(ourMap.status == 0, "\(ourMap.stderr)")
        let mapDiff = JSON.differences(try JSON.parse(qemuMap.stdout, "qemu-img map"), try JSON.parse(ourMap.stdout, "qcowtool map"))
        #expect(mapDiff.isEmpty, "map: \(mapDiff.joined(separator: "; "))")

        let qemuConvert = try Self.qemu(["convert", "-O", "raw", top, "qemu.raw"], in: folder.path)
        #expect(qemuConvert.status == 0, "\(qemuConvert.stderr)")
        let ourConvert = try Self.timed(["convert", "-O", "raw", "--trust-chain", top, "ours.raw"], in: folder.path)
        #expect(ourConvert.status == 0, "\(ourConvert.stderr)")
        #expect(try Tool.sha256(folder.file("ours.raw")) == Tool.sha256(folder.file("qemu.raw")), "convert output differs from qemu-img's")

        for name in [top, "sub/mid.qcow2", "sub/low.qcow2"] {
            let qemuCheck = try Self.qemu(["check", name], in: folder.path)
            for trust in [[], ["--trust-chain"]] {
                let ourCheck = try Self.timed(["check"] + trust + [name], in: folder.path)
                #expect(ourCheck.status == qemuCheck.status, "\(name) \(trust): check exit \(ourCheck.status), qemu-img \(qemuCheck.status)")
            }
        }

        let qemuInfo = try Self.qemu(["info", "--backing-chain", "--output=json", top], in: folder.path)
        let ourInfo = try Self.timed(["inspect", "--backing-chain", "--trust-chain", "--json", top], in: folder.path)
        #expect(ourInfo.status == 0, "\(ourInfo.stderr)")
        func filenames(_ data: Data, _ what: String) throws -> [String] {
            (try JSON.parse(data, what) as? [[String: Any]] ?? []).compactMap { $0["filename"] as? String }
        }
        let expectedNames = try filenames(qemuInfo.stdout, "qemu-img info")
        #expect(expectedNames.count == 4)
        #expect(try filenames(ourInfo.stdout, "qcowtool inspect") == expectedNames)

        // Without the flag nothing changes, and every refusal names it.
        let refusedMap = try Self.timed(["map", top], in: folder.path)
        #expect(refusedMap.status == 0 && refusedMap.stderr.contains("--trust-chain"), "\(refusedMap.stderr)")
        let refusedConvert = try Self.timed(["convert", "-O", "raw", top, "refused.raw"], in: folder.path)
        #expect(refusedConvert.status == 1 && refusedConvert.stderr.contains("--trust-chain"), "\(refusedConvert.stderr)")
        #expect(Tool.errorLines(refusedConvert).count == 1)
        let refusedInspect = try Self.timed(["inspect", "--backing-chain", top], in: folder.path)
        #expect(refusedInspect.stderr.contains("--trust-chain"), "\(refusedInspect.stderr)")
        let refusedMid = try Self.timed(["convert", "-O", "raw", "sub/low.qcow2", "refused.raw"], in: folder.path)
        #expect(refusedMid.status == 1 && refusedMid.stderr.contains("--trust-chain"), "\(refusedMid.stderr)")
    }

    @Test("--trust-chain still refuses a loop, a chain deeper than 16, and json: or protocol names",
          .enabled(if: Tool.hasQemu))
    func trustedChainLimits() throws {
        let folder = try TemporaryFolder("chain-limits")
        defer { folder.remove() }
        for (name, backing) in [("loop-a.qcow2", "loop-b.qcow2"), ("loop-b.qcow2", "loop-a.qcow2")] {
            let made = try Self.qemu(["create", "-q", "-f", "qcow2", "-u", "-b", backing, "-F", "qcow2", name, "1M"], in: folder.path)
            #expect(made.status == 0, "\(made.stderr)")
        }
        let loopMap = try Self.timed(["map", "--trust-chain", "loop-a.qcow2"], in: folder.path)
        #expect(loopMap.stderr.contains("loop"), "\(loopMap.status) \(loopMap.stderr)")
        let loopConvert = try Self.timed(["convert", "-O", "raw", "--trust-chain", "loop-a.qcow2", "out.raw"], in: folder.path)
        #expect(loopConvert.status == 1 && loopConvert.stderr.contains("loop"), "\(loopConvert.stderr)")
        let loopInspect = try Self.timed(["inspect", "--backing-chain", "--trust-chain", "loop-a.qcow2"], in: folder.path)
        #expect(loopInspect.stderr.contains("loop") && loopInspect.text.components(separatedBy: "image: ").count == 3)
        #expect(try Self.timed(["check", "--trust-chain", "loop-a.qcow2"], in: folder.path).status != 124)

        var previous = "deep-0.qcow2"
        let base = try Self.qemu(["create", "-q", "-f", "qcow2", previous, "1M"], in: folder.path)
        #expect(base.status == 0)
        for depth in 1...17 {
            let name = "deep-\(depth).qcow2"
            let made = try Self.qemu(["create", "-q", "-f", "qcow2", "-u", "-b", folder.file(previous), "-F", "qcow2", name, "1M"], in: folder.path)
            #expect(made.status == 0, "\(made.stderr)")
            previous = name
        }
        let sixteen = try Self.timed(["convert", "-O", "raw", "--trust-chain", "deep-16.qcow2", "sixteen.raw"], in: folder.path)
        #expect(sixteen.status == 0, "\(sixteen.stderr)")
        let seventeen = try Self.timed(["convert", "-O", "raw", "--trust-chain", "deep-17.qcow2", "seventeen.raw"], in: folder.path)
        #expect(seventeen.status == 1 && seventeen.stderr.contains("more than 16"), "\(seventeen.stderr)")

        try FileManager.default.copyItem(atPath: "\(Tool.fixtures("qcow2"))/flagged-backing-json.qcow2", toPath: folder.file("json.qcow2"))
        let json = try Self.timed(["convert", "-O", "raw", "--trust-chain", "json.qcow2", "json.raw"], in: folder.path)
        #expect(json.status == 1 && json.stderr.contains("protocol"), "\(json.stderr)")
    }

    @Test("create: --trust-chain stores an absolute backing name; --allow-unsafe-backing-name is its old spelling",
          .enabled(if: Tool.hasQemu))
    func createTrustChain() throws {
        let folder = try TemporaryFolder("chain-create")
        defer { folder.remove() }
        let base = folder.file("base.raw")
        #expect(try Self.qemu(["create", "-q", "-f", "raw", base, "1M"], in: folder.path).status == 0)
        let refused = try Self.timed(["create", "-q", "-b", base, "-F", "raw", "refused.qcow2"], in: folder.path)
        #expect(refused.status == 1 && refused.stderr.contains("--trust-chain"), "\(refused.stderr)")
        for (flag, name) in [("--trust-chain", "new.qcow2"), ("--allow-unsafe-backing-name", "old.qcow2")] {
            let made = try Self.timed(["create", "-q", flag, "-b", base, "-F", "raw", name], in: folder.path)
            #expect(made.status == 0, "\(flag): \(made.stderr)")
            let info = try Self.qemu(["info", "--output=json", name], in: folder.path)
            let object = try JSON.parse(info.stdout, "qemu-img info") as? [String: Any]
            #expect(object?["backing-filename"] as? String == base)
        }
        let help = try Tool.run(["create", "--help"])
        #expect(help.text.contains("--trust-chain") && !help.text.contains("--allow-unsafe-backing-name"))
    }

    @Test("an image whose bitmap directory lies past the end of the file is refused by check, map and convert, as by qemu-img",
          .enabled(if: Tool.hasQemu))
    func bitmapDirectoryPastEnd() throws {
        let folder = Tool.fixtures("qcow2")
        let name = "parity-bitmap-directory-past-eof.qcow2"
        let out = try TemporaryFolder("bitmap-eof")
        defer { out.remove() }
        for command in [["check"], ["map", "--json"], ["convert", "-O", "raw"]] {
            let target = command[0] == "convert" ? [out.file("\(command[0]).raw")] : []
            let qemu = try Self.qemu(command.map { $0 == "--json" ? "--output=json" : $0 } + [name] + target.map { $0 + ".qemu" }, in: folder)
            let ours = try Self.timed(command + [name] + target, in: folder)
            #expect(qemu.status == 1 && qemu.stderr.contains("doesn't satisfy the constraints"), "qemu-img \(command): \(qemu.stderr)")
            #expect(ours.status == 1 && ours.stderr.contains("doesn't satisfy the constraints"), "\(command): \(ours.status) \(ours.stderr)")
            #expect(Tool.errorLines(ours).count == 1)
        }
        #expect(!FileManager.default.fileExists(atPath: out.file("convert.raw")))
    }

    @Test("a file name with byte 0xff (not UTF-8) is opened by inspect, check, map, convert and create, as by qemu-img, and shown as \\xff",
          .enabled(if: Tool.hasQemu))
    func fileNameWithInvalidUTF8() throws {
        let folder = try TemporaryFolder("argv-bytes")
        defer { folder.remove() }
        // The shell makes and passes the name byte for byte; Foundation cannot spell it.
        let tool = Tool.binary
        let script = """
            name="$(printf 'disk\\377.qcow2')"
            qemu-img create -q -f qcow2 "$name" 1M || exit 10
            qemu-io -f qcow2 -c 'write -P 0x5a 0 64k' "$name" >/dev/null || exit 11
            "\(tool)" inspect "$name" >/dev/null || exit 1
            "\(tool)" check "$name" >/dev/null || exit 2
            "\(tool)" map --json "$name" >ours.json || exit 3
            qemu-img map --output=json "$name" >qemu.json || exit 12
            cmp -s ours.json qemu.json || exit 4
            "\(tool)" convert -O raw "$name" "$(printf 'out\\377.raw')" || exit 5
            qemu-img convert -O raw "$name" qemu.raw || exit 13
            cmp -s "$(printf 'out\\377.raw')" qemu.raw || exit 6
            "\(tool)" create -f qcow2 "$(printf 'new\\377.qcow2')" 1G >/dev/null || exit 7
            qemu-img check -q "$(printf 'new\\377.qcow2')" || exit 8
            "\(tool)" inspect "$(printf 'missing\\377.qcow2')" 2>err.txt; grep -qF 'missing\\xff.qcow2' err.txt || exit 9
            [ "$(ls | grep -c create-)" = 0 ] || exit 14
            """
        let run = try Oracle.shell(script, currentDirectory: folder.path)
        #expect(run.status == 0, "step \(run.status): \(run.stderr)")
    }
}
