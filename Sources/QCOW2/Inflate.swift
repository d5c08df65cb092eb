/// What one call of ``Inflater/inflate(_:into:)`` did.
public struct InflateResult: Sendable, Equatable {
    /// Bytes written to the front of the output buffer.
    public var bytesWritten: Int
    /// Compressed bytes consumed (a partly used last byte counts as consumed).
    public var bytesRead: Int
    /// Whether the end of the final block was reached (`false` when decoding stopped
    /// because the output buffer was full).
    public var finished: Bool
}

/// A raw DEFLATE (RFC 1951) decoder: no zlib or gzip wrapper, no preset dictionary.
///
/// This is the format of qemu's zlib-compressed qcow2 clusters (`windowBits` −12).
/// Decoding is bounded by the output buffer: it stops as soon as the buffer is full,
/// and bytes after the end of the final block are ignored (qemu rounds compressed
/// clusters up to whole sectors). Every malformed input is an ``InflateError``.
///
/// An `Inflater` owns about 260 KiB of decoding tables and reuses them across calls;
/// keep one per thread of work rather than one per cluster.
public final class Inflater {
    private static let tableSlots = 1 << 15
    private let literalTable: UnsafeMutablePointer<UInt32>
    private let distanceTable: UnsafeMutablePointer<UInt32>
    private let codeLengthTable: UnsafeMutablePointer<UInt32>
    private let lengths: UnsafeMutablePointer<UInt8>
    private var literalBits = 0
    private var distanceBits = 0
    private var tablesAreFixed = false

    /// A decoder with freshly allocated tables.
    public init() {
        literalTable = .allocate(capacity: Self.tableSlots)
        distanceTable = .allocate(capacity: Self.tableSlots)
        codeLengthTable = .allocate(capacity: 1 << 7)
        lengths = .allocate(capacity: 320)
        literalTable.initialize(repeating: 0, count: Self.tableSlots)
        distanceTable.initialize(repeating: 0, count: Self.tableSlots)
        codeLengthTable.initialize(repeating: 0, count: 1 << 7)
        lengths.initialize(repeating: 0, count: 320)
    }

    deinit {
        literalTable.deallocate()
        distanceTable.deallocate()
        codeLengthTable.deallocate()
        lengths.deallocate()
    }

    /// Decodes `input` into `output` until the final block ends or `output` is full.
    ///
    /// - Throws: ``InflateError`` when the stream is malformed, or ends (runs out of
    ///   input) before either of those happens.
    public func inflate(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) throws -> InflateResult {
        var reader = BitReader(input)
        let capacity = output.count
        guard capacity > 0, let out = output.baseAddress?.assumingMemoryBound(to: UInt8.self) else {
            return InflateResult(bytesWritten: 0, bytesRead: 0, finished: false)
        }
        var written = 0
        var isFinal = false
        repeat {
            reader.refill()
            let blockStart = reader.byteOffset
            isFinal = reader.take(1) == 1
            let type = reader.take(2)
            if reader.isOverrun { throw InflateError.truncated(offset: input.count) }
            switch type {
            case 0:
                let stop = try copyStored(&reader, input: input, out: out, capacity: capacity, written: &written)
                if stop { return reader.result(written: written, finished: false) }
                continue
            case 1:
                if !tablesAreFixed { buildFixedTables() }
            case 2:
                try readDynamicTables(&reader, blockStart: blockStart)
            default:
                throw InflateError.invalidBlockType(offset: blockStart)
            }
            let full = try decodeBlock(&reader, input: input, out: out, capacity: capacity, written: &written)
            if full { return reader.result(written: written, finished: false) }
        } while !isFinal && written < capacity
        return reader.result(written: written, finished: isFinal)
    }

    // MARK: - Blocks

    /// Copies a stored block. Returns `true` when the output filled up inside it.
    private func copyStored(_ reader: inout BitReader, input: UnsafeRawBufferPointer,
                            out: UnsafeMutablePointer<UInt8>, capacity: Int, written: inout Int) throws -> Bool {
        reader.drop(reader.bits & 7)
        reader.refill()
        let offset = reader.byteOffset
        let length = Int(reader.take(16))
        let complement = Int(reader.take(16))
        if reader.isOverrun { throw InflateError.truncated(offset: input.count) }
        guard length == (~complement & 0xFFFF) else {
            throw InflateError.storedLengthMismatch(offset: offset, length: length, complement: complement)
        }
        reader.rewindToByte()
        let wanted = min(length, capacity - written)
        guard input.count - reader.position >= wanted else { throw InflateError.truncated(offset: input.count) }
        if wanted > 0, let base = input.baseAddress {
            (out + written).update(from: (base + reader.position).assumingMemoryBound(to: UInt8.self), count: wanted)
        }
        reader.position += wanted
        written += wanted
        return wanted < length
    }

