import Dispatch

/// The frames handed to a pool of ``FrameWorker``s, oldest first.
///
/// Each frame goes to whichever worker is free first (or runs at once on the calling thread
/// when the pool has no threads of its own), so a worker that finishes a quick frame takes
/// the next one instead of waiting behind a slow one. Frames come back strictly in the order
/// they were started, which is what keeps a multi-frame stream's bytes in order on both
/// sides: the compressor writes frames out in this order, the decompressor hands their bytes
/// out in it.
struct FrameQueue {
    /// Hands started frames to free workers; nil when jobs run on the calling thread.
    private let scheduler: FrameScheduler?
    /// The worker that runs every job when there is no scheduler.
    private let inlineWorker: FrameWorker
    /// Workers in the pool.
    let workerCount: Int
    private var jobs: [FrameJob] = []
    /// Index of the oldest job in `jobs` (the array is compacted now and then, not per job).
    private var head = 0

    /// A queue over `workers` (at least one); with `threaded` false, jobs run on the caller.
    init(workers: [FrameWorker], threaded: Bool) {
        precondition(!workers.isEmpty, "FrameQueue needs a worker")
        self.inlineWorker = workers[0]
        self.workerCount = workers.count
        self.scheduler = threaded ? FrameScheduler(workers: workers) : nil
    }

    /// Frames started and not taken back yet.
    var count: Int { jobs.count - head }

    /// Whether every frame started has been taken back.
    var isEmpty: Bool { head == jobs.count }

    /// Starts `job` on the first free worker (or runs it now when the pool has no threads).
    mutating func start(_ job: FrameJob) {
        if let scheduler {
            scheduler.submit(job)
        } else {
            inlineWorker.run(job)
        }
        jobs.append(job)
    }

    /// Takes back the oldest frame once its worker has finished it (its `error` or output is
    /// then set); nil when no frame is in flight.
    mutating func finishOldest() -> FrameJob? {
        guard head < jobs.count else { return nil }
        let job = jobs[head]
        job.wait()
        head += 1
        if head > 64 {
            jobs.removeFirst(head)
            head = 0
        }
        return job
    }

    /// Takes back the oldest frame if its worker has already finished it, without waiting.
    mutating func finishOldestIfDone() -> FrameJob? {
        guard head < jobs.count, jobs[head].isFinished() else { return nil }
        return finishOldest()
    }
}

/// Hands jobs to whichever ``FrameWorker`` is idle, in the order they were submitted.
///
/// Its state (the idle workers and the jobs waiting for one) is touched only on its own
/// serial queue, which is what makes the unchecked `Sendable` sound.
final class FrameScheduler: @unchecked Sendable {
    private let queue = DispatchQueue(label: "zstd.frames.scheduler", qos: .userInitiated)
    private var idle: [FrameWorker]
    private var waiting: [FrameJob] = []
    private var waitingHead = 0

    /// A scheduler over `workers`, all idle.
    init(workers: [FrameWorker]) {
        self.idle = workers
    }

    /// Queues `job`; the first worker to be free runs it.
    func submit(_ job: FrameJob) {
        queue.async {
            self.waiting.append(job)
            self.dispatchWaiting()
        }
    }

    /// On `queue`: gives waiting jobs to idle workers, oldest job first.
    private func dispatchWaiting() {
        while !idle.isEmpty && waitingHead < waiting.count {
            let job = waiting[waitingHead]
            waitingHead += 1
            let worker = idle.removeLast()
            worker.submit(job) {
                self.queue.async {
                    self.idle.append(worker)
                    self.dispatchWaiting()
                }
            }
        }
        if waitingHead == waiting.count {
            waiting.removeAll(keepingCapacity: true)
            waitingHead = 0
        }
    }
}
