import ByteStreams
import CZstd
import Dispatch

/// One frame's work for a ``FrameWorker``: its input bytes, an output buffer of fixed
/// capacity, and, once ``wait()`` returns, how many output bytes it produced or the error.
///
/// The submitting thread fills `input` before handing the job over and reads the result only
/// after `wait()`; the worker touches the job only in between. The semaphore orders the two,
/// which is what makes the unchecked `Sendable` sound.
final class FrameJob: @unchecked Sendable {
    let input: UnsafeMutableRawBufferPointer
    let output: UnsafeMutableRawBufferPointer
    /// Bytes of `input` that belong to this frame.
    var inputCount = 0
    /// Bytes of `output` the frame may fill (decompression: exactly what its header declares).
    var outputLimit = 0
    /// Bytes of `output` produced.
    var produced = 0
    /// Where the frame starts in the compressed stream (for error messages).
    var offset: UInt64 = 0
    var error: ZstdError?
    private let done = DispatchSemaphore(value: 0)

    /// A job with buffers of the given capacities, mapped straight from the kernel: pages
    /// count as memory only once touched, and all of them go back when the job is freed
    /// (`malloc` keeps freed megabytes of differently sized frames in its heap).
    init(inputCapacity: Int, outputCapacity: Int) throws {
        input = try Self.map(inputCapacity)
        do {
            output = try Self.map(outputCapacity)
        } catch {
            try? SystemCall.unmap(input)
            throw error
        }
        outputLimit = outputCapacity
    }

    private static func map(_ capacity: Int) throws -> UnsafeMutableRawBufferPointer {
        let page = 4096
        let size = (max(1, capacity) + page - 1) / page * page
        do {
            return try SystemCall.mapAnonymous(count: size)
        } catch {
            let reason = error.errno == .noMemory ? "out of memory" : error.errno.description
            throw ZstdError.library(operation: "mmap of \(size) bytes for a frame", reason: reason)
        }
    }

    /// Bytes this job's buffers hold.
    var footprint: Int { input.count + output.count }

    /// Makes the job ready to be submitted again (the semaphore is back at 0 after `wait()`).
    func reset() {
        inputCount = 0
        produced = 0
        error = nil
    }

    deinit {
        // Unmapping what `init` mapped fails only for an address or size `mmap` never returned.
        try? SystemCall.unmap(input)
        try? SystemCall.unmap(output)
    }

    /// Marks the job finished (called by the worker, once).
    func finish() { done.signal() }

    /// Blocks until the worker has finished the job.
    func wait() { done.wait() }

    /// Whether the worker has finished the job, without blocking (the finish signal is put
    /// back, so a later ``wait()`` still returns at once).
    func isFinished() -> Bool {
        guard done.wait(timeout: .now()) == .success else { return false }
        done.signal()
        return true
    }
}

/// A serial queue with its own libzstd context: the frames given to it run one at a time,
/// so the context is never used by two threads at once. Several workers give parallelism.
final class FrameWorker: @unchecked Sendable {
    enum Kind { case compress, decompress }

    private let queue: DispatchQueue
    private let kind: Kind
    /// A `ZSTD_CCtx` or `ZSTD_DCtx`, used only on `queue`.
    private let context: OpaquePointer

    /// A worker with a compression context at `level` (checksums as asked, content size in
    /// every frame header, no libzstd threads of its own, and a window of `2^windowLog`
    /// bytes when given instead of the level's own), or with a decompression context.
    init(_ kind: Kind, level: Int = 3, checksum: Bool = true, windowLog: Int? = nil, label: String) throws {
        switch kind {
        case .compress:
            guard let context = ZSTD_createCCtx() else {
                throw ZstdError.library(operation: "ZSTD_createCCtx", reason: "out of memory")
            }
            do {
                try ZstdError.check(ZSTD_CCtx_setParameter(context, ZSTD_c_compressionLevel, Int32(clamping: level)),
                                    "setting compression level \(level)")
                try ZstdError.check(ZSTD_CCtx_setParameter(context, ZSTD_c_checksumFlag, checksum ? 1 : 0),
                                    "enabling checksums")
                try ZstdError.check(ZSTD_CCtx_setParameter(context, ZSTD_c_contentSizeFlag, 1), "enabling content sizes")
                if let windowLog {
                    try ZstdError.check(ZSTD_CCtx_setParameter(context, ZSTD_c_windowLog, Int32(clamping: windowLog)),
                                        "setting a window of 2^\(windowLog) bytes")
                }
            } catch {
                ZSTD_freeCCtx(context)
                throw error
            }
            self.context = context
        case .decompress:
            guard let context = ZSTD_createDCtx() else {
                throw ZstdError.library(operation: "ZSTD_createDCtx", reason: "out of memory")
            }
            self.context = context
        }
        self.kind = kind
        self.queue = DispatchQueue(label: label, qos: .userInitiated)
    }

    deinit {
        switch kind {
        case .compress: ZSTD_freeCCtx(context)
        case .decompress: ZSTD_freeDCtx(context)
        }
    }

    /// Runs `job` on this worker's queue; `job.finish()` is called when it is done, then
    /// `completion` (on the same queue).
    func submit(_ job: FrameJob, completion: @escaping @Sendable () -> Void) {
        queue.async {
            self.run(job)
            completion()
        }
    }

    /// Runs `job` on the calling thread (when there are no worker threads).
    func run(_ job: FrameJob) {
        defer { job.finish() }
        switch kind {
        case .compress:
            let result = ZSTD_compress2(context, job.output.baseAddress, job.outputLimit,
                                        job.input.baseAddress, job.inputCount)
            if ZSTD_isError(result) != 0 {
                job.error = .library(operation: "ZSTD_compress2", reason: String(cString: ZSTD_getErrorName(result)))
            } else {
                job.produced = result
            }
        case .decompress:
            let result = ZSTD_decompressDCtx(context, job.output.baseAddress, job.outputLimit,
                                             job.input.baseAddress, job.inputCount)
            if ZSTD_isError(result) != 0 {
                if ZSTD_getErrorCode(result) == ZSTD_error_dstSize_tooSmall {
                    job.error = .frameLargerThanDeclared(offset: job.offset, declared: UInt64(job.outputLimit))
                } else {
                    job.error = .decompression(code: result, offset: job.offset, windowLogMax: 31)
                }
            } else if result != job.outputLimit {
                job.error = .corrupt(offset: job.offset, reason: "the frame decodes to \(result) bytes, its header declares \(job.outputLimit)")
            } else {
                job.produced = result
            }
        }
    }
}