    /// Decodes one Huffman-coded block with the current tables. Returns `true` when the
    /// output filled up before the end-of-block code.
    private func decodeBlock(_ reader: inout BitReader, input: UnsafeRawBufferPointer,
                             out: UnsafeMutablePointer<UInt8>, capacity: Int, written: inout Int) throws -> Bool {
        let literalMask = UInt64((1 << literalBits) - 1)
        let distanceMask = UInt64((1 << distanceBits) - 1)
        let literals = literalTable
        let distances = distanceTable
        var written0 = written
        defer { written = written0 }
        while true {
            reader.refill()
            let symbolOffset = reader.byteOffset
            let entry = literals[Int(truncatingIfNeeded: reader.buffer & literalMask)]
            let codeLength = Int(entry & 15)
            if codeLength == 0 { throw InflateError.invalidSymbol(offset: symbolOffset) }
            reader.drop(codeLength)
            let symbol = Int(entry >> 4)
            if symbol < 256 {
                if reader.isOverrun { throw InflateError.truncated(offset: input.count) }
                if written0 == capacity { return true }
                out[written0] = UInt8(truncatingIfNeeded: symbol)
                written0 += 1
                continue
            }
            if symbol == 256 {
                if reader.isOverrun { throw InflateError.truncated(offset: input.count) }
                return false
            }
            guard symbol <= 285 else { throw InflateError.invalidSymbol(offset: symbolOffset) }
            let lengthIndex = symbol - 257
            var length = Int(Tables.lengthBase[lengthIndex]) + Int(reader.take(Int(Tables.lengthExtra[lengthIndex])))
            let distanceEntry = distances[Int(truncatingIfNeeded: reader.buffer & distanceMask)]
            let distanceCodeLength = Int(distanceEntry & 15)
            if distanceCodeLength == 0 { throw InflateError.invalidSymbol(offset: reader.byteOffset) }
            reader.drop(distanceCodeLength)
            let distanceSymbol = Int(distanceEntry >> 4)
            guard distanceSymbol <= 29 else { throw InflateError.invalidSymbol(offset: reader.byteOffset) }
            let distance = Int(Tables.distanceBase[distanceSymbol])
                + Int(reader.take(Int(Tables.distanceExtra[distanceSymbol])))
            if reader.isOverrun { throw InflateError.truncated(offset: input.count) }
            guard distance <= written0 else {
                throw InflateError.distanceTooFar(offset: symbolOffset, distance: distance, available: written0)
            }
            if written0 == capacity { return true }
            length = min(length, capacity - written0)
            var source = out + (written0 - distance)
            var target = out + written0
            if distance >= length {
                target.update(from: source, count: length)
            } else {
                for _ in 0..<length {
                    target.pointee = source.pointee
                    target += 1
                    source += 1
                }
            }
            written0 += length
        }
    }

    // MARK: - Tables

    private func buildFixedTables() {
        for i in 0..<144 { lengths[i] = 8 }
        for i in 144..<256 { lengths[i] = 9 }
        for i in 256..<280 { lengths[i] = 7 }
        for i in 280..<288 { lengths[i] = 8 }
        // Fixed codes are complete, so building cannot fail.
        literalBits = (try? Self.buildTable(lengths, count: 288, into: literalTable, allowIncomplete: true)) ?? 0
        for i in 0..<32 { lengths[i] = 5 }
        distanceBits = (try? Self.buildTable(lengths, count: 32, into: distanceTable, allowIncomplete: true)) ?? 0
        tablesAreFixed = true
    }

