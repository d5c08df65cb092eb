import ByteStreams
import Foundation
import SystemPackage
import Tar
import TestSupport
import Testing

@Suite("Tar extraction")
struct TarExtractionTests {
    @Test("GNU tar and bsdtar archives extract byte-identical to the source and stay sparse", arguments: Fixtures.interopArchives)
    func extractsFixture(_ name: String) throws {
        let folder = try TemporaryFolder("tar-extract")
        defer { folder.remove() }
        let tar = try Fixtures.decompressed(name, into: folder)
        let out = folder.file("out")
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: false)
        let members = try Tar.extract(archive: FilePath(tar), into: FilePath(out))
        #expect(members.map(\.name) == ["disk.img", SourceTree.longPath, "dense.bin"])
        #expect(try FileCheck.isSourceDisk("\(out)/disk.img"))
        #expect(try FileCheck.contents("\(out)/\(SourceTree.longPath)") == SourceTree.longContents)
        #expect(try FileCheck.contents("\(out)/dense.bin") == SourceTree.denseContents)
        let disk = try FileCheck.status("\(out)/disk.img")
        #expect(disk.allocatedBytes <= 30 * 8192, "disk.img allocates \(disk.allocatedBytes) bytes")
        // dense.bin's 16 KiB zero run became a hole.
        #expect(try FileCheck.status("\(out)/dense.bin").allocatedBytes <= 48 << 10)
        #expect(members.first { $0.name == "dense.bin" }?.bytesWritten == 48 << 10)
        // Permissions and times are applied.
        let attributes = try FileManager.default.attributesOfItem(atPath: "\(out)/dense.bin")
        #expect((attributes[.posixPermissions] as? Int) == 0o644)
        #expect((attributes[.modificationDate] as? Date).map { $0.timeIntervalSince1970 > 1_600_000_000 } == true)
    }

    @Test("zero runs are written when holesFromZeroRuns is off")
    func zeroRunsOff() throws {
        let folder = try TemporaryFolder("tar-extract")
        defer { folder.remove() }
        let bytes = try archive { try $0.appendFile(named: "z.bin", contents: [UInt8](repeating: 0, count: 65536) + [1]) }
        var options = TarExtractionOptions()
        options.holesFromZeroRuns = false
        let members = try Tar.extract(from: memoryReader(bytes), into: FilePath(folder.path), options: options)
        #expect(members[0].bytesWritten == 65537)
        #expect(try FileCheck.status(folder.file("z.bin")).allocatedBytes >= 65536)

        let folder2 = try TemporaryFolder("tar-extract")
        defer { folder2.remove() }
        let members2 = try Tar.extract(from: memoryReader(bytes), into: FilePath(folder2.path))
        #expect(members2[0].bytesWritten == 1)
        #expect(try FileCheck.status(folder2.file("z.bin")).allocatedBytes <= 4096)
        #expect(try FileCheck.contents(folder2.file("z.bin")) == [UInt8](repeating: 0, count: 65536) + [1])
    }

    @Test("an existing file is never overwritten, and the failed call removes only what it created")
    func existingFile() throws {
        let folder = try TemporaryFolder("tar-extract")
        defer { folder.remove() }
        try Data("keep".utf8).write(to: URL(fileURLWithPath: folder.file("b.txt")))
        let bytes = try archive {
            try $0.appendFile(named: "a.txt", contents: Array("a".utf8))
            try $0.appendFile(named: "b.txt", contents: Array("b".utf8))
        }
        expectTarError(.alreadyExists) { try Tar.extract(from: memoryReader(bytes), into: FilePath(folder.path)) }
        #expect(FileCheck.tree(folder.path) == ["b.txt"])
        #expect(try FileCheck.contents(folder.file("b.txt")) == Array("keep".utf8))
    }

    @Test("a symbolic link in the target folder is never followed")
    func symlinkInTarget() throws {
        let folder = try TemporaryFolder("tar-extract")
        defer { folder.remove() }
        let outside = try TemporaryFolder("tar-outside")
        defer { outside.remove() }
        try FileManager.default.createSymbolicLink(atPath: folder.file("sub"), withDestinationPath: outside.path)
        try FileManager.default.createSymbolicLink(atPath: folder.file("f"), withDestinationPath: outside.file("f"))
        let viaDirectory = try archive { try $0.appendFile(named: "sub/x", contents: [1]) }
        expectTarError(.unsafeName) { try Tar.extract(from: memoryReader(viaDirectory), into: FilePath(folder.path)) }
        let viaFile = try archive { try $0.appendFile(named: "f", contents: [1]) }
        expectTarError(.alreadyExists) { try Tar.extract(from: memoryReader(viaFile), into: FilePath(folder.path)) }
        #expect(FileCheck.tree(outside.path) == [])
    }

    @Test("directories, symlinks and hardlinks are created only when allowed")
    func moreKinds() throws {
        let bytes = try archive {
            try $0.appendDirectory(named: "dir", attributes: .init(mode: 0o750))
            try $0.appendFile(named: "dir/file", contents: Array("x".utf8))
            try $0.appendSymbolicLink(named: "link", target: "dir/file")
        }
        let folder = try TemporaryFolder("tar-extract")
        defer { folder.remove() }
        expectTarError(.disallowedType) { try Tar.extract(from: memoryReader(bytes), into: FilePath(folder.path)) }
        #expect(FileCheck.tree(folder.path) == [])

        var options = TarExtractionOptions()
        options.allowedKinds = [.regular, .directory, .symbolicLink]
        let members = try Tar.extract(from: memoryReader(bytes), into: FilePath(folder.path), options: options)
        #expect(members.map(\.name) == ["dir", "dir/file", "link"])
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: folder.file("link")) == "dir/file")
        let mode = try FileManager.default.attributesOfItem(atPath: folder.file("dir"))[.posixPermissions] as? Int
        #expect(mode == 0o750)
    }

    @Test("member names: absolute, '..', '.', empty components and NUL are unsafe; './' is stripped")
    func names() throws {
        #expect(try TarMemberName.normalized("./disk.img").get() == "disk.img")
        #expect(try TarMemberName.normalized("././a/b").get() == "a/b")
        #expect(try TarMemberName.normalized("dir/", isDirectory: true).get() == "dir")
        for bad in ["/etc/passwd", "../evil", "a/../../b", "a//b", "a/./b", "", "./", "a\u{0}b", "dir/", "bad\u{FFFD}"] {
            #expect(throws: TarError.self, "\(bad.debugDescription)") { try TarMemberName.normalized(bad).get() }
        }
    }

    @Test("the total-size and member-count limits hold")
    func limits() throws {
        let bytes = try archive {
            try $0.appendFile(named: "a", contents: [UInt8](repeating: 1, count: 600))
            try $0.appendFile(named: "b", contents: [UInt8](repeating: 1, count: 600))
        }
        let folder = try TemporaryFolder("tar-extract")
        defer { folder.remove() }
        var options = TarExtractionOptions()
        options.maximumTotalSize = 1000
        expectTarError(.limitExceeded) { try Tar.extract(from: memoryReader(bytes), into: FilePath(folder.path), options: options) }
        #expect(FileCheck.tree(folder.path) == [])
        options = TarExtractionOptions()
        options.maximumMembers = 1
        expectTarError(.limitExceeded) { try Tar.extract(from: memoryReader(bytes), into: FilePath(folder.path), options: options) }
        #expect(FileCheck.tree(folder.path) == [])
    }

    @Test("writeData puts a member into a file the caller opened, keeping holes")
    func writeDataToOwnFile() throws {
        let folder = try TemporaryFolder("tar-extract")
        defer { folder.remove() }
        let content = [UInt8](repeating: 0, count: 1 << 20) + [UInt8](repeating: 3, count: 4096) + [UInt8](repeating: 0, count: 8192)
        let bytes = try archive { try $0.appendFile(named: "d", contents: content) }
        let reader = memoryReader(bytes)
        let fd = try FileDescriptor.open(folder.file("tmp"), .readWrite, options: [.create, .exclusiveCreate], permissions: .ownerReadWrite)
        defer { try? fd.close() }
        #expect(try reader.writeData(to: fd, path: "tmp") == 0)  // no current member yet
        let entry = try #require(try reader.next())
        try SparseFile.setSize(of: fd, to: entry.size)
        var firstOffset: UInt64?
        #expect(try reader.writeData(to: fd, path: "tmp", peek: { offset, _ in firstOffset = firstOffset ?? offset }) == 4096)
        #expect(firstOffset == 0)
        #expect(try FileCheck.contents(folder.file("tmp")) == content)
        #expect(try FileCheck.status(folder.file("tmp")).allocatedBytes <= 8192)
    }
}

@Suite("Tar extraction system errors")
struct TarExtractionSystemErrorTests {
    @Test("a missing archive or target folder fails with a SystemCallError naming the call and the path")
    func missingPaths() throws {
        let folder = try TemporaryFolder("tar-extract")
        defer { folder.remove() }
        let missing = folder.file("missing")
        #expect(throws: SystemCallError(operation: "open", path: missing, errno: .noSuchFileOrDirectory)) {
            try Tar.extract(archive: FilePath(missing), into: FilePath(folder.path))
        }
        let empty = folder.file("empty.tar")
        try Data(count: 1024).write(to: URL(fileURLWithPath: empty))
        #expect(throws: SystemCallError(operation: "open folder", path: missing, errno: .noSuchFileOrDirectory)) {
            try Tar.extract(archive: FilePath(empty), into: FilePath(missing))
        }
    }
}
