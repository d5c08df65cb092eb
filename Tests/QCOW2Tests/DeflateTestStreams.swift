@testable import QCOW2

/// Builds raw DEFLATE bit streams by hand for the hostile-input tests: fixed-code blocks, and
/// dynamic blocks whose code lengths the test chooses freely (valid or not).
struct DeflateBitWriter {
    private(set) var bytes: [UInt8] = []
    private var bitCount = 0

    /// Appends `count` bits of `value`, least significant first (header fields, extra bits).
    mutating func bits(_ value: Int, _ count: Int) {
        for i in 0..<count {
            if bitCount % 8 == 0 { bytes.append(0) }
            if (value >> i) & 1 == 1 { bytes[bytes.count - 1] |= UInt8(1 << (bitCount % 8)) }
            bitCount += 1
        }
    }

    /// Appends a Huffman code of `length` bits, most significant first (as codes are packed).
    mutating func code(_ code: Int, _ length: Int) {
        for i in stride(from: length - 1, through: 0, by: -1) { bits((code >> i) & 1, 1) }
    }

    /// The fixed literal/length code of `symbol` (RFC 1951 3.2.6).
    mutating func fixedLiteral(_ symbol: Int) {
        switch symbol {
        case 0..<144: code(0x30 + symbol, 8)
        case 144..<256: code(0x190 + symbol - 144, 9)
        case 256..<280: code(symbol - 256, 7)
        default: code(0xC0 + symbol - 280, 8)
        }
    }

    /// A fixed-code match: length symbol 257 (length 3) and 5-bit distance `symbol` with its extra bits.
    mutating func fixedMatch(distanceSymbol: Int, extra: Int = 0, extraBits: Int = 0) {
        fixedLiteral(257)
        code(distanceSymbol, 5)
        bits(extra, extraBits)
    }

    /// A dynamic block header whose literal/length and distance code lengths are `literal` and
    /// `distance` (at most 15 each), sent with a code-length code that gives each of 0…15 four bits.
    mutating func dynamicHeader(final: Bool, literal: [Int], distance: [Int]) {
        bits(final ? 1 : 0, 1)
        bits(2, 2)
        bits(literal.count - 257, 5)
        bits(distance.count - 1, 5)
        bits(19 - 4, 4)
        // Order 16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15: four bits for 0…15.
        for symbol in [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15] { bits(symbol < 16 ? 4 : 0, 3) }
        for length in literal + distance { code(length, 4) }
    }

    /// The canonical codes of a set of code lengths (0: no code), as RFC 1951 assigns them.
    static func canonicalCodes(_ lengths: [Int]) -> [Int] {
        var counts = [Int](repeating: 0, count: 16)
        for length in lengths where length > 0 { counts[length] += 1 }
        var next = [Int](repeating: 0, count: 16)
        var code = 0
        for length in 1...15 {
            code = (code + counts[length - 1]) << 1
            next[length] = code
        }
        return lengths.map { length in
            guard length > 0 else { return -1 }
            defer { next[length] += 1 }
            return next[length]
        }
    }
}