    private func readDynamicTables(_ reader: inout BitReader, blockStart: Int) throws {
        tablesAreFixed = false
        reader.refill()
        let literalCount = Int(reader.take(5)) + 257
        let distanceCount = Int(reader.take(5)) + 1
        let codeLengthCount = Int(reader.take(4)) + 4
        guard literalCount <= 286, distanceCount <= 30 else {
            throw InflateError.tooManyCodes(offset: blockStart, literalLength: literalCount, distance: distanceCount)
        }
        for i in 0..<19 { lengths[i] = 0 }
        for i in 0..<codeLengthCount {
            reader.refill()
            lengths[Int(Tables.codeLengthOrder[i])] = UInt8(truncatingIfNeeded: reader.take(3))
        }
        if reader.isOverrun { throw InflateError.truncated(offset: reader.inputCount) }
        let codeLengthBits: Int
        do {
            codeLengthBits = try Self.buildTable(lengths, count: 19, into: codeLengthTable, allowIncomplete: false)
        } catch let reason as TableProblem {
            throw InflateError.invalidCodeLengths(offset: blockStart, reason: "code length code: \(reason.text)")
        }
        let mask = UInt64((1 << codeLengthBits) - 1)
        let total = literalCount + distanceCount
        var index = 0
        while index < total {
            reader.refill()
            let entry = codeLengthTable[Int(truncatingIfNeeded: reader.buffer & mask)]
            let codeLength = Int(entry & 15)
            if codeLength == 0 { throw InflateError.invalidSymbol(offset: reader.byteOffset) }
            reader.drop(codeLength)
            let symbol = Int(entry >> 4)
            if symbol < 16 {
                lengths[index] = UInt8(truncatingIfNeeded: symbol)
                index += 1
                continue
            }
            let value: UInt8
            let repeatCount: Int
            switch symbol {
            case 16:
                guard index > 0 else {
                    throw InflateError.invalidCodeLengths(offset: blockStart, reason: "repeat code 16 with no previous length")
                }
                value = lengths[index - 1]
                repeatCount = 3 + Int(reader.take(2))
            case 17:
                value = 0
                repeatCount = 3 + Int(reader.take(3))
            default:
                value = 0
                repeatCount = 11 + Int(reader.take(7))
            }
            guard repeatCount <= total - index else {
                throw InflateError.invalidCodeLengths(offset: blockStart, reason: "a repeat runs past the \(total) declared lengths")
            }
            for _ in 0..<repeatCount {
                lengths[index] = value
                index += 1
            }
        }
        if reader.isOverrun { throw InflateError.truncated(offset: reader.inputCount) }
        guard lengths[256] != 0 else {
            throw InflateError.invalidCodeLengths(offset: blockStart, reason: "no code for end-of-block")
        }
        do {
            literalBits = try Self.buildTable(lengths, count: literalCount, into: literalTable, allowIncomplete: true)
        } catch let reason as TableProblem {
            throw InflateError.invalidCodeLengths(offset: blockStart, reason: "literal/length code: \(reason.text)")
        }
        do {
            distanceBits = try Self.buildTable(lengths + literalCount, count: distanceCount, into: distanceTable,
                                               allowIncomplete: true)
        } catch let reason as TableProblem {
            throw InflateError.invalidCodeLengths(offset: blockStart, reason: "distance code: \(reason.text)")
        }
    }

    private struct TableProblem: Error {
        let text: String
    }

    /// Builds a single-level lookup table indexed by the next `maxLength` input bits
    /// (least significant first). Entry = `symbol << 4 | length`; 0 marks an unused code.
    ///
    /// Follows zlib's rules: over-subscribed sets are refused; incomplete sets only for
    /// literal/length and distance codes (`allowIncomplete`) made of a single one-bit
    /// code; a set with no code at all yields a table whose every use fails.
    private static func buildTable(_ lengths: UnsafePointer<UInt8>, count: Int, into table: UnsafeMutablePointer<UInt32>,
                                   allowIncomplete: Bool) throws -> Int {
        var lengthCounts = [Int](repeating: 0, count: 16)
        for i in 0..<count { lengthCounts[Int(lengths[i])] += 1 }
        var maxLength = 15
        while maxLength > 0 && lengthCounts[maxLength] == 0 { maxLength -= 1 }
        if maxLength == 0 {
            table[0] = 0
            table[1] = 0
            return 1
        }
        var left = 1
        for length in 1...15 {
            left <<= 1
            left -= lengthCounts[length]
            if left < 0 { throw TableProblem(text: "over-subscribed") }
        }
        if left > 0 && (!allowIncomplete || maxLength != 1) { throw TableProblem(text: "incomplete") }
        let size = 1 << maxLength
        if left > 0 { table.update(repeating: 0, count: size) }
        var nextCode = [Int](repeating: 0, count: 16)
        var code = 0
        lengthCounts[0] = 0
        for length in 1...15 {
            code = (code + lengthCounts[length - 1]) << 1
            nextCode[length] = code
        }
        for symbol in 0..<count {
            let length = Int(lengths[symbol])
            guard length > 0 else { continue }
            let assigned = nextCode[length]
            nextCode[length] += 1
            var reversed = 0
            var bits = assigned
            for _ in 0..<length {
                reversed = (reversed << 1) | (bits & 1)
                bits >>= 1
            }
            let entry = UInt32(truncatingIfNeeded: symbol << 4 | length)
            var slot = reversed
            let step = 1 << length
            while slot < size {
                table[slot] = entry
                slot += step
            }
        }
        return maxLength
    }

