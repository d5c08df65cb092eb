/// A JSON value printed exactly the way qemu 7.2 prints QObjects (`qobject_to_json_pretty`):
/// 4-space indentation, `"key": value`, non-ASCII escaped as `\uXXXX`, and object members
/// in the order qemu's `QDict` hash table iterates them. No Foundation.
public indirect enum QemuJSON: Sendable, Hashable {
    /// A signed integer.
    case int(Int64)
    /// An unsigned integer (printed without a sign).
    case uint(UInt64)
    /// `true` or `false`.
    case bool(Bool)
    /// A string (escaped like qemu on output).
    case string(String)
    /// An array.
    case array([QemuJSON])
    /// An object whose members are listed in insertion order (QAPI field order); printing
    /// reorders them like qemu's `QDict`.
    case object([(String, QemuJSON)])
    /// An object printed in exactly the given member order (for our own additions, such as
    /// the audit, which qemu never prints).
    case orderedObject([(String, QemuJSON)])

    /// Two values are equal when they print the same.
    public static func == (lhs: QemuJSON, rhs: QemuJSON) -> Bool { lhs.rendered() == rhs.rendered() }
    /// Hashes the printed form.
    public func hash(into hasher: inout Hasher) { hasher.combine(rendered()) }

    /// The member named `key` of an object.
    public subscript(key: String) -> QemuJSON? {
        switch self {
        case let .object(members), let .orderedObject(members): return members.first(where: { $0.0 == key })?.1
        default: return nil
        }
    }

    /// Pretty-printed as qemu-img prints it (no trailing newline).
    public func rendered(pretty: Bool = true) -> String {
        var out = ""
        write(to: &out, pretty: pretty, indent: 0)
        return out
    }

    /// The members of `members` in qemu's `QDict` iteration order: by bucket
    /// (`tdb_hash(key) % 512`), and within a bucket the last inserted first.
    public static func qdictOrder(_ members: [(String, QemuJSON)]) -> [(String, QemuJSON)] {
        guard members.count > 1 else { return members }
        // One integer per member sorts as (bucket ascending, insertion index descending).
        var keys = [UInt64]()
        keys.reserveCapacity(members.count)
        for (index, member) in members.enumerated() {
            keys.append(UInt64(qdictBucket(member.0)) << 32 | UInt64(UInt32.max - UInt32(truncatingIfNeeded: index)))
        }
        keys.sort()
        return keys.map { members[Int(UInt32.max - UInt32(truncatingIfNeeded: $0))] }
    }

    /// qemu's `tdb_hash(key) % QDICT_BUCKET_MAX`.
    static func qdictBucket(_ key: String) -> UInt32 {
        let utf8 = key.utf8
        var value: UInt32 = 0x238F_13AF &* UInt32(truncatingIfNeeded: utf8.count)
        var shift: UInt32 = 0
        for byte in utf8 {
            value = value &+ (UInt32(byte) << shift)
            shift = shift >= 19 ? shift - 19 : shift + 5  // (i * 5) % 24
        }
        return (1_103_515_243 &* value &+ 12345) % 512
    }

    private func newline(_ out: inout String, _ pretty: Bool, _ indent: Int) {
        guard pretty else { return }
        out += "\n"
        for _ in 0..<indent { out += "    " }
    }

    private func write(to out: inout String, pretty: Bool, indent: Int) {
        switch self {
        case let .int(value): out += String(value)
        case let .uint(value): out += String(value)
        case let .bool(value): out += value ? "true" : "false"
        case let .string(value): Self.quote(value, into: &out)
        case let .array(items):
            out += "["
            for (n, item) in items.enumerated() {
                if n > 0 { out += pretty ? "," : ", " }
                newline(&out, pretty, indent + 1)
                item.write(to: &out, pretty: pretty, indent: indent + 1)
            }
            newline(&out, pretty, indent)
            out += "]"
        case let .object(members), let .orderedObject(members):
            out += "{"
            let ordered: [(String, QemuJSON)]
            if case .object = self { ordered = Self.qdictOrder(members) } else { ordered = members }
            for (n, (key, value)) in ordered.enumerated() {
                if n > 0 { out += pretty ? "," : ", " }
                newline(&out, pretty, indent + 1)
                Self.quote(key, into: &out)
                out += ": "
                value.write(to: &out, pretty: pretty, indent: indent + 1)
            }
            newline(&out, pretty, indent)
            out += "}"
        }
    }

    /// qemu's string quoting: `\" \\ \b \f \n \r \t`, other control characters and all
    /// non-ASCII as `\uXXXX` (upper-case hex, surrogate pairs beyond the BMP).
    static func quote(_ text: String, into out: inout String) {
        // Fast path: printable ASCII without quote or backslash is copied as is.
        if text.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F && $0 != 0x22 && $0 != 0x5C }) {
            out += "\""
            out += text
            out += "\""
            return
        }
        out += "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                let v = scalar.value
                if v > 0xFFFF {
                    appendEscape(0xD800 + ((v - 0x10000) >> 10), to: &out)
                    appendEscape(0xDC00 + ((v - 0x10000) & 0x3FF), to: &out)
                } else if v < 0x20 || v >= 0x7F {
                    appendEscape(v, to: &out)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out += "\""
    }

    /// Appends `\uXXXX` (upper-case hex) for a UTF-16 code unit.
    private static func appendEscape(_ unit: UInt32, to out: inout String) {
        out += "\\u"
        for shift in stride(from: 12, through: 0, by: -4) {
            let digit = UInt8(truncatingIfNeeded: unit >> UInt32(shift)) & 0xF
            out.unicodeScalars.append(Unicode.Scalar(digit < 10 ? 0x30 + digit : 0x37 + digit))
        }
    }
}

extension QemuJSON {
    /// A stored C string as qemu turns it into JSON text: the bytes before the first NUL,
    /// decoded like qemu's `mod_utf8_codepoint` (modified UTF-8: `C0 80` is U+0000; bad,
    /// overlong, surrogate or noncharacter sequences each become U+FFFD, consuming the
    /// bytes qemu consumes).
    public static func cString(_ bytes: [UInt8]) -> String {
        let minimum: [UInt32] = [0x80, 0x800, 0x10000, 0x200000, 0x4000000]
        var scalars = String.UnicodeScalarView()
        var i = 0
        let n = bytes.firstIndex(of: 0) ?? bytes.count
        while i < n {
            let lead = UInt32(bytes[i])
            i += 1
            var cp: UInt32? = nil
            if lead < 0x80 {
                cp = lead
            } else if lead >= 0xFE || lead & 0x40 == 0 {
                cp = nil
            } else {
                var length = 0
                var mask: UInt32 = 0x80
                while lead & mask != 0 { length += 1; mask >>= 1 }
                var value = lead & (mask - 1)
                var ok = true
                for _ in 1..<length {
                    let byte = i < n ? UInt32(bytes[i]) : 0
                    if byte & 0xC0 != 0x80 { ok = false; break }
                    i += 1
                    value = value << 6 | (byte & 0x3F)
                }
                if ok {
                    if value > 0x10FFFF || (0xFDD0...0xFDEF).contains(value) || value & 0xFFFE == 0xFFFE
                        || (0xD800...0xDFFF).contains(value)
                        || (value < minimum[length - 2] && !(value == 0 && length == 2)) {
                        ok = false
                    }
                }
                cp = ok ? value : nil
            }
            scalars.append(cp.flatMap(Unicode.Scalar.init) ?? "\u{FFFD}")
        }
        return String(scalars)
    }
}
