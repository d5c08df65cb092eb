import ByteStreams
import Foundation
import SystemPackage
import TestSupport
import Testing
@testable import VMImage

#if canImport(Glibc)
import Glibc
#endif

/// VMImage's folder and manifest calls go through `SystemCall`; their failures still reach
/// callers as ``VMImageError/fileSystem(operation:path:errno:)`` naming the step and the path.
@Suite struct FileSystemErrorTests {
    @Test("removing an image folder that holds a subfolder names the subfolder and keeps the folder")
    func removeImageFolderWithSubfolder() throws {
        let folder = try TemporaryFolder("vmimage-fs")
        defer { folder.remove() }
        let image = folder.file("image")
        try FileManager.default.createDirectory(atPath: image + "/sub", withIntermediateDirectories: true)
        try Data("a".utf8).write(to: URL(fileURLWithPath: image + "/a"))
        #expect(throws: VMImageError.fileSystem(operation: "remove", path: image + "/sub", errno: EISDIR)) {
            try removeImageFolder(FilePath(image))
        }
        #expect(!FileManager.default.fileExists(atPath: image + "/a"), "the files are removed")
        #expect(FileManager.default.fileExists(atPath: image + "/sub"))
        // A folder that is already gone is not an error.
        try removeImageFolder(FilePath(folder.file("gone")))
    }

    @Test("availableDiskSpace names statvfs and the folder")
    func statvfsError() {
        #expect(throws: VMImageError.fileSystem(operation: "statvfs", path: "/nonexistent/folder", errno: ENOENT)) {
            try availableDiskSpace(in: "/nonexistent/folder")
        }
        let text = VMImageError.fileSystem(operation: "statvfs", path: "/nonexistent/folder", errno: ENOENT).description
        #expect(text == "statvfs /nonexistent/folder failed: errno 2 (No such file or directory)")
    }

    @Test("creating an image folder that exists says so")
    func imageFolderExists() throws {
        let folder = try TemporaryFolder("vmimage-fs")
        defer { folder.remove() }
        #expect(throws: VMImageError.fileSystem(operation: "create folder (it already exists)", path: folder.path, errno: EEXIST)) {
            _ = try ImageFolder(creating: FilePath(folder.path))
        }
        let image = try ImageFolder(creating: FilePath(folder.file("image")))
        _ = try image.create("a")
        #expect(throws: VMImageError.fileSystem(operation: "create", path: folder.file("image/a"), errno: EEXIST)) {
            _ = try image.create("a")
        }
        #expect(throws: VMImageError.fileSystem(operation: "open", path: folder.file("image/b"), errno: ENOENT)) {
            _ = try image.openForReading("b")
        }
        image.remove()
        #expect(!FileManager.default.fileExists(atPath: folder.file("image")))
    }

    @Test("the manifest is written through AtomicFile: replaced in place, never through a link")
    func manifestThroughAtomicFile() throws {
        let folder = try TemporaryFolder("vmimage-fs")
        defer { folder.remove() }
        let manifest = ImageManifest(
            imageID: "id", contents: ImageContents(virtualSize: 1 << 20, diskDataBytes: 0, layerSize: 0, machine: Machine(), archiveBytes: 1),
            machineSize: 2, archiveSHA256: nil)
        let raw = try SystemCall.openFolder(folder.path)
        defer { SystemCall.closeIgnoringErrors(raw) }
        try manifest.write(into: raw, path: folder.path, durable: false)
        try manifest.write(into: raw, path: folder.path, durable: false)
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == [ImageManifest.fileName], "no temporary file is left")
        let written = try Data(contentsOf: URL(fileURLWithPath: folder.file(ImageManifest.fileName)))
        #expect(try ImageManifest(parsing: Array(written)) == manifest)

        try FileManager.default.removeItem(atPath: folder.file(ImageManifest.fileName))
        try FileManager.default.createSymbolicLink(atPath: folder.file(ImageManifest.fileName), withDestinationPath: "elsewhere")
        // durable: the image's members are synced first, and there are none here.
        #expect(throws: VMImageError.fileSystem(operation: "open", path: folder.path + "/" + ImageArchive.memberNames[0], errno: ENOENT)) {
            try manifest.write(into: raw, path: folder.path, durable: true)
        }
        let refusal = VMImageError.fileSystem(
            operation: "replace (a symbolic link: never followed nor replaced)", path: folder.file(ImageManifest.fileName), errno: ELOOP)
        #expect(throws: refusal) { try manifest.write(into: raw, path: folder.path, durable: false) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == [ImageManifest.fileName], "no temporary file is left")
    }
}
