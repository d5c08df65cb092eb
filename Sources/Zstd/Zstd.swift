import ByteStreams
import CZstd

/// Streaming and one-shot zstd over the system's libzstd.
///
/// For streams use ``ZstdCompressor`` (a sink) and ``ZstdDecompressor`` (a source), or
/// the pipeline helpers here, which copy from any ``ByteSource`` to any ``ByteSink`` in
/// chunks. The one-shot helpers are for small buffers.
public enum Zstd {
    /// The version of the libzstd in use, such as `"1.5.4"`.
    public static var libraryVersion: String { String(cString: ZSTD_versionString()) }

    /// Compresses everything `source` produces into `sink` as one frame.
    ///
    /// - Returns: `(bytesIn, bytesOut)`.
    @discardableResult
    public static func compress<Source: ByteSource, Sink: ByteSink>(
        from source: inout Source, to sink: Sink, options: ZstdCompressionOptions = .init(),
        chunkSize: Int = 1 << 20
    ) throws -> (bytesIn: UInt64, bytesOut: UInt64) {
        let compressor = try ZstdCompressor(writingTo: sink, options: options)
        var stage = compressor
        try source.copy(to: &stage, chunkSize: chunkSize)
        try compressor.finish()
        return (compressor.bytesIn, compressor.bytesOut)
    }

    /// Decompresses the whole zstd stream `source` produces into `sink`.
    ///
    /// - Returns: `(bytesIn, bytesOut)`.
    @discardableResult
    public static func decompress<Source: ByteSource, Sink: ByteSink>(
        from source: Source, to sink: inout Sink, options: ZstdDecompressionOptions = .init(),
        chunkSize: Int = 1 << 20
    ) throws -> (bytesIn: UInt64, bytesOut: UInt64) {
        var decompressor = try ZstdDecompressor(readingFrom: source, options: options)
        try decompressor.copy(to: &sink, chunkSize: chunkSize)
        return (decompressor.bytesIn, decompressor.bytesOut)
    }

    /// Compresses a buffer in memory.
    public static func compress(_ bytes: [UInt8], options: ZstdCompressionOptions = .init()) throws -> [UInt8] {
        var options = options
        if options.pledgedSourceSize == nil { options.pledgedSourceSize = UInt64(bytes.count) }
        var source = BufferSource(bytes)
        let compressor = try ZstdCompressor(writingTo: BufferSink(), options: options)
        var stage = compressor
        try source.copy(to: &stage)
        return try compressor.finish().bytes
    }

    /// Decompresses a buffer in memory, refusing output larger than `limit` bytes.
    public static func decompress(
        _ bytes: [UInt8], limit: Int = 64 << 20, options: ZstdDecompressionOptions = .init()
    ) throws -> [UInt8] {
        var sink = BufferSink(limit: limit)
        do {
            try decompress(from: BufferSource(bytes), to: &sink, options: options)
        } catch ByteStreamError.limitExceeded {
            throw ZstdError.outputLimitExceeded(limit: limit)
        }
        return sink.bytes
    }
}
