/// The pax records the reader acts on, gathered from the `x` headers before one member (or
/// from the `g` headers in force). Unknown keys are dropped as they are parsed, so memory
/// is bounded by the values kept, not by how many records a hostile header holds.
struct PaxMetadata {
    /// Keys that change a member's fields.
    static let entryKeys: Set<String> = ["path", "linkpath", "size", "mtime", "uid", "gid", "uname", "gname"]
    /// Entry keys that change where a member lands or where the next header starts: GNU tar
    /// and bsdtar disagree on them in global headers and when their value is empty.
    static let layoutKeys: [String] = ["path", "linkpath", "size"]
    /// Entry keys and their values; an empty value deletes the key (and any global value).
    var values: [String: [UInt8]] = [:]
    /// The GNU sparse records (PAX 0.0 pairs already folded into a map).
    var sparse = PaxSparseRecords()
    /// Whether any record at all was seen.
    var hasRecords = false

    /// Takes one record from an `x` header; records of unknown keys are dropped.
    mutating func add(_ key: String, _ value: ArraySlice<UInt8>, member: String, offset: UInt64) throws {
        hasRecords = true
        if Self.entryKeys.contains(key) {
            values[key] = Array(value)
        } else {
            try sparse.take(key, value, member: member, offset: offset)
        }
    }
}
