import Testing
@testable import VMImage

/// A disposable built on ResourceUsage, as the image manager's cached images will be.
final class CachedThing: Disposable {
    let usage = ResourceUsage()
    var memoryUsage: UInt64? { 1 }
    var diskUsage: UInt64? { 1 << 20 }
    var lastUsed: ContinuousClock.Instant { usage.lastUsed }
    var isInUse: Bool { usage.isInUse }

    func dispose() async throws {
        guard usage.beginDisposal() else { throw DisposableError.inUse }
    }
}

@Suite("ResourceUsage")
struct ResourceUsageTests {
    @Test func countsHoldersAndStampsLastUse() async throws {
        let usage = ResourceUsage()
        let created = usage.lastUsed
        #expect(!usage.isInUse)
        #expect(usage.acquire() && usage.acquire())
        #expect(usage.holders == 2)
        try await Task.sleep(for: .milliseconds(2))
        usage.release()
        #expect(usage.isInUse)
        usage.release()
        usage.release()  // an extra release does not go negative
        #expect(usage.holders == 0 && !usage.isInUse)
        #expect(usage.lastUsed > created)
    }

    @Test func disposalIsRefusedWhileHeldAndBlocksLaterHolders() {
        let usage = ResourceUsage()
        usage.acquire()
        #expect(!usage.beginDisposal())
        usage.release()
        #expect(usage.beginDisposal())
        #expect(usage.isDisposed)
        #expect(!usage.acquire(), "a disposed resource cannot be acquired")
        #expect(!usage.beginDisposal(), "disposal begins once")
    }

    @Test func concurrentAcquireAndDisposalNeverBothWin() async {
        for _ in 0..<200 {
            let usage = ResourceUsage()
            async let acquired = Task.detached { usage.acquire() }.value
            async let disposed = Task.detached { usage.beginDisposal() }.value
            let (a, d) = await (acquired, disposed)
            #expect(a != d, "exactly one of acquire and beginDisposal succeeds")
        }
    }

    @Test func theCollectorKeepsAHeldThingAndFreesItAfterRelease() async throws {
        let gc = GarbageCollector(
            storageFolder: "/", minimumDiskSpace: 1, minimumMemory: 0,
            readings: FreeSpaceReadings(freeDiskSpace: { _ in 0 }, freeMemory: { 0 }))
        let thing = CachedThing()
        await gc.register(thing)
        thing.usage.acquire()
        #expect(try await gc.collect() == 0)
        thing.usage.release()
        #expect(try await gc.collect() == 1)
        #expect(thing.usage.isDisposed)
        #expect(await gc.trackedCount == 0)
    }
}
