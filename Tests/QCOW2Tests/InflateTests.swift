import Testing
@testable import QCOW2

@Suite struct InflateTests {
    static let vectorNames = [
        "empty", "one-byte", "text-fixed", "text-dynamic-l9", "random-stored-l0", "random-l6", "zeros-64k",
        "mixed-huffman-only", "mixed-rle", "mixed-qemu-wbits12", "mixed-full-flush", "mixed-l1",
    ]

    private func inflate(_ input: [UInt8], capacity: Int) throws -> (bytes: [UInt8], result: InflateResult) {
        var output = [UInt8](repeating: 0xAA, count: capacity)
        let inflater = Inflater()
        let result = try input.withUnsafeBytes { source in
            try output.withUnsafeMutableBytes { try inflater.inflate(source, into: $0) }
        }
        return (Array(output[..<result.bytesWritten]), result)
    }

    @Test(arguments: vectorNames)
    func decodesPythonZlibVectors(name: String) throws {
        let plain = try Fixtures.bytes("deflate/\(name).raw")
        let packed = try Fixtures.bytes("deflate/\(name).deflate")
        #expect(try Inflate.decompress(packed, maximumOutput: plain.count) == plain)
        // Bigger buffer: stops at the end of the final block and reports every input byte used.
        let (bytes, result) = try inflate(packed, capacity: plain.count + 100)
        #expect(bytes == plain)
        #expect(result.finished)
        #expect(result.bytesRead == packed.count)
    }

    @Test func refusesOutputBeyondTheLimit() throws {
        let packed = try Fixtures.bytes("deflate/zeros-64k.deflate")
        #expect(throws: InflateLimitError(limit: 65535)) { try Inflate.decompress(packed, maximumOutput: 65535) }
    }

    @Test(arguments: [1, 100, 4096, 30000])
    func stopsWhenTheOutputIsFull(capacity: Int) throws {
        let plain = try Fixtures.bytes("deflate/mixed-l1.raw")
        let packed = try Fixtures.bytes("deflate/mixed-l1.deflate")
        let (bytes, result) = try inflate(packed, capacity: capacity)
        #expect(bytes == Array(plain[..<capacity]))
        #expect(!result.finished)
        #expect(result.bytesRead < packed.count)
    }

    @Test func ignoresBytesAfterTheFinalBlock() throws {
        let plain = try Fixtures.bytes("deflate/mixed-qemu-wbits12.raw")
        var packed = try Fixtures.bytes("deflate/mixed-qemu-wbits12.deflate")
        let used = packed.count
        packed += [UInt8](repeating: 0xFF, count: 511)
        let (bytes, result) = try inflate(packed, capacity: plain.count)
        #expect(bytes == plain)
        #expect(result.bytesRead <= used)
    }

    @Test(arguments: ["text-fixed", "text-dynamic-l9", "random-stored-l0", "mixed-rle"])
    func truncatedStreamsAreTyped(name: String) throws {
        let plain = try Fixtures.bytes("deflate/\(name).raw")
        let packed = try Fixtures.bytes("deflate/\(name).deflate")
        for cut in [0, 1, packed.count / 3, packed.count - 1] {
            #expect(throws: InflateError.self) { _ = try inflate(Array(packed[..<cut]), capacity: plain.count) }
        }
    }

    @Test func reservedBlockTypeIsRefused() {
        // BFINAL=1, BTYPE=11.
        #expect(throws: InflateError.invalidBlockType(offset: 0)) { _ = try inflate([0x07, 0, 0], capacity: 10) }
    }

