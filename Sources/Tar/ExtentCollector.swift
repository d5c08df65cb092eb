/// Collects data runs in increasing order, merging touching runs and, when there are too
/// many, filling the smallest holes so the list stays under a cap.
struct ExtentCollector {
    private(set) var extents: [SparseExtent] = []
    /// Holes shorter than this are stored as data (starts at 1: only touching runs merge).
    private(set) var minimumHole: UInt64 = 1
    let cap: Int

    init(cap: Int) {
        self.cap = max(cap, 1)
    }

    /// Adds `length` bytes of data at `offset` (at or after the end of the previous run).
    mutating func add(offset: UInt64, length: UInt64) {
        guard length > 0 else { return }
        if let last = extents.last {
            let lastEnd = last.offset + last.length
            // Touching, overlapping (never expected) or separated by too small a hole: extend.
            if offset < lastEnd || offset - lastEnd < minimumHole {
                extents[extents.count - 1].length = max(lastEnd, offset + length) - last.offset
                return
            }
        }
        extents.append(SparseExtent(offset: offset, length: length))
        while extents.count > cap {
            minimumHole = minimumHole < 4096 ? 4096 : minimumHole * 2
            remerge()
        }
    }

    private mutating func remerge() {
        var merged: [SparseExtent] = []
        merged.reserveCapacity(extents.count)
        for extent in extents {
            if let last = merged.last, extent.offset - (last.offset + last.length) < minimumHole {
                merged[merged.count - 1].length = extent.offset + extent.length - last.offset
            } else {
                merged.append(extent)
            }
        }
        extents = merged
    }
}
