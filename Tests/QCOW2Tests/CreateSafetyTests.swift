import Foundation
import Testing
@testable import QCOW2
import SystemPackage
import TestSupport

/// How ``QCOW2Creator`` writes: temp file + rename, no symlink following, no silent overwrite,
/// nothing left behind on failure, and a backing file opened only to learn the size.
@Suite struct CreateSafetyTests {
    func entries(_ folder: TemporaryFolder) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
    }

    @Test func createsTheFileAndNothingElse() throws {
        let folder = try TemporaryFolder("create")
        defer { folder.remove() }
        let summary = try QCOW2Creator.create(at: FilePath(folder.file("a.qcow2")), options: QCOW2CreateOptions(virtualSize: 1 << 30))
        #expect(summary.fileLength == 3 * 65536 + 16)
        #expect(try entries(folder) == ["a.qcow2"])
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: folder.file("a.qcow2"))))
        #expect(bytes == (try QCOW2Creator.imageBytes(options: QCOW2CreateOptions(virtualSize: 1 << 30))))
        let mode = try FileManager.default.attributesOfItem(atPath: folder.file("a.qcow2"))[.posixPermissions] as? Int
        #expect(mode == 0o644 || mode == 0o644 & ~0o022)
    }

    @Test func refusesToOverwriteUnlessAsked() throws {
        let folder = try TemporaryFolder("create")
        defer { folder.remove() }
        let path = folder.file("a.qcow2")
        try Data("keep me".utf8).write(to: URL(fileURLWithPath: path))
        #expect(throws: QCOW2CreateError.targetExists(path: path)) {
            try QCOW2Creator.create(at: FilePath(path), options: QCOW2CreateOptions(virtualSize: 1 << 20))
        }
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "keep me")
        #expect(try entries(folder) == ["a.qcow2"])
        var options = QCOW2CreateOptions(virtualSize: 1 << 20)
        options.overwrite = true
        try QCOW2Creator.create(at: FilePath(path), options: options)
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(Array(bytes[0..<4]) == [0x51, 0x46, 0x49, 0xFB])
        #expect(try entries(folder) == ["a.qcow2"])
    }

    @Test func neverFollowsOrReplacesASymlinkAtTheTarget() throws {
        let folder = try TemporaryFolder("create")
        defer { folder.remove() }
        let victim = folder.file("victim")
        try Data("precious".utf8).write(to: URL(fileURLWithPath: victim))
        let link = folder.file("link.qcow2")
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: victim)
        let dangling = folder.file("dangling.qcow2")
        try FileManager.default.createSymbolicLink(atPath: dangling, withDestinationPath: folder.file("nowhere"))
        for overwrite in [false, true] {
            var options = QCOW2CreateOptions(virtualSize: 1 << 20)
            options.overwrite = overwrite
            #expect(throws: QCOW2CreateError.targetIsSymbolicLink(path: link)) {
                try QCOW2Creator.create(at: FilePath(link), options: options)
            }
            #expect(throws: QCOW2CreateError.targetIsSymbolicLink(path: dangling)) {
                try QCOW2Creator.create(at: FilePath(dangling), options: options)
            }
        }
        #expect(try String(contentsOfFile: victim, encoding: .utf8) == "precious")
        #expect(!FileManager.default.fileExists(atPath: folder.file("nowhere")))
        #expect(try entries(folder) == ["dangling.qcow2", "link.qcow2", "victim"])
    }

    @Test func refusesUnsafeBackingNamesAndMissingFormats() throws {
        let folder = try TemporaryFolder("create")
        defer { folder.remove() }
        let path = folder.file("o.qcow2")
        for name in ["/etc/passwd", "../base.img", "sub/base.img", "nbd:host:10809", "json:{}", "", "a\u{1}b"] {
            let options = QCOW2CreateOptions(virtualSize: 1 << 20, backingFile: name, backingFormat: .raw)
            #expect(throws: QCOW2CreateError.self) { try QCOW2Creator.create(at: FilePath(path), options: options) }
            do {
                try QCOW2Creator.create(at: FilePath(path), options: options)
            } catch let error {
                guard case .unsafeBackingName(let named, _) = error else {
                    Issue.record("expected unsafeBackingName for \(name), got \(error)")
                    continue
                }
                #expect(named == name)
            }
        }
        #expect(throws: QCOW2CreateError.missingBackingFormat) {
            try QCOW2Creator.create(at: FilePath(path), options: QCOW2CreateOptions(virtualSize: 1 << 20, backingFile: "base.img"))
        }
        #expect(try entries(folder).isEmpty)
        var allowed = QCOW2CreateOptions(virtualSize: 1 << 20, backingFile: "../base.img", backingFormat: .raw)
        allowed.allowUnsafeBackingName = true
        try QCOW2Creator.create(at: FilePath(path), options: allowed)
        #expect(try entries(folder) == ["o.qcow2"])
    }

    @Test func sizeFromBackingFilesWithoutReadingTheirData() throws {
        let folder = try TemporaryFolder("create")
        defer { folder.remove() }
        // A raw backing file of 1000 bytes: qemu reports 1024 (rounded to sectors).
        try Data(count: 1000).write(to: URL(fileURLWithPath: folder.file("odd.raw")))
        let raw = try QCOW2Creator.create(at: FilePath(folder.file("a.qcow2")), options: QCOW2CreateOptions(backingFile: "odd.raw", backingFormat: .raw))
        #expect(raw.virtualSize == 1024)
        // A qcow2 backing file: the size field at offset 24.
        try QCOW2Creator.create(at: FilePath(folder.file("base.qcow2")), options: QCOW2CreateOptions(virtualSize: 5 << 30))
        let chained = try QCOW2Creator.create(at: FilePath(folder.file("b.qcow2")), options: QCOW2CreateOptions(backingFile: "base.qcow2", backingFormat: .qcow2))
        #expect(chained.virtualSize == 5 << 30)
        // Format confusion and truncation are typed errors, and leave nothing behind.
        let before = try entries(folder)
        #expect(throws: QCOW2CreateError.self) {
            try QCOW2Creator.create(at: FilePath(folder.file("c.qcow2")), options: QCOW2CreateOptions(backingFile: "odd.raw", backingFormat: .qcow2))
        }
        try Data([0x51, 0x46, 0x49, 0xFB, 0, 0, 0, 3]).write(to: URL(fileURLWithPath: folder.file("short.qcow2")))
        #expect(throws: QCOW2CreateError.self) {
            try QCOW2Creator.create(at: FilePath(folder.file("c.qcow2")), options: QCOW2CreateOptions(backingFile: "short.qcow2", backingFormat: .qcow2))
        }
        #expect(throws: QCOW2CreateError.self) {
            try QCOW2Creator.create(at: FilePath(folder.file("c.qcow2")), options: QCOW2CreateOptions(backingFile: "missing.raw", backingFormat: .raw))
        }
        #expect(try entries(folder) == (before + ["short.qcow2"]).sorted())
        // With a size given, the backing file is not even opened (it may not exist yet).
        try QCOW2Creator.create(at: FilePath(folder.file("d.qcow2")), options: QCOW2CreateOptions(virtualSize: 1 << 20, backingFile: "later.raw", backingFormat: .raw))
    }

    @Test func headerSizeFieldIsBoundsAndMagicChecked() throws {
        #expect(throws: QCOW2CreateError.self) { try CreateBackingSize.size(fromQCOW2Header: [0x51, 0x46], path: "x") }
        var header = [UInt8](repeating: 0, count: 32)
        header[0...3] = [0x51, 0x46, 0x49, 0xFB]
        header[7] = 9
        #expect(throws: QCOW2CreateError.self) { try CreateBackingSize.size(fromQCOW2Header: header, path: "x") }
        header[7] = 3
        for i in 24..<32 { header[i] = 0xFF }
        #expect(throws: QCOW2CreateError.self) { try CreateBackingSize.size(fromQCOW2Header: header, path: "x") }
        header[24] = 0
        header[25] = 0
        #expect(try CreateBackingSize.size(fromQCOW2Header: header, path: "x") == 0x0000_FFFF_FFFF_FFFF)
    }

    @Test func hugeOverlaysStaySparse() throws {
        let folder = try TemporaryFolder("create")
        defer { folder.remove() }
        var options = QCOW2CreateOptions(virtualSize: 16 << 40, lazyRefcounts: true, backingFile: "disk.img", backingFormat: .raw)
        options.sync = false
        let summary = try QCOW2Creator.create(at: FilePath(folder.file("big.qcow2")), options: options)
        #expect(summary.fileLength == 3 * 65536 + 32768 * 8)
        var st = stat()
        #expect(stat(folder.file("big.qcow2"), &st) == 0)
        #expect(st.st_blocks * 512 <= 64 * 1024)  // a few pages of metadata, the L1 is a hole
    }

    @Test func targetPathMustNameAFile() {
        for path in ["", "/", ".", "..", "sub/.."] {
            #expect(throws: QCOW2CreateError.self) {
                try QCOW2Creator.create(at: FilePath(path), options: QCOW2CreateOptions(virtualSize: 1 << 20))
            }
        }
        #expect(throws: QCOW2CreateError.self) {
            try QCOW2Creator.create(at: FilePath("/nonexistent-folder-xyz/a.qcow2"), options: QCOW2CreateOptions(virtualSize: 1 << 20))
        }
    }
}
