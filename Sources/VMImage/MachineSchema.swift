import ByteStreams

/// Checks a version-1 machine definition against the schema and builds the ``Machine``,
/// collecting every issue rather than stopping at the first.
///
/// The schema is the original's: `version` required and equal to 1; no properties beyond the
/// known ones; string enums; `uuid` and `mac` patterns; integer ranges; `flags` an array whose
/// items must come from an empty enum (so only `[]` passes). `null` is not an unset value.
struct MachineParser {
    /// The most issues listed one by one; more are summed up in a last issue, so a hostile
    /// 1 MiB definition with 100 000 unknown keys cannot make a multi-megabyte error.
    static let maxListedIssues = 200

    /// The issues found so far.
    private(set) var issues: [MachineIssue] = []
    /// Issues found beyond ``maxListedIssues``.
    private var unlisted = 0

    /// The ``Machine`` described by `object`, or `nil` when any issue was found.
    mutating func parseVersion1(_ object: [String: JSONValue]) -> Machine? {
        let before = issues.count
        var machine = Machine()
        if object[MachineField.version.rawValue] == nil {
            issue(MachineField.version.rawValue, "required property is missing")
        }
        for (key, value) in object.sorted(by: { $0.key < $1.key }) {
            guard let field = MachineField(rawValue: key) else {
                issue(jsonPath(key), "additional property is not allowed")
                continue
            }
            switch field {
            case .version:
                if case .integer(let version) = value, version == Int64(Machine.formatVersion) {
                    break
                }
                issue(key, "\(value.excerpt) is not a supported format version (must be 1)")
            case .uuid: machine.uuid = pattern(key, value, "^[0-9a-f]{8}-[0-9a-f]{4}-[1-5][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$", isUUID)
            case .chipset: machine.chipset = option(key, value)
            case .cpu: machine.cpu = option(key, value)
            case .flags: machine.flags = flags(key, value)
            case .threads: machine.threads = integer(key, value, in: 1...255)
            case .cores: machine.cores = integer(key, value, in: 1...255)
            case .sockets: machine.sockets = integer(key, value, in: 1...255)
            case .memory: machine.memory = integer(key, value, in: 1...Int64.max)
            case .usb: machine.usb = option(key, value)
            case .network: machine.network = option(key, value)
            case .mac: machine.mac = pattern(key, value, "^[0-9a-f][26ae](:[0-9a-f]{2}){5}$", isLocalUnicastMAC)
            case .storage: machine.storage = option(key, value)
            case .graphics: machine.graphics = option(key, value)
            case .vgaMemory: machine.vgaMemory = integer(key, value, in: 1...Int64.max)
            case .graphicsRAM: machine.graphicsRAM = integer(key, value, in: 1...Int64.max)
            case .graphicsVRAM: machine.graphicsVRAM = integer(key, value, in: 1...Int64.max)
            case .sound: machine.sound = option(key, value)
            case .keyboard: machine.keyboard = option(key, value)
            case .keyboardLayout: machine.keyboardLayout = option(key, value)
            case .mouse: machine.mouse = option(key, value)
            case .tablet: machine.tablet = option(key, value)
            }
        }
        if unlisted > 0 {
            issues.append(MachineIssue(field: "", message: "and \(unlisted) more issue(s) not listed"))
            unlisted = 0
        }
        return issues.count == before ? machine : nil
    }

    /// Records that `field` breaks a rule.
    mutating func issue(_ field: String, _ message: String) {
        guard issues.count < MachineParser.maxListedIssues else {
            unlisted += 1
            return
        }
        issues.append(MachineIssue(field: field, message: message))
    }

    private mutating func string(_ key: String, _ value: JSONValue) -> String? {
        guard case .string(let text) = value else {
            issue(key, "expected a string, found \(value.typeName)")
            return nil
        }
        return text
    }

    private mutating func option<Option: RawRepresentable & CaseIterable>(
        _ key: String, _ value: JSONValue
    ) -> Option? where Option.RawValue == String {
        guard let text = string(key, value) else { return nil }
        guard let option = Option(rawValue: text) else {
            let allowed = Option.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")
            issue(key, "\(value.excerpt) is not one of \(allowed)")
            return nil
        }
        return option
    }

    private mutating func pattern(
        _ key: String, _ value: JSONValue, _ regex: String, _ matches: (String) -> Bool
    ) -> String? {
        guard let text = string(key, value) else { return nil }
        guard matches(text) else {
            issue(key, "\(value.excerpt) does not match \(regex)")
            return nil
        }
        return text
    }

    private mutating func integer(_ key: String, _ value: JSONValue, in range: ClosedRange<Int64>) -> Int? {
        switch value {
        case .integer(let number):
            if number < range.lowerBound {
                issue(key, "\(number) is less than the minimum \(range.lowerBound)")
                return nil
            }
            if number > range.upperBound {
                issue(key, "\(number) is larger than the maximum \(range.upperBound)")
                return nil
            }
            return Int(exactly: number)
        case .number(let number) where number == number.rounded():
            issue(key, "\(value.excerpt) is outside the 64-bit integer range")
            return nil
        default:
            issue(key, "expected an integer, found \(value.excerpt)")
            return nil
        }
    }

    private mutating func flags(_ key: String, _ value: JSONValue) -> [String]? {
        guard case .array(let items) = value else {
            issue(key, "expected an array, found \(value.typeName)")
            return nil
        }
        var valid = true
        for (index, item) in items.enumerated() {
            let field = "\(key)[\(index)]"
            if case .string = item {
                issue(field, "\(item.excerpt) is not an allowed CPU flag (the format defines none)")
            } else {
                issue(field, "expected a string, found \(item.typeName)")
            }
            valid = false
        }
        return valid ? [] : nil
    }
}

/// `key` as a path component: plain when it is an identifier, JSON-quoted in brackets otherwise,
/// with every character `TerminalText` would escape (C0, DEL, C1) written as `\uNNNN`, so a
/// key cannot put a control character into an error message.
func jsonPath(_ key: String) -> String {
    let isIdentifier = !key.isEmpty && key.utf8.enumerated().allSatisfy { index, byte in
        byte == UInt8(ascii: "_") || (byte | 0x20 >= UInt8(ascii: "a") && byte | 0x20 <= UInt8(ascii: "z"))
            || (index > 0 && byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
    }
    if isIdentifier { return key }
    var quoted = "[\""
    for scalar in key.unicodeScalars.prefix(64) {
        switch scalar {
        case "\"": quoted += "\\\""
        case "\\": quoted += "\\\\"
        case _ where TerminalText.mustEscape(scalar): quoted += "\\u" + String(scalar.value, radix: 16).leftPadded(to: 4)
        default: quoted.unicodeScalars.append(scalar)
        }
    }
    return quoted + (key.unicodeScalars.count > 64 ? "…\"]" : "\"]")
}

extension String {
    /// The string padded on the left with `0` to `width` characters.
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
