import ByteStreams
import CZstd

/// A ``ByteSource`` that decompresses a zstd stream read from another source.
///
/// It reads concatenated frames and skips skippable frames, verifies content
/// checksums, refuses frames whose window exceeds `windowLogMax`, and reports damage
/// as a ``ZstdError`` carrying the compressed offset where it was found. Memory is
/// bounded by the window cap plus two small buffers, whatever the stream's length.
public final class ZstdDecompressor<Upstream: ByteSource>: ByteSource {
    /// The source of compressed bytes.
    public private(set) var upstream: Upstream
    /// The options in force.
    public let options: ZstdDecompressionOptions
    /// Compressed bytes consumed so far.
    public private(set) var bytesIn: UInt64 = 0
    /// Decompressed bytes produced so far.
    public private(set) var bytesOut: UInt64 = 0
    /// Complete frames (including skippable ones) decoded so far.
    public private(set) var framesCompleted: Int = 0

    private let context: OpaquePointer
    private let input: UnsafeMutableRawBufferPointer
    private var inputStart = 0
    private var inputEnd = 0
    private var upstreamEnded = false
    private var insideFrame = false
    private var failure: ZstdError?

    /// A decompressor reading compressed bytes from `upstream`.
    public init(readingFrom upstream: Upstream, options: ZstdDecompressionOptions = .init()) throws {
        let context = try makeDecompressionContext(windowLogMax: options.windowLogMax)
        self.context = context
        self.upstream = upstream
        self.options = options
        self.input = .allocate(byteCount: max(ZSTD_DStreamInSize(), 256 << 10), alignment: 16)
    }

    /// Bytes of memory this decompressor holds now: libzstd's context (window and
    /// buffers) plus the input buffer. Bounded by the window cap, whatever the stream.
    public var memoryUsage: Int {
        ZSTD_sizeof_DCtx(context) + input.count
    }

    deinit {
        ZSTD_freeDCtx(context)
        input.deallocate()
    }

    /// Decompresses into `buffer`; returns 0 at the clean end of the last frame.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        if let failure { throw failure }
        guard buffer.count > 0 else { return 0 }
        do {
            return try decompress(into: buffer)
        } catch let error as ZstdError {
            failure = error
            throw error
        }
    }

    private func decompress(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        while true {
            if inputStart == inputEnd && !upstreamEnded {
                let n = try upstream.read(into: input)
                inputStart = 0
                inputEnd = n
                if n == 0 { upstreamEnded = true }
            }
            if upstreamEnded && inputStart == inputEnd && !insideFrame {
                // Clean end: nothing buffered, no frame open.
                if bytesIn == 0 { throw ZstdError.emptyInput }
                return 0
            }
            var out = ZSTD_outBuffer(dst: buffer.baseAddress, size: buffer.count, pos: 0)
            var inb = ZSTD_inBuffer(src: input.baseAddress! + inputStart, size: inputEnd - inputStart, pos: 0)
            let result = ZSTD_decompressStream(context, &out, &inb)
            if ZSTD_isError(result) != 0 {
                throw ZstdError.decompression(code: result, offset: bytesIn &+ UInt64(inb.pos),
                                              windowLogMax: options.windowLogMax)
            }
            inputStart += inb.pos
            bytesIn &+= UInt64(inb.pos)
            if result == 0 {
                if insideFrame || inb.pos > 0 { framesCompleted += 1 }
                insideFrame = false
            } else if inb.pos > 0 || out.pos > 0 {
                insideFrame = true
            }
            if out.pos > 0 {
                bytesOut &+= UInt64(out.pos)
                return out.pos
            }
            if upstreamEnded && inputStart == inputEnd && inb.pos == 0 {
                // No input left, nothing more came out, and the frame is still open.
                if insideFrame { throw ZstdError.truncated(offset: bytesIn) }
                return 0
            }
        }
    }
}
