import ByteStreams
import Foundation
import SystemPackage
import TestSupport
import Zstd
import Testing
@testable import VMImage

@Suite("image archive extraction")
struct ImageArchiveTests {
    /// Extracts `bytes` into a new folder and returns the error rule, or nil on success;
    /// always checks that a refusal leaves nothing behind.
    func extractRule(_ bytes: [UInt8], limits: ImageLimits = .init()) throws -> String? {
        let folder = try TemporaryFolder("archive")
        defer { folder.remove() }
        let target = folder.file("image")
        do throws(VMImageError) {
            try ImageArchive.extract(from: BufferSource(bytes, maximumChunk: 70_001), into: FilePath(target), limits: limits)
            return nil
        } catch {
            #expect(!FileManager.default.fileExists(atPath: target), "a refused archive left \(target) behind")
            #expect(error.isMalformedPayload, "\(error)")
            // Verification (without writing the disk) must refuse it the same way.
            do throws(VMImageError) {
                try ImageArchive.verify(from: BufferSource(bytes), limits: limits)
                Issue.record("verify accepted what extract refused: \(error)")
            } catch let verifyError {
                #expect(payloadRule(verifyError) == payloadRule(error))
            }
            return payloadRule(error)
        }
    }

    @Test("a valid archive extracts, validates and comes out sparse")
    func valid() throws {
        let scratch = try TemporaryFolder("valid")
        defer { scratch.remove() }
        let bytes = try ArchiveBuilder.archive(try ArchiveBuilder.validMembers(in: scratch))
        let target = scratch.file("image")
        let contents = try ImageArchive.extract(from: BufferSource(bytes), into: FilePath(target))
        #expect(contents.virtualSize == 16 << 20)
        #expect(contents.machine.memory == 512)
        let disk = try Data(contentsOf: URL(fileURLWithPath: target + "/disk.img"))
        #expect(disk.count == 16 << 20)
        #expect(disk[1 << 20 + 1] == 8)
        var status = stat()
        #expect(stat(target + "/disk.img", &status) == 0)
        #expect(Int(status.st_blocks) * 512 < 1 << 20, "disk.img is not sparse: \(status.st_blocks) blocks")
        #expect(try ImageArchive.verify(from: BufferSource(bytes)) == contents)
    }

    @Test("a disk stored dense extracts sparse, and './' prefixes are tolerated")
    func denseDisk() throws {
        let scratch = try TemporaryFolder("dense")
        defer { scratch.remove() }
        var members = try ArchiveBuilder.validMembers(in: scratch)
        if case let .file(_, disk) = members[0] { members[0] = .file("./disk.img", disk) }
        let bytes = try ArchiveBuilder.archive(members)
        let target = scratch.file("image")
        try ImageArchive.extract(from: BufferSource(bytes), into: FilePath(target))
        var status = stat()
        #expect(stat(target + "/disk.img", &status) == 0)
        #expect(Int(status.st_blocks) * 512 <= 64 << 10)
    }

