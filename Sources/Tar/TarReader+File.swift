import ByteStreams
import SystemPackage

extension TarReader {
    /// Writes the current member's data into the regular file `descriptor` so that holes stay
    /// holes: sets the file's size to the member's logical size with `ftruncate`, then
    /// `pwrite`s only the data runs, leaving blocks of `zeroBlockSize` zero bytes (aligned to
    /// file offsets) unwritten. Pass `nil` to write every stored byte.
    ///
    /// For a caller that creates the file itself (say, a temporary file it renames later);
    /// ``Tar/extract(from:into:options:)`` uses it for every regular member.
    /// - Returns: the number of bytes written.
    @discardableResult
    public func writeData(to descriptor: FileDescriptor, zeroBlockSize: Int? = 4096, path: String? = nil) throws -> UInt64 {
        guard let entry = currentEntry else {
            throw TarError(.invalidState, "writeData called with no current member", offset: archiveOffset)
        }
        try SparseFile.setSize(of: descriptor, to: entry.size, path: path)
        var written: UInt64 = 0
        let block = zeroBlockSize.map { UInt64(max($0, 512)) }
        while let count = try withNextChunk({ offset, bytes -> UInt64 in
            guard let block else {
                try descriptor.pwriteAll(bytes, at: offset, path: path)
                return UInt64(bytes.count)
            }
            return try Self.writeSkippingZeros(bytes, at: offset, to: descriptor, block: block, path: path)
        }) {
            written += count
        }
        return written
    }

    /// Writes the non-zero blocks of `bytes` (blocks aligned to file offsets), leaving zero
    /// blocks as holes in the pre-sized file.
    private static func writeSkippingZeros(
        _ bytes: UnsafeRawBufferPointer, at offset: UInt64, to file: FileDescriptor, block: UInt64, path: String?
    ) throws -> UInt64 {
        var written: UInt64 = 0
        var position = 0
        var runStart: Int?
        while position < bytes.count {
            let absolute = offset + UInt64(position)
            let blockEnd = min(position + Int(block - absolute % block), bytes.count)
            if ZeroBytes.isZero(UnsafeRawBufferPointer(rebasing: bytes[position..<blockEnd])) {
                if let start = runStart {
                    try file.pwriteAll(UnsafeRawBufferPointer(rebasing: bytes[start..<position]), at: offset + UInt64(start), path: path)
                    written += UInt64(position - start)
                    runStart = nil
                }
            } else if runStart == nil {
                runStart = position
            }
            position = blockEnd
        }
        if let start = runStart {
            try file.pwriteAll(UnsafeRawBufferPointer(rebasing: bytes[start...]), at: offset + UInt64(start), path: path)
            written += UInt64(bytes.count - start)
        }
        return written
    }
}
