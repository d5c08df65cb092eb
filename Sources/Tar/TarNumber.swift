/// Decoding and encoding of tar's numeric header fields: octal text, or GNU base-256
/// binary when the first byte has its high bit set.
enum TarNumber {
    /// Decodes an unsigned field; `nil` when it is neither valid octal nor non-negative base-256,
    /// or does not fit in 64 bits.
    static func unsigned(_ field: UnsafeRawBufferPointer) -> UInt64? {
        guard let first = field.first else { return 0 }
        if first & 0x80 != 0 {
            guard first & 0x40 == 0 else { return nil }  // negative
            return base256Magnitude(field, firstByte: first & 0x3F)
        }
        return octal(field)
    }

    /// Decodes a signed field (only `mtime` may be negative); `nil` when malformed or out of range.
    static func signed(_ field: UnsafeRawBufferPointer) -> Int64? {
        guard let first = field.first else { return 0 }
        if first & 0x80 != 0 {
            if first & 0x40 == 0 {
                guard let magnitude = base256Magnitude(field, firstByte: first & 0x3F) else { return nil }
                return Int64(exactly: magnitude)
            }
            // Negative: two's complement of all bits. Invert, decode the magnitude, negate.
            var value: UInt64 = UInt64(~first & 0x3F)
            for byte in field.dropFirst() {
                guard value >> 56 == 0 else { return nil }
                value = value << 8 | UInt64(~byte)
            }
            // value = -(n) - 1  =>  n = -(value + 1)
            guard value < UInt64(Int64.max) else { return nil }
            return -Int64(value) - 1
        }
        guard let value = octal(field) else { return nil }
        return Int64(exactly: value)
    }

    private static func base256Magnitude(_ field: UnsafeRawBufferPointer, firstByte: UInt8) -> UInt64? {
        var value = UInt64(firstByte)
        for byte in field.dropFirst() {
            guard value >> 56 == 0 else { return nil }
            value = value << 8 | UInt64(byte)
        }
        return value
    }

    /// Octal digits with optional leading spaces (or zeros), ended by NUL, space or the field's end.
    /// An empty or blank field is 0.
    private static func octal(_ field: UnsafeRawBufferPointer) -> UInt64? {
        var index = 0
        let count = field.count
        while index < count, field[index] == 0x20 { index += 1 }
        var value: UInt64 = 0
        while index < count {
            let byte = field[index]
            guard byte >= 0x30, byte <= 0x37 else { break }
            guard value >> 61 == 0 else { return nil }
            value = value << 3 | UInt64(byte - 0x30)
            index += 1
        }
        // Whatever follows the digits must be terminators only.
        while index < count {
            let byte = field[index]
            guard byte == 0 || byte == 0x20 else { return nil }
            index += 1
        }
        return value
    }

    /// Writes `value` into `field` as zero-padded octal followed by a NUL, or returns `false`
    /// when it does not fit in `field.count - 1` digits.
    static func writeOctal(_ value: UInt64, into field: UnsafeMutableRawBufferPointer) -> Bool {
        let digits = field.count - 1
        guard digits > 0, digits >= 22 || value >> (3 * UInt64(digits)) == 0 else { return false }
        var rest = value
        var index = digits - 1
        while index >= 0 {
            field[index] = 0x30 + UInt8(truncatingIfNeeded: rest & 7)
            rest >>= 3
            index -= 1
        }
        field[digits] = 0
        return true
    }

    /// Writes `value` as GNU base-256 (big-endian two's complement, high bit set in byte 0).
    static func writeBase256(_ value: Int64, into field: UnsafeMutableRawBufferPointer) {
        var bits = UInt64(bitPattern: value)
        var index = field.count - 1
        while index > 0 {
            field[index] = UInt8(truncatingIfNeeded: bits)
            bits = value < 0 ? (bits >> 8) | (0xFF << 56) : bits >> 8
            index -= 1
        }
        field[0] = value < 0 ? 0xFF : 0x80
    }

    /// Writes `value` as octal when it fits, else base-256; returns whether octal was used.
    @discardableResult
    static func write(_ value: Int64, into field: UnsafeMutableRawBufferPointer) -> Bool {
        if value >= 0, writeOctal(UInt64(value), into: field) { return true }
        writeBase256(value, into: field)
        return false
    }

    /// Parses an unsigned decimal string (pax values, PAX 1.0 map lines); `nil` when empty,
    /// not all digits, or over 64 bits.
    static func decimal<C: Collection>(_ digits: C) -> UInt64? where C.Element == UInt8 {
        guard !digits.isEmpty else { return nil }
        var value: UInt64 = 0
        for byte in digits {
            guard let next = appendingDecimalDigit(byte, to: value) else { return nil }
            value = next
        }
        return value
    }

    /// `value` with the decimal digit `byte` appended (`value * 10 + digit`); `nil` when `byte`
    /// is not an ASCII digit or the result is over 64 bits. The one step of every decimal parse,
    /// for readers that take digits one at a time (the PAX 1.0 map).
    static func appendingDecimalDigit(_ byte: UInt8, to value: UInt64) -> UInt64? {
        guard byte >= 0x30, byte <= 0x39 else { return nil }
        let (times10, o1) = value.multipliedReportingOverflow(by: 10)
        let (sum, o2) = times10.addingReportingOverflow(UInt64(byte - 0x30))
        guard !o1, !o2 else { return nil }
        return sum
    }

    /// The decimal text of `value` as bytes.
    static func decimalBytes(_ value: UInt64) -> [UInt8] {
        if value == 0 { return [0x30] }
        var digits: [UInt8] = []
        var rest = value
        while rest > 0 {
            digits.append(0x30 + UInt8(rest % 10))
            rest /= 10
        }
        return digits.reversed()
    }

    /// How many decimal digits `value` has.
    static func decimalDigitCount(_ value: UInt64) -> Int {
        var count = 1
        var rest = value / 10
        while rest > 0 {
            count += 1
            rest /= 10
        }
        return count
    }
}
