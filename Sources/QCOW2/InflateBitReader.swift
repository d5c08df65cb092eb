/// LSB-first bit reader over a byte buffer, as DEFLATE packs bits. Past the end it supplies
/// zero bits and counts them, so callers can tell a real end of input from a short read.
///
/// The buffer may hold more input bits above `bits` than it counts (a whole word is loaded at
/// a time); they are the real next input bits, so loading them again changes nothing.
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

    /// The last input position at which ``refillFast()`` may be called (−1: never).
    var fastRefillLimit: Int { base == nil ? -1 : inputCount &- 8 }

    /// Tops the buffer up to at least 56 bits.
    @inline(__always) mutating func refill() {
        if position &+ 8 <= inputCount, base != nil {
            refillFast()
        } else {
            slowRefill()
        }
    }

    /// Tops the buffer up to at least 56 bits with one 8-byte load; `position` must be at most
    /// ``fastRefillLimit`` (and no phantom bits are pending).
    @inline(__always) mutating func refillFast() {
        let word = UInt64(littleEndian: UnsafeRawPointer(base.unsafelyUnwrapped + position).loadUnaligned(as: UInt64.self))
        buffer |= word &<< UInt64(truncatingIfNeeded: bits)
        position &+= (63 &- bits) &>> 3
        bits |= 56
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
        buffer = buffer &>> UInt64(truncatingIfNeeded: count)
        bits &-= count
    }

    @inline(__always) mutating func drop(_ count: UInt64) {
        buffer = buffer &>> count
        bits &-= Int(truncatingIfNeeded: count)
    }

    /// Takes `count` (≤ 32) bits; the buffer must hold them (call `refill` first).
    @inline(__always) mutating func take(_ count: Int) -> UInt64 {
        let value = buffer & ((1 &<< UInt64(truncatingIfNeeded: count)) &- 1)
        drop(count)
        return value
    }

    /// Takes `count` (≤ 32) bits; the buffer must hold them.
    @inline(__always) mutating func take(_ count: UInt64) -> UInt64 {
        let value = buffer & ((1 &<< count) &- 1)
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
