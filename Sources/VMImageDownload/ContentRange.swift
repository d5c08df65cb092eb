/// The parts of a `Content-Range: bytes START-END/TOTAL` header (`TOTAL` may be `*`).
struct ContentRange: Hashable {
    var start: UInt64
    var end: UInt64
    var total: UInt64?

    init(start: UInt64, end: UInt64, total: UInt64?) {
        self.start = start
        self.end = end
        self.total = total
    }

    /// The range in `header`, or `nil` when it is absent or not a valid byte range.
    init?(_ header: String?) {
        guard let header, header.hasPrefix("bytes ") else { return nil }
        let spec = header.dropFirst("bytes ".count)
        let halves = spec.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard halves.count == 2 else { return nil }
        let bounds = halves[0].split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
        guard bounds.count == 2, let start = UInt64(bounds[0]), let end = UInt64(bounds[1]), start <= end else { return nil }
        self.start = start
        self.end = end
        if halves[1] == "*" {
            total = nil
        } else {
            guard let total = UInt64(halves[1]), total > end else { return nil }
            self.total = total
        }
    }
}
