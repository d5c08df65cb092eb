#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The in-use bookkeeping of a ``Disposable``: how many holders it has, when it was last
/// used, and whether it has been disposed — taskcluster-worker's `gc.DisposableResource`,
/// with the check-and-dispose made atomic.
///
/// A holder calls ``acquire()`` (which fails once disposal began) and later ``release()``.
/// `dispose()` starts with `guard usage.beginDisposal() else { throw DisposableError.inUse }`,
/// so no holder can slip in between the collector's in-use check and the disposal.
/// Synchronous and thread-safe, so an instance's `release()` need not be `async`.
public final class ResourceUsage: @unchecked Sendable {
    // All state below is guarded by `mutex`.
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private var holderCount = 0
    private var lastUse: ContinuousClock.Instant
    private var disposing = false

    /// Bookkeeping for a resource that nobody holds, last used now.
    public init() {
        mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
        lastUse = ContinuousClock.now
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deinitialize(count: 1)
        mutex.deallocate()
    }

    private func locked<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return body()
    }

    /// Adds a holder; returns `false` (and adds none) when disposal has begun.
    @discardableResult
    public func acquire() -> Bool {
        locked {
            guard !disposing else { return false }
            holderCount += 1
            lastUse = ContinuousClock.now
            return true
        }
    }

    /// Removes a holder and marks the resource used now (an extra release is ignored).
    public func release() {
        locked {
            holderCount = max(0, holderCount - 1)
            lastUse = ContinuousClock.now
        }
    }

    /// How many holders the resource has.
    public var holders: Int { locked { holderCount } }

    /// Whether anyone holds the resource.
    public var isInUse: Bool { locked { holderCount > 0 } }

    /// When the resource was last acquired or released.
    public var lastUsed: ContinuousClock.Instant { locked { lastUse } }

    /// Whether disposal has begun (``acquire()`` fails from then on).
    public var isDisposed: Bool { locked { disposing } }

    /// Begins disposal when nobody holds the resource; returns `false` when someone does (or
    /// disposal had already begun), in which case the caller must not dispose.
    public func beginDisposal() -> Bool {
        locked {
            guard holderCount == 0, !disposing else { return false }
            disposing = true
            return true
        }
    }
}
