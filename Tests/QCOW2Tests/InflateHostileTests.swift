import Testing
import TestSupport
@testable import QCOW2

/// Hand-built hostile DEFLATE streams, on the fast path (plenty of input and output left) as
/// well as the careful one, and the two-level Huffman tables checked code by code.
@Suite struct InflateHostileTests {
    private func inflate(_ input: [UInt8], capacity: Int) throws -> [UInt8] {
        var output = [UInt8](repeating: 0, count: capacity)
        let result = try input.withUnsafeBytes { source in
            try output.withUnsafeMutableBytes { try Inflater().inflate(source, into: $0) }
        }
        return Array(output[..<result.bytesWritten])
    }

    /// A final fixed-code block: `before` literals 'a', then `body`, then 100 literals 'b' and
    /// the end-of-block code, so the stream is long enough for the fast path.
    private func fixedStream(before: Int, _ body: (inout DeflateBitWriter) -> Void) -> [UInt8] {
        var writer = DeflateBitWriter()
        writer.bits(1, 1)
        writer.bits(1, 2)
        for _ in 0..<before { writer.fixedLiteral(0x61) }
        body(&writer)
        for _ in 0..<100 { writer.fixedLiteral(0x62) }
        writer.fixedLiteral(256)
        return writer.bytes
    }

    @Test func fixedStreamDecodesOnBothPaths() throws {
        // 300 'a', a match of 3 at distance 1 (more 'a'), then the rest.
        let stream = fixedStream(before: 300) { $0.fixedMatch(distanceSymbol: 0) }
        let expected = [UInt8](repeating: 0x61, count: 303) + [UInt8](repeating: 0x62, count: 100)
        #expect(try inflate(stream, capacity: 1000) == expected)
        // Output room for the fast path only now and then: the same bytes.
        #expect(try inflate(stream, capacity: 403) == expected)
    }

