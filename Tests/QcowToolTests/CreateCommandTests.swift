import Foundation
import Testing
import TestSupport

/// `qcowtool create` against `qemu-img create`: the same `Formatting` line and the same file.
/// Runs where qemu-img is installed.
@Suite(.enabled(if: Tool.hasQemu))
struct CreateCommandTests {

    static let cases: [[String]] = [
        ["1G"],
        ["-o", "compat=0.10", "10G"],
        ["-b", "base.raw", "-F", "raw"],
        ["-b", "base.qcow2", "-F", "qcow2", "-o", "lazy_refcounts=on,cluster_size=2M", "2T"],
        ["-o", "cluster_size=128k,extended_l2=on,compression_type=zstd,refcount_bits=8", "-o", "preallocation=off", "1.5G"],
        ["-o", "cluster_size=4k,preallocation=metadata", "3M"],
        ["1000"],
    ]

    @Test(arguments: cases)
    func sameLineSameBytes(arguments: [String]) throws {
        let tool = Tool.binary
        let folder = try TemporaryFolder("create-cli")
        defer { folder.remove() }
        try Data(count: 1 << 20).write(to: URL(fileURLWithPath: folder.file("base.raw")))
        try Oracle.run("qemu-img", ["create", "-q", "-f", "qcow2", folder.file("base.qcow2"), "3M"])
        let size = arguments.last.flatMap { $0.first?.isNumber == true ? $0 : nil }
        let options = size == nil ? arguments : Array(arguments.dropLast())
        let tail = size.map { [$0] } ?? []
        let qemu = try Oracle.run("qemu-img", ["create", "-f", "qcow2"] + options + ["img.qcow2"] + tail, currentDirectory: folder.path)
        try FileManager.default.moveItem(atPath: folder.file("img.qcow2"), toPath: folder.file("qemu.qcow2"))
        let ours = try Oracle.run(tool, ["create", "-f", "qcow2"] + options + ["img.qcow2"] + tail, currentDirectory: folder.path)
        #expect(qemu.status == 0 && ours.status == 0, "\(qemu.stderr) \(ours.stderr)")
        #expect(ours.text == qemu.text)
        let a = try Data(contentsOf: URL(fileURLWithPath: folder.file("img.qcow2")))
        let b = try Data(contentsOf: URL(fileURLWithPath: folder.file("qemu.qcow2")))
        #expect(a == b)
    }

    @Test func refusalsExitNonZeroWithOneLine() throws {
        let tool = Tool.binary
        let folder = try TemporaryFolder("create-cli")
        defer { folder.remove() }
        for arguments in [["-b", "../x", "-F", "raw", "a.qcow2", "1G"], ["-b", "base.raw", "a.qcow2", "1G"],
                          ["-o", "compat=0.10,lazy_refcounts=on", "a.qcow2", "1G"], ["a.qcow2"], ["a.qcow2", "12Q"]] {
            let out = try Oracle.run(tool, ["create", "-f", "qcow2"] + arguments, currentDirectory: folder.path)
            #expect(out.status == 1, "\(arguments)")
            #expect(out.stderr.split(separator: "\n").count == 1, "\(out.stderr)")
            #expect(out.text.isEmpty)
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path).isEmpty)
        #expect(try Oracle.run(tool, ["create", "-q", "-f", "qcow2", "a.qcow2", "1G"], currentDirectory: folder.path).status == 0)
        #expect(try Oracle.run(tool, ["create", "-q", "-f", "qcow2", "a.qcow2", "1G"], currentDirectory: folder.path).status == 1)
        #expect(try Oracle.run(tool, ["create", "-q", "--overwrite", "-f", "qcow2", "a.qcow2", "2G"], currentDirectory: folder.path).status == 0)
    }
}
