/// The frames handed to a pool of ``FrameWorker``s, oldest first.
///
/// Each frame goes to the next worker in turn (or runs at once on the calling thread when the
/// pool has no threads of its own), and frames come back strictly in the order they were
/// started, which is what keeps a multi-frame stream's bytes in order on both sides: the
/// compressor writes frames out in this order, the decompressor hands their bytes out in it.
struct FrameQueue {
    private let workers: [FrameWorker]
    /// Whether the workers run jobs on their own threads; `false` runs each job in `start`.
    private let threaded: Bool
    private var jobs: [FrameJob] = []
    /// Index of the oldest job in `jobs` (the array is compacted now and then, not per job).
    private var head = 0
    private var nextWorker = 0

    /// A queue over `workers` (at least one); with `threaded` false, jobs run on the caller.
    init(workers: [FrameWorker], threaded: Bool) {
        precondition(!workers.isEmpty, "FrameQueue needs a worker")
        self.workers = workers
        self.threaded = threaded
    }

    /// Frames started and not taken back yet.
    var count: Int { jobs.count - head }

    /// Whether every frame started has been taken back.
    var isEmpty: Bool { head == jobs.count }

    /// Workers in the pool.
    var workerCount: Int { workers.count }

    /// Starts `job` on the next worker (or runs it now when the pool has no threads).
    mutating func start(_ job: FrameJob) {
        if threaded {
            workers[nextWorker].submit(job)
            nextWorker = (nextWorker + 1) % workers.count
        } else {
            workers[0].run(job)
        }
        jobs.append(job)
    }

    /// Takes back the oldest frame once its worker has finished it (its `error` or output is
    /// then set); nil when no frame is in flight.
    mutating func finishOldest() -> FrameJob? {
        guard head < jobs.count else { return nil }
        let job = jobs[head]
        head += 1
        if head > 64 {
            jobs.removeFirst(head)
            head = 0
        }
        job.wait()
        return job
    }
}
