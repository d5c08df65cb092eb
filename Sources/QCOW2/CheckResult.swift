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
    /// One line per finding, worded like qemu-img's: kept only by ``ImageCheck/run(_:)``
    /// (``ImageCheck/run(_:report:)`` hands them over as found instead).
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
        jsonValue(filename: filename).rendered()
    }

    /// The `ImageCheck` QAPI object, members in QAPI order (``QemuJSON`` prints them in
    /// qemu's `QDict` order); counts that are 0 are absent, except `check-errors`.
    public func jsonValue(filename: String) -> QemuJSON {
        var members: [(String, QemuJSON)] = [
            ("filename", .string(filename)),
            ("format", .string("qcow2")),
            ("check-errors", .int(Int64(checkErrors))),
        ]
        func optional(_ key: String, _ value: UInt64) {
            if value != 0 { members.append((key, .uint(value))) }
        }
        optional("image-end-offset", imageEndOffset)
        optional("corruptions", UInt64(corruptions))
        optional("leaks", UInt64(leaks))
        optional("total-clusters", totalClusters)
        optional("allocated-clusters", allocatedClusters)
        optional("fragmented-clusters", fragmentedClusters)
        optional("compressed-clusters", compressedClusters)
        return .object(members)
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

    /// `%0.2f` without Foundation: like printf, an exact half rounds to even (53.125 → 53.12).
    static func percent(_ value: Double) -> String {
        let hundredths = Int((value * 100).rounded(.toNearestOrEven))
        let fraction = hundredths % 100
        return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)"
    }
}