    @Test("members that are not the three regular files are refused")
    func wrongMembers() throws {
        let scratch = try TemporaryFolder("members")
        defer { scratch.remove() }
        let valid = try ArchiveBuilder.validMembers(in: scratch)
        #expect(try extractRule(ArchiveBuilder.archive(valid + [.file("extra.txt", [1])])) == "unexpected-member")
        #expect(try extractRule(ArchiveBuilder.archive([.directory("disk.img")] + valid)) == "member-type")
        #expect(try extractRule(ArchiveBuilder.archive([.directory("subdir")] + valid)) == "unexpected-member")
        #expect(try extractRule(ArchiveBuilder.archive(Array(valid[1...]) + [.symlink("disk.img", target: "/etc/shadow")])) == "member-type")
        #expect(try extractRule(ArchiveBuilder.archive(valid + [valid[2]])) == "duplicate-member")
        #expect(try extractRule(ArchiveBuilder.archive(Array(valid[..<2]))) == "missing-member")
        #expect(try extractRule(ArchiveBuilder.archive(valid.map {
            if case let .file(name, bytes) = $0, name == "machine.json" { return .file("../machine.json", bytes) }
            return $0
        })) == "unexpected-member")
    }

    @Test("'disk.img/' of type 0 is a directory, as GNU tar and bsdtar read it, and names not spelled exactly are refused")
    func ambiguousNames() throws {
        let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("TestImages/tar")
        func fixture(_ name: String) throws -> [UInt8] {
            try Zstd.compress(Array(try Data(contentsOf: fixtures.appendingPathComponent(name))))
        }
        #expect(try extractRule(fixture("slash-directory.tar")) == "member-type")
        for name in ["hostile-slash-data.tar", "hostile-ustar-magic-prefix.tar", "hostile-longname-vs-path.tar",
                     "hostile-global-path.tar", "hostile-empty-pax-path.tar", "hostile-empty-header-chain.tar"] {
            #expect(try extractRule(fixture(name)) == "tar-format", "\(name)")
        }
        let scratch = try TemporaryFolder("names")
        defer { scratch.remove() }
        let valid = try ArchiveBuilder.validMembers(in: scratch)
        for spelling in ["disk.img/.", ".//disk.img", "././disk.img", "disk.img//", "DISK.IMG", "disk.img "] {
            let renamed = valid.map { member -> ArchiveBuilder.Member in
                if case let .file(name, bytes) = member, name == "disk.img" { return .file(spelling, bytes) }
                return member
            }
            guard let bytes = try? ArchiveBuilder.archive(renamed) else { continue }  // the writer may refuse it first
            let rule = try extractRule(bytes)
            #expect(rule == "unexpected-member" || rule == "member-type" || rule == "tar-format", "\(spelling): \(String(describing: rule))")
        }
    }

    @Test("streams that are not one clean zstd stream are refused")
    func badStreams() throws {
        let scratch = try TemporaryFolder("streams")
        defer { scratch.remove() }
        let valid = try ArchiveBuilder.validMembers(in: scratch)
        let plainTar = try ArchiveBuilder.archive(valid, compress: false)
        #expect(try extractRule(plainTar) == "zstd-stream")
        let gzipLike: [UInt8] = [0x1F, 0x8B, 0x08, 0x00] + [UInt8](repeating: 0, count: 200)
        #expect(try extractRule(gzipLike) == "zstd-stream")
        let good = try ArchiveBuilder.archive(valid)
        let truncatedFrame = Array(try Zstd.compress([1, 2, 3, 4, 5, 6, 7, 8]).prefix(9))
        #expect(try extractRule(good + truncatedFrame) == "zstd-stream")
        #expect(try extractRule(Array(good.prefix(good.count - 3))) == "zstd-stream")
        #expect(try extractRule(good + Array("junk".utf8)) == "zstd-stream")
    }

    @Test("a disk.img that is another format is refused (format confusion)")
    func formatConfusion() throws {
        let scratch = try TemporaryFolder("confusion")
        defer { scratch.remove() }
        var members = try ArchiveBuilder.validMembers(in: scratch)
        let qcow2 = try ArchiveBuilder.layer(size: 16 << 20, backing: "/etc/shadow", in: scratch)
        var disk = qcow2 + [UInt8](repeating: 0, count: (16 << 20) - qcow2.count)
        disk[0] = 0x51
        members[0] = .file("disk.img", disk)
        #expect(try extractRule(ArchiveBuilder.archive(members)) == "format-confusion")
    }

    @Test("a layer that is not disk.img's raw overlay is refused")
    func badLayers() throws {
        let scratch = try TemporaryFolder("layers")
        defer { scratch.remove() }
        let valid = try ArchiveBuilder.validMembers(in: scratch)
        func with(layer: [UInt8]) throws -> [UInt8] {
            var members = valid
            members[1] = .file("layer.qcow2", layer)
            return try ArchiveBuilder.archive(members)
        }
        #expect(try extractRule(with(layer: ArchiveBuilder.layer(size: 16 << 20, backing: "other.img", in: scratch))) == "layer-backing")
        #expect(try extractRule(with(layer: ArchiveBuilder.layer(size: 16 << 20, backing: "/etc/shadow", in: scratch))) == "layer-backing")
        #expect(try extractRule(with(layer: ArchiveBuilder.layer(size: 16 << 20, format: .qcow2, in: scratch))) == "layer-backing")
        #expect(try extractRule(with(layer: ArchiveBuilder.layer(size: 32 << 20, in: scratch))) == "virtual-size")
        var dirty = try ArchiveBuilder.layer(size: 16 << 20, in: scratch)
        dirty[79] |= 1  // incompatible feature bit 0: dirty
        #expect(try extractRule(with(layer: dirty)) == "layer-audit")
        #expect(try extractRule(with(layer: Array("not a qcow2 image".utf8))) == "layer-backing")
    }

    @Test("a layer with an external data file is refused", .enabled(if: Oracle.has("qemu-img")))
    func externalDataFile() throws {
        let scratch = try TemporaryFolder("datafile")
        defer { scratch.remove() }
        var members = try ArchiveBuilder.validMembers(in: scratch)
        let result = try Oracle.run("qemu-img", ["create", "-q", "-f", "qcow2", "-u", "-o", "data_file=data.raw",
                                                 "-b", "disk.img", "-F", "raw", "layer.qcow2", "16M"],
                                    currentDirectory: scratch.path)
        #expect(result.status == 0, "\(result.stderr)")
        members[1] = .file("layer.qcow2", Array(try Data(contentsOf: URL(fileURLWithPath: scratch.file("layer.qcow2")))))
        #expect(try extractRule(ArchiveBuilder.archive(members)) == "layer-audit")
    }

    @Test("sizes over the limits are refused before anything is written")
    func sizeLimits() throws {
        let scratch = try TemporaryFolder("limits")
        defer { scratch.remove() }
        let valid = try ArchiveBuilder.validMembers(in: scratch)
        #expect(try extractRule(ArchiveBuilder.archive(valid), limits: ImageLimits(maxImageSize: 8 << 20)) == "size-limit")
        var members = valid
        members[2] = .file("machine.json", Array("{\"version\":1}".utf8) + [UInt8](repeating: 0x20, count: 2 << 20))
        #expect(try extractRule(ArchiveBuilder.archive(members)) == "size-limit")
    }

    @Test("an invalid machine.json is refused with every bad field")
    func badMachine() throws {
        let scratch = try TemporaryFolder("machine")
        defer { scratch.remove() }
        var members = try ArchiveBuilder.validMembers(in: scratch)
        members[2] = .file("machine.json", Array("{not json".utf8))
        #expect(try extractRule(ArchiveBuilder.archive(members)) == "json-syntax")
        members[2] = .file("machine.json", Array(#"{"version": 1, "memory": -5, "mac": "zz"}"#.utf8))
        #expect(try extractRule(ArchiveBuilder.archive(members)) == "machine-schema")
    }

    @Test("an extraction never replaces an existing folder")
    func existingFolder() throws {
        let scratch = try TemporaryFolder("existing")
        defer { scratch.remove() }
        let bytes = try ArchiveBuilder.archive(try ArchiveBuilder.validMembers(in: scratch))
        try FileManager.default.createDirectory(atPath: scratch.file("image"), withIntermediateDirectories: false)
        #expect(throws: VMImageError.self) {
            try ImageArchive.extract(from: BufferSource(bytes), into: FilePath(scratch.file("image")))
        }
        #expect(FileManager.default.fileExists(atPath: scratch.file("image")))
    }
}

@Suite("image archive extraction, the tar module's hostile archives")
struct ImageArchiveHostileTarTests {
    static let hostile: [String] = {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("TestImages/tar")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return names.filter { $0.hasPrefix("hostile-") && $0.hasSuffix(".tar") }.sorted().map { folder.appendingPathComponent($0).path }
    }()

    @Test("every hostile tar fixture, compressed, is refused and leaves nothing behind", arguments: hostile)
    func refused(path: String) throws {
        let tar = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        let archive = try Zstd.compress(tar)
        let folder = try TemporaryFolder("hostile")
        defer { folder.remove() }
        let target = folder.file("image")
        #expect(throws: VMImageError.self) {
            try ImageArchive.extract(from: BufferSource(archive), into: FilePath(target), limits: ImageLimits(maxImageSize: 50 << 30))
        }
        #expect(!FileManager.default.fileExists(atPath: target))
        #expect(throws: VMImageError.self) { try ImageArchive.verify(from: BufferSource(archive)) }
    }

    @Test("the hostile fixtures are there")
    func present() {
        #expect(Self.hostile.count >= 15)
    }
}
