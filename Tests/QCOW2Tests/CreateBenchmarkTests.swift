import Foundation
import Testing
@testable import QCOW2
import SystemPackage
import TestSupport

/// Overlay creation time, ours (in process) against `qemu-img create` (a process), for the
/// report. Runs only with `VMIMAGE_BENCH=1` in the environment; prints medians.
@Suite(.enabled(if: ProcessInfo.processInfo.environment["VMIMAGE_BENCH"] == "1" && Oracle.has("qemu-img")))
struct CreateBenchmarkTests {
    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        return sorted[sorted.count / 2]
    }

    @Test(arguments: [UInt64(1 << 30), 16 << 40])
    func overlayCreationTime(size: UInt64) throws {
        let folder = try TemporaryFolder("create-bench")
        defer { folder.remove() }
        try Data(count: 1 << 20).write(to: URL(fileURLWithPath: folder.file("disk.img")))
        let iterations = 200
        func ours(sync: Bool) throws -> Double {
            var times: [Double] = []
            for i in 0..<iterations {
                var options = QCOW2CreateOptions(virtualSize: size, lazyRefcounts: true, backingFile: "disk.img", backingFormat: .raw)
                options.sync = sync
                let path = folder.file("o\(i).qcow2")
                let start = ContinuousClock.now
                try QCOW2Creator.create(at: FilePath(path), options: options)
                let elapsed = ContinuousClock.now - start
                times.append(Double(elapsed.components.attoseconds) / 1e12 + Double(elapsed.components.seconds) * 1e6)
                try FileManager.default.removeItem(atPath: path)
            }
            return Self.median(times)
        }
        let noSync = try ours(sync: false)
        let withSync = try ours(sync: true)
        var qemu: [Double] = []
        for i in 0..<iterations {
            let path = folder.file("q\(i).qcow2")
            let start = ContinuousClock.now
            let out = try Oracle.run("qemu-img", ["create", "-q", "-f", "qcow2", "-b", "disk.img", "-F", "raw",
                                                  "-o", "lazy_refcounts=on", path, String(size)], currentDirectory: folder.path)
            let elapsed = ContinuousClock.now - start
            #expect(out.status == 0)
            qemu.append(Double(elapsed.components.attoseconds) / 1e12 + Double(elapsed.components.seconds) * 1e6)
            try FileManager.default.removeItem(atPath: path)
        }
        let q = Self.median(qemu)
        print("create-bench size=\(size): ours sync=off \(noSync) µs, ours sync=on \(withSync) µs, qemu-img create \(q) µs, ratio qemu/ours(sync=off) \(q / noSync), qemu/ours(sync=on) \(q / withSync)")
    }
}
