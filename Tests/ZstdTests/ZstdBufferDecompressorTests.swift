import TestSupport
import Testing
@testable import Zstd

/// ``ZstdBufferDecompressor``: one reused context, whole buffers in and out.
@Suite struct ZstdBufferDecompressorTests {
    private func decode(_ decompressor: ZstdBufferDecompressor, _ input: [UInt8], capacity: Int) throws -> [UInt8] {
        var output = [UInt8](repeating: 0xEE, count: capacity)
        let count = try input.withUnsafeBytes { source in
            try output.withUnsafeMutableBytes { try decompressor.decompress(source, into: $0) }
        }
        return Array(output[..<count])
    }

    private static func sample(_ seed: UInt64, _ count: Int) -> [UInt8] {
        var rng = SplitMix64(seed: seed)
        let words = Array("qcow2 cluster zstd frame ".utf8)
        return (0..<count).map { _ in rng.next() % 4 == 0 ? UInt8(truncatingIfNeeded: rng.next()) : words[Int(rng.next() % UInt64(words.count))] }
    }

    @Test func oneContextDecodesManyBuffersInTurn() throws {
        let decompressor = try ZstdBufferDecompressor()
        for seed in 0..<20 as Range<UInt64> {
            let plain = Self.sample(seed, 65536)
            let packed = try Zstd.compress(plain)
            #expect(try decode(decompressor, packed, capacity: 65536) == plain)
        }
    }

    @Test func concatenatedAndSkippableFramesAndAFullOutput() throws {
        let decompressor = try ZstdBufferDecompressor()
        let a = Self.sample(1, 30000), b = Self.sample(2, 35536)
        let skippable: [UInt8] = [0x50, 0x2A, 0x4D, 0x18, 4, 0, 0, 0, 1, 2, 3, 4]
        let stream = try Zstd.compress(a) + skippable + Zstd.compress(b)
        #expect(try decode(decompressor, stream, capacity: 65536) == a + b)
        #expect(try decode(decompressor, stream, capacity: 65536 + 100) == a + b)
        // A smaller output stops when full; what follows is not looked at.
        #expect(try decode(decompressor, stream + [0xFF, 0xFF], capacity: 1000) == Array(a[..<1000]))
    }

    @Test func damagedInputIsTyped() throws {
        let decompressor = try ZstdBufferDecompressor()
        let packed = try Zstd.compress(Self.sample(3, 65536))
        #expect(throws: ZstdError.emptyInput) { _ = try decode(decompressor, [], capacity: 10) }
        #expect(throws: ZstdError.truncated(offset: UInt64(packed.count / 2))) {
            _ = try decode(decompressor, Array(packed[..<(packed.count / 2)]), capacity: 65536)
        }
        #expect(throws: ZstdError.notZstd(offset: 0)) { _ = try decode(decompressor, [1, 2, 3, 4, 5, 6, 7, 8], capacity: 10) }
        var flipped = packed
        flipped[packed.count / 2] ^= 0x55
        #expect(throws: ZstdError.self) { _ = try decode(decompressor, flipped, capacity: 65536) }
        // The context still works after every failure.
        #expect(try decode(decompressor, packed, capacity: 65536) == Self.sample(3, 65536))
    }
}
