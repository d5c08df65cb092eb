import ByteStreams
import Foundation
import QCOW2
import Synchronization
import SystemPackage
import TestSupport
import Testing
@testable import VMImage

/// Counts calls to a downloader that copies a prepared archive.
final class CountingDownloader: Sendable {
    let archive: [UInt8]
    let calls = Mutex(0)
    let failure: VMImageError?
    let delay: Duration

    init(archive: [UInt8], failure: VMImageError? = nil, delay: Duration = .milliseconds(100)) {
        self.archive = archive
        self.failure = failure
        self.delay = delay
    }

    var count: Int { calls.withLock { $0 } }

    var downloader: Downloader {
        { [self] path in
            calls.withLock { $0 += 1 }
            try await Task.sleep(for: delay)
            if let failure { throw failure }
            try Data(archive).write(to: URL(fileURLWithPath: path.string))
        }
    }
}

/// The outcome of an async throwing call.
func capture<T>(_ body: () async throws -> T) async -> Result<T, any Error> {
    do { return .success(try await body()) } catch { return .failure(error) }
}

@Suite("image manager")
struct ImageManagerTests {
    func makeArchive(_ scratch: TemporaryFolder) throws -> [UInt8] {
        try ArchiveBuilder.archive(try ArchiveBuilder.validMembers(in: scratch))
    }

    func collector(_ folder: String) -> GarbageCollector {
        // Readings that always report a shortage: collect() frees whatever is not in use.
        GarbageCollector(storageFolder: FilePath(folder), minimumDiskSpace: 1, minimumMemory: 1,
                         readings: FreeSpaceReadings(freeDiskSpace: { _ in 0 }, freeMemory: { 0 }))
    }

    @Test("parallel callers share one download; instances are qcow2 overlays of disk.img")
    func parallelCallers() async throws {
        let scratch = try TemporaryFolder("manager")
        defer { scratch.remove() }
        let source = CountingDownloader(archive: try makeArchive(scratch))
        let gc = collector(scratch.path)
        let manager = try ImageManager(imageFolder: FilePath(scratch.file("images")), gc: gc)
        async let first = manager.instance(imageID: "url:test", download: source.downloader)
        async let second = manager.instance(imageID: "url:test", download: source.downloader)
        let (a, b) = try await (first, second)
        #expect(source.count == 1)
        #expect(a.format == "qcow2")
        let diskA = try a.diskFile
        let diskB = try b.diskFile
        #expect(diskA != diskB)
        let header = try QCOW2Image.header(atPath: diskA.string)
        #expect(header.backingFileName == "disk.img")
        #expect(header.backingFormat == "raw")
        let backing = diskA.removingLastComponent().appending("disk.img")
        #expect(FileManager.default.fileExists(atPath: backing.string))
        #expect(a.machine.memory == 512)

        // The image stays while an instance holds it.
        try await a.release()
        #expect(!FileManager.default.fileExists(atPath: diskA.string), "a released instance's disk must be gone")
        _ = try await gc.collect()
        #expect(FileManager.default.fileExists(atPath: backing.string))
        try await b.release()
        _ = try await gc.collect()
        #expect(!FileManager.default.fileExists(atPath: backing.string), "the image must be deleted after the last release")

        // Loading again after collection downloads again.
        let c = try await manager.instance(imageID: "url:test", download: source.downloader)
        #expect(source.count == 2)
        try await c.release()
    }

