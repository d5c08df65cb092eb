import ByteStreams
import TestSupport
import Testing
@testable import Zstd

@Suite("zstd damage and limits")
struct ZstdErrorTests {
    let payload: [UInt8] = {
        var rng = SplitMix64(seed: 7)
        return (0..<200_000).map { i in i % 3 == 0 ? UInt8(truncatingIfNeeded: rng.next()) : UInt8(i % 17) }
    }()

    @Test("an empty input is not a zstd stream")
    func empty() {
        #expect(throws: ZstdError.emptyInput) { try decompressStreaming([]) }
    }

    @Test("a stream cut short is reported as truncated, with the offset where it ended")
    func truncated() throws {
        let compressed = try Zstd.compress(payload)
        for cut in [1, 5, compressed.count / 2, compressed.count - 1] {
            let error = #expect(throws: ZstdError.self) { try decompressStreaming(Array(compressed.prefix(cut))) }
            #expect(error == .truncated(offset: UInt64(cut)), "cut at \(cut)")
        }
    }

    @Test("a wrong content checksum is its own error")
    func checksum() throws {
        var compressed = try Zstd.compress(payload)
        compressed[compressed.count - 1] ^= 0xFF  // the 4-byte checksum ends the frame
        let error = #expect(throws: ZstdError.self) { try decompressStreaming(compressed) }
        guard case .checksumMismatch = error else {
            Issue.record("expected checksumMismatch, got \(String(describing: error))")
            return
        }
    }

    @Test("damaged block data is reported as corrupt")
    func corrupt() throws {
        let compressed = try Zstd.compress(payload, options: .init(checksum: false))
        var damaged = 0
        for position in stride(from: 8, to: compressed.count - 8, by: max(1, compressed.count / 40)) {
            var bytes = compressed
            bytes[position] ^= 0x5A
            do {
                let out = try decompressStreaming(bytes)
                // Without a checksum some flips only change the output; they must not crash.
                #expect(out != payload || bytes == compressed)
            } catch let error as ZstdError {
                switch error {
                case .corrupt, .truncated, .windowTooLarge, .unsupported: damaged += 1
                default: Issue.record("unexpected error \(error)")
                }
            }
        }
        #expect(damaged > 0)
        // A block header whose type is "reserved" (3) is always corruption.
        var bytes = try Zstd.compress([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], options: .init(checksum: false, pledgedSourceSize: 10))
        let headerSize = 6  // magic + descriptor + 1-byte content size (single segment)
        bytes[headerSize] |= 0b110
        let error = #expect(throws: ZstdError.self) { try decompressStreaming(bytes) }
        guard case .corrupt = error else {
            Issue.record("expected corrupt, got \(String(describing: error))")
            return
        }
    }

    @Test("a frame demanding a 2 GiB window is refused before allocating it")
    func windowBomb() throws {
        // Magic, descriptor 0x00 (no single segment: a window descriptor follows),
        // window descriptor exponent 21 -> 2^(10+21) = 2 GiB, then a raw 1-byte last block.
        let frame: [UInt8] = [0x28, 0xB5, 0x2F, 0xFD, 0x00, 21 << 3, 0x09, 0x00, 0x00, 0x41]
        let error = #expect(throws: ZstdError.self) { try decompressStreaming(frame) }
        guard case .windowTooLarge(_, let cap)? = error else {
            Issue.record("expected windowTooLarge, got \(String(describing: error))")
            return
        }
        #expect(cap == 27)
        // The same frame passes when the caller allows a 2 GiB window: the cap is the cause.
        #expect(try decompressStreaming(frame, options: .init(windowLogMax: 31)) == [0x41])
    }

    @Test("bytes after the last frame that are not a frame are refused")
    func trailingGarbage() throws {
        let compressed = try Zstd.compress(payload)
        let error = #expect(throws: ZstdError.self) {
            try decompressStreaming(compressed + Array("GARBAGE!".utf8))
        }
        #expect(error == .notZstd(offset: UInt64(compressed.count)))
        // gzip magic where zstd is expected
        #expect(throws: ZstdError.notZstd(offset: 0)) { try decompressStreaming([0x1F, 0x8B, 8, 0, 0, 0, 0, 0]) }
    }

    @Test("one-shot decompression honours its output limit")
    func outputLimit() throws {
        let compressed = try Zstd.compress([UInt8](repeating: 1, count: 100_000))
        #expect(throws: ZstdError.outputLimitExceeded(limit: 99_999)) {
            try Zstd.decompress(compressed, limit: 99_999)
        }
    }

    @Test("an out-of-range window cap is refused at construction")
    func badWindowCap() {
        #expect(throws: ZstdError.self) {
            try ZstdDecompressor(readingFrom: BufferSource([]), options: .init(windowLogMax: 99))
        }
    }
}
