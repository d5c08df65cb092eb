import ByteStreams
import Foundation
import SystemPackage
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// ``SystemCall``'s folder wrappers: what they do, and that each failure names its operation,
/// its path and the system's errno (the one error style callers map from).
@Suite struct SystemCallTests {
    @Test("entryNames lists raw names without . and .., and says which folder it could not read")
    func entryNames() throws {
        let folder = try TemporaryFolder("systemcall")
        defer { folder.remove() }
        try Data("a".utf8).write(to: URL(fileURLWithPath: folder.file("a")))
        let odd: [UInt8] = [0x6F, 0xFF, 0x64]  // not UTF-8
        let oddPath = PathText.text(Array(folder.path.utf8) + [0x2F] + odd)
        let created = try SystemCall.createExclusive(PathText.text(odd), in: SystemCall.openFolder(folder.path), mode: 0o644, path: oddPath)
        SystemCall.closeIgnoringErrors(created)

        let handle = try SystemCall.openFolder(folder.path)
        defer { SystemCall.closeIgnoringErrors(handle) }
        #expect(try SystemCall.entryNames(of: handle, path: folder.path).sorted { $0.lexicographicallyPrecedes($1) } == [Array("a".utf8), odd])
        // Read twice through the same handle: each call starts at the beginning.
        #expect(try SystemCall.entryNames(of: handle, path: folder.path).count == 2)

        let file = try SystemCall.openForReading(folder.file("a"), nonBlocking: false)
        defer { SystemCall.closeIgnoringErrors(file) }
        let error = SystemCallError(operation: "read folder", path: folder.file("a"), errno: .notDirectory)
        #expect(throws: error) { try SystemCall.entryNames(of: file, path: folder.file("a")) }
        #expect(error.description.contains("read folder '\(folder.file("a"))' failed"))
    }

    @Test("openSubfolder refuses a symbolic link, naming the link")
    func openSubfolderRefusesLink() throws {
        let folder = try TemporaryFolder("systemcall")
        defer { folder.remove() }
        try FileManager.default.createDirectory(atPath: folder.file("real"), withIntermediateDirectories: false)
        try FileManager.default.createSymbolicLink(atPath: folder.file("link"), withDestinationPath: "real")
        let handle = try SystemCall.openFolder(folder.path)
        defer { SystemCall.closeIgnoringErrors(handle) }
        SystemCall.closeIgnoringErrors(try SystemCall.openSubfolder("real", in: handle, path: folder.file("real")))
        do {
            _ = try SystemCall.openSubfolder("link", in: handle, path: folder.file("link"))
            Issue.record("a link was opened as a folder")
        } catch {
            #expect(error.operation == "open folder")
            #expect(error.path == folder.file("link"))
            #expect(error.errno == .tooManySymbolicLinkLevels || error.errno == .notDirectory)
        }
    }

