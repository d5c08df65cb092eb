import Foundation
import Testing
import TestSupport

/// Files qemu-img would probe as a format qcowtool does not read: `package`, `extract` and
/// `verify` refuse such a `disk.img`; `inspect -f raw` reports it as an audit error;
/// `inspect`, `check`, `map` and `convert` without `-f` say, in one line, which format qemu-img
/// would open it as (the name `qemu-img info` prints) instead of reading it as raw.
@Suite struct FormatConfusionTests {
    /// Issue 12's VMDK descriptor: qemu would read the host file it names as the disk.
    static let descriptor = "version=1\ncreateType=\"monolithicFlat\"\nRW 16 FLAT \"/etc/hostname\" 0\n"

    /// Overwrites the start of `path` with `text`, keeping its size.
    static func writeStart(_ path: String, _ text: String) throws {
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.write(contentsOf: Data(text.utf8))
        try handle.close()
    }

    /// One error line on stderr, holding every word of `words`.
    static func oneLine(_ result: Oracle.Output, naming words: [String]) -> Bool {
        Tool.errorLines(result).count == 1 && words.allSatisfy { result.stderr.contains($0) }
    }

    @Test("a disk.img holding a VMDK descriptor is refused by package, extract and verify (exit 2, one line)",
          .enabled(if: ArchiveTests.hasArchivers))
    func archiveWithVMDKDescriptorDisk() throws {
        let folder = try TemporaryFolder("qcowtool-confusion")
        defer { folder.remove() }
        #expect(try Tool.run(["new-disk", "img", "--size", "1"], in: folder.path).status == 0)
        #expect(try Tool.run(["package", "-q", "img", "good.tar.zst"], in: folder.path).status == 0)
        try Self.writeStart(folder.file("img/disk.img"), Self.descriptor)

        let package = try Tool.run(["package", "-q", "img", "bad.tar.zst"], in: folder.path)
        #expect(package.status == 2 && Self.oneLine(package, naming: ["disk.img", "vmdk"]), "\(package.status) \(package.stderr)")
        #expect(!Tool.exists(folder.file("bad.tar.zst")))

        // The same archive built by tar, as a hostile supplier would.
        let made = try Oracle.shell("tar -C img -cSf - disk.img layer.qcow2 machine.json | zstd -q > bad.tar.zst", currentDirectory: folder.path)
        try #require(made.status == 0, "\(made.stderr)")
        for command in [["verify", "-q", "bad.tar.zst"], ["extract", "-q", "bad.tar.zst", "out"]] {
            let result = try Tool.run(command, in: folder.path)
            #expect(result.status == 2 && Self.oneLine(result, naming: ["disk.img", "format-confusion", "vmdk"]),
                    "\(command[0]): \(result.status) \(result.stderr)")
            #expect(!Tool.exists(folder.file("out")))
        }
        let strict = try Tool.run(["inspect", "--strict", "-f", "raw", "img/disk.img"], in: folder.path)
        #expect(strict.status == 1 && strict.text.contains("format-confusion") && !strict.text.contains("audit: safe"), "\(strict.text)")
    }

    @Test("inspect -f raw reports format confusion as an audit error; without -f it names the probed format")
    func inspect() throws {
        let folder = try TemporaryFolder("qcowtool-confusion-inspect")
        defer { folder.remove() }
        try Data(Self.descriptor.utf8).write(to: URL(fileURLWithPath: folder.file("d.img")))
        try Data(repeating: 0, count: 4096).write(to: URL(fileURLWithPath: folder.file("zero.img")))

        let forced = try Tool.run(["inspect", "-f", "raw", "d.img"], in: folder.path)
        #expect(forced.status == 0 && forced.text.contains("format-confusion") && forced.text.contains("vmdk"), "\(forced.text)")
        #expect(!forced.text.contains("audit: safe"))
        let forcedJSON = try Tool.run(["inspect", "--json", "-f", "raw", "d.img"], in: folder.path)
        let object = try JSONSerialization.jsonObject(with: forcedJSON.stdout) as? [String: Any]
        #expect((object?["audit"] as? [String: Any])?["safe"] as? Bool == false)
        #expect(try Tool.run(["inspect", "--strict", "-f", "raw", "d.img"], in: folder.path).status == 1)

        let probed = try Tool.run(["inspect", "d.img"], in: folder.path)
        #expect(probed.status == 1 && probed.text.isEmpty && Self.oneLine(probed, naming: ["d.img", "vmdk", "does not read"]),
                "\(probed.status) \(probed.stderr)")
        // --json stays well-formed: the other files' objects, the refusal on stderr.
        let several = try Tool.run(["inspect", "--json", "zero.img", "d.img"], in: folder.path)
        #expect(several.status == 1 && Self.oneLine(several, naming: ["d.img", "vmdk"]))
        let array = try JSONSerialization.jsonObject(with: several.stdout) as? [[String: Any]]
        #expect(array?.count == 1 && array?.first?["format"] as? String == "raw")
    }

    @Test("check, map and convert without -f refuse a file qemu-img probes as another format, in one line")
    func checkMapConvert() throws {
        let folder = try TemporaryFolder("qcowtool-confusion-commands")
        defer { folder.remove() }
        try Data(Self.descriptor.utf8).write(to: URL(fileURLWithPath: folder.file("d.img")))
        for command in [["check", "d.img"], ["map", "d.img"], ["convert", "-O", "raw", "d.img", "out.raw"]] {
            let result = try Tool.run(command, in: folder.path)
            #expect(result.status == 1 && Self.oneLine(result, naming: ["d.img", "vmdk"]), "\(command[0]): \(result.status) \(result.stderr)")
            #expect(result.text.isEmpty && !Tool.exists(folder.file("out.raw")))
        }
        // Forced raw, they read the bytes as qemu-img -f raw does.
        #expect(try Tool.run(["map", "-f", "raw", "d.img"], in: folder.path).status == 0)
        #expect(try Tool.run(["check", "-f", "raw", "d.img"], in: folder.path).status == 63)
    }

    @Test("inspect names the format qemu-img info names, for images qemu-img makes", .enabled(if: Tool.hasQemu))
    func namesWhatQemuImgNames() throws {
        let folder = try TemporaryFolder("qcowtool-confusion-qemu")
        defer { folder.remove() }
        for format in ["qcow", "qed", "vdi", "vhdx", "vpc", "vmdk", "parallels"] {
            let name = "image.\(format)"
            #expect(try Oracle.run("qemu-img", ["create", "-q", "-f", format, name, "1M"], currentDirectory: folder.path).status == 0)
            let qemu = try Oracle.run("qemu-img", ["info", "--output=json", name], currentDirectory: folder.path)
            let named = (try JSONSerialization.jsonObject(with: qemu.stdout) as? [String: Any])?["format"] as? String
            #expect(named == format)
            let ours = try Tool.run(["inspect", name], in: folder.path)
            #expect(ours.status == 1 && Self.oneLine(ours, naming: ["file format: \(format))"]), "\(format): \(ours.stderr)")
        }
    }
}
