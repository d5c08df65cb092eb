import Synchronization
import SystemPackage
import Testing
@testable import VMImage

/// A host whose free disk and memory the test sets and the fake resources give back.
final class FakeHost: Sendable {
    let state = Mutex((disk: UInt64(0), memory: UInt64(0), readings: 0))
    let disposals = Mutex([String]())

    init(disk: UInt64, memory: UInt64) {
        state.withLock { $0 = (disk, memory, 0) }
    }

    var readings: FreeSpaceReadings {
        FreeSpaceReadings(
            freeDiskSpace: { _ in self.state.withLock { $0.readings += 1; return $0.disk } },
            freeMemory: { self.state.withLock { $0.memory } })
    }

    var disposed: [String] { disposals.withLock { $0 } }
}

/// A resource that frees its sizes on the fake host when disposed.
actor FakeResource: Disposable {
    let name: String
    let host: FakeHost
    let disk: UInt64?
    let memory: UInt64?
    var lastUsed: ContinuousClock.Instant
    var isInUse: Bool
    var failure: (any Error)?
    var refuseAsInUse = false

    init(_ name: String, host: FakeHost, disk: UInt64?, memory: UInt64? = 0, age: Int, inUse: Bool = false) {
        self.name = name
        self.host = host
        self.disk = disk
        self.memory = memory
        self.lastUsed = ContinuousClock.now - .seconds(age)
        self.isInUse = inUse
    }

    var diskUsage: UInt64? { disk }
    var memoryUsage: UInt64? { memory }

    func setFailure(_ error: any Error) { failure = error }
    func setRefuse() { refuseAsInUse = true }

    func dispose() async throws {
        if let failure { throw failure }
        if refuseAsInUse { throw DisposableError.inUse }
        host.state.withLock { state in
            state.disk += disk ?? 0
            state.memory += memory ?? 0
        }
        host.disposals.withLock { $0.append(name) }
    }
}

struct DisposeFailed: Error {}

@Suite("Garbage collector")
struct GarbageCollectorTests {
    private func collector(_ host: FakeHost, disk: UInt64 = 100, memory: UInt64 = 0) -> GarbageCollector {
        GarbageCollector(storageFolder: "/images", minimumDiskSpace: disk, minimumMemory: memory, readings: host.readings)
    }

    @Test func disposesLeastRecentlyUsedFirstUntilDiskSpaceSuffices() async throws {
        let host = FakeHost(disk: 10, memory: 1000)
        let gc = collector(host)
        let recent = FakeResource("recent", host: host, disk: 50, age: 1)
        let oldest = FakeResource("oldest", host: host, disk: 50, age: 300)
        let middle = FakeResource("middle", host: host, disk: 50, age: 60)
        for resource in [recent, oldest, middle] { await gc.register(resource) }
        #expect(try await gc.collect() == 2)
        #expect(host.disposed == ["oldest", "middle"])
        #expect(await gc.trackedCount == 1)
        #expect(await gc.isTracked(recent))
    }

    @Test func disposalsAndFailuresAreLogged() async throws {
        let host = FakeHost(disk: 0, memory: 1000)
        let log = CapturedLog()
        let gc = GarbageCollector(
            storageFolder: "/images", minimumDiskSpace: 100, minimumMemory: 0, readings: host.readings,
            monitor: Monitor(logger: log.logger()))
        await gc.register(FakeResource("a", host: host, disk: 40, age: 10))
        let broken = FakeResource("b", host: host, disk: 40, age: 5)
        await broken.setFailure(DisposeFailed())
        await gc.register(broken)
        await #expect(throws: DisposeFailed.self) { try await gc.collect() }
        let entries = log.all
        #expect(entries.contains { $0.level == .info && $0.message.hasPrefix("disposed FakeResource (disk 40") })
        #expect(entries.contains { $0.level == .error && $0.metadata["incidentId"] != nil && $0.metadata["prefix"] == "gc" })
    }

    @Test func nothingIsDisposedWhenSpaceSuffices() async throws {
        let host = FakeHost(disk: 100, memory: 100)
        let gc = collector(host, disk: 100, memory: 100)
        await gc.register(FakeResource("a", host: host, disk: 50, age: 100))
        #expect(try await gc.collect() == 0)
        #expect(host.disposed.isEmpty)
    }