    @Test("a failed download reaches every waiter and is not cached")
    func failedDownload() async throws {
        let scratch = try TemporaryFolder("manager-fail")
        defer { scratch.remove() }
        let failure = VMImageError.downloadFailed(url: "http://127.0.0.1/x", attempts: 7, reason: "boom")
        let source = CountingDownloader(archive: [], failure: failure)
        let manager = try ImageManager(imageFolder: FilePath(scratch.file("images")), gc: collector(scratch.path))
        async let first = capture { try await manager.instance(imageID: "id", download: source.downloader) }
        async let second = capture { try await manager.instance(imageID: "id", download: source.downloader) }
        let results = await [first, second]
        #expect(source.count == 1)
        for result in results {
            guard case .failure(let error) = result else { Issue.record("expected a failure"); continue }
            #expect(error as? VMImageError == failure)
        }
        #expect(await manager.cachedImageIDs.isEmpty)
        _ = await capture { try await manager.instance(imageID: "id", download: source.downloader) }
        #expect(source.count == 2)
        // Nothing but the images folder remains: no temporary download, no half image.
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.file("images")) == [FolderLock.fileName])
    }

    @Test("a malformed archive fails the load and leaves nothing in the image folder")
    func malformed() async throws {
        let scratch = try TemporaryFolder("manager-bad")
        defer { scratch.remove() }
        let source = CountingDownloader(archive: Array("not an archive".utf8))
        let manager = try ImageManager(imageFolder: FilePath(scratch.file("images")), gc: collector(scratch.path))
        await #expect(throws: VMImageError.self) {
            try await manager.instance(imageID: "bad", download: source.downloader)
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.file("images")) == [FolderLock.fileName])
    }

    @Test("an archive error from a download names the image ID and the member, not the temporary file")
    func errorNamesImageID() async throws {
        let scratch = try TemporaryFolder("manager-names")
        defer { scratch.remove() }
        let manager = try ImageManager(imageFolder: FilePath(scratch.file("images")), gc: collector(scratch.path))
        var members = try ArchiveBuilder.validMembers(in: scratch)
        members[1] = .file("layer.qcow2", try ArchiveBuilder.layer(size: 16 << 20, backing: "other.img", in: scratch))
        let cases: [(String, [UInt8], String, String)] = [
            ("url:https://example.com/not-zstd", Array("not an archive".utf8), "zstd-stream", "url:https://example.com/not-zstd"),
            ("taskId:abc/0/public/image.tar.zst", try ArchiveBuilder.archive(members), "layer-backing", "layer.qcow2"),
        ]
        for (imageID, archive, rule, member) in cases {
            let source = CountingDownloader(archive: archive, delay: .zero)
            let result = await capture { try await manager.instance(imageID: imageID, download: source.downloader) }
            guard case .failure(let error as VMImageError) = result else {
                Issue.record("\(imageID): expected a VMImageError, got \(result)")
                continue
            }
            #expect(payloadRule(error) == rule, "\(error)")
            guard case let .malformedPayload(named, _, _) = error else { continue }
            #expect(named == member, "\(error)")
            #expect(error.description.contains(member), "\(error)")
            #expect(!error.description.contains(".download"), "names the deleted temporary file: \(error)")
            #expect(!error.description.contains(scratch.path), "names a path: \(error)")
        }
    }

    @Test("releasing twice or using a released instance fails loudly")
    func misuse() async throws {
        let scratch = try TemporaryFolder("manager-misuse")
        defer { scratch.remove() }
        let source = CountingDownloader(archive: try makeArchive(scratch), delay: .zero)
        let manager = try ImageManager(imageFolder: FilePath(scratch.file("images")), gc: collector(scratch.path))
        let instance = try await manager.instance(imageID: "x", download: source.downloader)
        try await instance.release()
        await #expect(throws: VMImageError.self) { try await instance.release() }
        #expect(throws: VMImageError.self) { try instance.diskFile }
    }

    @Test("the streaming entry point extracts while bytes arrive")
    func streaming() async throws {
        let scratch = try TemporaryFolder("manager-stream")
        defer { scratch.remove() }
        let archive = try makeArchive(scratch)
        let chunks = stride(from: 0, to: archive.count, by: 4096).map { Array(archive[$0..<min($0 + 4096, archive.count)]) }
        let manager = try ImageManager(imageFolder: FilePath(scratch.file("images")), gc: collector(scratch.path))
        let stream = AsyncStream<[UInt8]> { continuation in
            for chunk in chunks { continuation.yield(chunk) }
            continuation.finish()
        }
        let instance = try await manager.streamingInstance(imageID: "s", bytes: stream)
        #expect(FileManager.default.fileExists(atPath: try instance.diskFile.string))
        try await instance.release()
        // A broken stream reports the producer's error, and leaves nothing behind.
        struct Broken: Error {}
        let broken = AsyncThrowingStream<[UInt8], any Error> { continuation in
            continuation.yield(chunks[0])
            continuation.finish(throwing: Broken())
        }
        await #expect(throws: Broken.self) { try await manager.streamingInstance(imageID: "t", bytes: broken) }
    }
}

