import ByteStreams
import CZstd

/// A ``ByteSink`` that zstd-compresses what it is given and writes the compressed
/// stream to another sink, in chunks, with bounded memory.
///
/// Call ``finish()`` once after the last write to end the frame; a compressor that is
/// dropped without `finish()` leaves an incomplete stream behind.
///
/// ```swift
/// let compressor = try ZstdCompressor(writingTo: FileSink(fd), options: .init(level: 3))
/// try compressor.write(chunk)
/// let fileSink = try compressor.finish()
/// ```
public final class ZstdCompressor<Downstream: ByteSink>: ByteSink {
    /// The sink that receives compressed bytes.
    public private(set) var downstream: Downstream
    /// The options this compressor runs with (workers may be 0 if libzstd lacks threads).
    public let options: ZstdCompressionOptions
    /// Uncompressed bytes accepted so far.
    public private(set) var bytesIn: UInt64 = 0
    /// Compressed bytes handed to the downstream sink so far.
    public private(set) var bytesOut: UInt64 = 0

    private let context: OpaquePointer
    private let output: UnsafeMutableRawBufferPointer
    private var finished = false

    /// A compressor writing to `downstream`.
    ///
    /// - Throws: ``ZstdError/library(operation:reason:)`` when libzstd rejects a setting.
    public init(writingTo downstream: Downstream, options: ZstdCompressionOptions = .init()) throws {
        guard let context = ZSTD_createCCtx() else {
            throw ZstdError.library(operation: "ZSTD_createCCtx", reason: "out of memory")
        }
        self.context = context
        self.downstream = downstream
        // Larger than ZSTD_CStreamOutSize so that worker output is passed on in few writes.
        self.output = .allocate(byteCount: max(ZSTD_CStreamOutSize(), 1 << 20), alignment: 16)
        var effective = options
        do {
            try ZstdError.check(ZSTD_CCtx_setParameter(context, ZSTD_c_compressionLevel, Int32(clamping: options.level)),
                                "setting compression level \(options.level)")
            try ZstdError.check(ZSTD_CCtx_setParameter(context, ZSTD_c_checksumFlag, options.checksum ? 1 : 0),
                                "enabling checksums")
            if options.longDistanceMatching {
                try ZstdError.check(ZSTD_CCtx_setParameter(context, ZSTD_c_enableLongDistanceMatching, 1),
                                    "enabling long-distance matching")
            }
            if options.workers > 0 {
                // A libzstd built without threads refuses nbWorkers: compress inline then.
                if ZSTD_isError(ZSTD_CCtx_setParameter(context, ZSTD_c_nbWorkers, Int32(clamping: options.workers))) != 0 {
                    effective.workers = 0
                } else if let jobSize = options.jobSize {
                    try ZstdError.check(ZSTD_CCtx_setParameter(context, ZSTD_c_jobSize, Int32(clamping: jobSize)),
                                        "setting the job size to \(jobSize)")
                }
            }
            if let size = options.pledgedSourceSize {
                try ZstdError.check(ZSTD_CCtx_setPledgedSrcSize(context, size), "pledging source size \(size)")
            }
        } catch {
            ZSTD_freeCCtx(context)
            output.deallocate()
            throw error
        }
        self.options = effective
    }

    /// Bytes of memory this compressor holds now: libzstd's context (including worker
    /// buffers) plus the output buffer.
    public var memoryUsage: Int {
        ZSTD_sizeof_CCtx(context) + output.count
    }

    deinit {
        ZSTD_freeCCtx(context)
        output.deallocate()
    }

    /// Compresses `bytes`, passing finished output on to the downstream sink.
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        precondition(!finished, "ZstdCompressor.write after finish()")
        guard bytes.count > 0 else { return }
        var input = ZSTD_inBuffer(src: bytes.baseAddress, size: bytes.count, pos: 0)
        while input.pos < input.size {
            _ = try step(&input, ZSTD_e_continue)
        }
        bytesIn &+= UInt64(bytes.count)
    }

    /// Ends the frame, flushes everything to the downstream sink and returns it.
    @discardableResult
    public func finish() throws -> Downstream {
        precondition(!finished, "ZstdCompressor.finish called twice")
        var input = ZSTD_inBuffer(src: nil, size: 0, pos: 0)
        while try step(&input, ZSTD_e_end) != 0 {}
        finished = true
        return downstream
    }

    /// One `ZSTD_compressStream2` call; writes any output. Returns libzstd's remaining hint.
    private func step(_ input: inout ZSTD_inBuffer, _ directive: ZSTD_EndDirective) throws -> Int {
        var out = ZSTD_outBuffer(dst: output.baseAddress, size: output.count, pos: 0)
        let remaining = try ZstdError.check(ZSTD_compressStream2(context, &out, &input, directive), "ZSTD_compressStream2")
        if out.pos > 0 {
            try downstream.write(UnsafeRawBufferPointer(rebasing: output[..<out.pos]))
            bytesOut &+= UInt64(out.pos)
        }
        return remaining
    }
}
