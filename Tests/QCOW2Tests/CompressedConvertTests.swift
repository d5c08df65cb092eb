import Foundation
import Testing
import TestSupport
@testable import QCOW2

/// Compressed images made by `qemu-img convert -c` (zlib and zstd, small to large clusters) from
/// a disk of real bytes: our convert must write exactly qemu-img's raw output, and every read,
/// whole clusters decoded in parallel or pieces of one, must show the same bytes.
@Suite(.serialized) struct CompressedConvertTests {
    /// 12 MiB: pieces of the Python executable, text, random bytes and zero runs, at odd offsets.
    static let sourceScript = """
    import sys, random
    r = random.Random(77)
    blob = open(sys.executable, 'rb').read()
    disk = bytearray(12 << 20)
    at = 0
    while at < len(disk):
        n = r.randrange(1000, 400000)
        kind = r.randrange(4)
        if kind == 0:
            s = r.randrange(0, max(1, len(blob) - n)); piece = blob[s:s + n]
        elif kind == 1:
            piece = b''.join(r.choice([b'qcow2 ', b'inflate ', b'cluster\\n', b'%d ' % r.randrange(99999)]) for _ in range(n // 6))
        elif kind == 2:
            piece = r.randbytes(n // 8)
        else:
            piece = b''
        disk[at:at + len(piece)] = piece[:len(disk) - at]
        at += n
    open(sys.argv[1], 'wb').write(disk)
    """

    struct Image {
        var folder: TemporaryFolder
        var qcow2: String
        var raw: [UInt8]
    }

    static func makeImage(compression: String, clusterSize: Int) throws -> Image {
        let folder = try TemporaryFolder("compressed-convert")
        let source = folder.file("source.raw")
        try #require(try Fixtures.run("python3", ["-c", sourceScript, source]).status == 0)
        let qcow2 = folder.file("\(compression)-\(clusterSize).qcow2")
        let made = try Oracle.run("qemu-img", ["convert", "-c", "-f", "raw", "-O", "qcow2", "-o",
                                               "compression_type=\(compression),cluster_size=\(clusterSize)", source, qcow2])
        try #require(made.status == 0, "qemu-img: \(made.stderr)")
        let raw = [UInt8](try Data(contentsOf: URL(fileURLWithPath: source)))
        try FileManager.default.removeItem(atPath: source)
        return Image(folder: folder, qcow2: qcow2, raw: raw)
    }

    static let settings: [(String, Int)] = [("zlib", 65536), ("zstd", 65536), ("zlib", 4096), ("zstd", 2 << 20), ("zlib", 2 << 20)]

    @Test(.enabled(if: Fixtures.hasQemu && Fixtures.hasPython), arguments: settings.indices)
    func convertIsByteIdenticalToQemuImg(setting: Int) throws {
        let (compression, clusterSize) = Self.settings[setting]
        let image = try Self.makeImage(compression: compression, clusterSize: clusterSize)
        defer { try? FileManager.default.removeItem(atPath: image.folder.path) }
        let ours = image.folder.file("ours.raw"), theirs = image.folder.file("qemu.raw")
        let reader = try ImageReader.open(path: image.qcow2)
        let summary = try RawConversion.convert(reader, to: ours)
        #expect(summary.size == UInt64(image.raw.count))
        try #require(try Oracle.run("qemu-img", ["convert", "-O", "raw", image.qcow2, theirs]).status == 0)
        let oursBytes = try Data(contentsOf: URL(fileURLWithPath: ours))
        #expect(oursBytes == (try Data(contentsOf: URL(fileURLWithPath: theirs))), "\(compression) \(clusterSize)")
        #expect(oursBytes == Data(image.raw))
    }

