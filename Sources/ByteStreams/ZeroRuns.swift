/// The one zero-run scanner: splits bytes into runs of data and runs of all-zero blocks, so a
/// writer can leave holes where a file holds only zeros.
///
/// Blocks are `blockSize` bytes aligned to file offsets (`offset` is the file offset of the
/// first byte), so the first and last block of a piece may be partial and a block is judged the
/// same whichever piece it arrives in. Used by the tar writer (which runs of a file to store) and
/// the tar reader's `writeData` (which runs of a member to write).
public enum ZeroRuns {
    /// Calls `body` with each maximal run of `bytes` that is not made of all-zero blocks, in
    /// order, as a range of indices into `bytes`.
    ///
    /// - Parameters:
    ///   - bytes: the piece to scan.
    ///   - offset: the file offset of `bytes[0]`, which places the block boundaries.
    ///   - blockSize: the block size in bytes (at least 1).
    ///   - body: called with each data run; it may throw to stop the scan.
    public static func forEachDataRun(
        in bytes: UnsafeRawBufferPointer, at offset: UInt64, blockSize: UInt64,
        _ body: (Range<Int>) throws -> Void
    ) rethrows {
        let block = max(blockSize, 1)
        var position = 0
        var runStart: Int?
        while position < bytes.count {
            let absolute = offset &+ UInt64(position)
            let untilBoundary = block - absolute % block
            let blockEnd = untilBoundary >= UInt64(bytes.count - position) ? bytes.count : position + Int(untilBoundary)
            if SparseFile.isZero(UnsafeRawBufferPointer(rebasing: bytes[position..<blockEnd])) {
                if let start = runStart {
                    try body(start..<position)
                    runStart = nil
                }
            } else if runStart == nil {
                runStart = position
            }
            position = blockEnd
        }
        if let start = runStart {
            try body(start..<bytes.count)
        }
    }
}

extension ZeroRuns {
    /// Bytes judged at once by ``lastNonZeroByte(in:)`` before it looks at single bytes.
    private static let backwardChunk = 512

    /// Index of the last byte of `bytes` that is not zero, or `nil` when every byte is zero:
    /// a backward scan in 512-byte chunks through ``SparseFile/isZero(_:)``, then byte by byte
    /// inside the last chunk holding data. QCOW2 uses it to find the last stored refcount.
    public static func lastNonZeroByte(in bytes: UnsafeRawBufferPointer) -> Int? {
        var upper = bytes.count
        while upper > 0 {
            let lower = max(0, upper - backwardChunk)
            if !SparseFile.isZero(UnsafeRawBufferPointer(rebasing: bytes[lower..<upper])) {
                // The chunk holds a non-zero byte, so this stops at or above `lower`.
                var index = upper - 1
                while bytes[index] == 0 { index -= 1 }
                return index
            }
            upper = lower
        }
        return nil
    }
}