@Suite("image manager, streaming downloads")
struct ImageManagerStreamingTests {
    @Test("a streamer that fails after its last byte leaves no image behind")
    func lateFailure() async throws {
        let scratch = try TemporaryFolder("manager-late")
        defer { scratch.remove() }
        let archive = try ArchiveBuilder.archive(try ArchiveBuilder.validMembers(in: scratch))
        let manager = try ImageManager(
            imageFolder: FilePath(scratch.file("images")),
            gc: GarbageCollector(storageFolder: FilePath(scratch.path), minimumDiskSpace: 0, minimumMemory: 0))
        struct DigestMismatch: Error {}
        let good: StreamingDownloader = { deliver in
            for start in stride(from: 0, to: archive.count, by: 10_000) {
                try await deliver(Array(archive[start..<min(start + 10_000, archive.count)]))
            }
        }
        let bad: StreamingDownloader = { deliver in
            try await good(deliver)
            throw DigestMismatch()
        }
        await #expect(throws: DigestMismatch.self) { try await manager.streamingInstance(imageID: "late", stream: bad) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.file("images")) == [FolderLock.fileName])
        let instance = try await manager.streamingInstance(imageID: "late", stream: good)
        #expect(FileManager.default.fileExists(atPath: try instance.diskFile.string))
        try await instance.release()
    }

    /// What streaming is for: the disk is written while the download is still going. The
    /// streamer holds back the archive's last 512 bytes until it sees extracted data on disk
    /// (or 30 s pass); an extraction that waited for the whole archive first would never
    /// write before then, and the test fails. (The speed of it is StreamBenchmark's job.)
    @Test("the disk is written before the archive's last bytes arrive")
    func writesBeforeTheLastByte() async throws {
        let scratch = try TemporaryFolder("manager-overlap")
        defer { scratch.remove() }
        let archive = try ArchiveBuilder.archive(try ArchiveBuilder.validMembers(in: scratch))
        let images = scratch.file("images")
        let manager = try ImageManager(
            imageFolder: FilePath(images),
            gc: GarbageCollector(storageFolder: FilePath(scratch.path), minimumDiskSpace: 0, minimumMemory: 0))
        let sawDataEarly = Mutex(false)
        let held = archive.count - 512
        let stream: StreamingDownloader = { deliver in
            for start in stride(from: 0, to: held, by: 10_000) {
                try await deliver(Array(archive[start..<min(start + 10_000, held)]))
            }
            let deadline = ContinuousClock.now + .seconds(30)
            while ContinuousClock.now < deadline {
                if extractedData(under: images) {
                    sawDataEarly.withLock { $0 = true }
                    break
                }
                try await Task.sleep(for: .milliseconds(10))
            }
            try await deliver(Array(archive[held...]))
        }
        let instance = try await manager.streamingInstance(imageID: "overlap", stream: stream)
        try await instance.release()
        #expect(sawDataEarly.withLock { $0 }, "nothing was written to disk before the archive's last 512 bytes arrived")
    }
}

/// Whether a regular file under `folder` has blocks allocated: extracted data, not an empty
/// file or a hole (the archive's disk.img holds 4 KiB of data at 1 MiB).
private func extractedData(under folder: String) -> Bool {
    guard let walker = FileManager.default.enumerator(atPath: folder) else { return false }
    for case let name as String in walker {
        var status = stat()
        guard lstat(folder + "/" + name, &status) == 0 else { continue }
        if status.st_mode & S_IFMT == S_IFREG && status.st_blocks > 0 && !name.hasSuffix(FolderLock.fileName) { return true }
    }
    return false
}
