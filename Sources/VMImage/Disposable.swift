/// A resource the ``GarbageCollector`` may free when the host runs short of disk or memory:
/// a cached image, an unpacked layer. taskcluster-worker's `gc.Disposable`.
///
/// Conformers are reference types (the collector tracks them by identity) and must be safe to
/// call from any task; an `actor` is the natural fit.
public protocol Disposable: AnyObject, Sendable {
    /// Bytes of memory the resource holds; `nil` when unknown but not trivial (a small fixed
    /// amount may be given as 1). Zero means freeing it would not release memory.
    var memoryUsage: UInt64? { get async }
    /// Bytes of disk the resource holds; `nil` when unknown but not trivial. Zero means
    /// freeing it would not release disk space.
    var diskUsage: UInt64? { get async }
    /// When the resource was last used; the collector frees the least recently used first.
    var lastUsed: ContinuousClock.Instant { get async }
    /// Whether something holds the resource now; the collector never disposes it then.
    var isInUse: Bool { get async }
    /// Frees the resource and removes it from whatever cache knows it.
    ///
    /// Throw ``DisposableError/inUse`` when it became used meanwhile: the collector keeps it.
    /// Any other error stops the collection and reaches whoever started it, because a
    /// resource that cannot be freed is a leak the operator must hear about.
    func dispose() async throws
}

/// Errors a ``Disposable`` uses to talk to the collector.
public enum DisposableError: Error, Sendable, Hashable {
    /// The resource is in use and was not disposed.
    case inUse
}

/// Tracks disposable resources without being able to start a collection: the side of the
/// ``GarbageCollector`` handed to components such as the image manager.
public protocol ResourceTracker: Sendable {
    /// Starts tracking `resource` (tracking it twice has no effect).
    func register(_ resource: any Disposable) async
    /// Stops tracking `resource`; returns whether it was tracked.
    @discardableResult
    func unregister(_ resource: any Disposable) async -> Bool
}
