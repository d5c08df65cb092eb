import ByteStreams
import Foundation
import SystemPackage
import TestSupport
import Testing
@testable import VMImage

#if canImport(Glibc)
import Glibc
#endif

/// The image folder checks and the single-path calls VMImage makes through `SystemCall`
/// (manager and cache start, the lock file, the last-use update, instance disk deletion,
/// opening an archive): each failure is a `fileSystem` error naming the step and the path.
@Suite struct FolderChecksTests {
    private static let notAFolder = "use as image folder (not a folder, or a symbolic link)"

    private func collector(_ folder: String) -> GarbageCollector {
        GarbageCollector(storageFolder: FilePath(folder), minimumDiskSpace: 1, minimumMemory: 1,
                         readings: FreeSpaceReadings(freeDiskSpace: { _ in 0 }, freeMemory: { 0 }))
    }

    @Test("a manager creates its missing folder, and refuses a file or a link where the folder should be")
    func managerFolder() throws {
        let scratch = try TemporaryFolder("vmimage-checks")
        defer { scratch.remove() }
        let images = scratch.file("images")
        do {
            _ = try ImageManager(imageFolder: FilePath(images), gc: collector(scratch.path))
        }
        #expect(FileManager.default.fileExists(atPath: images + "/" + FolderLock.fileName))
        // Reused once it exists (its mkdir fails with EEXIST, which is fine).
        _ = try ImageManager(imageFolder: FilePath(images), gc: collector(scratch.path))

        let orphan = scratch.file("missing/images")
        #expect(throws: VMImageError.fileSystem(operation: "create folder", path: orphan, errno: ENOENT)) {
            _ = try ImageManager(imageFolder: FilePath(orphan), gc: collector(scratch.path))
        }
        try Data("x".utf8).write(to: URL(fileURLWithPath: scratch.file("file")))
        #expect(throws: VMImageError.fileSystem(operation: Self.notAFolder, path: scratch.file("file"), errno: ENOTDIR)) {
            _ = try ImageManager(imageFolder: FilePath(scratch.file("file")), gc: collector(scratch.path))
        }
        try FileManager.default.createDirectory(atPath: scratch.file("real"), withIntermediateDirectories: false)
        try FileManager.default.createSymbolicLink(atPath: scratch.file("link"), withDestinationPath: "real")
        #expect(throws: VMImageError.fileSystem(operation: Self.notAFolder, path: scratch.file("link"), errno: ENOTDIR)) {
            _ = try ImageManager(imageFolder: FilePath(scratch.file("link")), gc: collector(scratch.path))
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.file("real")).isEmpty, "no lock file through the link")
    }

    @Test("a cache needs an existing real folder, naming stat when it is missing")
    func cacheFolder() throws {
        let scratch = try TemporaryFolder("vmimage-checks")
        defer { scratch.remove() }
        #expect(throws: VMImageError.fileSystem(operation: "stat", path: scratch.file("missing"), errno: ENOENT)) {
            _ = try ImageCache(folder: FilePath(scratch.file("missing")))
        }
        try FileManager.default.createDirectory(atPath: scratch.file("real"), withIntermediateDirectories: false)
        try FileManager.default.createSymbolicLink(atPath: scratch.file("link"), withDestinationPath: "real")
        #expect(throws: VMImageError.fileSystem(operation: Self.notAFolder, path: scratch.file("link"), errno: ENOTDIR)) {
            _ = try ImageCache(folder: FilePath(scratch.file("link")))
        }
        #expect(try ImageCache(folder: FilePath(scratch.file("real"))).contents().images.isEmpty)
    }

    @Test("a lock file that is a folder or a FIFO is refused, naming the lock file")
    func lockFileKinds() throws {
        let scratch = try TemporaryFolder("vmimage-checks")
        defer { scratch.remove() }
        let lock = scratch.file(FolderLock.fileName)
        try FileManager.default.createDirectory(atPath: lock, withIntermediateDirectories: false)
        #expect(throws: VMImageError.fileSystem(operation: "open lock file", path: lock, errno: EISDIR)) {
            _ = try FolderLock(folder: FilePath(scratch.path))
        }
        try FileManager.default.removeItem(atPath: lock)
        #expect(mkfifo(lock, 0o644) == 0)
        #expect(throws: VMImageError.fileSystem(operation: "use as lock file (not a regular file)", path: lock, errno: EINVAL)) {
            _ = try FolderLock(folder: FilePath(scratch.path))
        }
    }

    @Test("unlinkFile deletes a file, ignores a missing one, and names remove for anything else")
    func unlinkFileResults() throws {
        let scratch = try TemporaryFolder("vmimage-checks")
        defer { scratch.remove() }
        try Data("x".utf8).write(to: URL(fileURLWithPath: scratch.file("disk.qcow2")))
        #expect(unlinkFile(FilePath(scratch.file("disk.qcow2"))) == nil)
        #expect(!FileManager.default.fileExists(atPath: scratch.file("disk.qcow2")))
        #expect(unlinkFile(FilePath(scratch.file("disk.qcow2"))) == nil, "already gone is not an error")
        try FileManager.default.createDirectory(atPath: scratch.file("sub"), withIntermediateDirectories: false)
        #expect(unlinkFile(FilePath(scratch.file("sub"))) == .fileSystem(operation: "remove", path: scratch.file("sub"), errno: EISDIR))
    }

    @Test("recording a use writes the manifest into the image folder, never through a link")
    func recordUse() async throws {
        let scratch = try TemporaryFolder("vmimage-checks")
        defer { scratch.remove() }
        let contents = ImageContents(virtualSize: 1 << 20, diskDataBytes: 0, layerSize: 0, machine: Machine(), archiveBytes: 1)
        let manifest = ImageManifest(imageID: "id", contents: contents, machineSize: 2)
        func image(_ folder: String) -> LoadedImage {
            LoadedImage(folder: FilePath(folder), contents: contents, manifest: manifest) { _ in }
        }
        try FileManager.default.createDirectory(atPath: scratch.file("image"), withIntermediateDirectories: false)
        try await image(scratch.file("image")).recordUse()
        let written = try ImageManifest(parsing: Array(try Data(contentsOf: URL(fileURLWithPath: scratch.file("image/" + ImageManifest.fileName)))))
        #expect(written.imageID == "id" && written.lastUsed >= manifest.lastUsed)

        await #expect(throws: VMImageError.fileSystem(operation: "open folder", path: scratch.file("gone"), errno: ENOENT)) {
            try await image(scratch.file("gone")).recordUse()
        }
        try FileManager.default.createDirectory(atPath: scratch.file("real"), withIntermediateDirectories: false)
        try FileManager.default.createSymbolicLink(atPath: scratch.file("link"), withDestinationPath: "real")
        do {
            try await image(scratch.file("link")).recordUse()
            Issue.record("the manifest was written through a link")
        } catch {
            // O_DIRECTORY | O_NOFOLLOW on a link: Linux says ENOTDIR, others ELOOP.
            #expect(error == .fileSystem(operation: "open folder", path: scratch.file("link"), errno: ENOTDIR)
                    || error == .fileSystem(operation: "open folder", path: scratch.file("link"), errno: ELOOP))
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.file("real")).isEmpty)
    }

    @Test("extracting or verifying an archive file that is missing names open and the archive")
    func missingArchive() throws {
        let scratch = try TemporaryFolder("vmimage-checks")
        defer { scratch.remove() }
        let archive = scratch.file("missing.tar.zst")
        #expect(throws: VMImageError.fileSystem(operation: "open", path: archive, errno: ENOENT)) {
            try ImageArchive.extract(archive: FilePath(archive), into: FilePath(scratch.file("image")))
        }
        #expect(throws: VMImageError.fileSystem(operation: "open", path: archive, errno: ENOENT)) {
            try ImageArchive.verify(archive: FilePath(archive))
        }
        #expect(!FileManager.default.fileExists(atPath: scratch.file("image")))
    }
}
