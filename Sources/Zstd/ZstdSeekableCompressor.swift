import ByteStreams
import CZstd

/// A ``ByteSink`` that writes zstd's seekable format: the input cut into independent frames
/// of ``ZstdSeekableOptions/frameSize`` bytes each, compressed by a small pool of workers in
/// parallel and written in order, then a seek table in a skippable frame
/// (``ZstdSeekTable``). The result is one ordinary zstd stream (`zstd -d`, GNU tar and
/// bsdtar read it unchanged) whose frames ``ZstdParallelDecompressor`` decodes on every core.
///
/// The calling thread fills the next frame while the workers compress the previous ones, so
/// whatever feeds this sink (reading a disk, tar framing) overlaps compression; one frame
/// more than there are workers waits ready, so a worker that finishes a quick frame starts
/// the next at once instead of idling until the oldest (slowest) frame is written out.
/// Memory: `workers + 2` frames in flight, each its input plus `ZSTD_compressBound` of it,
/// plus one compression context per worker.
///
/// Call ``finish()`` once after the last write.
public final class ZstdSeekableCompressor<Downstream: ByteSink>: ByteSink {
    /// The sink that receives the compressed stream.
    public private(set) var downstream: Downstream
    /// The options in force.
    public let options: ZstdSeekableOptions
    /// Uncompressed bytes accepted so far.
    public private(set) var bytesIn: UInt64 = 0
    /// Compressed bytes written downstream so far (frames, and the seek table once finished).
    public private(set) var bytesOut: UInt64 = 0
    /// The frames written so far, as the seek table will list them.
    public private(set) var seekTable: ZstdSeekTable

    /// Frames handed to workers, oldest first; written downstream in this order.
    private var pending: FrameQueue
    private var spare: [FrameJob] = []
    private var filling: FrameJob
    private var finished = false
    /// More frames than a seek table can list: the table is left out.
    private var tooManyFrames = false
    private var failure: (any Error)?
    /// Bytes of `filling` lent by the last ``borrowWritableSpace(maxCount:)``, not committed yet.
    private var lent = 0

    /// A compressor writing the seekable format to `downstream`.
    ///
    /// - Throws: ``ZstdError/library(operation:reason:)`` when libzstd refuses a setting.
    public init(writingTo downstream: Downstream, options: ZstdSeekableOptions = .init()) throws {
        self.downstream = downstream
        self.options = options
        self.seekTable = ZstdSeekTable(hasChecksums: options.checksum)
        var workers: [FrameWorker] = []
        for index in 0..<max(1, options.workers) {
            workers.append(try FrameWorker(.compress, level: options.level, checksum: options.checksum,
                                           windowLog: options.frameWindowLog,
                                           label: "zstd.seekable.compress.\(index)"))
        }
        self.pending = FrameQueue(workers: workers, threaded: options.workers > 0)
        self.filling = try FrameJob(inputCapacity: options.frameSize, outputCapacity: ZSTD_compressBound(options.frameSize))
    }

    /// Bytes of frame buffers this compressor holds now (contexts not included).
    public var bufferedBytes: Int {
        (pending.count + spare.count + 1) * filling.footprint
    }

    /// Takes `bytes` into the current frame, handing each full frame to a worker.
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        precondition(!finished, "ZstdSeekableCompressor.write after finish()")
        if let failure { throw failure }
        var done = 0
        while done < bytes.count {
            let n = min(bytes.count - done, options.frameSize - filling.inputCount)
            (filling.input.baseAddress! + filling.inputCount).copyMemory(from: bytes.baseAddress! + done, byteCount: n)
            filling.inputCount += n
            done += n
            if filling.inputCount == options.frameSize { try submitFilling() }
        }
        bytesIn &+= UInt64(bytes.count)
    }

    /// Lends the free end of the frame being filled, so a reader can fill it directly.
    public func borrowWritableSpace(maxCount: Int) throws -> UnsafeMutableRawBufferPointer? {
        precondition(!finished, "ZstdSeekableCompressor.borrowWritableSpace after finish()")
        if let failure { throw failure }
        guard maxCount > 0 else { return nil }
        // A full frame is always handed on at once, so there is room.
        let start = filling.inputCount
        lent = min(options.frameSize - start, maxCount)
        return UnsafeMutableRawBufferPointer(rebasing: filling.input[start..<(start + lent)])
    }

    /// Takes `count` bytes of the lent space into the frame, handing it on when full.
    public func commitBorrowedSpace(_ count: Int) throws {
        precondition(count >= 0 && count <= lent, "ZstdSeekableCompressor.commitBorrowedSpace beyond the loan")
        lent = 0
        if let failure { throw failure }
        filling.inputCount += count
        bytesIn &+= UInt64(count)
        if filling.inputCount == options.frameSize { try submitFilling() }
    }

    /// Compresses the last frame, writes every frame and the seek table downstream, and
    /// returns the downstream sink.
    @discardableResult
    public func finish() throws -> Downstream {
        precondition(!finished, "ZstdSeekableCompressor.finish called twice")
        finished = true
        if let failure { throw failure }
        // An empty input still makes one (empty) frame: the output is a zstd stream.
        if filling.inputCount > 0 || seekTable.entries.isEmpty && pending.isEmpty {
            try submitFilling()
        }
        while !pending.isEmpty { try retireOldest() }
        if !tooManyFrames {
            let table = seekTable.encoded()
            try table.withUnsafeBytes { try downstream.write($0) }
            bytesOut &+= UInt64(table.count)
        }
        return downstream
    }

    /// Hands the frame being filled to the next worker (after writing out the oldest one
    /// when every worker already has one), and starts filling a fresh or recycled buffer.
    private func submitFilling() throws {
        do {
            // Frames already compressed go out now (their bytes start on their way to the
            // disk sooner); past the queue's depth, wait for the oldest.
            while let done = pending.finishOldestIfDone() { try retire(done) }
            if pending.count >= pending.workerCount + ZstdSeekableOptions.framesQueued { try retireOldest() }
            let job = filling
            filling = try spare.popLast()
                ?? FrameJob(inputCapacity: options.frameSize, outputCapacity: ZSTD_compressBound(options.frameSize))
            pending.start(job)
        } catch {
            failure = error
            throw error
        }
    }

    /// Waits for the oldest frame and retires it.
    private func retireOldest() throws {
        guard let job = pending.finishOldest() else { return }
        try retire(job)
    }

    /// Writes a finished `job` downstream and records it in the seek table.
    private func retire(_ job: FrameJob) throws {
        if let error = job.error { throw error }
        let frame = UnsafeRawBufferPointer(rebasing: job.output[..<job.produced])
        try downstream.write(frame)
        bytesOut &+= UInt64(job.produced)
        if seekTable.entries.count < ZstdSeekTable.maxFrames {
            // With checksums on, the frame ends with the low 32 bits of XXH64 of its content,
            // the very value the seek table's checksum field holds.
            let checksum: UInt32? = options.checksum && job.produced >= 4
                ? frame.loadUnaligned(fromByteOffset: job.produced - 4, as: UInt32.self).littleEndian : nil
            seekTable.entries.append(ZstdSeekTable.Entry(
                compressedSize: UInt32(job.produced), decompressedSize: UInt32(job.inputCount), checksum: checksum))
        } else {
            // Past the format's limit: no table is written; the frames stay a valid stream.
            tooManyFrames = true
        }
        job.reset()
        spare.append(job)
    }
}

