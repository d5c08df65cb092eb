import Foundation
import Testing
import TestSupport

/// `qcowtool create`: sizes, options, backing files, refusals; the result read back by our own
/// `inspect` and, when installed, judged by `qemu-img info` / `check` against qemu-img's own image.
@Suite struct CreateTests {
    /// Reads `inspect --json` of `file` as a dictionary.
    func info(_ file: String, in folder: String) throws -> [String: Any] {
        let result = try Tool.run(["inspect", "--json", file], in: folder)
        #expect(result.status == 0, "\(file): \(result.stderr)")
        return try #require(try JSON.parse(result.stdout, "inspect \(file)") as? [String: Any])
    }

    @Test("sizes with K, M, G, T suffixes and plain bytes give the virtual size", arguments: [
        ("512", 512), ("64K", 64 << 10), ("3M", 3 << 20), ("10G", 10 << 30), ("2T", 2 << 40),
    ])
    func sizes(size: String, bytes: Int) throws {
        let folder = try TemporaryFolder("qcowtool-create")
        defer { folder.remove() }
        let result = try Tool.run(["create", "-f", "qcow2", "--no-sync", "a.qcow2", size], in: folder.path)
        #expect(result.status == 0, "\(size): \(result.stderr)")
        #expect(result.text.hasPrefix("Formatting 'a.qcow2'"), "\(result.text)")
        #expect(try info("a.qcow2", in: folder.path)["virtual-size"] as? Int == bytes)
        // A 2 TiB image is still a few hundred KiB of metadata at most.
        #expect(Tool.sizes(folder.file("a.qcow2")).size < 1 << 20)
    }

