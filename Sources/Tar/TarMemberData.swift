/// Where a ``TarReader`` stands in the current member's data: the stored bytes not read yet,
/// the position in the member's data runs (one run for a dense member, the sparse map's runs
/// otherwise) and the padding that follows the data to the next block.
struct TarMemberData {
    private let runs: [SparseExtent]
    private var runIndex = 0
    private var runConsumed: UInt64 = 0
    /// Stored data bytes not read yet.
    private(set) var remaining: UInt64
    /// Zero bytes after the archived data, up to the next 512-byte boundary.
    let padding: UInt64

    /// No member: nothing to read, nothing to skip.
    static let none = TarMemberData(runs: [], stored: 0, archived: 0)

    /// The data of a member storing `stored` bytes in `runs`, out of `archived` bytes after its
    /// header (the map of a PAX 1.0 member is archived but already read).
    init(runs: [SparseExtent], stored: UInt64, archived: UInt64) {
        self.runs = runs
        self.remaining = stored
        self.padding = HeaderLayout.padding(after: archived)
    }

    /// The logical offset and remaining length of the current run, past empty runs; `nil` when
    /// no data is left.
    mutating func currentRun() -> (offset: UInt64, length: UInt64)? {
        guard remaining > 0 else { return nil }
        while runIndex < runs.count {
            let run = runs[runIndex]
            if runConsumed < run.length { return (run.offset + runConsumed, run.length - runConsumed) }
            runIndex += 1
            runConsumed = 0
        }
        return nil
    }

    /// Records that `count` bytes (at most the current run's remaining length) were read.
    mutating func advance(by count: Int) {
        runConsumed += UInt64(count)
        remaining -= UInt64(count)
    }
}
