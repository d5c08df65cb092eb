import ByteStreams
import Foundation
import QCOW2
import SystemPackage
import TestSupport
import Testing
@testable import VMImage

/// ``OverlayCreation``: the one function that writes `layer.qcow2` and instance disks, and
/// the typed ``VMImageError/overlayCreation(path:underlying:)`` it throws.
@Suite struct OverlayCreationTests {
    static let shape = PackageShapesTests.Shape(name: "1 MiB", size: 1 << 20, runs: [(0, 4096)])

    @Test func packagingWhereLayerIsAFolderKeepsTheCreatorsError() throws {
        let scratch = try TemporaryFolder("overlay")
        defer { scratch.remove() }
        let folder = scratch.file("image")
        _ = try PackageShapesTests.makeFolder(folder, Self.shape)
        let layer = folder + "/" + ImageArchive.layerName
        try FileManager.default.createDirectory(atPath: layer, withIntermediateDirectories: false)
        let expected = VMImageError.overlayCreation(path: layer, underlying: .targetNotRegularFile(path: layer))
        #expect(throws: expected) {
            try ImageArchive.package(folder: FilePath(folder), to: FilePath(scratch.file("image.tar.zst")))
        }
        #expect(!expected.isMalformedPayload)
        #expect(expected.description.contains(layer) && !expected.description.contains("\n"), "\(expected)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.path) == ["image"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder).sorted() == ["disk.img", "layer.qcow2", "machine.json"])
    }

    @Test func anInstanceDiskNeverReplacesAnExistingName() throws {
        let scratch = try TemporaryFolder("overlay")
        defer { scratch.remove() }
        let disk = scratch.file("instance.qcow2")
        try Data("taken".utf8).write(to: URL(fileURLWithPath: disk))
        #expect(throws: VMImageError.overlayCreation(path: disk, underlying: .targetExists(path: disk))) {
            try OverlayCreation.create(at: FilePath(disk), virtualSize: 1 << 20, replacing: false)
        }
        #expect(try String(contentsOfFile: disk, encoding: .utf8) == "taken")
        try OverlayCreation.create(at: FilePath(disk), virtualSize: 1 << 20, replacing: true)
        let header = try QCOW2Image.header(atPath: disk)
        #expect(header.virtualSize == 1 << 20)
        #expect(header.backingFileName == ImageArchive.diskName)
    }

    @Test func aMissingFolderIsTheSystemCallsErrno() throws {
        let scratch = try TemporaryFolder("overlay")
        defer { scratch.remove() }
        let disk = scratch.file("gone/instance.qcow2")
        do {
            try OverlayCreation.create(at: FilePath(disk), virtualSize: 1 << 20, replacing: false)
            Issue.record("created an overlay in a missing folder")
        } catch {
            guard case let .overlayCreation(path, .system(_, _, code)) = error else {
                Issue.record("expected overlayCreation(.system), got \(error)")
                return
            }
            #expect(path == disk)
            #expect(code == ENOENT)
        }
    }
}
