import Foundation
@testable import QCOW2
import Testing
import TestSupport

/// Random damage to the metadata of real images, inspected end to end (header, snapshot
/// table, bitmap directory, LUKS header, audit reads): never a crash, a trap or a hang.
struct DamageTests {
    /// Byte ranges worth damaging in each fixture: the header cluster's start and the
    /// regions its header points at.
    static func targets(_ bytes: [UInt8]) -> [Range<Int>] {
        var ranges = [0..<min(bytes.count, 1024)]
        func u64(_ at: Int) -> Int { Int(truncatingIfNeeded: bytes[at..<at + 8].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }) }
        for field in [40, 48, 64] {  // L1, refcount table, snapshot table
            let at = u64(field)
            if at > 0, at < bytes.count { ranges.append(at..<min(bytes.count, at + 512)) }
        }
        // The bitmap directory and LUKS header sit in later clusters; damage a spread too.
        ranges.append(0..<bytes.count)
        return ranges
    }

    @Test(arguments: ["snapshots.qcow2", "bitmap.qcow2", "luks.qcow2", "layer.qcow2", "extended-l2.qcow2", "compressed-zstd.qcow2"])
    func damagedImagesNeverCrash(name: String) throws {
        let good = try HeaderFixtures.bytes(name)
        let folder = try TemporaryFolder("qcow2-damage")
        defer { folder.remove() }
        let path = folder.file("damaged.qcow2")
        var rng = SplitMix64(seed: name.utf8.reduce(0xDA3A6E) { $0 &* 31 &+ UInt64($1) })
        let ranges = Self.targets(good)
        var parsed = 0
        for _ in 0..<100 {
            var bytes = good
            for _ in 0..<(1 + Int(rng.next() % 6)) {
                let range = ranges[Int(rng.next() % UInt64(ranges.count))]
                let at = range.lowerBound + Int(rng.next() % UInt64(range.count))
                bytes[at] = rng.next() % 3 == 0 ? 0xFF : UInt8(truncatingIfNeeded: rng.next())
            }
            if rng.next() % 8 == 0 { bytes.removeLast(Int(rng.next() % UInt64(bytes.count / 2))) }
            _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
            if let inspection = try? ImageInspection(path: path, format: .qcow2) {
                parsed += 1
                _ = inspection.json
            }
        }
        #expect(parsed > 0)
    }
}
