import SystemPackage

/// Frees tracked ``Disposable`` resources, least recently used first, while the host is short
/// of disk space or memory. taskcluster-worker's `gc.GarbageCollector`.
///
/// ``collect()`` disposes resources until the file system holding `storageFolder` has at
/// least `minimumDiskSpace` bytes free and at least `minimumMemory` bytes of memory are
/// available (readings taken again after each disposal), or nothing more can go. A resource
/// in use is never disposed. An actor: collections never overlap, and registration from any
/// task is safe.
public actor GarbageCollector: ResourceTracker {
    /// The folder whose file system's free space is watched.
    public nonisolated let storageFolder: FilePath
    /// Free disk space the collector tries to keep, in bytes.
    public nonisolated let minimumDiskSpace: UInt64
    /// Available memory the collector tries to keep, in bytes.
    public nonisolated let minimumMemory: UInt64
    private let readings: FreeSpaceReadings
    private let monitor: Monitor
    private var resources: [any Disposable] = []
    private var running: Task<Int, any Error>?

    /// A collector watching `storageFolder`'s file system and the host's memory through
    /// `readings`, logging each disposal to `monitor` (prefix `gc`).
    public init(
        storageFolder: FilePath, minimumDiskSpace: UInt64, minimumMemory: UInt64,
        readings: FreeSpaceReadings = .system, monitor: Monitor = .silent
    ) {
        self.storageFolder = storageFolder
        self.minimumDiskSpace = minimumDiskSpace
        self.minimumMemory = minimumMemory
        self.readings = readings
        self.monitor = monitor.withPrefix("gc")
    }

    /// Starts tracking `resource` (tracking it twice has no effect).
    public func register(_ resource: any Disposable) {
        guard index(of: resource) == nil else { return }
        resources.append(resource)
    }

    /// Stops tracking `resource`; returns whether it was tracked.
    @discardableResult
    public func unregister(_ resource: any Disposable) -> Bool {
        guard let index = index(of: resource) else { return false }
        resources.remove(at: index)
        return true
    }

    /// How many resources are tracked.
    public var trackedCount: Int { resources.count }

    /// Whether `resource` is tracked.
    public func isTracked(_ resource: any Disposable) -> Bool {
        index(of: resource) != nil
    }

    /// Disposes least recently used resources while disk space or memory is below its minimum.
    ///
    /// A resource is disposed for disk space only when its ``Disposable/diskUsage`` is not
    /// zero, for memory only when its ``Disposable/memoryUsage`` is not zero. A call made while
    /// a collection runs waits for that one and returns its result.
    ///
    /// - Returns: how many resources were disposed.
    /// - Throws: a reading's error, or the error of a ``Disposable/dispose()`` other than
    ///   ``DisposableError/inUse`` (the resources not yet visited stay tracked).
    @discardableResult
    public func collect() async throws -> Int {
        if let running {
            return try await running.value
        }
        return try await run { collector in try await collector.collectWhileShort() }
    }

    /// Disposes every resource not in use, whatever the free space (useful in tests and at shutdown).
    ///
    /// - Returns: how many resources were disposed.
    @discardableResult
    public func collectAll() async throws -> Int {
        while let running {
            _ = try? await running.value
        }
        return try await run { collector in try await collector.disposeAllUnused() }
    }

    private func run(_ body: @escaping @Sendable (isolated GarbageCollector) async throws -> Int) async throws -> Int {
        let task = Task { try await body(self) }
        running = task
        defer { running = nil }
        return try await task.value
    }

    private func collectWhileShort() async throws -> Int {
        var disposed = 0
        for resource in try await leastRecentlyUsedFirst() {
            let freeDisk = try readings.freeDiskSpace(storageFolder)
            let freeMemory = try readings.freeMemory()
            let needDisk = freeDisk < minimumDiskSpace
            let needMemory = freeMemory < minimumMemory
            guard needDisk || needMemory else { break }
            monitor.debug("short of \(needDisk ? "disk (\(freeDisk) < \(minimumDiskSpace) bytes free)" : "")"
                + "\(needDisk && needMemory ? " and " : "")"
                + "\(needMemory ? "memory (\(freeMemory) < \(minimumMemory) bytes available)" : "")")
            guard index(of: resource) != nil else { continue }  // unregistered meanwhile
            var frees = false
            if needDisk, await resource.diskUsage != 0 { frees = true }
            if !frees, needMemory, await resource.memoryUsage != 0 { frees = true }
            if frees, try await dispose(resource) {
                disposed += 1
            }
        }
        return disposed
    }

    private func disposeAllUnused() async throws -> Int {
        var disposed = 0
        for resource in resources where try await dispose(resource) {
            disposed += 1
        }
        return disposed
    }

    /// Disposes `resource` unless it is in use; returns whether it was disposed.
    private func dispose(_ resource: any Disposable) async throws -> Bool {
        guard await !resource.isInUse else { return false }
        let disk = await resource.diskUsage.map(String.init) ?? "unknown"
        let memory = await resource.memoryUsage.map(String.init) ?? "unknown"
        do {
            try await resource.dispose()
        } catch DisposableError.inUse {
            return false
        } catch {
            monitor.reportError(error, "disposing \(type(of: resource)) failed; collection stopped")
            throw error
        }
        unregister(resource)
        monitor.info("disposed \(type(of: resource)) (disk \(disk), memory \(memory))")
        return true
    }

    private func leastRecentlyUsedFirst() async throws -> [any Disposable] {
        var stamped: [(instant: ContinuousClock.Instant, order: Int, resource: any Disposable)] = []
        for (order, resource) in resources.enumerated() {
            stamped.append((await resource.lastUsed, order, resource))
        }
        stamped.sort { ($0.instant, $0.order) < ($1.instant, $1.order) }
        return stamped.map(\.resource)
    }

    private func index(of resource: any Disposable) -> Int? {
        resources.firstIndex { $0 === resource }
    }
}
