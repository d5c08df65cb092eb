import CZstd

/// Decompresses whole in-memory buffers (such as qcow2's zstd-compressed clusters), reusing
/// one libzstd context from call to call instead of creating one per buffer.
///
/// Reads concatenated frames, skips skippable frames, and stops when the output is full (any
/// bytes after that point are ignored, as ``ZstdDecompressor`` read with `readFully` does).
/// The same window cap applies. Not safe to share between threads: keep one per thread.
public final class ZstdBufferDecompressor {
    /// The options in force.
    public let options: ZstdDecompressionOptions
    private let context: OpaquePointer

    /// A decompressor with its own libzstd context.
    ///
    /// - Throws: ``ZstdError/library(operation:reason:)`` when libzstd cannot create the
    ///   context or refuses the window cap.
    public init(options: ZstdDecompressionOptions = .init()) throws(ZstdError) {
        let context = try makeDecompressionContext(windowLogMax: options.windowLogMax)
        self.context = context
        self.options = options
    }

    deinit {
        ZSTD_freeDCtx(context)
    }

    /// Decompresses `input` into `output` until `output` is full or the input ends at the end
    /// of a frame. Returns the bytes written.
    ///
    /// - Throws: ``ZstdError`` for damaged or truncated input (offsets count from the start
    ///   of `input`), or an empty one.
    public func decompress(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) throws(ZstdError) -> Int {
        guard input.count > 0, let source = input.baseAddress else { throw ZstdError.emptyInput }
        guard output.count > 0, let target = output.baseAddress else { return 0 }
        _ = ZSTD_DCtx_reset(context, ZSTD_reset_session_only)
        // One frame that says it fills the output exactly (what qemu writes for a cluster):
        // decode it in one call, straight into the output. Anything else, or a failure here,
        // takes the streaming loop below, which also finds the offset of any damage.
        let frameSize = ZSTD_findFrameCompressedSize(source, input.count)
        if ZSTD_isError(frameSize) == 0, frameSize <= input.count,
           ZSTD_getFrameContentSize(source, frameSize) == UInt64(output.count) {
            let produced = ZSTD_decompressDCtx(context, target, output.count, source, frameSize)
            if ZSTD_isError(produced) == 0 && produced == output.count { return produced }
            _ = ZSTD_DCtx_reset(context, ZSTD_reset_session_only)
        }
        var inBuffer = ZSTD_inBuffer(src: source, size: input.count, pos: 0)
        var outBuffer = ZSTD_outBuffer(dst: target, size: output.count, pos: 0)
        var insideFrame = false
        while outBuffer.pos < outBuffer.size {
            let before = (inBuffer.pos, outBuffer.pos)
            let result = ZSTD_decompressStream(context, &outBuffer, &inBuffer)
            if ZSTD_isError(result) != 0 {
                throw ZstdError.decompression(code: result, offset: UInt64(inBuffer.pos), windowLogMax: options.windowLogMax)
            }
            insideFrame = result != 0
            if inBuffer.pos == inBuffer.size && !insideFrame { break }
            if before == (inBuffer.pos, outBuffer.pos) {
                // No progress with room left: the input ended inside a frame.
                if inBuffer.pos == inBuffer.size { throw ZstdError.truncated(offset: UInt64(inBuffer.pos)) }
                break
            }
        }
        return outBuffer.pos
    }

    /// Bytes of memory libzstd's context holds now.
    public var memoryUsage: Int { ZSTD_sizeof_DCtx(context) }
}
