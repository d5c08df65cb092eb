/// Text taken from untrusted input (a file name inside an archive, a backing-file name, a JSON
/// key, a snapshot name…) made safe to put in a human message or on a terminal.
///
/// Valid UTF-8 passes through, except the code points a terminal acts on: C0 controls
/// (U+0000–U+001F, TAB aside), DEL (U+007F) and C1 controls (U+0080–U+009F). Those, and every
/// byte that is not valid UTF-8, are shown escaped, so an ESC sequence cannot hide or rewrite
/// what is printed around it and an LF or CR cannot forge a second line. A backslash is shown
/// doubled, so an escape in the output always means a byte the input really held.
///
/// | input | shown as |
/// |---|---|
/// | LF, CR | `\n`, `\r` |
/// | other C0, DEL, an invalid UTF-8 byte | `\xNN` (two lowercase hex digits) |
/// | C1 control | `\u{NN}` |
/// | a ``PathText`` stand-in for a file-name byte that is not UTF-8 | `\xNN` (the byte) |
/// | `\` | `\\` |
///
/// Every human output path and every error `description` that shows input-derived text uses
/// this one function; JSON output escapes as JSON does instead.
public enum TerminalText {
    /// `bytes`, decoded as UTF-8, with control characters and invalid bytes escaped.
    public static func escaping<Bytes: Collection>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        let input = Array(bytes)
        var out = ""
        out.reserveCapacity(input.count)
        var index = 0
        while index < input.count {
            if let (scalar, width) = scalar(in: input, at: index) {
                append(scalar, to: &out)
                index += width
            } else {
                appendByte(input[index], to: &out)
                index += 1
            }
        }
        return out
    }

    /// The UTF-8 scalar starting at `index` and its width, or `nil` when the bytes there are
    /// not a well-formed sequence (stray continuation byte, overlong form, surrogate, past
    /// U+10FFFF, cut short).
    private static func scalar(in bytes: [UInt8], at index: Int) -> (Unicode.Scalar, Int)? {
        let lead = bytes[index]
        let width: Int
        let smallest: UInt32
        var value: UInt32
        switch lead {
        case 0x00...0x7F: return (Unicode.Scalar(lead), 1)
        case 0xC2...0xDF: width = 2; smallest = 0x80; value = UInt32(lead & 0x1F)
        case 0xE0...0xEF: width = 3; smallest = 0x800; value = UInt32(lead & 0x0F)
        case 0xF0...0xF4: width = 4; smallest = 0x10000; value = UInt32(lead & 0x07)
        default: return nil
        }
        guard bytes.count - index >= width else { return nil }
        for offset in 1..<width {
            let byte = bytes[index + offset]
            guard byte & 0xC0 == 0x80 else { return nil }
            value = value << 6 | UInt32(byte & 0x3F)
        }
        guard value >= smallest, let scalar = Unicode.Scalar(value) else { return nil }
        return (scalar, width)
    }

    /// `text` with its control characters escaped (see ``TerminalText``).
    public static func escaping(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars { append(scalar, to: &out) }
        return out
    }

    /// `bytes` escaped and put between single quotes (a `'` inside is shown as `\'`);
    /// at most `limit` bytes are shown, and `…` marks the rest.
    public static func quoted<Bytes: Collection>(_ bytes: Bytes, limit: Int = 256) -> String where Bytes.Element == UInt8 {
        let shown = escaping(bytes.prefix(max(0, limit))).replacingQuotes()
        return "'" + shown + (bytes.count > limit ? "…'" : "'")
    }

    /// `text` escaped and put between single quotes (see ``quoted(_:limit:)-(Bytes,_)``).
    public static func quoted(_ text: String, limit: Int = 256) -> String {
        quoted(Array(text.utf8), limit: limit)
    }

    /// Whether `scalar` must be shown escaped.
    public static func mustEscape(_ scalar: Unicode.Scalar) -> Bool {
        let value = scalar.value
        return (value < 0x20 && value != 0x09) || value == 0x7F || (0x80...0x9F).contains(value)
            || value == 0x5C || PathText.standsForByte(scalar)
    }

    private static func append(_ scalar: Unicode.Scalar, to out: inout String) {
        guard mustEscape(scalar) else {
            out.unicodeScalars.append(scalar)
            return
        }
        switch scalar.value {
        case 0x0A: out += "\\n"
        case 0x0D: out += "\\r"
        case 0x5C: out += "\\\\"
        case 0x80...0x9F: out += "\\u{" + hex(UInt8(scalar.value)) + "}"
        case _ where PathText.standsForByte(scalar): appendByte(UInt8(truncatingIfNeeded: scalar.value - PathText.base), to: &out)
        default: appendByte(UInt8(scalar.value), to: &out)
        }
    }

    private static func appendByte(_ byte: UInt8, to out: inout String) {
        out += "\\x" + hex(byte)
    }

    private static func hex(_ byte: UInt8) -> String {
        let digits = Array("0123456789abcdef".unicodeScalars)
        var text = ""
        text.unicodeScalars.append(digits[Int(byte >> 4)])
        text.unicodeScalars.append(digits[Int(byte & 0x0F)])
        return text
    }
}

extension String {
    fileprivate func replacingQuotes() -> String {
        var out = ""
        out.reserveCapacity(utf8.count)
        for scalar in unicodeScalars {
            if scalar == "'" { out += "\\'" } else { out.unicodeScalars.append(scalar) }
        }
        return out
    }
}
