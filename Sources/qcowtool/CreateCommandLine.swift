import ByteStreams
import QCOW2

/// qemu-img's spelling of create options: `-o name=value,…` lists, size suffixes and the
/// `Formatting '…', fmt=qcow2 …` line, so `qcowtool create` reads and prints what
/// `qemu-img create -f qcow2` does.
struct QCOW2CreateCommandLine: Sendable, Equatable {
    /// The options understood so far.
    private(set) var options = QCOW2CreateOptions()
    /// The value of each option exactly as given (qemu echoes booleans and `compat` verbatim).
    private var given: [String: String] = [:]
    /// The size exactly as given, in bytes (before rounding to 512).
    private var sizeText: UInt64?

    /// An empty command line: qemu-img's defaults.
    init() {}

    /// The names `-o` accepts, in the order qemu-img prints them.
    static let optionNames = [
        "cluster_size", "extended_l2", "preallocation", "compression_type", "size", "compat",
        "backing_file", "backing_fmt", "lazy_refcounts", "refcount_bits",
    ]

    /// Applies one `-o` argument: `name=value` pairs separated by commas (`,,` is a literal comma).
    mutating func apply(optionList text: String) throws(QCOW2CreateError) {
        var items: [String] = []
        var current = ""
        var chars = Array(text)
        var i = 0
        while i < chars.count {
            if chars[i] == "," {
                if i + 1 < chars.count && chars[i + 1] == "," { current.append(","); i += 2; continue }
                items.append(current)
                current = ""
            } else {
                current.append(chars[i])
            }
            i += 1
        }
        items.append(current)
        chars = []
        for item in items where !item.isEmpty {
            guard let eq = item.firstIndex(of: "=") else {
                throw .invalidOption(name: item, value: "", reason: "expected name=value")
            }
            try set(String(item[..<eq]), String(item[item.index(after: eq)...]))
        }
    }

    /// Sets one option by its qemu-img name.
    mutating func set(_ name: String, _ value: String) throws(QCOW2CreateError) {
        switch name {
        case "size":
            let bytes = try Self.parseSize(value, name: name)
            sizeText = bytes
            options.virtualSize = bytes
        case "compat":
            switch value {
            case "0.10", "v2": options.compat = .v0_10
            case "1.1", "v3": options.compat = .v1_1
            default: throw .invalidOption(name: name, value: value, reason: "use 0.10 or 1.1")
            }
        case "cluster_size":
            options.clusterSize = try Self.parseSize(value, name: name)
        case "refcount_bits":
            guard let bits = UInt64(value) else { throw .invalidOption(name: name, value: value, reason: "not a number") }
            options.refcountBits = bits
        case "lazy_refcounts":
            options.lazyRefcounts = try Self.parseBool(value, name: name)
        case "extended_l2":
            options.extendedL2 = try Self.parseBool(value, name: name)
        case "compression_type":
            guard let type = QCOW2CreateOptions.CompressionType(rawValue: value) else {
                throw .invalidOption(name: name, value: value, reason: "use zlib or zstd")
            }
            options.compressionType = type
        case "backing_file":
            options.backingFile = value
        case "backing_fmt":
            guard let format = QCOW2CreateOptions.BackingFormat(rawValue: value) else {
                throw .invalidOption(name: name, value: value, reason: "only raw and qcow2 backing files are supported")
            }
            options.backingFormat = format
        case "preallocation":
            guard let mode = QCOW2CreateOptions.Preallocation(rawValue: value) else {
                throw .invalidOption(name: name, value: value, reason: "use off or metadata")
            }
            options.preallocation = mode
        default:
            throw .invalidOption(name: name, value: value, reason: "unknown option; known: \(Self.optionNames.joined(separator: ", "))")
        }
        given[name] = value
    }

    /// Sets the positional SIZE argument (same syntax as `size=`).
    mutating func setSize(_ text: String) throws(QCOW2CreateError) {
        try set("size", text)
    }

    /// Records the size taken from the backing file, so ``formattingLine(file:)`` shows it as qemu does.
    mutating func noteResolvedSize(_ size: UInt64) {
        if sizeText == nil { sizeText = size }
    }

