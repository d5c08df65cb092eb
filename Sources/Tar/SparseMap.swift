/// One run of stored data in a sparse file: `length` bytes at logical `offset`.
public struct SparseExtent: Sendable, Hashable {
    /// Logical offset of the first byte.
    public var offset: UInt64
    /// Number of bytes.
    public var length: UInt64

    /// The run of `length` bytes at `offset`.
    public init(offset: UInt64, length: UInt64) {
        self.offset = offset
        self.length = length
    }

    /// One past the last byte (`offset + length`), or `nil` on overflow.
    public var end: UInt64? {
        let (sum, overflow) = offset.addingReportingOverflow(length)
        return overflow ? nil : sum
    }
}

/// Where the data of a sparse member lives: its logical size and the runs of data, in
/// order. Everything outside the runs reads as zero (a hole).
///
/// A map made with ``init(realSize:extents:)`` is always valid: sorted, non-overlapping
/// and inside `realSize`, so the stored data is exactly `dataSize` bytes.
public struct SparseMap: Sendable, Equatable {
    /// The logical size of the file.
    public let realSize: UInt64
    /// The data runs, sorted by offset, non-overlapping, each inside `realSize`.
    /// Zero-length runs may appear (GNU tar marks a trailing hole with one at `realSize`).
    public let extents: [SparseExtent]
    /// Total bytes of data stored (the sum of the runs' lengths).
    public let dataSize: UInt64

    /// Validates `extents` against `realSize`; the error text says which entry is wrong.
    public init(realSize: UInt64, extents: [SparseExtent]) throws(SparseMapProblem) {
        var previousEnd: UInt64 = 0
        var total: UInt64 = 0
        for (index, extent) in extents.enumerated() {
            guard let end = extent.end else {
                throw SparseMapProblem(index: index, "offset \(extent.offset) + length \(extent.length) overflows")
            }
            guard extent.offset >= previousEnd else {
                throw SparseMapProblem(
                    index: index, "offset \(extent.offset) is before the end \(previousEnd) of the previous run (unsorted or overlapping)")
            }
            guard end <= realSize else {
                throw SparseMapProblem(index: index, "run \(extent.offset)..<\(end) ends past the real size \(realSize)")
            }
            previousEnd = end
            total &+= extent.length  // cannot overflow: the runs are disjoint and inside realSize
        }
        self.realSize = realSize
        self.extents = extents
        self.dataSize = total
    }
}

/// Why a sparse map is invalid: the entry index and what is wrong with it.
public struct SparseMapProblem: Error, Sendable, Equatable, CustomStringConvertible {
    /// Index of the offending entry.
    public var index: Int
    /// What is wrong.
    public var reason: String

    /// A problem with entry `index`.
    public init(index: Int, _ reason: String) {
        self.index = index
        self.reason = reason
    }

    /// "sparse map entry N: reason".
    public var description: String { "sparse map entry \(index): \(reason)" }
}
