/// What one call of ``Inflater/inflate(_:into:)`` did.
struct InflateResult: Sendable, Equatable {
    /// Bytes written to the front of the output buffer.
    var bytesWritten: Int
    /// Compressed bytes consumed (a partly used last byte counts as consumed).
    var bytesRead: Int
    /// Whether the end of the final block was reached (`false` when decoding stopped
    /// because the output buffer was full).
    var finished: Bool
}

/// A raw DEFLATE (RFC 1951) decoder: no zlib or gzip wrapper, no preset dictionary.
///
/// This is the format of qemu's zlib-compressed qcow2 clusters (`windowBits` −12).
/// Decoding is bounded by the output buffer: it stops as soon as the buffer is full,
/// and bytes after the end of the final block are ignored (qemu rounds compressed
/// clusters up to whole sectors). Every malformed input is an ``InflateError``.
///
/// Huffman codes are decoded through two-level lookup tables (``HuffmanEntry``), with the input
/// read a 64-bit word at a time and matches copied a word at a time; see `InflateBlock.swift`.
/// An `Inflater` owns about 30 KiB of tables and reuses them across calls: keep one per
/// thread of work rather than one per cluster (it is not safe to share between threads).
final class Inflater {
    let literalTable: UnsafeMutablePointer<UInt32>
    let distanceTable: UnsafeMutablePointer<UInt32>
    let fixedLiteralTable: UnsafeMutablePointer<UInt32>
    let fixedDistanceTable: UnsafeMutablePointer<UInt32>
    private let codeLengthTable: UnsafeMutablePointer<UInt32>
    private let lengths: UnsafeMutablePointer<UInt8>
    private let scratch: UnsafeMutablePointer<Int>

    /// A decoder with freshly allocated tables.
    init() {
        literalTable = .allocate(capacity: HuffmanTableBuilder.literalLengthCapacity)
        distanceTable = .allocate(capacity: HuffmanTableBuilder.distanceCapacity)
        fixedLiteralTable = .allocate(capacity: HuffmanTableBuilder.literalLengthCapacity)
        fixedDistanceTable = .allocate(capacity: HuffmanTableBuilder.distanceCapacity)
        codeLengthTable = .allocate(capacity: HuffmanTableBuilder.codeLengthCapacity)
        lengths = .allocate(capacity: 320)
        scratch = .allocate(capacity: HuffmanTableBuilder.scratchCount)
        literalTable.initialize(repeating: HuffmanEntry.invalid, count: HuffmanTableBuilder.literalLengthCapacity)
        distanceTable.initialize(repeating: HuffmanEntry.invalid, count: HuffmanTableBuilder.distanceCapacity)
        fixedLiteralTable.initialize(repeating: HuffmanEntry.invalid, count: HuffmanTableBuilder.literalLengthCapacity)
        fixedDistanceTable.initialize(repeating: HuffmanEntry.invalid, count: HuffmanTableBuilder.distanceCapacity)
        codeLengthTable.initialize(repeating: HuffmanEntry.invalid, count: HuffmanTableBuilder.codeLengthCapacity)
        lengths.initialize(repeating: 0, count: 320)
        scratch.initialize(repeating: 0, count: HuffmanTableBuilder.scratchCount)
        buildFixedTables()
    }

    deinit {
        literalTable.deallocate()
        distanceTable.deallocate()
        fixedLiteralTable.deallocate()
        fixedDistanceTable.deallocate()
        codeLengthTable.deallocate()
        lengths.deallocate()
        scratch.deallocate()
    }

