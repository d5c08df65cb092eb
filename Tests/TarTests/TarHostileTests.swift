import ByteStreams
import Foundation
import SystemPackage
import Tar
import TestSupport
import Testing

/// The hostile archives of TestImages/tar (made by make_hostile.py): each must be refused
/// with the right error, and the target folder must be left exactly as it was (empty).
@Suite("Tar extraction refuses hostile archives")
struct TarHostileTests {
    static let imageNames: Set<String> = ["disk.img", "layer.qcow2", "machine.json"]

    static let cases: [(String, TarError.Code)] = [
        ("symlink", .disallowedType),
        ("hardlink", .disallowedType),
        ("dotdot", .unsafeName),
        ("absolute", .unsafeName),
        ("device", .disallowedType),
        ("duplicate", .duplicateMember),
        ("truncated", .truncated),
        ("bad-checksum", .badChecksum),
        ("sparse-overlap", .badSparseMap),
        ("sparse-beyond", .badSparseMap),
        ("sparse-huge-count", .limitExceeded),
        ("sparse-size-mismatch", .sizeMismatch),
        ("oldgnu-unsorted", .badSparseMap),
        ("huge-declared", .limitExceeded),
        ("nul-in-name", .badExtendedHeader),
        ("trailing-garbage", .trailingData),
        ("empty-header-chain", .limitExceeded),
        ("dot-slash-slash", .unsafeName),
        ("slash-dot", .unsafeName),
    ] + TarAmbiguityTests.ambiguous

    static func imageOptions() -> TarExtractionOptions {
        var options = TarExtractionOptions()
        options.allowedNames = imageNames
        options.maximumMemberSize = 50 << 30
        return options
    }

    @Test("refused with a clear error, nothing left behind", arguments: cases)
    func refuses(_ name: String, _ code: TarError.Code) throws {
        let folder = try TemporaryFolder("tar-hostile")
        defer { folder.remove() }
        let target = folder.file("out")
        try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: false)
        let error = expectTarError(code) {
            try Tar.extract(archive: FilePath(Fixtures.path("hostile-\(name).tar")), into: FilePath(target), options: Self.imageOptions())
        }
        if let error {
            // The message names a member or an offset, and says what is wrong.
            #expect(error.member != nil || error.offset != nil, "\(error)")
            #expect(!error.detail.isEmpty)
        }
        #expect(FileCheck.tree(target) == [], "left behind: \(FileCheck.tree(target))")
        #expect(FileCheck.tree(folder.path) == ["out"])
    }

    @Test("a 60 GiB declared size without a limit fails as truncated, and the 60 GiB file is removed")
    func hugeWithoutLimit() throws {
        let folder = try TemporaryFolder("tar-hostile")
        defer { folder.remove() }
        var options = Self.imageOptions()
        options.maximumMemberSize = .max
        expectTarError(.truncated) {
            try Tar.extract(archive: FilePath(Fixtures.path("hostile-huge-declared.tar")), into: FilePath(folder.path), options: options)
        }
        #expect(FileCheck.tree(folder.path) == [])
    }

    @Test("the allow-list refuses a name that is not on it")
    func allowList() throws {
        let folder = try TemporaryFolder("tar-hostile")
        defer { folder.remove() }
        var options = TarExtractionOptions()
        options.allowedNames = ["disk.img"]
        expectTarError(.disallowedName) {
            try Tar.extract(archive: FilePath(Fixtures.path("hostile-trailing-garbage.tar")), into: FilePath(folder.path), options: options)
        }
        #expect(FileCheck.tree(folder.path) == [])
    }

    @Test("the reader reports trailing garbage at its offset; extraction can be told to accept it")
    func trailingGarbage() throws {
        let (reader, close) = try openArchive(Fixtures.path("hostile-trailing-garbage.tar"))
        defer { close() }
        while try reader.next() != nil {}
        #expect(try reader.trailer() == .garbage(offset: 1024 + 1024))

        let folder = try TemporaryFolder("tar-hostile")
        defer { folder.remove() }
        var options = TarExtractionOptions()
        options.refusesTrailingData = false
        let members = try Tar.extract(
            archive: FilePath(Fixtures.path("hostile-trailing-garbage.tar")), into: FilePath(folder.path), options: options)
        #expect(members.map(\.name) == ["machine.json"])
    }

    @Test("symlinks and hardlinks under allowed names are refused even when listed as names")
    func linksNeverByDefault() throws {
        for name in ["symlink", "hardlink"] {
            let folder = try TemporaryFolder("tar-hostile")
            defer { folder.remove() }
            expectTarError(.disallowedType) {
                try Tar.extract(archive: FilePath(Fixtures.path("hostile-\(name).tar")), into: FilePath(folder.path))
            }
            #expect(FileCheck.tree(folder.path) == [])
        }
    }
}
