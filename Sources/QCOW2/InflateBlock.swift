/// The Huffman-coded block loop of ``Inflater``.
///
/// Two paths share one set of tables. The fast path runs while the input has at least 8 bytes
/// left to load and the output has room for the longest match plus a word of slack: then each
/// step refills the 64-bit bit buffer once with one 8-byte load (at least 56 bits, enough for a
/// length code, its extra bits, a distance code and its extra bits: 15 + 5 + 15 + 13 = 48), and
/// copies matches 8 bytes at a time with no per-byte bounds checks. Near either end the careful
/// path decodes one symbol at a time, checking input exhaustion and output room for each.
/// Both validate every symbol and every distance.
extension Inflater {
    /// Bytes the fast path needs free in the output: the longest match (258) rounded up to
    /// whole 8-byte words.
    private static let fastOutputSlack = 264

    /// The entry a root entry `link` that names a subtable leads to (the root bits already
    /// dropped): the one two-level lookup rule of the tables ``HuffmanTableBuilder`` makes.
    @inline(__always)
    private static func subtableEntry(_ table: UnsafePointer<UInt32>, link: UInt32, _ r: BitReader) -> UInt32 {
        table[HuffmanEntry.value(link) &+ Int(truncatingIfNeeded: r.buffer & ((1 &<< HuffmanEntry.extraBits(link)) &- 1))]
    }

    /// The entry of the next code in `table`: the root entry, or when it names a subtable, the
    /// subtable's (dropping the root bits).
    @inline(__always)
    private static func entry(_ table: UnsafePointer<UInt32>, mask: UInt64, _ r: inout BitReader) -> UInt32 {
        let root = table[Int(truncatingIfNeeded: r.buffer & mask)]
        guard root & HuffmanEntry.subtable != 0 else { return root }
        r.drop(HuffmanEntry.consumed(root))
        return subtableEntry(table, link: root, r)
    }

