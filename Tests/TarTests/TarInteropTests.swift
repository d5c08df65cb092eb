import ByteStreams
import Foundation
import SystemPackage
import Tar
import TestSupport
import Testing

/// Live round trips with GNU tar and bsdtar, when they are installed.
@Suite("Tar interop with GNU tar and bsdtar")
struct TarInteropTests {
    static let hasGNUTar: Bool = {
        guard Oracle.has("tar"), let out = try? Oracle.run("tar", ["--version"]) else { return false }
        return out.text.contains("GNU tar")
    }()
    static let hasBSDTar = Oracle.has("bsdtar")
    static let members = ["disk.img", SourceTree.longPath, "dense.bin"]

    /// Extracts `archive` with `tool` into a new folder `folder/name` and returns it.
    static func extract(with tool: String, _ archive: String, in folder: TemporaryFolder, name: String) throws -> String {
        let out = folder.file(name)
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: false)
        let result = try Oracle.run(tool, ["-xf", archive, "-C", out])
        #expect(result.status == 0, "\(tool) -x failed: \(result.stderr)")
        return out
    }

    static func expectSameAsSource(_ out: String, _ src: String, _ label: String) throws {
        for member in members {
            #expect(try FileCheck.sameContents("\(out)/\(member)", "\(src)/\(member)"), "\(label): \(member) differs")
        }
        let disk = try FileCheck.status("\(out)/disk.img")
        #expect(disk.size == SourceTree.diskSize)
        #expect(disk.allocatedBytes <= 1 << 20, "\(label): disk.img allocates \(disk.allocatedBytes) bytes")
    }

    @Test("our archive extracts with GNU tar byte-identical and sparse (9 GiB member, 200-character path)",
          .enabled(if: hasGNUTar))
    func gnuTarExtractsOurs() throws {
        let folder = try TemporaryFolder("tar-interop")
        defer { folder.remove() }
        let (tar, _) = try TarWriterTests.writeSourceTree(in: folder)
        let out = try Self.extract(with: "tar", tar, in: folder, name: "gnu")
        try Self.expectSameAsSource(out, folder.file("src"), "GNU tar")
        let listing = try Oracle.run("tar", ["-tvf", tar])
        #expect(listing.text.contains("9663676416"))
        #expect(!listing.text.contains("GNUSparseFile"))
    }

    @Test("our archive extracts with bsdtar byte-identical and sparse", .enabled(if: hasBSDTar))
    func bsdtarExtractsOurs() throws {
        let folder = try TemporaryFolder("tar-interop")
        defer { folder.remove() }
        let (tar, _) = try TarWriterTests.writeSourceTree(in: folder)
        let out = try Self.extract(with: "bsdtar", tar, in: folder, name: "bsd")
        try Self.expectSameAsSource(out, folder.file("src"), "bsdtar")
    }

    static let liveFormats: [(String, [String])] = [
        ("gnu", ["--format=gnu", "-S"]),
        ("posix-0.0", ["--format=posix", "--sparse-version=0.0", "-S"]),
        ("posix-0.1", ["--format=posix", "--sparse-version=0.1", "-S"]),
        ("posix-1.0", ["--format=posix", "--sparse-version=1.0", "-S"]),
    ]

    @Test("archives GNU tar makes now read back byte-identical, using no more disk than GNU tar's extraction",
          .enabled(if: hasGNUTar), arguments: liveFormats.map(\.0))
    func weExtractGNUTar(_ format: String) throws {
        let arguments = try #require(Self.liveFormats.first { $0.0 == format }?.1)
        let folder = try TemporaryFolder("tar-interop")
        defer { folder.remove() }
        let src = folder.file("src")
        try FileManager.default.createDirectory(atPath: src, withIntermediateDirectories: false)
        try SourceTree.create(in: src)
        let tar = folder.file("theirs.tar")
        let made = try Oracle.run("tar", arguments + ["-cf", tar, "-C", src] + Self.members)
        #expect(made.status == 0, "\(made.stderr)")
        try compareExtractions(tar, tool: "tar", src: src, folder: folder)
    }

    @Test("archives bsdtar makes now read back byte-identical, using no more disk than bsdtar's extraction",
          .enabled(if: hasBSDTar))
    func weExtractBSDTar() throws {
        let folder = try TemporaryFolder("tar-interop")
        defer { folder.remove() }
        let src = folder.file("src")
        try FileManager.default.createDirectory(atPath: src, withIntermediateDirectories: false)
        try SourceTree.create(in: src)
        let tar = folder.file("theirs.tar")
        let made = try Oracle.run("bsdtar", ["-cf", tar, "-C", src] + Self.members)
        #expect(made.status == 0, "\(made.stderr)")
        try compareExtractions(tar, tool: "bsdtar", src: src, folder: folder)
    }

    @Test("committed fixtures: our extraction allocates no more than the tool that made them",
          .enabled(if: hasGNUTar && hasBSDTar), arguments: Fixtures.interopArchives)
    func fixtureAllocation(_ name: String) throws {
        let folder = try TemporaryFolder("tar-interop")
        defer { folder.remove() }
        let tar = try Fixtures.decompressed(name, into: folder)
        let theirs = try Self.extract(with: name == "bsdtar" ? "bsdtar" : "tar", tar, in: folder, name: "theirs")
        let ours = folder.file("ours")
        try FileManager.default.createDirectory(atPath: ours, withIntermediateDirectories: false)
        try Tar.extract(archive: FilePath(tar), into: FilePath(ours))
        for member in Self.members {
            #expect(try FileCheck.sameContents("\(ours)/\(member)", "\(theirs)/\(member)"), "\(member)")
            let a = try FileCheck.status("\(ours)/\(member)").allocatedBytes
            let b = try FileCheck.status("\(theirs)/\(member)").allocatedBytes
            #expect(a <= b, "\(member): ours allocates \(a), theirs \(b)")
        }
    }

    private func compareExtractions(_ tar: String, tool: String, src: String, folder: TemporaryFolder) throws {
        let theirs = try Self.extract(with: tool, tar, in: folder, name: "theirs")
        let ours = folder.file("ours")
        try FileManager.default.createDirectory(atPath: ours, withIntermediateDirectories: false)
        let members = try Tar.extract(archive: FilePath(tar), into: FilePath(ours))
        #expect(members.map(\.name) == Self.members)
        try Self.expectSameAsSource(ours, src, "ours from \(tool)")
        for member in Self.members {
            let a = try FileCheck.status("\(ours)/\(member)").allocatedBytes
            let b = try FileCheck.status("\(theirs)/\(member)").allocatedBytes
            #expect(a <= b, "\(member): ours allocates \(a), \(tool)'s \(b)")
        }
    }

    @Test("a sparse member under a 200-character path extracts with GNU tar and bsdtar",
          .enabled(if: hasGNUTar && hasBSDTar))
    func longSparsePath() throws {
        let folder = try TemporaryFolder("tar-interop")
        defer { folder.remove() }
        let src = folder.file("src")
        try FileManager.default.createDirectory(atPath: src, withIntermediateDirectories: false)
        try SourceTree.create(in: src)
        let name = String(SourceTree.longPath.dropLast("file.txt".count)) + "disk.img"
        #expect(name.utf8.count == 200)
        let tar = folder.file("ours.tar")
        let out = try FileDescriptor.open(tar, .writeOnly, options: [.create, .exclusiveCreate], permissions: .ownerReadWrite)
        let writer = TarWriter(writingTo: FileSink(out))
        let disk = try FileDescriptor.open("\(src)/disk.img", .readOnly)
        try writer.appendFile(named: name, contentsOf: disk, attributes: .init())
        try disk.close()
        try writer.finish()
        try out.close()
        for tool in ["tar", "bsdtar"] {
            let extracted = try Self.extract(with: tool, tar, in: folder, name: tool)
            #expect(try FileCheck.isSourceDisk("\(extracted)/\(name)"), "\(tool)")
            #expect(FileCheck.tree(extracted).filter { $0.contains("GNUSparseFile") } == [], "\(tool)")
        }
    }
}
