import Dispatch
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One whole compressed cluster to decode straight into its place in a read buffer.
struct ClusterJob {
    let layer: QCOW2Layer
    let descriptor: CompressedClusterDescriptor
    /// Guest offset of the cluster's first byte (for messages).
    let guest: UInt64
    /// Exactly one cluster of the caller's buffer.
    let target: UnsafeMutableRawBufferPointer
}

/// Decodes the compressed clusters of one read on every core: a fork-join over a fixed set of
/// workers, each with its own ``CompressedClusterDecoder``, writing to disjoint parts of the
/// caller's buffer. Memory: one decoder (about two clusters plus tables) per worker, made on
/// first use; nothing grows with the read's length.
final class ParallelClusterDecoder {
    /// How many workers may run at once.
    let workerCount: Int
    private var decoders: [CompressedClusterDecoder] = []

    /// The processors online, at most 8 (more buys nothing at qcow2 cluster sizes).
    static var defaultWorkerCount: Int {
        min(8, max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))))
    }

    init(workerCount: Int = ParallelClusterDecoder.defaultWorkerCount) {
        self.workerCount = max(1, workerCount)
    }

    /// The first worker's decoder, for reads that decode one cluster on the calling thread.
    var serialDecoder: CompressedClusterDecoder { decoder(0) }

    private func decoder(_ index: Int) -> CompressedClusterDecoder {
        while decoders.count <= index { decoders.append(CompressedClusterDecoder()) }
        return decoders[index]
    }

    /// Decodes every job; when some fail, throws the error of the first failing job in order.
    func decode(_ jobs: [ClusterJob]) throws {
        let workers = min(workerCount, jobs.count)
        if workers <= 1 {
            for job in jobs {
                try serialDecoder.decode(job.descriptor, layer: job.layer, guest: job.guest, into: job.target)
            }
            return
        }
        let batch = Batch(jobs: jobs, decoders: (0..<workers).map { decoder($0) })
        // Each worker takes the next job not taken yet: clusters differ in cost (an
        // incompressible one is stored almost raw), so fixed shares left one worker waiting
        // for the other at the end of every read.
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            batch.run(worker: worker)
        }
        if let first = batch.recorded.compactMap({ $0 }).min(by: { $0.index < $1.index }) {
            throw first.error
        }
    }

    /// What the workers of one `decode` share. Each worker uses only its own decoder and its
    /// own failure slot, reads the jobs and takes job indices from one counter;
    /// `concurrentPerform` returns only after every worker has finished, so the caller then
    /// sees all their writes.
    private final class Batch: @unchecked Sendable {
        let jobs: [ClusterJob]
        let decoders: [CompressedClusterDecoder]
        private let slots: UnsafeMutableBufferPointer<(index: Int, error: any Error)?>
        /// The next job no worker has taken.
        private let nextJob = Mutex(0)
        /// Set by a failing worker: the others stop taking jobs.
        private let failed = Mutex(false)

        init(jobs: [ClusterJob], decoders: [CompressedClusterDecoder]) {
            self.jobs = jobs
            self.decoders = decoders
            slots = .allocate(capacity: decoders.count)
            slots.initialize(repeating: nil)
        }

        deinit {
            slots.deinitialize()
            slots.deallocate()
        }

        func run(worker: Int) {
            while true {
                let index = nextJob.withLock { next in
                    defer { next += 1 }
                    return next
                }
                guard index < jobs.count, !failed.withLock({ $0 }) else { return }
                let job = jobs[index]
                do {
                    try decoders[worker].decode(job.descriptor, layer: job.layer, guest: job.guest, into: job.target)
                } catch {
                    slots[worker] = (index, error)
                    failed.withLock { $0 = true }
                    return
                }
            }
        }

        /// The failures, one slot per worker (read after every worker finished).
        var recorded: [(index: Int, error: any Error)?] { Array(slots) }
    }
}
