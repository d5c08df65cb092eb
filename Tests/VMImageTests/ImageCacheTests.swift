import Foundation
import Logging
import Synchronization
import SystemPackage
import TestSupport
import Testing
@testable import VMImage

/// Files of a folder tree: relative path → (allocated bytes, is a folder).
func folderTree(_ root: String) -> [String: (allocated: UInt64, isFolder: Bool)] {
    var result: [String: (UInt64, Bool)] = [:]
    guard let walker = FileManager.default.enumerator(atPath: root) else { return [:] }
    while let relative = walker.nextObject() as? String {
        var status = stat()
        guard lstat("\(root)/\(relative)", &status) == 0 else { continue }
        result[relative] = (UInt64(status.st_blocks) * 512, (status.st_mode & S_IFMT) == S_IFDIR)
    }
    return result
}

/// Bytes allocated by the files of a folder tree.
func allocatedBytes(_ root: String) -> UInt64 {
    folderTree(root).values.filter { !$0.isFolder }.reduce(0) { $0 + $1.allocated }
}

/// The image folders (`image-…`) in an image folder.
func imageFolders(_ root: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).filter { $0.hasPrefix("image-") }.sorted()
}

/// An archive with incompressible data, so that half of it is a real partial download.
func bulkyArchive(_ scratch: TemporaryFolder) throws -> [UInt8] {
    var random = SplitMix64(seed: 16)
    var disk = [UInt8](repeating: 0, count: 16 << 20)
    disk.replaceSubrange((1 << 20)..<(5 << 20), with: random.bytes(4 << 20))
    return try ArchiveBuilder.archive([
        .file("disk.img", disk), .file("layer.qcow2", try ArchiveBuilder.layer(size: 16 << 20, in: scratch)),
        .file("machine.json", ArchiveBuilder.machineJSON),
    ])
}

func shortCollector(_ folder: String) -> GarbageCollector {
    GarbageCollector(storageFolder: FilePath(folder), minimumDiskSpace: 1, minimumMemory: 1,
                     readings: FreeSpaceReadings(freeDiskSpace: { _ in 0 }, freeMemory: { 0 }))
}

@Suite("image manifest")
struct ImageManifestTests {
    let sample = ImageManifest(
        imageID: "url:https://example.com/a\u{1B}b", contents: ImageContents(
            virtualSize: 1 << 30, diskDataBytes: 4096, layerSize: 196_608, machine: Machine(), archiveBytes: 1234),
        machineSize: 57, archiveSHA256: String(repeating: "ab", count: 32))

    @Test("a manifest reads back as written")
    func roundTrip() throws {
        let parsed = try ImageManifest(parsing: sample.bytes())
        #expect(parsed == sample)
        var noDigest = sample
        noDigest.archiveSHA256 = nil
        #expect(try ImageManifest(parsing: noDigest.bytes()) == noDigest)
    }

    @Test("the reader refuses anything but version 1 exactly", arguments: [
        #"{"manifestVersion":2,"imageID":"a","virtualSize":1,"diskDataBytes":0,"layerSize":1,"machineSize":1,"archiveBytes":1,"lastUsed":0}"#,
        #"{"manifestVersion":1,"imageID":"a","virtualSize":1,"diskDataBytes":0,"layerSize":1,"machineSize":1,"archiveBytes":1}"#,
        #"{"manifestVersion":1,"imageID":"a","virtualSize":-1,"diskDataBytes":0,"layerSize":1,"machineSize":1,"archiveBytes":1,"lastUsed":0}"#,
        #"{"manifestVersion":1,"imageID":"a","virtualSize":1,"diskDataBytes":0,"layerSize":1,"machineSize":1,"archiveBytes":1,"lastUsed":0,"extra":1}"#,
        #"{"manifestVersion":1,"imageID":"","virtualSize":1,"diskDataBytes":0,"layerSize":1,"machineSize":1,"archiveBytes":1,"lastUsed":0}"#,
        #"{"manifestVersion":1,"imageID":"a","imageID":"b","virtualSize":1,"diskDataBytes":0,"layerSize":1,"machineSize":1,"archiveBytes":1,"lastUsed":0}"#,
        #"{"manifestVersion":1,"imageID":"a","virtualSize":1.5,"diskDataBytes":0,"layerSize":1,"machineSize":1,"archiveBytes":1,"lastUsed":0}"#,
        #"{"manifestVersion":1,"imageID":"a","virtualSize":1,"diskDataBytes":0,"layerSize":1,"machineSize":1,"archiveBytes":1,"lastUsed":0,"archiveSHA256":"AB"}"#,
        #"{"manifestVersion":1,"imageID":"a","virtualSize":1,"diskDataBytes":0,"layerSize":1,"machineSize":1,"archiveBytes":1,"lastUsed":0"#,
        "",
    ])
    func strict(text: String) {
        #expect(throws: ImageManifest.Invalid.self) { try ImageManifest(parsing: Array(text.utf8)) }
    }
}