/// Settings for ``ZstdSeekableCompressor``.
public struct ZstdSeekableOptions: Sendable, Equatable {
    /// zstd level of every frame.
    public var level: Int
    /// Worker threads compressing frames; `0` compresses each frame on the calling thread.
    public var workers: Int
    /// Uncompressed bytes per frame, 64 KiB … 1 GiB (other values are clamped). Larger frames compress slightly
    /// better (each frame starts with an empty window) and cost more memory per frame in
    /// flight on both sides; 4 MiB keeps a VM disk's archive within 1 % of one frame of
    /// `zstd -3` (see ``defaultFrameSize``).
    public var frameSize: Int
    /// Whether each frame carries a content checksum (then the seek table does too).
    public var checksum: Bool

    /// Level 3, one worker per core, 4 MiB frames, checksums on.
    public init(level: Int = 3, workers: Int = ZstdCompressionOptions.availableCores,
                frameSize: Int = ZstdSeekableOptions.defaultFrameSize, checksum: Bool = true) {
        self.level = level
        self.workers = max(0, workers)
        self.frameSize = min(max(frameSize, 64 << 10), 1 << 30)
        self.checksum = checksum
    }

    /// 4 MiB: measured on the tar of a 2 GiB ext4 disk holding 250 MB of `/usr`, independent
    /// frames of 1/2/3/4/6/8 MiB with level 3's own window came to
    /// 1.037/1.019/1.009/1.009/1.000/1.003 times the size of `zstd -3` on one frame, and 4 MiB
    /// frames with a window covering the frame (``frameWindowLog``) to 1.003; 4 MiB stays well
    /// inside the 1.02 budget and keeps the frames in flight small. Text that compresses 8:1
    /// pays more for independent frames: on the tar of `/usr/include`, 1.053 at 4 MiB
    /// (split-and-sum of 8 and 16 MiB pieces: 1.018 and 1.010).
    public static let defaultFrameSize = 4 << 20

    /// The window that covers a whole frame, for frames of up to 8 MiB (`nil` above: the
    /// level's own window, so a decoder streaming a frame of 1 GiB never needs a window that
    /// large). A frame starts with an empty window either way; within it, level 3's own
    /// 2 MiB window lost matches a 4 MiB frame could use: with the frame's whole length as
    /// window, `zstd -b3 -B4MiB` on the benchmark disk's tar came to 1.0034 instead of 1.0088
    /// times the size of `zstd -3` on one frame (on the tar of `/usr/include`, 1.053 instead
    /// of 1.069) at the same speed. Decoders need no more memory than the frame's length.
    var frameWindowLog: Int? {
        guard frameSize <= 8 << 20 else { return nil }
        var log = 10
        while 1 << log < frameSize { log += 1 }
        return log
    }

    /// Frames waiting for a worker beyond one per worker, so a worker that finishes a quick
    /// frame finds the next one ready instead of waiting for the oldest (slowest) frame to be
    /// written out. Each costs one frame's buffers.
    /// Measured (`package` of a 2 GiB disk holding 257 MB of `/usr`, 2 cores, 5 alternating
    /// runs each): medians 0.68 s with none, 0.62 s with one, 0.64 s with two, 0.63 s with
    /// three, at 33, 39, 45 and 51 MiB peak RSS.
    static let framesQueued = 1
}
