import QCOW2

/// A cap on the work of `ImageCheck.run` per fuzz input. The check visits every L2 entry of
/// every table the active and snapshot L1 tables name, as `qemu-img check` does: a 700 KB
/// file whose snapshots share big L1 tables makes it walk hundreds of millions of entries,
/// about a second for qemu-img and for a release build of ours, but minutes under the
/// fuzzer's instrumentation. Such inputs are the resource tests' business (issue 12 item 4),
/// not the fuzzer's: past the cap the check is skipped, so one input cannot take seconds.
public enum CheckBudget {
    /// The most L2 entries a check may visit per input.
    public static let maximumL2Entries: UInt64 = 1 << 22

    /// Whether checking `image` stays within ``maximumL2Entries`` (also when its snapshot
    /// table cannot be read: then the check fails early, as the table is parsed first).
    public static func allowsCheck(of image: QCOW2Image) -> Bool {
        let header = image.header
        var l1Entries = UInt64(header.l1Size)
        if header.snapshotCount > 0, let table = try? image.snapshotTable() {
            for snapshot in table.snapshots { l1Entries += UInt64(snapshot.l1Size) }
        }
        let l2Entries = UInt64(header.clusterSize / (header.hasExtendedL2 ? 16 : 8))
        let (visits, overflow) = l1Entries.multipliedReportingOverflow(by: l2Entries)
        return !overflow && visits <= maximumL2Entries
    }
}