    /// Decodes `input` into `output` until the final block ends or `output` is full.
    ///
    /// - Throws: ``InflateError`` when the stream is malformed, or ends (runs out of
    ///   input) before either of those happens.
    func inflate(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) throws(InflateError) -> InflateResult {
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
            let full: Bool
            switch type {
            case 0:
                full = try copyStored(&reader, out: out, capacity: capacity, written: &written)
            case 1:
                full = try decodeBlock(&reader, literals: fixedLiteralTable, distances: fixedDistanceTable,
                                       out: out, capacity: capacity, written: &written)
            case 2:
                try readDynamicTables(&reader, blockStart: blockStart)
                full = try decodeBlock(&reader, literals: literalTable, distances: distanceTable,
                                       out: out, capacity: capacity, written: &written)
            default:
                throw InflateError.invalidBlockType(offset: blockStart)
            }
            if full { return reader.result(written: written, finished: false) }
        } while !isFinal && written < capacity
        return reader.result(written: written, finished: isFinal)
    }

    // MARK: - Stored blocks

    /// Copies a stored block. Returns `true` when the output filled up inside it.
    private func copyStored(_ reader: inout BitReader, out: UnsafeMutablePointer<UInt8>, capacity: Int,
                            written: inout Int) throws(InflateError) -> Bool {
        reader.drop(reader.bits & 7)
        reader.refill()
        let offset = reader.byteOffset
        let length = Int(reader.take(16))
        let complement = Int(reader.take(16))
        if reader.isOverrun { throw InflateError.truncated(offset: reader.inputCount) }
        guard length == (~complement & 0xFFFF) else {
            throw InflateError.storedLengthMismatch(offset: offset, length: length, complement: complement)
        }
        reader.rewindToByte()
        let wanted = min(length, capacity - written)
        guard reader.inputCount - reader.position >= wanted else { throw InflateError.truncated(offset: reader.inputCount) }
        if wanted > 0, let base = reader.base {
            (out + written).update(from: base + reader.position, count: wanted)
        }
        reader.position += wanted
        written += wanted
        return wanted < length
    }

    // MARK: - Tables

    private func buildFixedTables() {
        for i in 0..<144 { lengths[i] = 8 }
        for i in 144..<256 { lengths[i] = 9 }
        for i in 256..<280 { lengths[i] = 7 }
        for i in 280..<288 { lengths[i] = 8 }
        // The fixed codes are complete, so building cannot fail; a failure would leave
        // tables whose every lookup is invalid, never a wrong decode.
        try? HuffmanTableBuilder.build(
            lengths: lengths, count: 288, templates: HuffmanEntry.literalLengthTemplates,
            rootBits: HuffmanTableBuilder.literalLengthRootBits, into: fixedLiteralTable,
            capacity: HuffmanTableBuilder.literalLengthCapacity, scratch: scratch, allowIncomplete: false)
        for i in 0..<32 { lengths[i] = 5 }
        try? HuffmanTableBuilder.build(
            lengths: lengths, count: 32, templates: HuffmanEntry.distanceTemplates,
            rootBits: HuffmanTableBuilder.distanceRootBits, into: fixedDistanceTable,
            capacity: HuffmanTableBuilder.distanceCapacity, scratch: scratch, allowIncomplete: false)
    }

    private func readDynamicTables(_ reader: inout BitReader, blockStart: Int) throws(InflateError) {
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
            lengths[Int(DeflateConstants.codeLengthOrder[i])] = UInt8(truncatingIfNeeded: reader.take(3))
        }
        if reader.isOverrun { throw InflateError.truncated(offset: reader.inputCount) }
        do {
            try HuffmanTableBuilder.build(
                lengths: lengths, count: 19, templates: HuffmanEntry.codeLengthTemplates,
                rootBits: HuffmanTableBuilder.codeLengthRootBits, into: codeLengthTable,
                capacity: HuffmanTableBuilder.codeLengthCapacity, scratch: scratch, allowIncomplete: false)
        } catch {
            throw InflateError.invalidCodeLengths(offset: blockStart, reason: "code length code: \(error.text)")
        }
        let mask = UInt64((1 << HuffmanTableBuilder.codeLengthRootBits) - 1)
        let total = literalCount + distanceCount
        var index = 0
        while index < total {
            reader.refill()
            let entry = codeLengthTable[Int(truncatingIfNeeded: reader.buffer & mask)]
            if entry & HuffmanEntry.invalid != 0 { throw InflateError.invalidSymbol(offset: reader.byteOffset) }
            reader.drop(HuffmanEntry.consumed(entry))
            let symbol = HuffmanEntry.value(entry)
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
            (lengths + index).update(repeating: value, count: repeatCount)
            index += repeatCount
        }
        if reader.isOverrun { throw InflateError.truncated(offset: reader.inputCount) }
        guard lengths[256] != 0 else {
            throw InflateError.invalidCodeLengths(offset: blockStart, reason: "no code for end-of-block")
        }
        do {
            try HuffmanTableBuilder.build(
                lengths: lengths, count: literalCount, templates: HuffmanEntry.literalLengthTemplates,
                rootBits: HuffmanTableBuilder.literalLengthRootBits, into: literalTable,
                capacity: HuffmanTableBuilder.literalLengthCapacity, scratch: scratch, allowIncomplete: true)
        } catch {
            throw InflateError.invalidCodeLengths(offset: blockStart, reason: "literal/length code: \(error.text)")
        }
        do {
            try HuffmanTableBuilder.build(
                lengths: lengths + literalCount, count: distanceCount, templates: HuffmanEntry.distanceTemplates,
                rootBits: HuffmanTableBuilder.distanceRootBits, into: distanceTable,
                capacity: HuffmanTableBuilder.distanceCapacity, scratch: scratch, allowIncomplete: true)
        } catch {
            throw InflateError.invalidCodeLengths(offset: blockStart, reason: "distance code: \(error.text)")
        }
    }
}

/// Convenience entry points for whole buffers.
enum Inflate {
    /// Decodes a complete raw DEFLATE stream into a new array of at most `maximumOutput` bytes.
    ///
    /// - Throws: ``InflateError`` for malformed input; ``InflateLimitError`` when the
    ///   stream would produce more than `maximumOutput` bytes.
    static func decompress(_ input: [UInt8], maximumOutput: Int) throws -> [UInt8] {
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
struct InflateLimitError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The most bytes the caller allowed.
    var limit: Int
    /// A sentence a person can act on.
    var description: String { "deflate: the data decompresses to more than \(limit) bytes" }
}
