import Foundation
import SystemPackage
import TestSupport
import Testing
import VMImage
@testable import VMImageDownload

#if canImport(Glibc)
import Glibc
#endif

/// The download's file sink: its system calls go through `SystemCall`, its failures map to
/// `VMImageError.fileSystem` as VMImage's own do, and `closeAndRemove` leaves no file.
@Suite struct FileSinkTests {
    @Test("the file sink writes, starts over, and closeAndRemove deletes the file")
    func writeRestartRemove() throws {
        let folder = try TemporaryFolder("filesink")
        defer { folder.remove() }
        let path = folder.file("image.tar.zst")
        var sink = try FileSink(path: FilePath(path))
        try sink.append(Array("first".utf8))
        #expect(try sink.restart())
        try sink.append(Array("again".utf8))
        try sink.append(Array("!".utf8))
        #expect(String(decoding: try Data(contentsOf: URL(fileURLWithPath: path)), as: UTF8.self) == "again!")
        sink.closeAndRemove()
        #expect(!FileManager.default.fileExists(atPath: path))
    }

    @Test("a sink whose folder is missing, or whose path is a symbolic link, names open and the path")
    func openFailures() throws {
        let folder = try TemporaryFolder("filesink")
        defer { folder.remove() }
        let orphan = folder.file("missing/image.tar.zst")
        #expect(throws: VMImageError.fileSystem(operation: "open", path: orphan, errno: ENOENT)) {
            _ = try FileSink(path: FilePath(orphan))
        }
        try FileManager.default.createSymbolicLink(atPath: folder.file("link"), withDestinationPath: "target")
        #expect(throws: VMImageError.fileSystem(operation: "open", path: folder.file("link"), errno: ELOOP)) {
            _ = try FileSink(path: FilePath(folder.file("link")))
        }
        #expect(!FileManager.default.fileExists(atPath: folder.file("target")), "nothing is created through the link")
    }
}
