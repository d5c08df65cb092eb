/// The outcome of ``ImageCheck/run(_:)``: the counts `qemu-img check` reports.
public struct CheckResult: Sendable, Equatable {
    /// Clusters whose stored refcount is below the references found, and other metadata errors.
    public var corruptions = 0
    /// Clusters whose stored refcount is above the references found.
    public var leaks = 0
    /// Problems that stopped parts of the check (unreadable refcounts…).
    public var checkErrors = 0
    /// One past the last byte of the last cluster in use (by refcount or reference).
    public var imageEndOffset: UInt64 = 0
    /// Clusters of the virtual disk.
    public var totalClusters: UInt64 = 0
    /// Guest clusters with a host cluster (active image only).
    public var allocatedClusters: UInt64 = 0
    /// Allocated guest clusters not stored right after the previous one.
    public var fragmentedClusters: UInt64 = 0
    /// Compressed guest clusters.
    public var compressedClusters: UInt64 = 0
    /// One line per finding, worded like qemu-img's.
    public var messages: [String] = []

    /// An empty result.
    public init() {}

    /// `qemu-img check`'s exit status: 1 not completed, 2 corruptions, 3 leaks, 0 clean.
    public var exitCode: Int32 {
        if checkErrors > 0 { return 1 }
        if corruptions > 0 { return 2 }
        if leaks > 0 { return 3 }
        return 0
    }

    /// The JSON `qemu-img check --output=json` prints (qemu 7.2: same keys, same order,
    /// zero counts left out the same way), without the trailing newline.
    public func json(filename: String) -> String {
        // qemu prints a QDict, whose key order is its hash-bucket order; these are
        // the keys in that order. Counts that are 0 are absent (except check-errors).
        var fields: [(String, String)] = []
        if imageEndOffset != 0 { fields.append(("image-end-offset", "\(imageEndOffset)")) }
        if compressedClusters != 0 { fields.append(("compressed-clusters", "\(compressedClusters)")) }
        if totalClusters != 0 { fields.append(("total-clusters", "\(totalClusters)")) }
        if corruptions != 0 { fields.append(("corruptions", "\(corruptions)")) }
        fields.append(("check-errors", "\(checkErrors)"))
        if leaks != 0 { fields.append(("leaks", "\(leaks)")) }
        if allocatedClusters != 0 { fields.append(("allocated-clusters", "\(allocatedClusters)")) }
        fields.append(("filename", JSONText.quoted(filename)))
        fields.append(("format", "\"qcow2\""))
        if fragmentedClusters != 0 { fields.append(("fragmented-clusters", "\(fragmentedClusters)")) }
        return "{\n" + fields.map { "    \"\($0.0)\": \($0.1)" }.joined(separator: ",\n") + "\n}"
    }

    /// The summary `qemu-img check` prints for people.
    public var humanSummary: String {
        var lines: [String] = []
        if corruptions == 0 && leaks == 0 && checkErrors == 0 {
            lines.append("No errors were found on the image.")
        } else {
            if corruptions > 0 {
                lines.append("")
                lines.append("\(corruptions) errors were found on the image.")
                lines.append("Data may be corrupted, or further writes to the image may corrupt it.")
            }
            if leaks > 0 {
                lines.append("")
                lines.append("\(leaks) leaked clusters were found on the image.")
                lines.append("This means waste of disk space, but no harm to data.")
            }
            if checkErrors > 0 {
                lines.append("")
                lines.append("\(checkErrors) internal errors have occurred during the check.")
            }
        }
        if totalClusters != 0 && allocatedClusters != 0 {
            let total = Double(totalClusters), allocated = Double(allocatedClusters)
            lines.append("\(allocatedClusters)/\(totalClusters) = \(Self.percent(allocated * 100 / total))% allocated, "
                         + "\(Self.percent(Double(fragmentedClusters) * 100 / allocated))% fragmented, "
                         + "\(Self.percent(Double(compressedClusters) * 100 / allocated))% compressed clusters")
        }
        if imageEndOffset != 0 { lines.append("Image end offset: \(imageEndOffset)") }
        return lines.joined(separator: "\n")
    }

    /// `%0.2f` without Foundation.
    static func percent(_ value: Double) -> String {
        let hundredths = Int((value * 100).rounded())
        let fraction = hundredths % 100
        return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)"
    }
}

/// JSON string quoting without Foundation.
enum JSONText {
    static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            default:
                // Like qemu's JSON writer: ASCII printable as is, the rest as \uXXXX (upper-case).
                if scalar.value >= 0x20 && scalar.value < 0x7F {
                    out.unicodeScalars.append(scalar)
                } else if scalar.value > 0xFFFF {
                    let v = scalar.value - 0x10000
                    out += hex4(0xD800 + (v >> 10)) + hex4(0xDC00 + (v & 0x3FF))
                } else {
                    out += hex4(scalar.value)
                }
            }
        }
        return out + "\""
    }

    private static func hex4(_ value: UInt32) -> String {
        let hex = String(value, radix: 16, uppercase: true)
        return "\\u" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
    }
}
