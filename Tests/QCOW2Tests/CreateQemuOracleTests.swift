import Foundation
import Testing
@testable import QCOW2
import SystemPackage
import TestSupport

/// Our images against `qemu-img create` 7.2 itself: same bytes, same `qemu-img info`,
/// clean `qemu-img check`, usable by `qemu-io`. Skipped when qemu-img is not installed.
@Suite(.enabled(if: Oracle.has("qemu-img"))) struct CreateQemuOracleTests {
    struct Case: CustomStringConvertible, Sendable {
        var compat: QCOW2CreateOptions.Compat
        var clusterSize: UInt64
        var lazy: Bool
        var backing: QCOW2CreateOptions.BackingFormat?
        var extendedL2: Bool
        var size: UInt64

        var qemuOptions: String {
            "compat=\(compat.rawValue),cluster_size=\(clusterSize),lazy_refcounts=\(lazy ? "on" : "off"),extended_l2=\(extendedL2 ? "on" : "off")"
        }
        var options: QCOW2CreateOptions {
            var o = QCOW2CreateOptions(virtualSize: size, compat: compat, clusterSize: clusterSize, lazyRefcounts: lazy, extendedL2: extendedL2)
            if let backing {
                o.backingFile = backing == .raw ? "base.raw" : "base.qcow2"
                o.backingFormat = backing
            }
            o.sync = false
            return o
        }
        var description: String { "\(qemuOptions) backing=\(backing?.rawValue ?? "none") size=\(size)" }
    }

    static let grid: [Case] = {
        var cases: [Case] = []
        for compat in QCOW2CreateOptions.Compat.allCases {
            for cs: UInt64 in [512, 65536, 2 << 20] {
                for lazy in [false, true] {
                    for backing: QCOW2CreateOptions.BackingFormat? in [nil, .raw, .qcow2] {
                        for ext in [false, true] {
                            for size: UInt64 in [1 << 20, 10 << 30, 2 << 40] {
                                cases.append(Case(compat: compat, clusterSize: cs, lazy: lazy, backing: backing, extendedL2: ext, size: size))
                            }
                        }
                    }
                }
            }
        }
        return cases
    }()

    static func makeFolder() throws -> TemporaryFolder {
        let folder = try TemporaryFolder("create-oracle")
        try Data(count: 1 << 20).write(to: URL(fileURLWithPath: folder.file("base.raw")))
        try Oracle.run("qemu-img", ["create", "-q", "-f", "qcow2", folder.file("base.qcow2"), "3M"])
        return folder
    }

    /// Every combination of the grid: qemu refuses exactly what we refuse; otherwise the two
    /// files are byte-identical, `qemu-img info` agrees and `qemu-img check` is clean.
    @Test func gridMatchesQemuImg() throws {
        let folder = try Self.makeFolder()
        defer { folder.remove() }
        var created = 0
        for (n, c) in Self.grid.enumerated() {
            let ours = folder.file("ours\(n).qcow2")
            let theirs = folder.file("qemu\(n).qcow2")
            var args = ["create", "-q", "-f", "qcow2", "-o", c.qemuOptions]
            if let b = c.options.backingFile, let f = c.backing { args += ["-b", b, "-F", f.rawValue] }
            let qemu = try Oracle.run("qemu-img", args + [theirs, String(c.size)], currentDirectory: folder.path)
            var ourError: QCOW2CreateError?
            do { try QCOW2Creator.create(at: FilePath(ours), options: c.options) } catch { ourError = error }
            #expect((qemu.status == 0) == (ourError == nil), "\(c): qemu \(qemu.status) \(qemu.stderr) ours \(String(describing: ourError))")
            guard qemu.status == 0, ourError == nil else { continue }
            created += 1
            let a = try Data(contentsOf: URL(fileURLWithPath: ours))
            let b = try Data(contentsOf: URL(fileURLWithPath: theirs))
            #expect(a == b, "\(c): bytes differ from qemu-img's")
            let check = try Oracle.run("qemu-img", ["check", ours])
            #expect(check.status == 0, "\(c): \(check.text) \(check.stderr)")
            #expect(try CreateTestSupport.qemuInfo(ours) == CreateTestSupport.qemuInfo(theirs), "\(c)")
            try? FileManager.default.removeItem(atPath: ours)
            try? FileManager.default.removeItem(atPath: theirs)
        }
        #expect(created > 100)
    }

    /// One `qemu-img create -o` list and the same options typed (the `-o` syntax is qcowtool's,
    /// tested in QcowToolTests).
    struct PreallocationCase: Sendable, CustomStringConvertible {
        var options: String
        var size: UInt64
        var clusterSize: UInt64? = nil
        var refcountBits: UInt64? = nil
        var extendedL2 = false
        var compat: QCOW2CreateOptions.Compat? = nil
        var description: String { "\(options.isEmpty ? "defaults" : options) \(size)" }

        var typed: QCOW2CreateOptions {
            var typed = QCOW2CreateOptions()
            typed.virtualSize = size
            typed.preallocation = .metadata
            if let clusterSize { typed.clusterSize = clusterSize }
            if let refcountBits { typed.refcountBits = refcountBits }
            if extendedL2 { typed.extendedL2 = true }
            if let compat { typed.compat = compat }
            return typed
        }
    }

    static let preallocationCases: [PreallocationCase] = [
        PreallocationCase(options: "", size: 1 << 20), PreallocationCase(options: "", size: 1_049_088),
        PreallocationCase(options: "", size: 100 << 20),
        PreallocationCase(options: "cluster_size=512", size: 1 << 20, clusterSize: 512),
        PreallocationCase(options: "cluster_size=512", size: 8 << 20, clusterSize: 512),
        PreallocationCase(options: "cluster_size=512", size: 16 << 20, clusterSize: 512),
        PreallocationCase(options: "cluster_size=512", size: 50 << 20, clusterSize: 512),
        PreallocationCase(options: "cluster_size=2M", size: 64 << 20, clusterSize: 2 << 20),
        PreallocationCase(options: "extended_l2=on", size: 3 << 20, extendedL2: true),
        PreallocationCase(options: "cluster_size=4k,refcount_bits=1", size: 40 << 20, clusterSize: 4096, refcountBits: 1),
        PreallocationCase(options: "compat=0.10", size: 5 << 20, compat: .v0_10),
    ]

    @Test(arguments: preallocationCases)
    func metadataPreallocationMatchesQemuImg(_ row: PreallocationCase) throws {
        let (options, size) = (row.options, row.size)
        let folder = try Self.makeFolder()
        defer { folder.remove() }
        try QCOW2Creator.create(at: FilePath(folder.file("ours.qcow2")), options: row.typed)
        try Oracle.run("qemu-img", ["create", "-q", "-f", "qcow2", "-o", options + (options.isEmpty ? "" : ",") + "preallocation=metadata", folder.file("qemu.qcow2"), String(size)])
        let a = try Data(contentsOf: URL(fileURLWithPath: folder.file("ours.qcow2")))
        let b = try Data(contentsOf: URL(fileURLWithPath: folder.file("qemu.qcow2")))
        #expect(a == b)
        #expect(try Oracle.run("qemu-img", ["check", folder.file("ours.qcow2")]).status == 0)
        #expect(try CreateTestSupport.qemuInfo(folder.file("ours.qcow2")) == CreateTestSupport.qemuInfo(folder.file("qemu.qcow2")))
    }

    /// qemu-io writes through our overlay, reads the data back (and the backing file's data
    /// where it did not write), and `qemu-img check` stays clean.
    @Test(.enabled(if: Oracle.has("qemu-io")), arguments: [UInt64(1 << 30), 16 << 40])
    func qemuIOUsesOurOverlay(size: UInt64) throws {
        let folder = try Self.makeFolder()
        defer { folder.remove() }
        try Oracle.run("qemu-io", ["-f", "raw", "-c", "write -P 0x5a 0 64k", folder.file("base.raw")])
        let overlay = folder.file("overlay.qcow2")
        var options = QCOW2CreateOptions(virtualSize: size, lazyRefcounts: true, backingFile: "base.raw", backingFormat: .raw)
        options.sync = false
        try QCOW2Creator.create(at: FilePath(overlay), options: options)
        let high = size - (1 << 20)
        let io = try Oracle.run("qemu-io", ["-f", "qcow2",
            "-c", "write -P 0xab 64k 128k", "-c", "write -P 0xcd \(high) 64k",
            "-c", "read -P 0x5a 0 64k", "-c", "read -P 0xab 64k 128k", "-c", "read -P 0xcd \(high) 64k",
            "-c", "read -P 0 \(high + 65536) 64k", overlay])
        #expect(io.status == 0)
        #expect(!io.text.contains("Pattern verification failed"), "\(io.text)")
        #expect(io.text.components(separatedBy: "read ").count - 1 == 4, "\(io.text)")
        let check = try Oracle.run("qemu-img", ["check", overlay])
        #expect(check.status == 0, "\(check.text) \(check.stderr)")
    }
}
