import Foundation
@testable import QCOW2
import Testing
import TestSupport

/// Images made now by the installed qemu-img, compared with `qemu-img info` run now.
/// Skipped when qemu-img is not installed.
@Suite(.enabled(if: Oracle.has("qemu-img") && Oracle.has("qemu-io")))
struct LiveQemuTests {
    /// Our JSON and qemu-img's for `name` in `folder` (run from `folder`), without actual-size.
    static func compare(_ name: String, in folder: TemporaryFolder, format: ImageInspection.Format = .qcow2) throws {
        let qemu = try Oracle.run("qemu-img", ["info", "-f", format.rawValue, "--output=json", name], currentDirectory: folder.path)
        try #require(qemu.status == 0, "qemu-img info \(name): \(qemu.stderr)")
        let previous = FileManager.default.currentDirectoryPath
        // Inspect by the same relative name so filename and full-backing-filename agree.
        let inspection = try withCurrentDirectory(folder.path) { try ImageInspection(path: name, format: format) }
        _ = previous
        let ours = inspection.info.json.rendered() + "\n"
        #expect(InfoTests.withoutActualSize(ours) == InfoTests.withoutActualSize(qemu.text), "\(name)")
    }

    static func withCurrentDirectory<T>(_ path: String, _ body: () throws -> T) throws -> T {
        let previous = FileManager.default.currentDirectoryPath
        _ = FileManager.default.changeCurrentDirectoryPath(path)
        defer { _ = FileManager.default.changeCurrentDirectoryPath(previous) }
        return try body()
    }

    @Test func freshImagesMatchQemuImg() throws {
        let folder = try TemporaryFolder("qcow2-live")
        defer { folder.remove() }
        let sh = { (command: String) throws in
            let out = try Oracle.shell(command, currentDirectory: folder.path)
            try #require(out.status == 0, "\(command): \(out.stderr)")
        }
        try sh("qemu-img create -q -f qcow2 -o cluster_size=16k,refcount_bits=8,lazy_refcounts=on base.qcow2 3G")
        try sh("mkdir sub && qemu-img create -q -f qcow2 -b ../base.qcow2 -F qcow2 sub/top.qcow2")
        try sh("qemu-img create -q -f qcow2 -o compat=0.10 -b base.qcow2 -F qcow2 old.qcow2 1G")
        try sh("qemu-img create -q -f qcow2 -o extended_l2=on,compression_type=zstd big.qcow2 20T")
        try sh("qemu-io -f qcow2 -c 'write -P 7 0 1M' big.qcow2 >/dev/null")
        // Names qemu must quote: quotes, backslash, tab, non-ASCII, astral plane.
        try sh("qemu-img snapshot -c 'say \"hi\" \\\\ tab\tsnäp 😀' big.qcow2")
        try sh("qemu-img snapshot -c second big.qcow2")
        try sh("qemu-img bitmap --add big.qcow2 'b ü'")
        try sh("head -c 3000 /dev/zero > odd.raw")
        for name in ["base.qcow2", "sub/top.qcow2", "old.qcow2", "big.qcow2"] {
            try Self.compare(name, in: folder)
        }
        try Self.compare("odd.raw", in: folder, format: .raw)
    }
}
