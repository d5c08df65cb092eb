import ByteStreams
import Foundation
import SystemPackage
import TestSupport
import Testing

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

    @Test("close reports what close reports")
    func closeReportsErrors() throws {
        let folder = try TemporaryFolder("systemcall")
        defer { folder.remove() }
        let handle = try SystemCall.openFolder(folder.path)
        try SystemCall.close(handle, path: folder.path)
        #expect(throws: SystemCallError(operation: "close", path: folder.path, errno: .badFileDescriptor)) {
            try SystemCall.close(handle, path: folder.path)
        }
    }
}