    @Test func storedLengthMustMatchItsComplement() {
        // Stored final block, LEN=5, NLEN=0x0000 (should be 0xFFFA).
        #expect(throws: InflateError.storedLengthMismatch(offset: 1, length: 5, complement: 0)) {
            _ = try inflate([0x01, 0x05, 0x00, 0x00, 0x00, 1, 2, 3, 4, 5], capacity: 10)
        }
        // The same block with the right complement decodes.
        #expect(throws: Never.self) {
            let (bytes, result) = try inflate([0x01, 0x05, 0x00, 0xFA, 0xFF, 1, 2, 3, 4, 5], capacity: 10)
            #expect(bytes == [1, 2, 3, 4, 5] && result.finished)
        }
    }

    @Test func matchBeforeTheStartIsRefused() {
        // Fixed block: BFINAL=1 BTYPE=01, then length code 257 (0000001, 7 bits) and distance code 0 (00000).
        // Bits LSB first: 1, 10 (type=1 as bits 1,0), then code 0000001 MSB-first, then 00000.
        var bits: [Int] = [1, 1, 0]
        bits += [0, 0, 0, 0, 0, 0, 1]
        bits += [0, 0, 0, 0, 0]
        var bytes = [UInt8](repeating: 0, count: 4)
        for (i, bit) in bits.enumerated() where bit == 1 { bytes[i / 8] |= UInt8(1 << (i % 8)) }
        #expect(throws: InflateError.distanceTooFar(offset: 0, distance: 1, available: 0)) {
            _ = try inflate(bytes, capacity: 10)
        }
    }

    @Test func reservedLiteralSymbolIsRefused() {
        // Fixed block, then symbol 286 = 8-bit code 11000110 (286-280+0b11000000).
        var bits: [Int] = [1, 1, 0]
        bits += [1, 1, 0, 0, 0, 1, 1, 0]
        var bytes = [UInt8](repeating: 0, count: 4)
        for (i, bit) in bits.enumerated() where bit == 1 { bytes[i / 8] |= UInt8(1 << (i % 8)) }
        #expect(throws: InflateError.invalidSymbol(offset: 0)) { _ = try inflate(bytes, capacity: 10) }
    }

    @Test func mutatedStreamsNeverCrashOrHang() throws {
        var rng = SeededGenerator(seed: 12)
        let seeds = try ["text-fixed", "text-dynamic-l9", "mixed-rle", "mixed-full-flush", "random-stored-l0"]
            .map { try Fixtures.bytes("deflate/\($0).deflate") }
        let inflater = Inflater()
        var output = [UInt8](repeating: 0, count: 65536)
        var failures = 0, successes = 0
        for round in 0..<3000 {
            var input = seeds[round % seeds.count]
            if input.count > 3000 { input = Array(input[..<3000]) }
            switch round % 4 {
            case 0:
                for _ in 0..<Int.random(in: 1...4, using: &rng) {
                    let i = Int.random(in: 0..<input.count, using: &rng)
                    input[i] ^= UInt8(1 << Int.random(in: 0..<8, using: &rng))
                }
            case 1:
                let i = Int.random(in: 0..<input.count, using: &rng)
                input[i] = UInt8.random(in: 0...255, using: &rng)
            case 2:
                input = Array(input[..<Int.random(in: 0..<input.count, using: &rng)])
            default:
                input = (0..<Int.random(in: 0..<600, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            }
            do {
                let result = try input.withUnsafeBytes { source in
                    try output.withUnsafeMutableBytes { try inflater.inflate(source, into: $0) }
                }
                #expect(result.bytesWritten <= output.count && result.bytesRead <= input.count)
                successes += 1
            } catch is InflateError {
                failures += 1
            }
        }
        #expect(failures > 1000)
        #expect(failures + successes == 3000)
    }

    @Test(.enabled(if: Fixtures.hasPython))
    func agreesWithPythonZlibOnRandomInputs() throws {
        var rng = SeededGenerator(seed: 99)
        let inflater = Inflater()
        for round in 0..<12 {
            let size = Int.random(in: 0...150_000, using: &rng)
            var plain = [UInt8](repeating: 0, count: size)
            var i = 0
            while i < size {
                let run = min(size - i, Int.random(in: 1...5000, using: &rng))
                switch Int.random(in: 0..<3, using: &rng) {
                case 0: for j in 0..<run { plain[i + j] = UInt8.random(in: 0...255, using: &rng) }
                case 1: for j in 0..<run { plain[i + j] = UInt8(j % 7 + 65) }
                default: break
                }
                i += run
            }
            let level = [0, 1, 6, 9][round % 4]
            let strategy = ["Z_DEFAULT_STRATEGY", "Z_FIXED", "Z_HUFFMAN_ONLY", "Z_RLE", "Z_FILTERED"][round % 5]
            let script = "import sys,zlib;d=sys.stdin.buffer.read();c=zlib.compressobj(\(level),zlib.DEFLATED,-15,9,zlib.\(strategy));sys.stdout.buffer.write(c.compress(d)+c.flush())"
            let (packed, status) = try Fixtures.run("python3", ["-c", script], input: plain)
            #expect(status == 0)
            var output = [UInt8](repeating: 0, count: size)
            let result = try packed.withUnsafeBytes { source in
                try output.withUnsafeMutableBytes { try inflater.inflate(source, into: $0) }
            }
            #expect(result.bytesWritten == size)
            #expect(output == plain, "round \(round): level \(level) \(strategy) size \(size)")
        }
    }
}