    private enum Tables {
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
}

/// Convenience entry points for whole buffers.
public enum Inflate {
    /// Decodes a complete raw DEFLATE stream into a new array of at most `maximumOutput` bytes.
    ///
    /// - Throws: ``InflateError`` for malformed input; ``InflateLimitError`` when the
    ///   stream would produce more than `maximumOutput` bytes.
    public static func decompress(_ input: [UInt8], maximumOutput: Int) throws -> [UInt8] {
        let capacity = max(0, min(maximumOutput, Int.max - 1)) + 1
        var output = [UInt8](repeating: 0, count: capacity)
        let inflater = Inflater()
        let result = try input.withUnsafeBytes { source in
            try output.withUnsafeMutableBytes { try inflater.inflate(source, into: $0) }
        }
        guard result.bytesWritten <= maximumOutput, result.finished else {
            throw InflateLimitError(limit: maximumOutput)
        }
        output.removeSubrange(result.bytesWritten...)
        return output
    }
}

/// A whole-buffer decode would produce more than the caller allowed.
public struct InflateLimitError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The most bytes the caller allowed.
    public var limit: Int
    /// A sentence a person can act on.
    public var description: String { "deflate: the data decompresses to more than \(limit) bytes" }
}

/// LSB-first bit reader over a byte buffer. Past the end it supplies zero bits and
/// counts them, so callers can tell a real end of input from a short read.
struct BitReader {
    let base: UnsafePointer<UInt8>?
    let inputCount: Int
    var position = 0
    var buffer: UInt64 = 0
    var bits = 0
    var phantomBits = 0

    init(_ input: UnsafeRawBufferPointer) {
        base = input.baseAddress?.assumingMemoryBound(to: UInt8.self)
        inputCount = input.count
    }

    /// Whether bits beyond the end of the input have been consumed.
    @inline(__always) var isOverrun: Bool { bits < phantomBits }

    /// The input byte holding the next unread bit.
    var byteOffset: Int { min(inputCount, (position &* 8 &+ phantomBits &- bits) / 8) }

    /// Tops the buffer up to at least 56 bits.
    @inline(__always) mutating func refill() {
        if position &+ 8 <= inputCount, let base {
            let word = UInt64(littleEndian: UnsafeRawPointer(base + position).loadUnaligned(as: UInt64.self))
            buffer |= word &<< UInt64(bits)
            position &+= (63 &- bits) &>> 3
            bits |= 56
        } else {
            slowRefill()
        }
    }

    private mutating func slowRefill() {
        while bits <= 56 {
            if position < inputCount, let base {
                buffer |= UInt64(base[position]) &<< UInt64(bits)
                position += 1
            } else {
                phantomBits += 8
            }
            bits += 8
        }
    }

    @inline(__always) mutating func drop(_ count: Int) {
        buffer = buffer &>> UInt64(count)
        bits &-= count
    }

    /// Takes `count` (≤ 32) bits; the buffer must hold them (call `refill` first).
    @inline(__always) mutating func take(_ count: Int) -> UInt64 {
        let value = buffer & ((1 &<< UInt64(count)) &- 1)
        drop(count)
        return value
    }

    /// Returns whole buffered bytes to the input (the reader must be byte-aligned).
    mutating func rewindToByte() {
        position -= (bits - phantomBits) / 8
        buffer = 0
        bits = 0
        phantomBits = 0
    }

    func result(written: Int, finished: Bool) -> InflateResult {
        let consumedBits = position * 8 + phantomBits - bits
        return InflateResult(bytesWritten: written, bytesRead: min(inputCount, (consumedBits + 7) / 8), finished: finished)
    }
}