    /// Decodes one Huffman-coded block. Returns `true` when the output filled up before the
    /// end-of-block code.
    func decodeBlock(_ reader: inout BitReader, literals: UnsafePointer<UInt32>, distances: UnsafePointer<UInt32>,
                     out: UnsafeMutablePointer<UInt8>, capacity: Int, written: inout Int) throws(InflateError) -> Bool {
        var r = reader
        var w = written
        defer {
            reader = r
            written = w
        }
        let literalMask: UInt64 = (1 << UInt64(HuffmanTableBuilder.literalLengthRootBits)) - 1
        let distanceMask: UInt64 = (1 << UInt64(HuffmanTableBuilder.distanceRootBits)) - 1
        let fastInputLimit = r.fastRefillLimit
        let fastOutputLimit = capacity &- Self.fastOutputSlack
        while true {
            if r.position <= fastInputLimit && w <= fastOutputLimit {
                // Fast path: no phantom bits can be pending (the input is not exhausted).
                r.refillFast()
                let symbolPosition = r.position
                let symbolBits = r.bits
                var entry = literals[Int(truncatingIfNeeded: r.buffer & literalMask)]
                if entry & HuffmanEntry.literal != 0 {
                    r.drop(HuffmanEntry.consumed(entry))
                    out[w] = UInt8(truncatingIfNeeded: entry &>> 16)
                    w &+= 1
                    // At least 41 bits remain: decode a second symbol when it is a literal.
                    entry = literals[Int(truncatingIfNeeded: r.buffer & literalMask)]
                    if entry & HuffmanEntry.literal != 0 {
                        r.drop(HuffmanEntry.consumed(entry))
                        out[w] = UInt8(truncatingIfNeeded: entry &>> 16)
                        w &+= 1
                    }
                    continue
                }
                if entry & HuffmanEntry.subtable != 0 {
                    r.drop(HuffmanEntry.consumed(entry))
                    entry = Self.subtableEntry(literals, link: entry, r)
                    if entry & HuffmanEntry.literal != 0 {
                        r.drop(HuffmanEntry.consumed(entry))
                        out[w] = UInt8(truncatingIfNeeded: entry &>> 16)
                        w &+= 1
                        continue
                    }
                }
                if entry & (HuffmanEntry.endOfBlock | HuffmanEntry.invalid) != 0 {
                    if entry & HuffmanEntry.invalid != 0 {
                        throw InflateError.invalidSymbol(offset: (symbolPosition &* 8 &- symbolBits) / 8)
                    }
                    r.drop(HuffmanEntry.consumed(entry))
                    return false
                }
                r.drop(HuffmanEntry.consumed(entry))
                let length = HuffmanEntry.value(entry) &+ Int(truncatingIfNeeded: r.take(HuffmanEntry.extraBits(entry)))
                let distanceEntry = Self.entry(distances, mask: distanceMask, &r)
                if distanceEntry & HuffmanEntry.invalid != 0 { throw InflateError.invalidSymbol(offset: r.byteOffset) }
                r.drop(HuffmanEntry.consumed(distanceEntry))
                let distance = HuffmanEntry.value(distanceEntry)
                    &+ Int(truncatingIfNeeded: r.take(HuffmanEntry.extraBits(distanceEntry)))
                guard distance <= w else {
                    throw InflateError.distanceTooFar(offset: (symbolPosition &* 8 &- symbolBits) / 8, distance: distance, available: w)
                }
                Self.copyMatch(out + w, distance: distance, length: length)
                w &+= length
            } else {
                // Careful path: one symbol, every step checked.
                r.refill()
                let symbolOffset = r.byteOffset
                let entry = Self.entry(literals, mask: literalMask, &r)
                if entry & HuffmanEntry.invalid != 0 { throw InflateError.invalidSymbol(offset: symbolOffset) }
                r.drop(HuffmanEntry.consumed(entry))
                if r.isOverrun { throw InflateError.truncated(offset: r.inputCount) }
                if entry & HuffmanEntry.literal != 0 {
                    if w == capacity { return true }
                    out[w] = UInt8(truncatingIfNeeded: entry &>> 16)
                    w += 1
                    continue
                }
                if entry & HuffmanEntry.endOfBlock != 0 { return false }
                var length = HuffmanEntry.value(entry) + Int(r.take(HuffmanEntry.extraBits(entry)))
                let distanceEntry = Self.entry(distances, mask: distanceMask, &r)
                if distanceEntry & HuffmanEntry.invalid != 0 { throw InflateError.invalidSymbol(offset: r.byteOffset) }
                r.drop(HuffmanEntry.consumed(distanceEntry))
                let distance = HuffmanEntry.value(distanceEntry) + Int(r.take(HuffmanEntry.extraBits(distanceEntry)))
                if r.isOverrun { throw InflateError.truncated(offset: r.inputCount) }
                guard distance <= w else {
                    throw InflateError.distanceTooFar(offset: symbolOffset, distance: distance, available: w)
                }
                if w == capacity { return true }
                // A match cut short by the end of the output fills it: report it full, even
                // when the end-of-block code follows.
                let clipped = length > capacity - w
                length = min(length, capacity - w)
                var source = out + (w - distance)
                var target = out + w
                for _ in 0..<length {
                    target.pointee = source.pointee
                    target += 1
                    source += 1
                }
                w += length
                if clipped { return true }
            }
        }
    }

    /// Copies a match of `length` (3…258) bytes from `distance` bytes back to `target`, writing
    /// up to 7 bytes past its end (the caller leaves ``fastOutputSlack`` of room).
    @inline(__always)
    private static func copyMatch(_ target: UnsafeMutablePointer<UInt8>, distance: Int, length: Int) {
        let end = target + length
        var to = UnsafeMutableRawPointer(target)
        var from = UnsafeRawPointer(target - distance)
        if distance >= 8 {
            // Each 8-byte load reads only bytes already final: the source trails by >= 8.
            repeat {
                to.storeBytes(of: from.loadUnaligned(as: UInt64.self), as: UInt64.self)
                to += 8
                from += 8
            } while to < UnsafeMutableRawPointer(end)
        } else if distance == 1 {
            let pattern = UInt64(from.load(as: UInt8.self)) &* 0x0101_0101_0101_0101
            repeat {
                to.storeBytes(of: pattern, as: UInt64.self)
                to += 8
            } while to < UnsafeMutableRawPointer(end)
        } else {
            var byteTarget = target
            var byteSource = target - distance
            repeat {
                byteTarget.pointee = byteSource.pointee
                byteTarget += 1
                byteSource += 1
            } while byteTarget < end
        }
    }
}
