import ByteStreams
import CZstd

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A ``ByteSource`` that decompresses a zstd stream, decoding several frames at once on a
/// small pool of workers and handing out their bytes strictly in stream order.
///
/// How it finds work without trusting anything but the frames: it reads the compressed
/// stream in order (a file or a download alike), and for each frame reads the header. A frame
/// that declares its content size, at most ``ZstdParallelOptions/frameCap``, with a window
/// within `windowLogMax`, is buffered whole (its end found by walking its block headers,
/// `ZSTD_findFrameCompressedSize`) and given to a worker, which decodes it in one call into
/// a buffer of exactly the declared size: a frame cannot make that buffer grow, and one
/// that decodes to more is ``ZstdError/frameLargerThanDeclared(offset:declared:)``. A frame
/// whose compressed bytes exceed what any encoder makes for that content size is
/// ``ZstdError/frameTooLarge(offset:limit:)``, refused before it is buffered further.
/// Every other frame (no content size, a larger one, as one-frame archives of `zstd` and
/// `tar | zstd` have) is decoded on the calling thread by streaming, exactly as
/// ``ZstdDecompressor`` does, once the frames before it have been handed out; so are bytes
/// that are not a frame, which then fail with the same errors. Small skippable frames (a
/// seek table) are dropped; the seek table itself is never consulted, so a lying one cannot
/// change a byte of the output.
///
/// Memory: one input buffer (2 MiB, growing to at most ``ZstdParallelOptions/compressedCap``
/// plus 1 MiB while a frame needs it), and frames in
/// flight until they hold ``ZstdParallelOptions/inFlightBudget`` bytes (at least one; their
/// compressed and decoded buffers), one decompression context per worker, and one streaming
/// context bounded by `windowLogMax`.
public final class ZstdParallelDecompressor<Upstream: ByteSource>: ByteSource {
    /// The source of compressed bytes.
    public private(set) var upstream: Upstream
    /// The options in force.
    public let options: ZstdParallelOptions
    /// Compressed bytes consumed so far (frames buffered for workers count as consumed).
    public private(set) var bytesIn: UInt64 = 0
    /// Decompressed bytes handed out so far.
    public private(set) var bytesOut: UInt64 = 0
    /// Frames (including skippable ones) fully consumed so far.
    public private(set) var framesCompleted = 0
    /// Of those, the frames decoded by workers.
    public private(set) var parallelFrames = 0

    /// Streaming context for the frames decoded in place.
    private let stream: OpaquePointer

    private var input: UnsafeMutableRawBufferPointer
    /// The most `input` grows to: the largest frame a worker takes, plus one read.
    private let inputCapacityLimit: Int
    private var inputStart = 0
    private var inputEnd = 0
    private var upstreamEnded = false

    /// Frames handed to workers, oldest first.
    private var queue: FrameQueue
    private var spare: [FrameJob] = []
    private var inFlightBytes = 0
    /// The frame whose bytes are being handed out, and how far.
    private var current: FrameJob?
    private var currentPosition = 0
    /// The bytes at `inputStart` are a frame to decode by streaming once `queue` is empty.
    private var streamNext = false
    /// The streaming context is inside a frame.
    private var streaming = false
    private var planningEnded = false
    /// An error met while planning ahead, thrown once the frames before it are handed out.
    private var planningFailure: (any Error)?
    private var failure: (any Error)?

    /// Bytes of frame buffers in flight now (for the tests of the budget).
    var inFlightForTesting: Int { inFlightBytes }

    private static var readChunk: Int { 1 << 20 }

    /// A decompressor reading compressed bytes from `upstream`.
    ///
    /// - Throws: ``ZstdError/library(operation:reason:)`` when libzstd refuses a setting.
    public init(readingFrom upstream: Upstream, options: ZstdParallelOptions = .init()) throws {
        let stream = try makeDecompressionContext(windowLogMax: options.windowLogMax)
        var workers: [FrameWorker] = []
        do {
            for index in 0..<max(1, options.workers) {
                workers.append(try FrameWorker(.decompress, label: "zstd.parallel.decompress.\(index)"))
            }
        } catch {
            ZSTD_freeDCtx(stream)
            throw error
        }
        self.stream = stream
        self.queue = FrameQueue(workers: workers, threaded: options.workers > 0)
        self.upstream = upstream
        self.options = options
        inputCapacityLimit = options.compressedCap + Self.readChunk
        input = .allocate(byteCount: min(inputCapacityLimit, 2 * Self.readChunk), alignment: 16)
    }

