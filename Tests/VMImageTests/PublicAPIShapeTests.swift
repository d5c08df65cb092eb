// Only `VMImage` (and the test framework): this file is what a library user writes, so it
// proves that `FilePath` comes with `import VMImage` and that a trailing closure picks the
// download form of `ImageManager.instance` without ambiguity.
import Foundation
import Testing
import VMImage

@Suite("public API shape")
struct PublicAPIShapeTests {
    @Test("import VMImage alone: FilePath, a trailing-closure downloader, async MutableImage, one release shape")
    func userCode() async throws {
        let root = FilePath(NSTemporaryDirectory()).appending("vmimage-api-\(randomMAC().filter { $0 != ":" })")
        try FileManager.default.createDirectory(atPath: root.string, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root.string) }
        let gc = GarbageCollector(storageFolder: "/tmp", minimumDiskSpace: 0, minimumMemory: 0)
        let blank = try MutableImage(folder: root.appending("blank"), size: 1, machine: Machine())
        defer { try? blank.dispose() }
        let archive = root.appending("image.tar.zst")
        try await blank.package(to: archive)

        let manager = try ImageManager(imageFolder: root.appending("images"), gc: gc)
        let instance = try await manager.instance(imageID: "api") { target in
            // The user's own transport: here a copy through a mutable image's package.
            let copy = try await MutableImage(imageFile: archive, imageFolder: root.appending("copy"))
            try await copy.package(to: target)
            try copy.dispose()
        }
        let disk: FilePath = try instance.diskFile
        #expect(disk.removingLastComponent() == instance.imageFolder)
        #expect(instance.format == "qcow2")
        try await instance.release()

        _ = try blank.diskFile
        try await blank.release()
    }
}
