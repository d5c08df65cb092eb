import ByteStreams
import SystemPackage

extension TarReader {
    /// Writes the current member's data into `file` at the member's own offsets, so that a
    /// file pre-sized with `ftruncate` to the member's size keeps its holes.
    ///
    /// With `holesFromZeroRuns` (the default), blocks of `zeroBlockSize` bytes that hold only
    /// zeros are not written either, so a member stored dense still comes out sparse.
    ///
    /// - Parameter peek: called with each data piece before it is written (for example to
    ///   look at a member's first bytes); it may throw to stop.
    /// - Returns: the number of bytes written to `file`.
    @discardableResult
    public func writeData(
        to file: FileDescriptor, path: String, holesFromZeroRuns: Bool = true, zeroBlockSize: Int = 4096,
        peek: ((_ offset: UInt64, _ bytes: UnsafeRawBufferPointer) throws -> Void)? = nil
    ) throws -> UInt64 {
        var written: UInt64 = 0
        let block = UInt64(max(zeroBlockSize, 512))
        while let count = try withNextChunk({ offset, bytes -> UInt64 in
            try peek?(offset, bytes)
            return holesFromZeroRuns
                ? try TarDataWriter.writeSkippingZeros(bytes, at: offset, to: file, block: block, path: path)
                : try TarDataWriter.write(bytes, at: offset, to: file, path: path)
        }) {
            written += count
        }
        return written
    }
}

/// Positional writes of member data that leave holes where the data is zero.
enum TarDataWriter {
    static func write(_ bytes: UnsafeRawBufferPointer, at offset: UInt64, to file: FileDescriptor, path: String) throws -> UInt64 {
        try file.pwriteAll(bytes, at: offset, path: path)
        return UInt64(bytes.count)
    }

    /// Writes the non-zero blocks of `bytes` (blocks aligned to file offsets), leaving zero
    /// blocks as holes in the pre-sized file.
    static func writeSkippingZeros(
        _ bytes: UnsafeRawBufferPointer, at offset: UInt64, to file: FileDescriptor, block: UInt64, path: String
    ) throws -> UInt64 {
        var written: UInt64 = 0
        try ZeroRuns.forEachDataRun(in: bytes, at: offset, blockSize: block) { run in
            try file.pwriteAll(UnsafeRawBufferPointer(rebasing: bytes[run]), at: offset + UInt64(run.lowerBound), path: path)
            written += UInt64(run.count)
        }
        return written
    }
}
