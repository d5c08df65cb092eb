import ByteStreams
import TestSupport
import Testing
@testable import Zstd

/// A source that produces `total` bytes of a repeating, partly random pattern without
/// holding them in memory.
struct PatternSource: ByteSource {
    let pattern: [UInt8]
    let total: UInt64
    var produced: UInt64 = 0

    mutating func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let remaining = total - produced
        let n = Int(min(UInt64(buffer.count), remaining))
        guard n > 0 else { return 0 }
        var written = 0
        while written < n {
            let offset = Int((produced + UInt64(written)) % UInt64(pattern.count))
            let run = min(n - written, pattern.count - offset)
            pattern.withUnsafeBytes { src in
                (buffer.baseAddress! + written).copyMemory(from: src.baseAddress! + offset, byteCount: run)
            }
            written += run
        }
        produced += UInt64(n)
        return n
    }
}

@Suite("zstd memory bounds")
struct ZstdMemoryTests {
    @Test("decompressing 1 GiB holds a bounded amount of memory")
    func decompressOneGiB() throws {
        var rng = SplitMix64(seed: 1)
        var pattern = [UInt8](repeating: 0, count: 1 << 20)
        for i in stride(from: 0, to: 16 << 10, by: 8) {
            withUnsafeBytes(of: rng.next()) { pattern.replaceSubrange(i..<i + 8, with: $0) }
        }
        let total: UInt64 = 1 << 30
        var source = PatternSource(pattern: pattern, total: total)
        let compressor = try ZstdCompressor(writingTo: BufferSink(limit: 256 << 20), options: .init(level: 1, workers: 2))
        var stage = compressor
        try source.copy(to: &stage)
        #expect(compressor.memoryUsage < 64 << 20, "compressor holds \(compressor.memoryUsage) bytes")
        let compressed = try compressor.finish().bytes
        #expect(compressed.count < 64 << 20)

        let decompressor = try ZstdDecompressor(readingFrom: BufferSource(compressed, maximumChunk: 1 << 20))
        var counting = CountingSink()
        var peak = 0
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let n = try decompressor.read(into: buffer)
            if n == 0 { break }
            try counting.write(UnsafeRawBufferPointer(rebasing: buffer[..<n]))
            peak = max(peak, decompressor.memoryUsage)
        }
        #expect(counting.count == total)
        #expect(peak < 64 << 20, "decompressor held \(peak) bytes")
    }
}
