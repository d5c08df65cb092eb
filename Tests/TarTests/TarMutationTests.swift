import ByteStreams
import Foundation
import Testing
import TestSupport

@testable import Tar

/// Random corruption of valid archives must only ever produce typed errors (or a clean
/// read), never a crash, a hang or unbounded memory.
@Suite("Tar reader under random corruption")
struct TarMutationTests {
    /// Recomputes the checksum of every block that carries a ustar magic, so corrupted
    /// headers get past the checksum and into the field parsers.
    static func fixChecksums(_ bytes: inout [UInt8]) {
        var offset = 0
        while offset + 512 <= bytes.count {
            if bytes[(offset + 257)..<(offset + 262)].elementsEqual("ustar".utf8) {
                bytes.withUnsafeMutableBytes { raw in
                    let block = UnsafeMutableRawBufferPointer(rebasing: raw[offset..<(offset + 512)])
                    let sum = HeaderLayout.checksums(UnsafeRawBufferPointer(block)).unsigned
                    _ = TarNumber.writeOctal(sum, into: UnsafeMutableRawBufferPointer(rebasing: block[148..<155]))
                    block[155] = 0x20
                }
            }
            offset += 512
        }
    }

    static func readEverything(_ bytes: [UInt8]) -> Error? {
        var options = TarReaderOptions()
        options.maximumMetadataSize = 1 << 20
        options.maximumSparseExtents = 1 << 12
        let reader = TarReader(reading: BufferSource(bytes, maximumChunk: 1000), options: options)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 1)
        defer { buffer.deallocate() }
        do {
            while let entry = try reader.next() {
                var total: UInt64 = 0
                while let chunk = try reader.readData(into: buffer) {
                    total += UInt64(chunk.count)
                    if let map = entry.sparseMap {
                        #expect(chunk.offset + UInt64(chunk.count) <= map.realSize)
                    } else {
                        #expect(chunk.offset + UInt64(chunk.count) <= entry.size)
                    }
                }
                #expect(total == entry.storedSize)
            }
            _ = try reader.trailer()
            return nil
        } catch let error as TarError {
            return error
        } catch {
            Issue.record("unexpected error type \(type(of: error)): \(error)")
            return error
        }
    }

    @Test("hundreds of corrupted archives: typed errors only", arguments: ["gnu-oldsparse", "gnu-pax-0.0", "gnu-pax-0.1", "gnu-pax-1.0"])
    func corrupt(_ name: String) throws {
        let folder = try TemporaryFolder("tar-mutation")
        defer { folder.remove() }
        let original = [UInt8](try Data(contentsOf: URL(fileURLWithPath: try Fixtures.decompressed(name, into: folder))))
        // Corrupt only the first 8 KiB (headers, extension blocks, maps); the rest stays valid.
        let base = original
        var rng = SplitMix64(seed: 0x7A12 &+ UInt64(name.utf8.count))
        var refused = 0
        for _ in 0..<600 {
            var bytes = base
            for _ in 0..<Int(rng.next() % 4 + 1) {
                let at = Int(rng.next() % 8192)
                // Favour digits and separators, which reach the number and map parsers.
                let choices: [UInt8] = [0x30, 0x37, 0x39, 0x0A, 0x20, 0x00, 0x80, 0xFF, 0x2C, 0x3D]
                bytes[at] = rng.next() % 2 == 0 ? choices[Int(rng.next() % 10)] : UInt8(truncatingIfNeeded: rng.next())
            }
            if rng.next() % 4 != 0 { Self.fixChecksums(&bytes) }
            if rng.next() % 8 == 0 { bytes.removeLast(Int(rng.next() % UInt64(bytes.count))) }
            if Self.readEverything(bytes) != nil { refused += 1 }
        }
        #expect(refused > 50)
    }
}