@Suite("image cache across managers")
struct ImageCacheTests {
    @Test("a second manager on a folder, in the same process, fails at once naming the folder")
    func lockInProcess() async throws {
        let scratch = try TemporaryFolder("cache-lock")
        defer { scratch.remove() }
        let folder = FilePath(scratch.file("images"))
        do {
            let first = try ImageManager(imageFolder: folder, gc: shortCollector(scratch.path))
            #expect(throws: VMImageError.imageFolderInUse(path: folder.string)) {
                _ = try ImageManager(imageFolder: folder, gc: shortCollector(scratch.path))
            }
            #expect(throws: VMImageError.imageFolderInUse(path: folder.string)) { _ = try ImageCache(folder: folder) }
            #expect(VMImageError.imageFolderInUse(path: folder.string).description.contains(folder.string))
            withExtendedLifetime(first) {}
        }
        // The lock goes with the manager.
        _ = try ImageManager(imageFolder: folder, gc: shortCollector(scratch.path))
        _ = try ImageCache(folder: folder)
    }

    @Test("an adopted image that fails re-validation is removed and reported; leftovers are removed, links not followed")
    func revalidation() async throws {
        let scratch = try TemporaryFolder("cache-revalidate")
        defer { scratch.remove() }
        let images = scratch.file("images")
        let source = CountingDownloader(archive: try ArchiveBuilder.archive(try ArchiveBuilder.validMembers(in: scratch)), delay: .zero)
        do {
            let manager = try ImageManager(imageFolder: FilePath(images), gc: shortCollector(scratch.path))
            try await manager.instance(imageID: "good", download: source.downloader).release()
            try await manager.instance(imageID: "bad", download: source.downloader).release()
        }
        #expect(source.count == 2)
        // Damage "bad": a layer whose header is no longer qcow2 (same size, so only the audit sees it).
        let bad = try imageFolders(images).first { folder in
            let manifest = try ImageManifest(parsing: Array(Data(contentsOf: URL(fileURLWithPath: "\(images)/\(folder)/manifest.json"))))
            return manifest.imageID == "bad"
        }
        let badFolder = try #require(bad)
        let layer = try FileHandle(forWritingTo: URL(fileURLWithPath: "\(images)/\(badFolder)/layer.qcow2"))
        try layer.write(contentsOf: Data("QFI\u{0}".utf8.map { $0 ^ 0xFF }))
        try layer.close()
        // Leftovers: a stray file, a stray folder holding a link to a file outside, a link at the top.
        let outside = scratch.file("outside.txt")
        try Data("keep me".utf8).write(to: URL(fileURLWithPath: outside))
        try Data("x".utf8).write(to: URL(fileURLWithPath: "\(images)/stray.download.tar.zst"))
        try FileManager.default.createDirectory(atPath: "\(images)/junk/deeper", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: "\(images)/junk/deeper/link", withDestinationPath: outside)
        try FileManager.default.createSymbolicLink(atPath: "\(images)/image-link", withDestinationPath: scratch.path)

        let log = CapturedLog()
        let manager = try ImageManager(imageFolder: FilePath(images), gc: shortCollector(scratch.path),
                                       monitor: Monitor(logger: log.logger()))
        #expect(await manager.adoptedImageIDs == ["good"])
        #expect(FileManager.default.fileExists(atPath: outside), "a link's target outside the folder must stay")
        #expect(FileManager.default.fileExists(atPath: scratch.file("images")))
        let left = try FileManager.default.contentsOfDirectory(atPath: images).sorted()
        #expect(left.count == 2 && left.contains(FolderLock.fileName), "\(left)")
        let warnings = log.all.filter { $0.level == .warning }
        #expect(warnings.count == 1 && warnings[0].message.contains("'bad'") && warnings[0].message.contains("re-validation"),
                "\(warnings.map(\.message))")
        try await manager.instance(imageID: "good", download: source.downloader).release()
        #expect(source.count == 2, "the adopted image must not be downloaded again")
        try await manager.instance(imageID: "bad", download: source.downloader).release()
        #expect(source.count == 3)
    }

    @Test("the collector frees the least recently used first, by the last use recorded before a restart")
    func collectionOrderSurvivesRestart() async throws {
        let scratch = try TemporaryFolder("cache-lru")
        defer { scratch.remove() }
        let images = scratch.file("images")
        let source = CountingDownloader(archive: try ArchiveBuilder.archive(try ArchiveBuilder.validMembers(in: scratch)), delay: .zero)
        do {
            let manager = try ImageManager(imageFolder: FilePath(images), gc: shortCollector(scratch.path))
            try await manager.instance(imageID: "used-last", download: source.downloader).release()
            try await manager.instance(imageID: "used-first", download: source.downloader).release()
            try await Task.sleep(for: .milliseconds(20))
            // A later instance of "used-last" records its use in the manifest.
            try await manager.instance(imageID: "used-last", download: source.downloader).release()
        }
        let readings = Mutex(0)
        let gc = GarbageCollector(
            storageFolder: FilePath(scratch.path), minimumDiskSpace: 1, minimumMemory: 0,
            readings: FreeSpaceReadings(
                freeDiskSpace: { _ in readings.withLock { count in count += 1; return count == 1 ? 0 : 1 << 40 } },
                freeMemory: { 1 << 40 }))
        let manager = try ImageManager(imageFolder: FilePath(images), gc: gc)
        #expect(await manager.adoptedImageIDs == ["used-first", "used-last"])
        #expect(await gc.trackedCount == 2)
        #expect(try await gc.collect() == 1)
        #expect(await manager.cachedImageIDs == ["used-last"])
        try await manager.instance(imageID: "used-last", download: source.downloader).release()
        #expect(source.count == 2)
    }
}
