import Foundation
import Testing
import TestSupport
@testable import QCOW2

/// Fresh images with random geometry and random writes made by qemu-io; our check,
/// map and convert must agree with qemu-img's on each. A handful, so it runs in seconds.
@Suite struct DifferentialTests {
    static let enabled = Oracle.has("qemu-img") && Oracle.has("qemu-io") && Oracle.has("sha256sum")

    struct Geometry: CustomStringConvertible {
        var clusterBits: Int
        var refcountBits: Int
        var extendedL2: Bool
        var compat: String
        var compression: String
        var size: UInt64
        var description: String {
            "cluster_size=\(1 << clusterBits),refcount_bits=\(refcountBits),extended_l2=\(extendedL2 ? "on" : "off"),compat=\(compat),compression_type=\(compression) size=\(size)"
        }
        var options: String {
            var options = "cluster_size=\(1 << clusterBits),compat=\(compat)"
            if compat == "1.1" {
                options += ",refcount_bits=\(refcountBits),compression_type=\(compression)"
                if extendedL2 { options += ",extended_l2=on" }
            }
            return options
        }
    }

    static func randomGeometry(_ rng: inout SplitMix64) -> Geometry {
        let compat = Int.random(in: 0..<5, using: &rng) == 0 ? "0.10" : "1.1"
        let clusterBits = [9, 12, 14, 16, 16, 17][Int.random(in: 0..<6, using: &rng)]
        return Geometry(
            clusterBits: clusterBits,
            refcountBits: [1, 2, 4, 8, 16, 32, 64][Int.random(in: 0..<7, using: &rng)],
            extendedL2: compat == "1.1" && clusterBits >= 14 && Bool.random(using: &rng),
            compat: compat,
            compression: compat == "1.1" && Bool.random(using: &rng) ? "zstd" : "zlib",
            size: UInt64(Int.random(in: 1...6, using: &rng)) << 20 + UInt64(Int.random(in: 0..<8, using: &rng)) * 512)
    }

    /// Compressed writes first (qemu only compresses into unallocated clusters), then a
    /// mix of data, zero, unmapping-zero and discard requests at sector granularity.
    static func randomCommands(_ g: Geometry, _ rng: inout SplitMix64, count: Int) -> [String] {
        let cluster = UInt64(1) << UInt64(g.clusterBits)
        var commands: [String] = []
        var compressed = Set<UInt64>()
        for _ in 0..<3 {
            let start = UInt64.random(in: 0..<(g.size / cluster), using: &rng) * cluster
            if compressed.insert(start).inserted {
                commands.append("write -c -P \(Int.random(in: 1...255, using: &rng)) \(start) \(cluster)")
            }
        }
        for _ in 0..<count {
            let offset = UInt64.random(in: 0..<(g.size / 512), using: &rng) * 512
            let length = min(g.size - offset, UInt64.random(in: 1...(3 * cluster / 512 + 8), using: &rng) * 512)
            let pattern = Int.random(in: 1...255, using: &rng)
            switch Int.random(in: 0..<9, using: &rng) {
            case 0...4: commands.append("write -P \(pattern) \(offset) \(length)")
            case 5: commands.append("write -z \(offset) \(length)")
            case 6: commands.append("write -z -u \(offset) \(length)")
            default: commands.append("discard \(offset) \(length)")
            }
        }
        return commands
    }

    @Test(.enabled(if: enabled))
    func randomImagesAgreeWithQemuImg() throws {
        let folder = try TemporaryFolder("qcow2-diff")
        defer { folder.remove() }
        var rng = SplitMix64(seed: UInt64(UInt32.random(in: 0...UInt32.max)))
        let seedNote = "seed state \(rng.next())"
        for round in 0..<5 {
            let g = Self.randomGeometry(&rng)
            let name = "r\(round).qcow2"
            let path = folder.file(name)
            var base: String?
            if round % 2 == 1 {
                // A qcow2 backing file with its own writes, then the overlay.
                base = "r\(round)-base.qcow2"
                let made = try Oracle.run("qemu-img", ["create", "-f", "qcow2", "-o", g.options, folder.file(base!), "\(g.size)"])
                try #require(made.status == 0, "\(made.stderr)")
                let io = try Oracle.run("qemu-io", ["-f", "qcow2"] + Self.randomCommands(g, &rng, count: 6).flatMap { ["-c", $0] } + [folder.file(base!)])
                try #require(io.status == 0, "\(io.stderr)")
            }
            var create = ["create", "-f", "qcow2", "-o", g.options]
            if let base { create += ["-b", base, "-F", "qcow2"] }
            let made = try Oracle.run("qemu-img", create + [path, "\(g.size)"])
            try #require(made.status == 0, "\(g): \(made.stderr)")
            let commands = Self.randomCommands(g, &rng, count: 12)
            let io = try Oracle.run("qemu-io", ["-f", "qcow2"] + commands.flatMap { ["-c", $0] } + [path])
            try #require(io.status == 0, "\(g): \(commands) \(io.stderr) \(io.text)")
            if round == 2 {
                _ = try Oracle.run("qemu-img", ["snapshot", "-c", "s1", path])
                _ = try Oracle.run("qemu-io", ["-f", "qcow2", "-c", "write -P 9 0 4096", path])
            }
            let context = "\(seedNote) round \(round): \(g) \(commands)"

            let qemuCheck = try Oracle.run("qemu-img", ["check", "--output=json", name], currentDirectory: folder.path)
            let ours = try QemuImages.withFile(path) { try ImageCheck.run($0) }
            #expect(ours.json(filename: name) + "\n" == qemuCheck.text, "\(context)")
            #expect(ours.exitCode == qemuCheck.status, "\(context)")

            let reader = try ImageReader.open(path: path, options: ChainOptions(followBacking: true))
            let qemuMap = try Oracle.run("qemu-img", ["map", "--output=json", path])
            #expect(MapJSON.render(try reader.map()) == qemuMap.text, "\(context)")

            _ = try RawConversion.convert(reader, to: folder.file("ours.raw"))
            let qemuConvert = try Oracle.run("qemu-img", ["convert", "-O", "raw", path, folder.file("qemu.raw")])
            try #require(qemuConvert.status == 0)
            let sums = try Oracle.run("sha256sum", [folder.file("ours.raw"), folder.file("qemu.raw")]).text
                .split(separator: "\n").map { $0.prefix(64) }
            #expect(sums.count == 2 && sums[0] == sums[1], "\(context)")
        }
    }
}