    @Test(.enabled(if: Fixtures.hasQemu && Fixtures.hasPython), arguments: [1, 3])
    func readsOfEveryShapeAgree(setting: Int) throws {
        let (compression, clusterSize) = Self.settings[setting]
        let image = try Self.makeImage(compression: compression, clusterSize: clusterSize)
        defer { try? FileManager.default.removeItem(atPath: image.folder.path) }
        let reader = try ImageReader.open(path: image.qcow2)
        var rng = SplitMix64(seed: UInt64(setting))
        for round in 0..<60 {
            let count = round % 3 == 0 ? Int.random(in: 1...700, using: &rng) : Int.random(in: 1...(3 << 20), using: &rng)
            let offset = Int.random(in: 0...(image.raw.count - count), using: &rng)
            var buffer = [UInt8](repeating: 0xA5, count: count)
            try buffer.withUnsafeMutableBytes { try reader.read(into: $0, at: UInt64(offset)) }
            #expect(buffer[...] == image.raw[offset..<(offset + count)], "\(compression) \(clusterSize): \(count) at \(offset)")
        }
    }

    @Test(.enabled(if: Fixtures.hasQemu && Fixtures.hasPython))
    func moreWorkersThanCoresDecodeTheSameBytes() throws {
        let image = try Self.makeImage(compression: "zlib", clusterSize: 65536)
        defer { try? FileManager.default.removeItem(atPath: image.folder.path) }
        let reader = try ImageReader.open(path: image.qcow2)
        guard case let .qcow2(layer) = reader.layers[0] else { Issue.record("not a qcow2 layer"); return }
        let clusters = 40
        var buffer = [UInt8](repeating: 0, count: clusters * 65536)
        try buffer.withUnsafeMutableBytes { raw in
            var jobs: [ClusterJob] = []
            for index in 0..<clusters {
                let guest = UInt64(index * 65536)
                guard case let (.compressed(descriptor, _), _) = try layer.run(at: guest, limit: 65536) else { continue }
                jobs.append(ClusterJob(layer: layer, descriptor: descriptor, guest: guest,
                                       target: UnsafeMutableRawBufferPointer(rebasing: raw[(index * 65536)..<((index + 1) * 65536)])))
            }
            #expect(jobs.count >= 8)
            for workers in [1, 2, 3, 5] {
                raw.initializeMemory(as: UInt8.self, repeating: 0)
                try ParallelClusterDecoder(workerCount: workers).decode(jobs)
                for job in jobs {
                    let start = Int(job.guest)
                    #expect(Array(job.target) == Array(image.raw[start..<(start + 65536)]), "\(workers) workers, cluster at \(start)")
                }
            }
        }
    }

    @Test(.enabled(if: Fixtures.hasQemu && Fixtures.hasPython), arguments: ["zlib", "zstd"])
    func theFirstDamagedClusterInGuestOrderIsReported(compression: String) throws {
        let image = try Self.makeImage(compression: compression, clusterSize: 65536)
        defer { try? FileManager.default.removeItem(atPath: image.folder.path) }
        // The compressed clusters among the first 16 (one 1 MiB read).
        var compressed: [(guest: UInt64, host: UInt64)] = []
        do {
            let reader = try ImageReader.open(path: image.qcow2)
            guard case let .qcow2(layer) = reader.layers[0] else { Issue.record("not a qcow2 layer"); return }
            for index in 0..<16 {
                let guest = UInt64(index * 65536)
                if case let (.compressed(descriptor, _), _) = try layer.run(at: guest, limit: 65536) {
                    compressed.append((guest, descriptor.hostOffset))
                }
            }
        }
        try #require(compressed.count >= 4)
        let first = compressed[1], last = compressed[compressed.count - 1], between = compressed[2]
        // Damage the last one and the second one: a read of 1 MiB names the second.
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: image.qcow2))
        for host in [last.host, first.host] {
            try handle.seek(toOffset: host)
            try handle.write(contentsOf: Data(repeating: 0xFF, count: 16))
        }
        try handle.close()
        let reader = try ImageReader.open(path: image.qcow2)
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        do {
            try buffer.withUnsafeMutableBytes { try reader.read(into: $0, at: 0) }
            Issue.record("the damaged clusters were read without error")
        } catch let ImageAccessError.corruptCompressedCluster(guest, host, _) {
            #expect(guest == first.guest && host == first.host)
        }
        // A cluster between them still reads.
        let at = Int(between.guest)
        try buffer.withUnsafeMutableBytes { try reader.read(into: UnsafeMutableRawBufferPointer(rebasing: $0[..<65536]), at: between.guest) }
        #expect(buffer[..<65536] == image.raw[at..<(at + 65536)])
    }
}