    @Test("-o options land in the header as qemu-img info reports them")
    func options() throws {
        let folder = try TemporaryFolder("qcowtool-create")
        defer { folder.remove() }
        let result = try Tool.run(["create", "-q", "-f", "qcow2", "-o", "cluster_size=4k,lazy_refcounts=on",
                                   "-o", "refcount_bits=64,compression_type=zstd", "b.qcow2", "1M"], in: folder.path)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.text.isEmpty, "-q printed \(result.text)")
        let json = try info("b.qcow2", in: folder.path)
        #expect(json["cluster-size"] as? Int == 4096)
        let data = (json["format-specific"] as? [String: Any])?["data"] as? [String: Any]
        #expect(data?["lazy-refcounts"] as? Bool == true)
        #expect(data?["refcount-bits"] as? Int == 64)
        #expect(data?["compression-type"] as? String == "zstd")
        let v2 = try Tool.run(["create", "-q", "-o", "compat=0.10", "v2.qcow2", "1M"], in: folder.path)
        #expect(v2.status == 0, "\(v2.stderr)")
        #expect(((try info("v2.qcow2", in: folder.path)["format-specific"] as? [String: Any])?["data"] as? [String: Any])?["compat"] as? String == "0.10")
    }

    @Test("-b/-F: an overlay of a raw disk takes its size from the backing file")
    func backing() throws {
        let folder = try TemporaryFolder("qcowtool-create")
        defer { folder.remove() }
        #expect(Tool.makeSparseFile(folder.file("disk.img"), size: 3 << 30))
        let result = try Tool.run(["create", "-q", "-f", "qcow2", "-b", "disk.img", "-F", "raw", "layer.qcow2"], in: folder.path)
        #expect(result.status == 0, "\(result.stderr)")
        let json = try info("layer.qcow2", in: folder.path)
        #expect(json["virtual-size"] as? Int == 3 << 30)
        #expect(json["backing-filename"] as? String == "disk.img")
        #expect(json["backing-filename-format"] as? String == "raw")
        let strict = try Tool.run(["inspect", "--strict", "layer.qcow2"], in: folder.path)
        #expect(strict.status == 0, "\(strict.text)")
    }

    @Test("refusals: unsafe backing names, an existing file, a format other than qcow2; one line each")
    func refusals() throws {
        let folder = try TemporaryFolder("qcowtool-create")
        defer { folder.remove() }
        let shadow = try Tool.run(["create", "-f", "qcow2", "-b", "/etc/shadow", "-F", "raw", "evil.qcow2", "1G"], in: folder.path)
        #expect(shadow.status == 1)
        #expect(Tool.errorLines(shadow).count == 1 && shadow.stderr.contains("/etc/shadow"), "\(shadow.stderr)")
        #expect(!Tool.exists(folder.file("evil.qcow2")))
        let dotdot = try Tool.run(["create", "-b", "../x.img", "-F", "raw", "evil.qcow2", "1G"], in: folder.path)
        #expect(dotdot.status == 1 && Tool.errorLines(dotdot).count == 1, "\(dotdot.stderr)")
        #expect(!Tool.exists(folder.file("evil.qcow2")))

        #expect(try Tool.run(["create", "-q", "a.qcow2", "1M"], in: folder.path).status == 0)
        let again = try Tool.run(["create", "-q", "a.qcow2", "2M"], in: folder.path)
        #expect(again.status == 1 && Tool.errorLines(again).count == 1 && again.stderr.contains("a.qcow2"), "\(again.stderr)")
        #expect(try info("a.qcow2", in: folder.path)["virtual-size"] as? Int == 1 << 20)
        let overwrite = try Tool.run(["create", "-q", "--overwrite", "a.qcow2", "2M"], in: folder.path)
        #expect(overwrite.status == 0, "\(overwrite.stderr)")
        #expect(try info("a.qcow2", in: folder.path)["virtual-size"] as? Int == 2 << 20)

        let vmdk = try Tool.run(["create", "-f", "vmdk", "c.vmdk", "1M"], in: folder.path)
        #expect(vmdk.status != 0 && !vmdk.stderr.isEmpty)
        #expect(!Tool.exists(folder.file("c.vmdk")))
        let badSize = try Tool.run(["create", "d.qcow2", "12Q"], in: folder.path)
        #expect(badSize.status != 0 && !badSize.stderr.isEmpty)
        #expect(!Tool.exists(folder.file("d.qcow2")))
    }

    @Test("images made by create pass qemu-img check and read like qemu-img create's own",
          .enabled(if: Tool.hasQemu), arguments: [
        ([], "1G"), (["-o", "compat=0.10"], "1M"), (["-o", "cluster_size=512"], "10M"),
        (["-o", "cluster_size=2M"], "3G"), (["-o", "refcount_bits=1,lazy_refcounts=on"], "1M"),
        (["-o", "extended_l2=on"], "1G"), (["-o", "preallocation=metadata"], "5M"),
        (["-b", "disk.img", "-F", "raw"], nil),
    ] as [([String], String?)])
    func againstQemu(options: [String], size: String?) throws {
        let folder = try TemporaryFolder("qcowtool-create")
        defer { folder.remove() }
        #expect(Tool.makeSparseFile(folder.file("disk.img"), size: 1 << 30))
        let tail = size.map { [$0] } ?? []
        let ours = try Tool.run(["create", "-q", "-f", "qcow2"] + options + ["img.qcow2"] + tail, in: folder.path)
        #expect(ours.status == 0, "\(options): \(ours.stderr)")
        let qemuArgs = ["create", "-q", "-f", "qcow2"] + options + ["ref.qcow2"] + tail
        let reference = try Oracle.run("qemu-img", qemuArgs, currentDirectory: folder.path)
        try #require(reference.status == 0, "qemu-img \(qemuArgs): \(reference.stderr)")
        let arguments = options + tail

        let check = try Oracle.run("qemu-img", ["check", "--output=json", "img.qcow2"], currentDirectory: folder.path)
        #expect(check.status == 0, "\(arguments): qemu-img check: \(check.text) \(check.stderr)")
        let refCheck = try Oracle.run("qemu-img", ["check", "--output=json", "ref.qcow2"], currentDirectory: folder.path)
        let checkDiff = JSON.differences(try JSON.parse(refCheck.stdout, "ref check"), try JSON.parse(check.stdout, "check"),
                                         ignoring: ["filename"])
        #expect(checkDiff.isEmpty, "\(arguments): \(checkDiff)")
        let info = try Oracle.run("qemu-img", ["info", "--output=json", "img.qcow2"], currentDirectory: folder.path)
        let refInfo = try Oracle.run("qemu-img", ["info", "--output=json", "ref.qcow2"], currentDirectory: folder.path)
        let infoDiff = JSON.differences(try JSON.parse(refInfo.stdout, "ref info"), try JSON.parse(info.stdout, "info"),
                                        ignoring: ["filename", "actual-size"])
        #expect(infoDiff.isEmpty, "\(arguments): \(infoDiff)")
    }
}