    deinit {
        // Jobs still with a worker own their buffers; the worker keeps its own context alive.
        ZSTD_freeDCtx(stream)
        input.deallocate()
    }

    /// Decompresses into `buffer`; returns 0 at the clean end of the last frame.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        if let failure { throw failure }
        guard buffer.count > 0 else { return 0 }
        do {
            return try produce(into: buffer)
        } catch {
            failure = error
            throw error
        }
    }

    /// Lends the next bytes of a frame a worker decoded, straight from its buffer (no copy);
    /// `nil` when the next bytes are streamed on this thread or the stream ends, which
    /// ``read(into:)`` then handles. The bytes stay valid until the next call: the frame's
    /// buffer is reused only after that.
    public func borrowNextBytes(maxCount: Int) throws -> UnsafeRawBufferPointer? {
        if let failure { throw failure }
        guard maxCount > 0 else { return nil }
        do {
            while true {
                if let bytes = takeFromCurrentFrame(maxCount) {
                    return UnsafeRawBufferPointer(bytes)
                }
                guard try startNextQueuedFrame() else { return nil }
            }
        } catch {
            failure = error
            throw error
        }
    }

    /// Up to `maxCount` bytes of the frame being handed out, consumed; `nil` (after releasing
    /// the frame) when it has none left.
    private func takeFromCurrentFrame(_ maxCount: Int) -> UnsafeMutableRawBufferPointer? {
        guard let job = current else { return nil }
        let left = job.produced - currentPosition
        guard left > 0 else {
            release(job)
            current = nil
            return nil
        }
        let n = min(left, maxCount)
        let bytes = UnsafeMutableRawBufferPointer(rebasing: job.output[currentPosition..<(currentPosition + n)])
        currentPosition += n
        bytesOut &+= UInt64(n)
        return bytes
    }

    /// Plans ahead, then makes the oldest frame handed to a worker the current one (waiting
    /// for it); false when no frame is queued (the next bytes are streamed, or the end).
    private func startNextQueuedFrame() throws -> Bool {
        plan()
        guard let job = queue.finishOldest() else { return false }
        if let error = job.error {
            release(job)
            throw error
        }
        framesCompleted += 1
        parallelFrames += 1
        current = job
        currentPosition = 0
        // Top up before handing out this frame's bytes, so workers stay busy.
        plan()
        return true
    }

    private func produce(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        while true {
            if let bytes = takeFromCurrentFrame(buffer.count) {
                buffer.baseAddress!.copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
                return bytes.count
            }
            if try startNextQueuedFrame() { continue }
            if streamNext || streaming {
                let n = try streamStep(into: buffer)
                if n > 0 { return n }
                continue
            }
            if let planningFailure { throw planningFailure }
            if planningEnded {
                if bytesIn == 0 { throw ZstdError.emptyInput }
                return 0
            }
        }
    }

    /// Hands frames to workers until the budget is used, a frame must be streamed, or the
    /// input ends.
    private func plan() {
        while !streamNext && !streaming && !planningEnded {
            let queued = queue.count
            let inFlight = queued + (current == nil ? 0 : 1)
            if inFlight > 0 && (inFlightBytes >= options.inFlightBudget || inFlight >= options.maxFramesInFlight) {
                return
            }
            do {
                try planOne()
            } catch {
                planningFailure = error
                planningEnded = true
            }
        }
    }

    /// Looks at the bytes at `inputStart`: submits a frame, drops a skippable frame, or
    /// marks what follows for streaming (or the end).
    private func planOne() throws {
        guard try ensure(1) else {
            planningEnded = true
            return
        }
        guard try ensure(8) else {
            streamNext = true
            return
        }
        let start = input.baseAddress! + inputStart
        let magic = start.loadUnaligned(as: UInt32.self).littleEndian
        if magic & 0xFFFF_FFF0 == 0x184D_2A50 {
            let size = 8 + Int(start.loadUnaligned(fromByteOffset: 4, as: UInt32.self).littleEndian)
            guard size <= options.compressedCap, try ensure(size) else {
                streamNext = true
                return
            }
            inputStart += size
            bytesIn &+= UInt64(size)
            framesCompleted += 1
            return
        }
        guard magic == 0xFD2F_B528 else {
            streamNext = true
            return
        }
        _ = try ensure(18)
        guard let content = parallelContentSize() else {
            streamNext = true
            return
        }
        var frameSize = 0
        while true {
            let available = inputEnd - inputStart
            let result = ZSTD_findFrameCompressedSize(input.baseAddress! + inputStart, available)
            if ZSTD_isError(result) == 0 {
                frameSize = result
                break
            }
            guard ZSTD_getErrorCode(result) == ZSTD_error_srcSize_wrong else {
                streamNext = true
                return
            }
            if available >= options.compressedCap {
                throw ZstdError.frameTooLarge(offset: bytesIn, limit: options.compressedCap)
            }
            guard try readMore() else {
                streamNext = true
                return
            }
        }
        guard frameSize <= options.compressedCap else {
            throw ZstdError.frameTooLarge(offset: bytesIn, limit: options.compressedCap)
        }
        let job = try takeJob(compressed: frameSize, content: content)
        job.input.baseAddress!.copyMemory(from: input.baseAddress! + inputStart, byteCount: frameSize)
        job.inputCount = frameSize
        job.outputLimit = content
        job.offset = bytesIn
        inputStart += frameSize
        bytesIn &+= UInt64(frameSize)
        inFlightBytes += job.footprint
        queue.start(job)
    }

    /// The content size of the frame at `inputStart` when a worker may decode it: declared,
    /// at most the cap, and with a window within `windowLogMax` (a frame that asks for more
    /// is streamed, so it is refused exactly as ``ZstdDecompressor`` refuses it).
    private func parallelContentSize() -> Int? {
        let start = input.baseAddress! + inputStart
        let available = inputEnd - inputStart
        let size = ZSTD_getFrameContentSize(start, available)
        // ZSTD_CONTENTSIZE_UNKNOWN and ZSTD_CONTENTSIZE_ERROR are the two largest values.
        guard size < UInt64.max - 1, size <= UInt64(options.frameCap) else { return nil }
        guard available >= 6 else { return nil }
        let descriptor = start.load(fromByteOffset: 4, as: UInt8.self)
        if descriptor & 0x20 == 0 {
            // Not single-segment: byte 5 is the window descriptor.
            let window = start.load(fromByteOffset: 5, as: UInt8.self)
            let windowLog = 10 + Int(window >> 3)
            guard windowLog <= options.windowLogMax else { return nil }
            let base = UInt64(1) << UInt64(windowLog)
            guard base + base / 8 * UInt64(window & 7) <= UInt64(1) << UInt64(options.windowLogMax) else { return nil }
        }
        return Int(size)
    }

    /// A job whose buffers hold `compressed` and `content` bytes: a spare one when it fits.
    private func takeJob(compressed: Int, content: Int) throws -> FrameJob {
        if let index = spare.firstIndex(where: { $0.input.count >= compressed && $0.output.count >= content }) {
            let job = spare.remove(at: index)
            job.reset()
            return job
        }
        if !spare.isEmpty { spare.removeFirst() }
        // Rounded up (compressed sizes vary from frame to frame, content sizes do not) so
        // that the next frames of a stream fit the same buffers and pages are faulted in once.
        func rounded(_ n: Int, _ unit: Int) -> Int { (n + unit - 1) / unit * unit }
        return try FrameJob(inputCapacity: rounded(compressed, 1 << 20), outputCapacity: rounded(content, 256 << 10))
    }

    private func release(_ job: FrameJob) {
        inFlightBytes -= job.footprint
        if spare.count < options.maxFramesInFlight { spare.append(job) }
    }

    /// Makes at least `count` bytes available at `inputStart`; false when the input ends first.
    private func ensure(_ count: Int) throws -> Bool {
        while inputEnd - inputStart < count {
            guard try readMore() else { return false }
        }
        return true
    }

    /// Reads the next chunk of input (moving what is left to the front first when the
    /// buffer's tail is short); false at the end of the input.
    private func readMore() throws -> Bool {
        if upstreamEnded { return false }
        // Keep the live bytes near the front, so only the start of the buffer is ever
        // touched (a frame's worth plus a chunk), not all of it.
        if inputStart >= Self.readChunk || input.count - inputEnd < Self.readChunk {
            let left = inputEnd - inputStart
            if left > 0 && inputStart > 0 {
                memmove(input.baseAddress!, input.baseAddress! + inputStart, left)
            }
            inputStart = 0
            inputEnd = left
        }
        if input.count - inputEnd < Self.readChunk && input.count < inputCapacityLimit {
            // A frame longer than the buffer: grow it (doubling, up to the limit).
            let grown = UnsafeMutableRawBufferPointer.allocate(byteCount: min(inputCapacityLimit, input.count * 2), alignment: 16)
            grown.baseAddress!.copyMemory(from: input.baseAddress! + inputStart, byteCount: inputEnd - inputStart)
            input.deallocate()
            input = grown
            inputEnd -= inputStart
            inputStart = 0
        }
        let room = min(Self.readChunk, input.count - inputEnd)
        let n = try upstream.read(into: UnsafeMutableRawBufferPointer(rebasing: input[inputEnd..<(inputEnd + room)]))
        if n == 0 {
            upstreamEnded = true
            return false
        }
        inputEnd += n
        return true
    }

    /// Decodes the frame at `inputStart` by streaming, into `buffer`; returns 0 when the
    /// frame ended without more output (then planning resumes after it).
    private func streamStep(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        while true {
            if inputStart == inputEnd && !upstreamEnded {
                _ = try readMore()
            }
            var out = ZSTD_outBuffer(dst: buffer.baseAddress, size: buffer.count, pos: 0)
            var inb = ZSTD_inBuffer(src: input.baseAddress! + inputStart, size: inputEnd - inputStart, pos: 0)
            let result = ZSTD_decompressStream(stream, &out, &inb)
            if ZSTD_isError(result) != 0 {
                throw ZstdError.decompression(code: result, offset: bytesIn &+ UInt64(inb.pos),
                                              windowLogMax: options.windowLogMax)
            }
            inputStart += inb.pos
            bytesIn &+= UInt64(inb.pos)
            if inb.pos > 0 || out.pos > 0 { streaming = true }
            bytesOut &+= UInt64(out.pos)
            if result == 0 && streaming {
                // The frame is complete and flushed.
                streaming = false
                streamNext = false
                framesCompleted += 1
                return out.pos
            }
            if out.pos > 0 { return out.pos }
            if upstreamEnded && inputStart == inputEnd && inb.pos == 0 {
                if streaming { throw ZstdError.truncated(offset: bytesIn) }
                // Nothing left at all: the stream ended cleanly before this point.
                streamNext = false
                planningEnded = true
                return 0
            }
        }
    }
}

