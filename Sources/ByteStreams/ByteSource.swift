/// Something that produces bytes in order: a file, a buffer, a decompressor.
///
/// Streaming stages are chained by wrapping one source in another (for example a
/// zstd decompressor reading from a file), so that data flows in chunks and no
/// stage ever holds a whole file in memory.
public protocol ByteSource {
    /// Reads up to `buffer.count` bytes into `buffer`.
    ///
    /// - Returns: the number of bytes written to the front of `buffer`; `0` only at
    ///   the end of the stream (never for an empty buffer request mid-stream).
    mutating func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int

    /// Lends the stream's next bytes, at least one and at most `maxCount`, without copying
    /// them, and consumes them. They stay valid until the next call on this source.
    ///
    /// - Returns: `nil` when the source has nothing to lend right now; ``read(into:)`` then
    ///   gives the next bytes (and reports the end of the stream). The default lends nothing.
    mutating func borrowNextBytes(maxCount: Int) throws -> UnsafeRawBufferPointer?
}

/// Something that consumes bytes in order: a file, a buffer, a compressor.
public protocol ByteSink {
    /// Writes all of `bytes`, or throws.
    mutating func write(_ bytes: UnsafeRawBufferPointer) throws

    /// Lends the space where the stream's next bytes go, at least one byte and at most
    /// `maxCount`, so the caller can read into it directly (no copy), then hand what it
    /// filled to ``commitBorrowedSpace(_:)`` before any other call on this sink.
    ///
    /// - Returns: `nil` when the sink does not lend (the default); then use ``write(_:)``.
    mutating func borrowWritableSpace(maxCount: Int) throws -> UnsafeMutableRawBufferPointer?

    /// Takes the first `count` bytes of the space the last ``borrowWritableSpace(maxCount:)``
    /// lent as the stream's next bytes (`0`: nothing written, the loan is returned).
    mutating func commitBorrowedSpace(_ count: Int) throws
}

extension ByteSource {
    /// Lends nothing: the bytes come through ``read(into:)``.
    public mutating func borrowNextBytes(maxCount: Int) throws -> UnsafeRawBufferPointer? { nil }

    /// Reads until `buffer` is full or the stream ends.
    ///
    /// - Returns: the number of bytes read; less than `buffer.count` only at the end.
    public mutating func readFully(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        var filled = 0
        while filled < buffer.count {
            let n = try read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[filled...]))
            if n == 0 { break }
            filled += n
        }
        return filled
    }

    /// Copies everything this source produces into `sink`, `chunkSize` bytes at a time.
    ///
    /// - Returns: the number of bytes copied.
    @discardableResult
    public mutating func copy<Sink: ByteSink>(to sink: inout Sink, chunkSize: Int = 1 << 20) throws -> UInt64 {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(chunkSize, 1), alignment: 16)
        defer { buffer.deallocate() }
        var total: UInt64 = 0
        while true {
            let n = try read(into: buffer)
            if n == 0 { return total }
            try sink.write(UnsafeRawBufferPointer(rebasing: buffer[..<n]))
            total &+= UInt64(n)
        }
    }
}

extension ByteSink {
    /// Lends nothing: the bytes come through ``write(_:)``.
    public mutating func borrowWritableSpace(maxCount: Int) throws -> UnsafeMutableRawBufferPointer? { nil }

    /// Nothing was lent, so only `0` bytes can be committed.
    public mutating func commitBorrowedSpace(_ count: Int) throws {
        precondition(count == 0, "commitBorrowedSpace without a loan")
    }

    /// Writes all of `bytes`.
    public mutating func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }
}
