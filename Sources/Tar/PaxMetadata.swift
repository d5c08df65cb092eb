/// The pax records the reader acts on, gathered from the `x` headers before one member (or
/// from the `g` headers in force). Unknown keys are dropped as they are parsed, so memory
/// is bounded by the values kept, not by how many records a hostile header holds.
struct PaxMetadata {
    /// Keys that change a member's fields.
    static let entryKeys: Set<String> = ["path", "linkpath", "size", "mtime", "uid", "gid", "uname", "gname"]
    /// Entry keys that change where a member lands or where the next header starts: GNU tar
    /// and bsdtar disagree on them in global headers and when their value is empty.
    static let layoutKeys: [String] = ["path", "linkpath", "size"]
    /// Keys of the GNU sparse formats (other than the PAX 0.0 offset/numbytes pairs).
    static let sparseKeys: Set<String> = [
        "GNU.sparse.major", "GNU.sparse.minor", "GNU.sparse.name", "GNU.sparse.realsize", "GNU.sparse.size",
        "GNU.sparse.numblocks", "GNU.sparse.map",
    ]

    /// Entry keys and their values; an empty value deletes the key (and any global value).
    var values: [String: [UInt8]] = [:]
    /// GNU sparse keys and their values.
    var sparse: [String: [UInt8]] = [:]
    /// PAX 0.0 runs, from `GNU.sparse.offset`/`GNU.sparse.numbytes` pairs in order.
    var sparseRuns: [SparseExtent] = []
    /// Whether any PAX 0.0 pair was seen.
    var hasSparseRuns = false
    /// Whether any record at all was seen.
    var hasRecords = false
    private var pendingOffset: UInt64?

    /// Takes one record from an `x` header; `maximumRuns` caps the PAX 0.0 map.
    mutating func add(_ key: String, _ value: ArraySlice<UInt8>, maximumRuns: Int, member: String, offset: UInt64) throws {
        hasRecords = true
        if Self.entryKeys.contains(key) {
            values[key] = Array(value)
        } else if Self.sparseKeys.contains(key) {
            sparse[key] = Array(value)
        } else if key == "GNU.sparse.offset" {
            guard pendingOffset == nil, let number = TarNumber.decimal(value) else {
                throw TarError(.badSparseMap, "bad or unpaired GNU.sparse.offset", member: member, offset: offset)
            }
            pendingOffset = number
            hasSparseRuns = true
        } else if key == "GNU.sparse.numbytes" {
            guard let start = pendingOffset, let length = TarNumber.decimal(value) else {
                throw TarError(.badSparseMap, "bad or unpaired GNU.sparse.numbytes", member: member, offset: offset)
            }
            guard sparseRuns.count < maximumRuns else {
                throw TarError(.limitExceeded, "sparse map has more than \(maximumRuns) entries", member: member, offset: offset)
            }
            sparseRuns.append(SparseExtent(offset: start, length: length))
            pendingOffset = nil
        }
    }

    /// Whether a `GNU.sparse.offset` is still waiting for its `GNU.sparse.numbytes`.
    var hasUnpairedOffset: Bool { pendingOffset != nil }
}