/// Settings for ``ZstdParallelDecompressor``.
public struct ZstdParallelOptions: Sendable, Equatable {
    /// Worker threads decoding frames; `0` decodes them on the calling thread.
    public var workers: Int
    /// The largest declared content size a worker decodes (8 MiB); larger frames, and frames
    /// that declare none, are streamed on the calling thread.
    public var frameCap: Int
    /// Bytes of frame buffers (compressed and decoded) kept in flight before waiting for the
    /// oldest frame to be read (24 MiB; one frame is always allowed).
    public var inFlightBudget: Int
    /// At most this many frames in flight, whatever their size: `workers + 2` (one per
    /// worker, the one being read, one ready).
    public var maxFramesInFlight: Int
    /// Largest window accepted, as a power of two (as ``ZstdDecompressionOptions/windowLogMax``).
    public var windowLogMax: Int

    /// `workers` threads (one per core by default), 8 MiB frames, 24 MiB in flight, 2^27 window.
    public init(workers: Int = ZstdCompressionOptions.availableCores, frameCap: Int = 8 << 20,
                inFlightBudget: Int = 24 << 20, windowLogMax: Int = 27) {
        self.workers = max(0, workers)
        self.frameCap = max(1, frameCap)
        self.inFlightBudget = inFlightBudget
        self.maxFramesInFlight = max(2, workers + 2)
        self.windowLogMax = windowLogMax
    }

    /// The most compressed bytes buffered for one frame: `ZSTD_compressBound(frameCap)` plus
    /// 64 KiB of slack. No zstd encoder makes a frame larger than that for its content.
    public var compressedCap: Int { ZSTD_compressBound(frameCap) + (64 << 10) }
}
