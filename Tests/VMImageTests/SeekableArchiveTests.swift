import ByteStreams
import Foundation
import SystemPackage
import TestSupport
import Testing
import Zstd
@testable import VMImage

/// Archives written by `package` are independent zstd frames with a seek table (zstd's
/// seekable format): they extract the same through our parallel reader, `zstd -d | tar -x`
/// and bsdtar; a lying seek table changes nothing; a one-frame `tar -S | zstd` archive still
/// extracts.
@Suite("seekable archives")
struct SeekableArchiveTests {
    /// A 64 MiB disk with 24 MiB of data in runs (several 4 MiB frames), and its machine.json.
    static let shape = PackageShapesTests.Shape(
        name: "24 MiB of data in 64 MiB", size: 64 << 20,
        runs: (0..<24).map { (UInt64($0) * (5 << 19) + 4096, (1 << 20) - 512) })

    /// Packages the shape into `scratch/image.tar.zst`; returns the disk's bytes and the archive's.
    static func packaged(in scratch: TemporaryFolder) throws -> (disk: [UInt8], archive: [UInt8]) {
        let disk = try PackageShapesTests.makeFolder(scratch.file("image"), shape)
        try ImageArchive.package(folder: FilePath(scratch.file("image")), to: FilePath(scratch.file("image.tar.zst")))
        return (disk, Array(try Data(contentsOf: URL(fileURLWithPath: scratch.file("image.tar.zst")))))
    }

    static func table(of archive: [UInt8]) throws -> ZstdSeekTable {
        let length = try ZstdSeekTable.frameLength(footer: Array(archive.suffix(ZstdSeekTable.footerSize)))
        let table = try ZstdSeekTable(parsing: Array(archive.suffix(length)))
        try table.check(compressedSize: UInt64(archive.count))
        return table
    }

    static func diskBytes(_ path: String) throws -> [UInt8] {
        Array(try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    @Test("package writes several frames and a seek table that adds up; our extract and verify read it")
    func packageIsSeekable() throws {
        let scratch = try TemporaryFolder("seekable-package")
        defer { scratch.remove() }
        let (disk, archive) = try Self.packaged(in: scratch)
        let table = try Self.table(of: archive)
        #expect(table.entries.count >= 6, "\(table.entries.count) frames")
        #expect(table.hasChecksums)
        #expect(table.entries.dropLast().allSatisfy { $0.decompressedSize == UInt32(ZstdSeekableOptions.defaultFrameSize) })
        let contents = try ImageArchive.extract(archive: FilePath(scratch.file("image.tar.zst")),
                                                into: FilePath(scratch.file("out")))
        #expect(contents.virtualSize == 64 << 20)
        #expect(contents.archiveBytes == UInt64(archive.count))
        #expect(sameBytes(try Self.diskBytes(scratch.file("out/disk.img")), disk))
        var status = stat()
        #expect(stat(scratch.file("out/disk.img"), &status) == 0)
        #expect(Int(status.st_blocks) * 512 < 32 << 20, "disk.img is not sparse: \(status.st_blocks) blocks")
        #expect(try ImageArchive.verify(archive: FilePath(scratch.file("image.tar.zst"))) == contents)
    }

    @Test("any number of decoding threads (0 = the calling thread, 1, 3) extracts the same disk",
          arguments: [0, 1, 3])
    func decodingThreads(_ threads: Int) throws {
        let scratch = try TemporaryFolder("seekable-threads")
        defer { scratch.remove() }
        let (disk, archive) = try Self.packaged(in: scratch)
        let limits = ImageLimits(maxDecodingThreads: threads)
        let contents = try ImageArchive.extract(from: BufferSource(archive, maximumChunk: 65536),
                                                into: FilePath(scratch.file("out")), limits: limits)
        #expect(contents.virtualSize == 64 << 20)
        #expect(sameBytes(try Self.diskBytes(scratch.file("out/disk.img")), disk))
        #expect(try ImageArchive.verify(from: BufferSource(archive), limits: limits) == contents)
    }

    @Test("GNU tar (zstd -d | tar -xS, and tar --zstd) and bsdtar extract the archive unchanged",
          .enabled(if: Oracle.has("zstd") && Oracle.has("tar")))
    func toolsExtract() throws {
        let scratch = try TemporaryFolder("seekable-tools")
        defer { scratch.remove() }
        let (disk, _) = try Self.packaged(in: scratch)
        var commands = [("pipe", "zstd -dc ../image.tar.zst | tar -xSf -"), ("gnu", "tar --zstd -xSf ../image.tar.zst")]
        if Oracle.has("bsdtar") { commands.append(("bsd", "bsdtar -xf ../image.tar.zst")) }
        for (label, command) in commands {
            let target = scratch.file(label)
            try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: false)
            let result = try Oracle.shell(command, currentDirectory: target)
            #expect(result.status == 0, "\(label): \(result.stderr)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: target).sorted()
                    == ["disk.img", "layer.qcow2", "machine.json"], "\(label)")
            #expect(sameBytes(try Self.diskBytes("\(target)/disk.img"), disk), "\(label)")
            #expect(sameBytes(try Self.diskBytes("\(target)/layer.qcow2"), try Self.diskBytes(scratch.file("image/layer.qcow2"))), "\(label)")
        }
    }

