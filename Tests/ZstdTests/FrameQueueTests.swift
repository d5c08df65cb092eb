import CZstd
import Testing
@testable import Zstd

/// How ``FrameQueue`` hands frames to its workers and gives them back.
@Suite struct FrameQueueTests {
    /// A compression job holding `bytes`.
    private static func job(_ bytes: ArraySlice<UInt8>) throws -> FrameJob {
        let job = try FrameJob(inputCapacity: bytes.count, outputCapacity: ZSTD_compressBound(bytes.count))
        bytes.withUnsafeBytes { job.input.copyMemory(from: $0) }
        job.inputCount = bytes.count
        return job
    }

    /// What `job` produced, decompressed by libzstd's one-shot decoder.
    private static func decompressed(_ job: FrameJob, expecting count: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        let result = out.withUnsafeMutableBytes {
            ZSTD_decompress($0.baseAddress, count, job.output.baseAddress, job.produced)
        }
        return ZSTD_isError(result) == 0 && result == count ? out : []
    }

    @Test("a free worker takes the next frame while the other is still busy with a slow one; frames come back in order")
    func freeWorkerTakesNextFrame() throws {
        // Level 19 on 2 MiB takes seconds; the small frames take milliseconds.
        let workers = try (0..<2).map { try FrameWorker(.compress, level: 19, label: "test.frame.\($0)") }
        var queue = FrameQueue(workers: workers, threaded: true)
        let slowInput = Samples.mixed.prefix(2 << 20)
        let smallInputs = (0..<3).map { Samples.mixed[(($0 + 3) << 20)..<((($0 + 3) << 20) + 4096)] }
        let slow = try Self.job(slowInput)
        let small = try smallInputs.map { try Self.job($0) }
        queue.start(slow)
        for job in small { queue.start(job) }

        // Handed out in turn, the second small frame would wait behind the slow one. The waits
        // block this thread (a `Task.sleep` poll may not run again for seconds while other
        // tests hold the cooperative threads); each finish signal is put back for the queue.
        for job in small {
            job.wait()
            job.finish()
        }
        #expect(!slow.isFinished(), "every small frame finished while the slow one still ran")
        guard !slow.isFinished() else { return }
        #expect(queue.finishOldestIfDone() == nil, "the oldest frame is still running")

        let oldest = queue.finishOldest()
        let first = try #require(oldest)
        #expect(first === slow)
        // Compared outside #expect: a failed == on megabytes makes Swift Testing diff them.
        let slowSame = Self.decompressed(first, expecting: slowInput.count) == Array(slowInput)
        #expect(slowSame, "the slow frame does not decode to its input")
        for (expected, input) in zip(small, smallInputs) {
            let done = queue.finishOldestIfDone()
            let next = try #require(done)
            #expect(next === expected)
            let same = Self.decompressed(next, expecting: input.count) == Array(input)
            #expect(same, "a small frame does not decode to its input")
        }
        #expect(queue.isEmpty)
        #expect(queue.finishOldest() == nil)
    }

    @Test("without threads, each frame runs as it is started and is finished at once")
    func inlineQueue() throws {
        var queue = FrameQueue(workers: [try FrameWorker(.compress, level: 3, label: "test.inline")], threaded: false)
        let inputs = (0..<3).map { Samples.mixed[($0 << 16)..<(($0 + 1) << 16)] }
        for input in inputs { queue.start(try Self.job(input)) }
        #expect(queue.count == 3)
        for input in inputs {
            let done = queue.finishOldestIfDone()
            let job = try #require(done)
            let same = Self.decompressed(job, expecting: input.count) == Array(input)
            #expect(same, "a frame does not decode to its input")
        }
        #expect(queue.isEmpty)
    }
}