    @Test func neverDisposesAResourceInUse() async throws {
        let host = FakeHost(disk: 0, memory: 1000)
        let gc = collector(host)
        let busy = FakeResource("busy", host: host, disk: 500, age: 1000, inUse: true)
        let racing = FakeResource("racing", host: host, disk: 500, age: 900)
        await racing.setRefuse()  // became used between the check and dispose()
        let idle = FakeResource("idle", host: host, disk: 50, age: 10)
        for resource in [busy, racing, idle] { await gc.register(resource) }
        #expect(try await gc.collect() == 1)
        #expect(host.disposed == ["idle"])
        let busyTracked = await gc.isTracked(busy)
        let racingTracked = await gc.isTracked(racing)
        #expect(busyTracked && racingTracked)
    }

    @Test func lowMemoryDisposesOnlyResourcesHoldingMemory() async throws {
        let host = FakeHost(disk: 1000, memory: 10)
        let gc = collector(host, disk: 100, memory: 100)
        let diskOnly = FakeResource("diskOnly", host: host, disk: 500, memory: 0, age: 100)
        let unknown = FakeResource("unknown", host: host, disk: 0, memory: nil, age: 50)
        let memory = FakeResource("memory", host: host, disk: 0, memory: 200, age: 10)
        for resource in [diskOnly, unknown, memory] { await gc.register(resource) }
        #expect(try await gc.collect() == 2)
        #expect(host.disposed == ["unknown", "memory"], "unknown size counts as non-trivial; zero does not")
    }

    @Test func anotherDisposalErrorStopsAndKeepsTheRest() async throws {
        let host = FakeHost(disk: 0, memory: 1000)
        let gc = collector(host)
        let broken = FakeResource("broken", host: host, disk: 10, age: 100)
        await broken.setFailure(DisposeFailed())
        let next = FakeResource("next", host: host, disk: 10, age: 50)
        await gc.register(broken)
        await gc.register(next)
        await #expect(throws: DisposeFailed.self) { try await gc.collect() }
        #expect(host.disposed.isEmpty)
        #expect(await gc.trackedCount == 2)
    }

    @Test func registerIsIdempotentAndUnregisterReportsTracking() async {
        let host = FakeHost(disk: 0, memory: 0)
        let gc = collector(host)
        let resource = FakeResource("a", host: host, disk: 1, age: 0)
        await gc.register(resource)
        await gc.register(resource)
        #expect(await gc.trackedCount == 1)
        #expect(await gc.unregister(resource))
        #expect(await !gc.unregister(resource))
    }

    @Test func collectAllDisposesEverythingNotInUse() async throws {
        let host = FakeHost(disk: 1_000_000, memory: 1_000_000)
        let gc = collector(host)
        await gc.register(FakeResource("a", host: host, disk: 1, age: 3))
        await gc.register(FakeResource("b", host: host, disk: 1, age: 2, inUse: true))
        await gc.register(FakeResource("c", host: host, disk: 0, age: 1))
        #expect(try await gc.collectAll() == 2)
        #expect(host.disposed == ["a", "c"])
        #expect(await gc.trackedCount == 1)
    }

    @Test func concurrentCollectionsDoNotDisposeTwice() async throws {
        let host = FakeHost(disk: 0, memory: 1000)
        let gc = collector(host, disk: 1_000_000)
        for index in 0..<20 { await gc.register(FakeResource("r\(index)", host: host, disk: 1, age: index)) }
        try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<4 { group.addTask { try await gc.collect() } }
            try await group.waitForAll()
        }
        #expect(host.disposed.count == 20)
        #expect(Set(host.disposed).count == 20)
    }

    @Test func systemReadingsAreRealNumbers() throws {
        let disk = try availableDiskSpace(in: "/tmp")
        #expect(disk > 0)
        #expect(try availableMemory() > 1 << 20)
        #expect(throws: VMImageError.self) { try availableDiskSpace(in: "/nonexistent/folder") }
    }

    @Test func parsesMemAvailableFromMeminfo() {
        let text = "MemTotal:       24576000 kB\nMemFree:         1000 kB\nMemAvailable:   12345 kB\nBuffers: 1 kB\n"
        #expect(parseMemAvailable(ArraySlice(text.utf8)) == 12345 * 1024)
        #expect(parseMemAvailable(ArraySlice("MemFree: 1 kB\n".utf8)) == nil)
        #expect(parseMemAvailable(ArraySlice("MemAvailable: x kB\n".utf8)) == nil)
        #expect(parseMemAvailable(ArraySlice("MemAvailable: 99999999999999999 kB\n".utf8)) == .max)
    }
}