    @Test("a seek table that lies (sizes, count, checksums) changes nothing: the frames decide")
    func lyingTable() throws {
        let scratch = try TemporaryFolder("seekable-lies")
        defer { scratch.remove() }
        let (disk, archive) = try Self.packaged(in: scratch)
        let table = try Self.table(of: archive)
        let body = Array(archive.prefix(archive.count - table.encodedSize))
        var sizes = table
        for index in sizes.entries.indices {
            sizes.entries[index].compressedSize = 1 << 30
            sizes.entries[index].decompressedSize = 1 << 30
        }
        var checksums = table
        for index in checksums.entries.indices { checksums.entries[index].checksum = 0 }
        var count = table.encoded()
        count[count.count - 9] = 0xFF
        count[count.count - 6] = 0x09  // 0x090000FF frames, more than the format allows
        var truncatedFooter = table.encoded()
        truncatedFooter.removeLast(5)
        truncatedFooter[4] &-= 5
        let variants = [("sizes", body + sizes.encoded()), ("checksums", body + checksums.encoded()),
                        ("count", body + count), ("truncated footer", body + truncatedFooter)]
        for (label, lying) in variants {
            let contents = try ImageArchive.extract(from: BufferSource(lying), into: FilePath(scratch.file(label)))
            #expect(contents.virtualSize == 64 << 20, "\(label)")
            #expect(sameBytes(try Self.diskBytes(scratch.file("\(label)/disk.img")), disk), "\(label)")
        }
    }

    @Test("a one-frame archive of the old pipeline (tar -S | zstd -3) still extracts",
          .enabled(if: Oracle.has("zstd") && Oracle.has("tar")))
    func oneFrameArchive() throws {
        let scratch = try TemporaryFolder("seekable-oneframe")
        defer { scratch.remove() }
        let (disk, _) = try Self.packaged(in: scratch)
        let made = try Oracle.shell("tar -cSf - disk.img layer.qcow2 machine.json | zstd -3 -q -o ../old.tar.zst",
                                    currentDirectory: scratch.file("image"))
        #expect(made.status == 0, "\(made.stderr)")
        let old = Array(try Data(contentsOf: URL(fileURLWithPath: scratch.file("old.tar.zst"))))
        #expect(throws: ZstdSeekTableError.noSeekTable) {
            try ZstdSeekTable.frameLength(footer: Array(old.suffix(ZstdSeekTable.footerSize)))
        }
        try ImageArchive.extract(archive: FilePath(scratch.file("old.tar.zst")), into: FilePath(scratch.file("out")))
        #expect(sameBytes(try Self.diskBytes(scratch.file("out/disk.img")), disk))
    }
}
