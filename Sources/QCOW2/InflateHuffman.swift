/// Two-level Huffman lookup tables for the inflater.
///
/// A table is indexed by the next `rootBits` input bits (least significant bit first, as
/// DEFLATE packs codes). A code no longer than `rootBits` fills every slot whose low bits
/// are its bit-reversed code; a longer code lives in a subtable reached through a pointer
/// entry in the root slot of its first `rootBits` bits, indexed by the bits after them.
///
/// Entry layout (`UInt32`):
/// - bits 0–4: how many input bits this entry consumes (code length, or the remaining length
///   inside a subtable, or `rootBits` for a pointer);
/// - bits 8–11: extra bits after the code (length or distance), or a pointer's subtable bits;
/// - bits 12–15: flags (``literal``, ``subtable``, ``endOfBlock``, ``invalid``); none for a
///   length or distance symbol;
/// - bits 16–31: the value: a literal byte, a length or distance base, a code-length symbol,
///   or a subtable's first slot.
enum HuffmanEntry {
    static let literal: UInt32 = 1 << 12
    static let subtable: UInt32 = 1 << 13
    static let endOfBlock: UInt32 = 1 << 14
    static let invalid: UInt32 = 1 << 15

    @inline(__always) static func consumed(_ entry: UInt32) -> UInt64 { UInt64(entry & 31) }
    @inline(__always) static func extraBits(_ entry: UInt32) -> UInt64 { UInt64((entry &>> 8) & 15) }
    @inline(__always) static func value(_ entry: UInt32) -> Int { Int(entry &>> 16) }

    /// What each literal/length symbol (0…287) decodes to, without its code length.
    static let literalLengthTemplates: [UInt32] = (0..<288).map { symbol in
        switch symbol {
        case 0..<256: return literal | UInt32(symbol) << 16
        case 256: return endOfBlock
        case 257...285:
            let index = symbol - 257
            return UInt32(DeflateConstants.lengthExtra[index]) << 8 | UInt32(DeflateConstants.lengthBase[index]) << 16
        default: return invalid
        }
    }

    /// What each distance symbol (0…31) decodes to; 30 and 31 are reserved.
    static let distanceTemplates: [UInt32] = (0..<32).map { symbol in
        guard symbol < 30 else { return invalid }
        return UInt32(DeflateConstants.distanceExtra[symbol]) << 8 | UInt32(DeflateConstants.distanceBase[symbol]) << 16
    }

    /// Code-length symbols (0…18) decode to themselves.
    static let codeLengthTemplates: [UInt32] = (0..<19).map { UInt32($0) << 16 }
}

/// Why a set of code lengths is not a usable prefix code.
struct HuffmanTableProblem: Error {
    let text: String
}

/// Builds ``HuffmanEntry`` tables.
///
/// Follows zlib's rules for which code sets are accepted: an over-subscribed set is refused;
/// an incomplete set only when `allowIncomplete` and it is a single one-bit code; a set with no
/// code at all yields a table whose every lookup is ``HuffmanEntry/invalid``.
struct HuffmanTableBuilder {
    /// Slots a literal/length table needs: 1024 root slots plus at most 308 in subtables
    /// (zlib's `enough 286 10 15` is 1332), rounded up.
    static let literalLengthRootBits = 10
    static let literalLengthCapacity = 2048
    /// Distance tables: 256 root slots plus at most 146 in subtables (`enough 30 8 15` is 402).
    static let distanceRootBits = 8
    static let distanceCapacity = 1024
    /// Code-length codes are at most 7 bits long: one level.
    static let codeLengthRootBits = 7
    static let codeLengthCapacity = 128

    /// Scratch space for the builder: 16 counts, 16 starts, then the symbols sorted by code length.
    static let scratchCount = 32 + 320