    /// Copies the write-side switches that qemu-img has no `-o` names for.
    mutating func setWriteOptions(allowUnsafeBackingName: Bool, overwrite: Bool, sync: Bool) {
        options.allowUnsafeBackingName = allowUnsafeBackingName
        options.overwrite = overwrite
        options.sync = sync
    }

    /// `Formatting 'FILE', fmt=qcow2 …` exactly as qemu-img 7.2 prints it: options with a
    /// default always, the others only when given, in qemu's order.
    func formattingLine(file: String) -> String {
        var parts = ["fmt=qcow2"]
        parts.append("cluster_size=\(options.clusterSize)")
        parts.append("extended_l2=\(given["extended_l2"] ?? "off")")
        if let value = given["preallocation"] { parts.append("preallocation=\(value)") }
        parts.append("compression_type=\(given["compression_type"] ?? "zlib")")
        if let sizeText { parts.append("size=\(sizeText)") }
        if let value = given["compat"] { parts.append("compat=\(value)") }
        if let value = options.backingFile { parts.append("backing_file=\(value)") }
        if let value = options.backingFormat { parts.append("backing_fmt=\(value.rawValue)") }
        parts.append("lazy_refcounts=\(given["lazy_refcounts"] ?? "off")")
        parts.append("refcount_bits=\(options.refcountBits)")
        return "Formatting '\(TerminalText.escaping(file))', " + TerminalText.escaping(parts.joined(separator: " "))
    }

    /// qemu's boolean spellings.
    static func parseBool(_ text: String, name: String) throws(QCOW2CreateError) -> Bool {
        switch text {
        case "on", "yes", "true", "y": return true
        case "off", "no", "false", "n": return false
        default: throw .invalidOption(name: name, value: text, reason: "use on or off")
        }
    }

    /// qemu's sizes: a number (decimal fractions allowed with a unit) and an optional unit
    /// B/b (bytes), K/k, M/m, G/g, T/t, P/p, E/e (powers of 1024).
    static func parseSize(_ text: String, name: String = "size") throws(QCOW2CreateError) -> UInt64 {
        var digits = Substring(text)
        var multiplier: UInt64 = 1
        if let last = digits.last, last.isLetter {
            switch last {
            case "B", "b": multiplier = 1
            case "K", "k": multiplier = 1 << 10
            case "M", "m": multiplier = 1 << 20
            case "G", "g": multiplier = 1 << 30
            case "T", "t": multiplier = 1 << 40
            case "P", "p": multiplier = 1 << 50
            case "E", "e": multiplier = 1 << 60
            default: throw .invalidOption(name: name, value: text, reason: "unknown unit '\(TerminalText.escaping(String(last)))'; use K, M, G, T, P or E")
            }
            digits = digits.dropLast()
        }
        let pieces = digits.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard let whole = pieces.first, !whole.isEmpty, whole.allSatisfy({ $0.isASCII && $0.isNumber }),
              let integer = UInt64(whole) else {
            throw .invalidOption(name: name, value: text, reason: "not a size; use a number with an optional K, M, G, T, P or E suffix")
        }
        let (product, overflow) = integer.multipliedReportingOverflow(by: multiplier)
        guard !overflow, product <= UInt64(Int64.max) else {
            throw .invalidOption(name: name, value: text, reason: "too large")
        }
        var result = product
        if pieces.count == 2 {
            let fraction = pieces[1]
            guard !fraction.isEmpty, fraction.count <= 18, fraction.allSatisfy({ $0.isASCII && $0.isNumber }), let numerator = UInt64(fraction) else {
                throw .invalidOption(name: name, value: text, reason: "not a size")
            }
            if numerator != 0 {
                guard multiplier > 1 else { throw .invalidOption(name: name, value: text, reason: "fractional bytes") }
                var denominator: UInt64 = 1
                for _ in 0..<fraction.count { denominator *= 10 }
                // multiplier * numerator / denominator without overflow: multiplier is a power of two <= 2^60.
                let part = (multiplier.multipliedFullWidth(by: numerator))
                let (q, _) = denominator.dividingFullWidth(part)
                let (sum, o) = result.addingReportingOverflow(q)
                guard !o, sum <= UInt64(Int64.max) else { throw .invalidOption(name: name, value: text, reason: "too large") }
                result = sum
            }
        }
        return result
    }
}
