import ByteStreams

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Carries bytes from an async producer (a download) to a blocking consumer (the
/// zstd → tar extraction running on its own thread), with a bounded buffer between them.
///
/// The producer `send`s chunks and waits, without blocking a thread, while the buffer is
/// full; the consumer reads through ``Reader`` (a ``ByteSource``) and blocks while it is
/// empty. Either side can stop the other: the producer by `finish(throwing:)`, the consumer
/// by `closeReading()`, after which `send` throws ``Closed``.
final class ByteBridge: @unchecked Sendable {
    /// Thrown by `send` once the consumer has stopped reading.
    struct Closed: Error {}

    private let capacity: Int
    private var mutex = pthread_mutex_t()
    private var condition = pthread_cond_t()
    // State below is guarded by `mutex`.
    private var chunks: [[UInt8]] = []
    private var head = 0
    private var headOffset = 0
    private var buffered = 0
    private var finished = false
    private var producerError: (any Error)?
    private var readerClosed = false
    private var spaceWaiter: CheckedContinuation<Void, Never>?

    /// A bridge buffering at most about `capacity` bytes.
    init(capacity: Int = 8 << 20) {
        self.capacity = max(1, capacity)
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&condition, nil)
    }

    deinit {
        pthread_cond_destroy(&condition)
        pthread_mutex_destroy(&mutex)
    }

    private func locked<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return try body()
    }

    /// Hands `chunk` to the consumer, waiting while the buffer is full.
    func send(_ chunk: [UInt8]) async throws {
        guard !chunk.isEmpty else { return }
        while true {
            let accepted: Bool = try locked {
                if readerClosed { throw Closed() }
                guard buffered < capacity else { return false }
                chunks.append(chunk)
                buffered += chunk.count
                pthread_cond_signal(&condition)
                return true
            }
            if accepted { return }
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow: Bool = locked {
                    if buffered < capacity || readerClosed { return true }
                    spaceWaiter = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        }
    }

    /// Tells the consumer that no more bytes come: the stream ends cleanly, or with `error`.
    func finish(throwing error: (any Error)? = nil) {
        locked {
            finished = true
            producerError = error
            pthread_cond_broadcast(&condition)
        }
    }

    /// Tells the producer that the consumer stopped (for example on a validation error).
    func closeReading() {
        let waiter: CheckedContinuation<Void, Never>? = locked {
            readerClosed = true
            chunks.removeAll()
            buffered = 0
            defer { spaceWaiter = nil }
            return spaceWaiter
        }
        waiter?.resume()
    }

    /// Blocking read for the consumer side.
    fileprivate func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard buffer.count > 0 else { return 0 }
        var waiter: CheckedContinuation<Void, Never>?
        defer { waiter?.resume() }
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        while head == chunks.count && !finished && !readerClosed {
            pthread_cond_wait(&condition, &mutex)
        }
        if head == chunks.count {
            if let producerError { throw producerError }
            return 0
        }
        let chunk = chunks[head]
        let n = min(buffer.count, chunk.count - headOffset)
        chunk.withUnsafeBytes { source in
            buffer.baseAddress!.copyMemory(from: source.baseAddress! + headOffset, byteCount: n)
        }
        headOffset += n
        buffered -= n
        if headOffset == chunk.count {
            head += 1
            headOffset = 0
            if head > 64 {
                chunks.removeFirst(head)
                head = 0
            }
        }
        if buffered < capacity, let spaceWaiter {
            waiter = spaceWaiter
            self.spaceWaiter = nil
        }
        return n
    }

    /// The consumer's view of the bridge.
    struct Reader: ByteSource {
        let bridge: ByteBridge
        /// Blocks until bytes are available, the producer finished, or it failed.
        mutating func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
            try bridge.read(into: buffer)
        }
    }

    /// A ``ByteSource`` reading what the producer sends.
    var reader: Reader { Reader(bridge: self) }
}