    @Test("folder creation, links and removal fail with the operation and path")
    func creationAndRemovalErrors() throws {
        let folder = try TemporaryFolder("systemcall")
        defer { folder.remove() }
        let handle = try SystemCall.openFolder(folder.path)
        defer { SystemCall.closeIgnoringErrors(handle) }
        try SystemCall.createFolder("sub", in: handle, mode: 0o755, path: folder.file("sub"))
        #expect(throws: SystemCallError(operation: "create folder", path: folder.file("sub"), errno: .fileExists)) {
            try SystemCall.createFolder("sub", in: handle, mode: 0o755, path: folder.file("sub"))
        }
        try Data("x".utf8).write(to: URL(fileURLWithPath: folder.file("sub/x")))
        #expect(throws: SystemCallError(operation: "delete folder", path: folder.file("sub"), errno: .directoryNotEmpty)) {
            try SystemCall.removeFolder("sub", in: handle, path: folder.file("sub"))
        }
        #expect(throws: SystemCallError(operation: "create hard link", path: folder.file("sub/x"), errno: .fileExists)) {
            try SystemCall.link("sub/x", in: handle, as: "sub/x", in: handle, path: folder.file("sub/x"))
        }
        #expect(throws: SystemCallError(operation: "create symbolic link", path: folder.file("sub/x"), errno: .fileExists)) {
            try SystemCall.createSymbolicLink("sub/x", in: handle, target: "elsewhere", path: folder.file("sub/x"))
        }
        try SystemCall.unlink("sub/x", in: handle, path: folder.file("sub/x"))
        try SystemCall.removeFolder("sub", in: handle, path: folder.file("sub"))
        #expect(!FileManager.default.fileExists(atPath: folder.file("sub")))
        #expect(throws: SystemCallError(operation: "statvfs", path: folder.file("sub"), errno: .noSuchFileOrDirectory)) {
            try SystemCall.fileSystemStatus(folder.file("sub"))
        }
    }

    @Test("status(ofPath:) follows a link only when asked, and names stat and the path when it fails")
    func statusOfPath() throws {
        let folder = try TemporaryFolder("systemcall")
        defer { folder.remove() }
        try Data("abc".utf8).write(to: URL(fileURLWithPath: folder.file("file")))
        try FileManager.default.createSymbolicLink(atPath: folder.file("link"), withDestinationPath: "file")
        let file = try SystemCall.status(ofPath: folder.file("file"), followingLink: false)
        #expect(file.st_mode & S_IFMT == S_IFREG && file.st_size == 3)
        let followed = try SystemCall.status(ofPath: folder.file("link"), followingLink: true)
        #expect(followed.st_mode & S_IFMT == S_IFREG && followed.st_ino == file.st_ino)
        let link = try SystemCall.status(ofPath: folder.file("link"), followingLink: false)
        #expect(link.st_mode & S_IFMT == S_IFLNK)

        try FileManager.default.createSymbolicLink(atPath: folder.file("dangling"), withDestinationPath: "missing")
        #expect(try SystemCall.status(ofPath: folder.file("dangling"), followingLink: false).st_mode & S_IFMT == S_IFLNK)
        #expect(throws: SystemCallError(operation: "stat", path: folder.file("dangling"), errno: .noSuchFileOrDirectory)) {
            try SystemCall.status(ofPath: folder.file("dangling"), followingLink: true)
        }
        #expect(throws: SystemCallError(operation: "stat", path: folder.file("file/x"), errno: .notDirectory)) {
            try SystemCall.status(ofPath: folder.file("file/x"), followingLink: false)
        }
    }

    @Test("writeAll at the file position writes every byte, and names write and the path when it fails")
    func writeAllAtPosition() throws {
        let folder = try TemporaryFolder("systemcall")
        defer { folder.remove() }
        let bytes = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        let out = try SystemCall.openForRewriting(folder.file("out"), mode: 0o644)
        try bytes.withUnsafeBytes { try SystemCall.writeAll($0, to: out, path: folder.file("out")) }
        try bytes.prefix(5).withUnsafeBytes { try SystemCall.writeAll($0, to: out, path: folder.file("out")) }
        try [UInt8]().withUnsafeBytes { try SystemCall.writeAll($0, to: out, path: folder.file("out")) }
        try SystemCall.close(out, path: folder.file("out"))
        #expect(Array(try Data(contentsOf: URL(fileURLWithPath: folder.file("out")))) == bytes + bytes.prefix(5))

        let readOnly = try SystemCall.openForReading(folder.file("out"), nonBlocking: false)
        defer { SystemCall.closeIgnoringErrors(readOnly) }
        #expect(throws: SystemCallError(operation: "write", path: folder.file("out"), errno: .badFileDescriptor)) {
            try bytes.withUnsafeBytes { try SystemCall.writeAll($0, to: readOnly, path: folder.file("out")) }
        }
    }

    @Test("close reports what close reports")
    func closeReportsErrors() throws {
        let folder = try TemporaryFolder("systemcall")
        defer { folder.remove() }
        let handle = try SystemCall.openFolder(folder.path)
        try SystemCall.close(handle, path: folder.path)
        // Not `handle` a second time: tests run in parallel, and another one may have been
        // given that number meanwhile. -1 is never a descriptor.
        #expect(throws: SystemCallError(operation: "close", path: folder.path, errno: .badFileDescriptor)) {
            try SystemCall.close(FileDescriptor(rawValue: -1), path: folder.path)
        }
    }
}
