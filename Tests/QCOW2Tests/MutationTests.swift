import Foundation
import Testing
import TestSupport
@testable import QCOW2

/// Randomly damaged metadata must give typed errors or results, never a crash or hang.
@Suite struct MutationTests {
    @Test(arguments: ["zlib", "zstd", "extl2", "snapshots", "refbits1", "c512", "bitmap"])
    func damagedImagesNeverCrash(name: String) throws {
        let folder = try TemporaryFolder("qcow2-mutate")
        defer { folder.remove() }
        let original = [UInt8](try Data(contentsOf: URL(fileURLWithPath: QemuImages.path(name))))
        var rng = SplitMix64(seed: UInt64(name.utf8.reduce(0) { $0 &* 31 &+ UInt64($1) }))
        // Metadata lives in the first clusters; damage there, past the fixed header fields.
        let region = min(original.count, 6 * 65536)
        var outcomes = [0, 0]
        for round in 0..<25 {
            var bytes = original
            for _ in 0..<Int.random(in: 1...12, using: &rng) {
                let at = Int.random(in: 72..<region, using: &rng)
                bytes[at] = round % 2 == 0 ? bytes[at] ^ UInt8(1 << Int.random(in: 0..<8, using: &rng)) : UInt8.random(in: 0...255, using: &rng)
            }
            let path = folder.file("m\(round).qcow2")
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            do {
                let result = try QemuImages.withFile(path) { try ImageCheck.run($0) }
                #expect(result.exitCode >= 0 && result.exitCode <= 3)
                let reader = try ImageReader.open(path: path)
                if reader.virtualSize <= 64 << 20 {
                    _ = try reader.map()
                    var buffer = [UInt8](repeating: 0, count: 1 << 20)
                    var offset: UInt64 = 0
                    while offset < reader.virtualSize {
                        try buffer.withUnsafeMutableBytes { try reader.read(into: $0, at: offset) }
                        offset += UInt64(buffer.count)
                    }
                }
                outcomes[0] += 1
            } catch is ImageAccessError {
                outcomes[1] += 1
            } catch is QCOW2HeaderError {
                outcomes[1] += 1
            }
            try? FileManager.default.removeItem(atPath: path)
        }
        #expect(outcomes[0] + outcomes[1] == 25)
    }
}