    /// Fills `table` (of `capacity` slots) from the code lengths of `count` symbols.
    ///
    /// `lengths` values must be at most 15; `templates` has at least `count` entries.
    static func build(lengths: UnsafePointer<UInt8>, count: Int, templates: [UInt32], rootBits: Int,
                      into table: UnsafeMutablePointer<UInt32>, capacity: Int, scratch: UnsafeMutablePointer<Int>,
                      allowIncomplete: Bool) throws(HuffmanTableProblem) {
        precondition(count <= 320 && count <= templates.count && (1 << rootBits) <= capacity)
        let counts = scratch
        let start = scratch + 16
        let sorted = scratch + 32
        for length in 0..<16 { counts[length] = 0 }
        for symbol in 0..<count { counts[Int(lengths[symbol] & 15)] += 1 }
        let rootSize = 1 << rootBits
        table.update(repeating: HuffmanEntry.invalid, count: rootSize)
        var maxLength = 15
        while maxLength > 0 && counts[maxLength] == 0 { maxLength -= 1 }
        if maxLength == 0 { return }
        var left = 1
        for length in 1...15 {
            left = (left << 1) - counts[length]
            if left < 0 { throw HuffmanTableProblem(text: "over-subscribed") }
        }
        if left > 0 && (!allowIncomplete || maxLength != 1) { throw HuffmanTableProblem(text: "incomplete") }

        // Symbols in canonical order: by code length, then by symbol.
        var total = 0
        for length in 1...15 {
            start[length] = total
            total += counts[length]
        }
        for symbol in 0..<count {
            let length = Int(lengths[symbol] & 15)
            guard length > 0 else { continue }
            sorted[start[length]] = symbol
            start[length] += 1
        }

        var code = 0
        var codeLength = 0
        var prefix = -1
        var subtableStart = 0
        var subtableBits = 0
        var nextFree = rootSize
        for index in 0..<total {
            let symbol = sorted[index]
            let length = Int(lengths[symbol] & 15)
            if index > 0 { code += 1 }
            code <<= length - codeLength
            codeLength = length
            let template = templates[symbol]
            if length <= rootBits {
                var slot = reversed(code, length)
                let entry = template | UInt32(length)
                while slot < rootSize {
                    table[slot] = entry
                    slot += 1 << length
                }
            } else {
                let rest = length - rootBits
                let codePrefix = code >> rest
                if codePrefix != prefix {
                    // A new subtable, as deep as the codes sharing this prefix need.
                    prefix = codePrefix
                    var bits = rest
                    var room = 1 << bits
                    var deeper = length
                    while true {
                        room -= counts[deeper]
                        if room <= 0 || deeper == maxLength { break }
                        deeper += 1
                        bits += 1
                        room <<= 1
                    }
                    subtableStart = nextFree
                    subtableBits = bits
                    nextFree += 1 << bits
                    guard nextFree <= capacity, subtableStart < 1 << 16 else {
                        throw HuffmanTableProblem(text: "needs more table space than any valid code")
                    }
                    (table + subtableStart).update(repeating: HuffmanEntry.invalid, count: 1 << bits)
                    table[reversed(codePrefix & (rootSize - 1), rootBits)] = HuffmanEntry.subtable | UInt32(rootBits)
                        | UInt32(bits) << 8 | UInt32(subtableStart) << 16
                }
                var slot = reversed(code & ((1 << rest) - 1), rest)
                let entry = template | UInt32(rest)
                let size = 1 << subtableBits
                while slot < size {
                    table[subtableStart + slot] = entry
                    slot += 1 << rest
                }
            }
            counts[length] -= 1
        }
    }

    /// The low `count` bits of `value` in reverse order.
    private static func reversed(_ value: Int, _ count: Int) -> Int {
        var result = 0
        var bits = value
        for _ in 0..<count {
            result = (result << 1) | (bits & 1)
            bits >>= 1
        }
        return result
    }
}

/// RFC 1951's fixed tables.
enum DeflateConstants {
    static let lengthBase: [UInt16] = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31,
                                       35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258]
    static let lengthExtra: [UInt8] = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2,
                                       3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0]
    static let distanceBase: [UInt16] = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193,
                                         257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145,
                                         8193, 12289, 16385, 24577]
    static let distanceExtra: [UInt8] = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6,
                                         7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13]
    static let codeLengthOrder: [UInt8] = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15]
}