    @Test func distanceBeyondTheOutputOnTheFastPath() {
        // Distance symbol 20: base 1025 + 9 extra bits (0) = 1025, with only 300 bytes out.
        let stream = fixedStream(before: 300) { $0.fixedMatch(distanceSymbol: 20, extra: 0, extraBits: 9) }
        #expect(throws: InflateError.distanceTooFar(offset: 300, distance: 1025, available: 300)) {
            _ = try inflate(stream, capacity: 65536)
        }
    }

    @Test func distanceOneBeyondTheOutputIsRefusedAndExactlyAtItIsNot() throws {
        // Distance symbol 16: base 257 + 7 extra bits. 300 bytes out: 301 is too far, 300 is fine.
        let tooFar = fixedStream(before: 300) { $0.fixedMatch(distanceSymbol: 16, extra: 44, extraBits: 7) }
        #expect(throws: InflateError.distanceTooFar(offset: 300, distance: 301, available: 300)) {
            _ = try inflate(tooFar, capacity: 65536)
        }
        let atStart = fixedStream(before: 300) { $0.fixedMatch(distanceSymbol: 16, extra: 43, extraBits: 7) }
        #expect(try inflate(atStart, capacity: 65536).count == 403)
    }

    @Test func reservedSymbolsOnTheFastPath() {
        let literal286 = fixedStream(before: 300) { $0.fixedLiteral(286) }
        #expect(throws: InflateError.invalidSymbol(offset: 300)) { _ = try inflate(literal286, capacity: 65536) }
        let literal287 = fixedStream(before: 300) { $0.fixedLiteral(287) }
        #expect(throws: InflateError.invalidSymbol(offset: 300)) { _ = try inflate(literal287, capacity: 65536) }
        // Length code 257 (7 bits) ends inside byte 301; distance symbol 30 is reserved.
        let distance30 = fixedStream(before: 300) { $0.fixedMatch(distanceSymbol: 30) }
        #expect(throws: InflateError.invalidSymbol(offset: 301)) { _ = try inflate(distance30, capacity: 65536) }
        let distance31 = fixedStream(before: 300) { $0.fixedMatch(distanceSymbol: 31) }
        #expect(throws: InflateError.invalidSymbol(offset: 301)) { _ = try inflate(distance31, capacity: 65536) }
    }

    /// Literal/length lengths: 0…255 nine bits, end-of-block and length 3 two bits each (complete).
    private static let literalLengths = [Int](repeating: 9, count: 256) + [2, 2]

    private func dynamicStream(literal: [Int], distance: [Int], _ body: (inout DeflateBitWriter) -> Void) -> [UInt8] {
        var writer = DeflateBitWriter()
        writer.dynamicHeader(final: true, literal: literal, distance: distance)
        body(&writer)
        return writer.bytes
    }

    @Test func oneOneBitDistanceCodeIsAllowedAndItsUnusedCodeIsNot() throws {
        let codes = DeflateBitWriter.canonicalCodes(Self.literalLengths)
        let good = dynamicStream(literal: Self.literalLengths, distance: [1]) { writer in
            for _ in 0..<3 { writer.code(codes[0x78], 9) }
            writer.code(codes[257], 2)
            writer.code(0, 1)
            writer.code(codes[256], 2)
        }
        #expect(try inflate(good, capacity: 100) == [UInt8](repeating: 0x78, count: 6))
        let bad = dynamicStream(literal: Self.literalLengths, distance: [1]) { writer in
            for _ in 0..<3 { writer.code(codes[0x78], 9) }
            writer.code(codes[257], 2)
            writer.code(1, 1)
            writer.code(codes[256], 2)
        }
        #expect(throws: InflateError.self) { _ = try inflate(bad, capacity: 100) }
        do {
            _ = try inflate(bad, capacity: 100)
        } catch let error as InflateError {
            guard case .invalidSymbol = error else { Issue.record("got \(error)"); return }
        }
    }

    @Test func literalsOnlyWithNoDistanceCodeDecodeButAMatchDoesNot() throws {
        let codes = DeflateBitWriter.canonicalCodes(Self.literalLengths)
        let literals = dynamicStream(literal: Self.literalLengths, distance: [0]) { writer in
            for byte in [0x68, 0x69] { writer.code(codes[byte], 9) }
            writer.code(codes[256], 2)
        }
        #expect(try inflate(literals, capacity: 10) == [0x68, 0x69])
        let match = dynamicStream(literal: Self.literalLengths, distance: [0]) { writer in
            writer.code(codes[0x68], 9)
            writer.code(codes[257], 2)
            writer.code(0, 5)
        }
        #expect(throws: InflateError.self) { _ = try inflate(match, capacity: 10) }
    }

    @Test func badCodeSetsAreRefusedWithTheirReason() {
        let cases: [(literal: [Int], distance: [Int], reason: String)] = [
            ([Int](repeating: 8, count: 286), [5], "literal/length code: over-subscribed"),
            ([Int](repeating: 0, count: 65) + [2] + [Int](repeating: 0, count: 190) + [1], [1], "literal/length code: incomplete"),
            (Self.literalLengths, [1, 1, 1], "distance code: over-subscribed"),
            (Self.literalLengths, [2, 2, 2], "distance code: incomplete"),
            ([Int](repeating: 9, count: 256) + [0, 2, 2], [1], "no code for end-of-block"),
        ]
        for item in cases {
            let stream = dynamicStream(literal: item.literal, distance: item.distance) { $0.bits(0, 32) }
            #expect(throws: InflateError.invalidCodeLengths(offset: 0, reason: item.reason)) {
                _ = try inflate(stream, capacity: 10)
            }
        }
    }

    @Test func tooManyCodesAreRefused() {
        var writer = DeflateBitWriter()
        writer.bits(1, 1)
        writer.bits(2, 2)
        writer.bits(30, 5)   // 287 literal/length codes
        writer.bits(0, 5)
        writer.bits(0, 4)
        writer.bits(0, 32)
        #expect(throws: InflateError.tooManyCodes(offset: 0, literalLength: 287, distance: 1)) {
            _ = try inflate(writer.bytes, capacity: 10)
        }
    }

    // MARK: - Tables

    /// A random complete prefix code over `count` symbols with codes of at most 15 bits;
    /// about half the splits deepen the newest leaf, so long codes are common.
    private static func randomCompleteLengths(count: Int, using rng: inout SplitMix64) -> [Int] {
        let used = Int.random(in: 2...count, using: &rng)
        var leaves = [1, 1]
        while leaves.count < used {
            let candidates = leaves.indices.filter { leaves[$0] < 15 }
            let index = Bool.random(using: &rng) && leaves[leaves.count - 1] < 15
                ? leaves.count - 1 : candidates[Int.random(in: 0..<candidates.count, using: &rng)]
            leaves[index] += 1
            leaves.append(leaves[index])
        }
        var lengths = [Int](repeating: 0, count: count)
        for (symbol, length) in zip(Array(0..<count).shuffled(using: &rng), leaves) { lengths[symbol] = length }
        return lengths
    }

    @Test(arguments: [0, 1])
    func everyCodeOfRandomCompleteSetsDecodesThroughTheTables(kind: Int) throws {
        let (count, rootBits, capacity, templates) = kind == 0
            ? (286, HuffmanTableBuilder.literalLengthRootBits, HuffmanTableBuilder.literalLengthCapacity, HuffmanEntry.literalLengthTemplates)
            : (30, HuffmanTableBuilder.distanceRootBits, HuffmanTableBuilder.distanceCapacity, HuffmanEntry.distanceTemplates)
        var rng = SplitMix64(seed: UInt64(17 + kind))
        let table = UnsafeMutablePointer<UInt32>.allocate(capacity: capacity)
        let scratch = UnsafeMutablePointer<Int>.allocate(capacity: HuffmanTableBuilder.scratchCount)
        defer { table.deallocate(); scratch.deallocate() }
        var longest = 0
        for _ in 0..<300 {
            let lengths = Self.randomCompleteLengths(count: count, using: &rng)
            longest = max(longest, lengths.max() ?? 0)
            let bytes = lengths.map { UInt8($0) }
            try bytes.withUnsafeBufferPointer {
                try HuffmanTableBuilder.build(lengths: $0.baseAddress!, count: count, templates: templates, rootBits: rootBits,
                                              into: table, capacity: capacity, scratch: scratch, allowIncomplete: false)
            }
            for (symbol, code) in DeflateBitWriter.canonicalCodes(lengths).enumerated() where code >= 0 {
                let length = lengths[symbol]
                var reversed: UInt64 = 0
                for i in 0..<length where (code >> i) & 1 == 1 { reversed |= 1 << UInt64(length - 1 - i) }
                // The code's bits first, then unrelated bits that must not matter.
                var bits = reversed | UInt64.random(in: 0...UInt64.max, using: &rng) << UInt64(length)
                var entry = table[Int(bits & ((1 << UInt64(rootBits)) - 1))]
                var consumed = 0
                if entry & HuffmanEntry.subtable != 0 {
                    consumed = Int(HuffmanEntry.consumed(entry))
                    bits >>= UInt64(consumed)
                    entry = table[HuffmanEntry.value(entry) + Int(bits & ((1 << HuffmanEntry.extraBits(entry)) - 1))]
                }
                #expect(consumed + Int(HuffmanEntry.consumed(entry)) == length, "symbol \(symbol) length \(length)")
                #expect(entry & ~31 == templates[symbol], "symbol \(symbol) length \(length)")
            }
        }
        #expect(longest == 15)
    }

    @Test func codeSetRules() throws {
        let table = UnsafeMutablePointer<UInt32>.allocate(capacity: 1024)
        let scratch = UnsafeMutablePointer<Int>.allocate(capacity: HuffmanTableBuilder.scratchCount)
        defer { table.deallocate(); scratch.deallocate() }
        func build(_ lengths: [UInt8], allowIncomplete: Bool) throws {
            try lengths.withUnsafeBufferPointer {
                try HuffmanTableBuilder.build(lengths: $0.baseAddress!, count: lengths.count, templates: HuffmanEntry.distanceTemplates,
                                              rootBits: 8, into: table, capacity: 1024, scratch: scratch, allowIncomplete: allowIncomplete)
            }
        }
        #expect(throws: (any Error).self) { try build([1, 1, 1], allowIncomplete: true) }
        #expect(throws: (any Error).self) { try build([1], allowIncomplete: false) }
        #expect(throws: (any Error).self) { try build([2, 2, 2], allowIncomplete: true) }
        try build([1], allowIncomplete: true)
        #expect(table[0] & HuffmanEntry.invalid == 0 && table[1] & HuffmanEntry.invalid != 0)
        // No code at all: every lookup is invalid.
        try build([0, 0, 0], allowIncomplete: true)
        #expect((0..<256).allSatisfy { table[$0] & HuffmanEntry.invalid != 0 })
    }
}
