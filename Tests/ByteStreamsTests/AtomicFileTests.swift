import ByteStreams
import Foundation
import SystemPackage
import TestSupport
import Testing

/// ``AtomicFile``: the temporary file beside the target, its registration for interruption
/// cleanup, and the two publishing rules (replace a regular file only / never replace).
@Suite struct AtomicFileTests {
    func entries(_ folder: TemporaryFolder) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
    }

    func registered(_ path: String) -> Bool {
        InterruptCleanup.transaction { $0.paths.contains(path) }
    }

    func contents(_ path: String) throws -> [UInt8] {
        Array(try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    /// Writes `bytes` at 0 and a hole up to `length` into a fresh atomic file for `path`.
    func written(_ path: String, _ bytes: [UInt8], length: UInt64) throws -> AtomicFile {
        let file = try AtomicFile(target: path, purpose: "test")
        try bytes.withUnsafeBytes { buffer in try file.write(buffer, at: 0) }
        try file.setLength(length)
        return file
    }

    @Test func writesBesideTheTargetAndPublishesWithAHole() throws {
        let folder = try TemporaryFolder("atomic")
        defer { folder.remove() }
        let target = folder.file("out.bin")
        let file = try written(target, [1, 2, 3], length: 8 << 20)
        let temporaryName = String(file.temporaryPath.split(separator: "/").last ?? "")
        #expect(temporaryName.hasPrefix(".out.bin.test-") && temporaryName.hasSuffix(".tmp"), "\(temporaryName)")
        #expect(try entries(folder) == [temporaryName])
        #expect(registered(file.temporaryPath))
        try file.publish(.withoutReplacing, sync: true)
        #expect(!registered(file.temporaryPath))
        #expect(try entries(folder) == ["out.bin"])
        let bytes = try contents(target)
        #expect(bytes.count == 8 << 20)
        #expect(Array(bytes.prefix(4)) == [1, 2, 3, 0])
        var status = stat()
        #expect(stat(target, &status) == 0)
        #expect(Int(status.st_blocks) * 512 < 1 << 20, "the grown length is not a hole: \(status.st_blocks) blocks")
        file.discard()  // after publishing: removes nothing
        #expect(try entries(folder) == ["out.bin"])
    }

    @Test func discardRemovesTheTemporaryFileAndItsRegistration() throws {
        let folder = try TemporaryFolder("atomic")
        defer { folder.remove() }
        let file = try written(folder.file("out.bin"), [9], length: 1)
        let temporary = file.temporaryPath
        file.discard()
        file.discard()
        #expect(try entries(folder).isEmpty)
        #expect(!registered(temporary))
        #expect(throws: AtomicFileError.self) { try file.publish(.withoutReplacing, sync: false) }
        #expect(try entries(folder).isEmpty)
        do {
            _ = try written(folder.file("dropped.bin"), [9], length: 1)
        }
        #expect(try entries(folder).isEmpty, "deinit must discard an unpublished file")
    }

    @Test func withoutReplacingRefusesAnyExistingEntry() throws {
        let folder = try TemporaryFolder("atomic")
        defer { folder.remove() }
        let existing = folder.file("keep.bin")
        try Data("keep me".utf8).write(to: URL(fileURLWithPath: existing))
        let link = folder.file("link.bin")
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: folder.file("nowhere"))
        let subfolder = folder.file("sub")
        try FileManager.default.createDirectory(atPath: subfolder, withIntermediateDirectories: false)
        let cases: [(String, AtomicFileError)] = [
            (existing, .targetExists(path: existing)),
            (link, .targetIsSymbolicLink(path: link)),
            (subfolder, .targetExists(path: subfolder)),
        ]
        for (target, expected) in cases {
            let file = try written(target, [1], length: 1)
            #expect(throws: expected) { try file.publish(.withoutReplacing, sync: false) }
            #expect(registered(file.temporaryPath), "a failed publish keeps the file registered until discarded")
            file.discard()
        }
        #expect(try String(contentsOfFile: existing, encoding: .utf8) == "keep me")
        #expect(!FileManager.default.fileExists(atPath: folder.file("nowhere")))
        #expect(try entries(folder) == ["keep.bin", "link.bin", "sub"])
    }

    @Test func replacingReplacesARegularFileOnly() throws {
        let folder = try TemporaryFolder("atomic")
        defer { folder.remove() }
        let existing = folder.file("old.bin")
        try Data("old".utf8).write(to: URL(fileURLWithPath: existing))
        let replacing = try written(existing, [7, 7], length: 2)
        try replacing.publish(.replacingRegularFile, sync: false)
        #expect(try contents(existing) == [7, 7])

        let victim = folder.file("victim")
        try Data("precious".utf8).write(to: URL(fileURLWithPath: victim))
        let link = folder.file("link.bin")
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: victim)
        let subfolder = folder.file("sub")
        try FileManager.default.createDirectory(atPath: subfolder, withIntermediateDirectories: false)
        let cases: [(String, AtomicFileError)] = [
            (link, .targetIsSymbolicLink(path: link)),
            (subfolder, .targetNotRegularFile(path: subfolder)),
        ]
        for (target, expected) in cases {
            let file = try written(target, [1], length: 1)
            #expect(throws: expected) { try file.publish(.replacingRegularFile, sync: true) }
            file.discard()
        }
        #expect(try String(contentsOfFile: victim, encoding: .utf8) == "precious")
        #expect(try entries(folder) == ["link.bin", "old.bin", "sub", "victim"])
    }

    @Test(arguments: ["", "/", "a/", "a/.", "..", "a/.."])
    func refusesPathsThatNameNoFile(_ path: String) {
        #expect(throws: AtomicFileError.invalidTargetPath(path: path)) { try AtomicFile(target: path, purpose: "test") }
    }

    @Test func aMissingFolderIsASystemCallErrorNamingIt() throws {
        let folder = try TemporaryFolder("atomic")
        defer { folder.remove() }
        let missing = folder.file("missing")
        #expect(throws: AtomicFileError.system(SystemCallError(operation: "open folder", path: missing, errno: .noSuchFileOrDirectory))) {
            try AtomicFile(target: missing + "/out.bin", purpose: "test")
        }
        let error = SystemCallError(operation: "open folder", path: missing + "/\u{1B}[2J", errno: .noSuchFileOrDirectory)
        #expect(error.description.contains("No such file or directory"), "\(error)")
        #expect(!error.description.contains("\u{1B}"), "\(error)")
        #expect(!error.description.contains("\n"))
    }
}
