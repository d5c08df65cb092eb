import Dispatch

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
        // Worker k takes jobs k, k + workers, …: neighbouring clusters cost about the same,
        // so the shares stay even without a shared counter.
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            batch.run(worker: worker, stride: workers)
        }
        if let first = batch.recorded.compactMap({ $0 }).min(by: { $0.index < $1.index }) {
            throw first.error
        }
    }

    /// What the workers of one `decode` share. Each worker uses only its own decoder and its
    /// own failure slot and reads the jobs; `concurrentPerform` returns only after every worker
    /// has finished, so the caller then sees all their writes.
    private final class Batch: @unchecked Sendable {
        let jobs: [ClusterJob]
        let decoders: [CompressedClusterDecoder]
        private let slots: UnsafeMutableBufferPointer<(index: Int, error: any Error)?>

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

        func run(worker: Int, stride: Int) {
            var index = worker
            while index < jobs.count {
                let job = jobs[index]
                do {
                    try decoders[worker].decode(job.descriptor, layer: job.layer, guest: job.guest, into: job.target)
                } catch {
                    slots[worker] = (index, error)
                    return
                }
                index += stride
            }
        }

        /// The failures, one slot per worker (read after every worker finished).
        var recorded: [(index: Int, error: any Error)?] { Array(slots) }
    }
}
