import ByteStreams
import Foundation
import TestSupport
import Testing
@testable import Zstd

/// The inputs every round trip covers.
enum Samples {
    static let empty: [UInt8] = []
    static let oneByte: [UInt8] = [0x5A]
    static let zeros = [UInt8](repeating: 0, count: 1 << 20)

    /// 64 MiB of mixed data: text-like runs, random blocks and zero runs.
    static let mixed: [UInt8] = {
        var rng = SplitMix64(seed: 42)
        var out = [UInt8]()
        out.reserveCapacity(64 << 20)
        let words = Array("the quick brown fox jumps over a lazy qcow2 image and its sparse tar ".utf8)
        while out.count < 64 << 20 {
            switch rng.next() % 3 {
            case 0:
                for _ in 0..<2048 { out.append(words[Int(rng.next() % UInt64(words.count))]) }
            case 1:
                out.append(contentsOf: rng.bytes(4096))
            default:
                out.append(contentsOf: repeatElement(0, count: 8192))
            }
        }
        return Array(out.prefix(64 << 20))
    }()

    static let all: [(String, [UInt8])] = [
        ("empty", empty), ("one byte", oneByte), ("1 MiB of zeros", zeros), ("64 MiB mixed", mixed),
    ]
}

/// Compresses with small chunks through the streaming API, to exercise the loop.
func compressStreaming(_ bytes: [UInt8], options: ZstdCompressionOptions = .init()) throws -> [UInt8] {
    var source = BufferSource(bytes, maximumChunk: 100_003)
    let compressor = try ZstdCompressor(writingTo: BufferSink(), options: options)
    var stage = compressor
    try source.copy(to: &stage, chunkSize: 65_536)
    return try compressor.finish().bytes
}

/// Decompresses reading odd-sized input chunks into odd-sized output chunks.
func decompressStreaming(_ bytes: [UInt8], options: ZstdDecompressionOptions = .init()) throws -> [UInt8] {
    var decompressor = try ZstdDecompressor(readingFrom: BufferSource(bytes, maximumChunk: 7_777), options: options)
    var sink = BufferSink()
    try decompressor.copy(to: &sink, chunkSize: 12_345)
    return sink.bytes
}

@Suite("zstd round trips")
struct ZstdRoundTripTests {
    @Test("our compressor, our decompressor", arguments: Samples.all.map(\.0))
    func ownRoundTrip(name: String) throws {
        let input = try #require(Samples.all.first { $0.0 == name }?.1)
        for workers in [0, 2] {
            let compressed = try compressStreaming(input, options: .init(workers: workers))
            #expect(compressed.count > 0)
            #expect(sameBytes(try decompressStreaming(compressed), input))
            #expect(sameBytes(try Zstd.decompress(Zstd.compress(input), limit: input.count), input))
        }
    }

    @Test("our output decompresses with the zstd CLI", .enabled(if: Oracle.has("zstd")),
          arguments: Samples.all.map(\.0))
    func oursToCLI(name: String) throws {
        let input = try #require(Samples.all.first { $0.0 == name }?.1)
        let folder = try TemporaryFolder("zstd")
        defer { folder.remove() }
        try Data(compressStreaming(input)).write(to: URL(fileURLWithPath: folder.file("a.zst")))
        let result = try Oracle.run("zstd", ["-q", "-d", "-c", folder.file("a.zst")])
        #expect(result.status == 0, "zstd -d failed: \(result.stderr)")
        #expect(sameBytes(Array(result.stdout), input))
    }

    @Test("the zstd CLI's output decompresses with ours", .enabled(if: Oracle.has("zstd")),
          arguments: Samples.all.map(\.0))
    func cliToOurs(name: String) throws {
        let input = try #require(Samples.all.first { $0.0 == name }?.1)
        let folder = try TemporaryFolder("zstd")
        defer { folder.remove() }
        try Data(input).write(to: URL(fileURLWithPath: folder.file("in")))
        for flags in [["-3"], ["-19", "--long=27"], ["-1", "-T2", "--no-check"]] {
            let result = try Oracle.run("zstd", ["-q", "-c"] + flags + [folder.file("in")])
            #expect(result.status == 0)
            #expect(sameBytes(try decompressStreaming(Array(result.stdout)), input), "flags \(flags)")
        }
    }

    @Test("concatenated frames decode as one stream, both ways")
    func concatenatedFrames() throws {
        let parts = [Array("first frame ".utf8), Samples.zeros, Array(Samples.mixed.prefix(300_000))]
        let ours = try parts.flatMap { try Zstd.compress($0) }
        #expect(sameBytes(try decompressStreaming(ours), parts.flatMap { $0 }))
        guard Oracle.has("zstd") else { return }
        let folder = try TemporaryFolder("zstd")
        defer { folder.remove() }
        try Data(ours).write(to: URL(fileURLWithPath: folder.file("multi.zst")))
        let cli = try Oracle.run("zstd", ["-q", "-d", "-c", folder.file("multi.zst")])
        #expect(cli.status == 0)
        #expect(sameBytes(Array(cli.stdout), parts.flatMap { $0 }))
        // And frames made by the CLI, concatenated.
        var joined = [UInt8]()
        for (index, part) in parts.enumerated() {
            try Data(part).write(to: URL(fileURLWithPath: folder.file("p\(index)")))
            joined += Array(try Oracle.run("zstd", ["-q", "-c", folder.file("p\(index)")]).stdout)
        }
        #expect(sameBytes(try decompressStreaming(joined), parts.flatMap { $0 }))
    }

    @Test("a skippable frame in the middle is skipped, both ways")
    func skippableFrame() throws {
        let first = Array("before the skippable frame. ".utf8)
        let second = Array("after it.".utf8)
        var skippable: [UInt8] = [0x5A, 0x2A, 0x4D, 0x18]  // 0x184D2A5A little-endian
        let payload = [UInt8](repeating: 0xEE, count: 1000)
        withUnsafeBytes(of: UInt32(payload.count).littleEndian) { skippable += $0 }
        skippable += payload
        let stream = try Zstd.compress(first) + skippable + Zstd.compress(second)
        #expect(sameBytes(try decompressStreaming(stream), first + second))
        guard Oracle.has("zstd") else { return }
        let folder = try TemporaryFolder("zstd")
        defer { folder.remove() }
        try Data(stream).write(to: URL(fileURLWithPath: folder.file("skip.zst")))
        let cli = try Oracle.run("zstd", ["-q", "-d", "-c", folder.file("skip.zst")])
        #expect(cli.status == 0)
        #expect(sameBytes(Array(cli.stdout), first + second))
    }

    @Test("a pledged source size is written and enforced")
    func pledgedSize() throws {
        let input = Array(Samples.mixed.prefix(1000))
        let compressed = try Zstd.compress(input, options: .init(pledgedSourceSize: 1000))
        // Frame_Header_Descriptor bit 5 (single segment) or a Frame_Content_Size field is present.
        #expect(compressed[4] & 0xC0 != 0 || compressed[4] & 0x20 != 0)
        #expect(throws: ZstdError.self) {
            try Zstd.compress(input, options: .init(pledgedSourceSize: 999))
        }
    }
}
