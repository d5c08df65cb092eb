import ByteStreams
import Foundation
import SystemPackage
import TestSupport
import Testing
@testable import VMImage

#if canImport(Glibc)
import Glibc
#endif

/// `package` never writes what extraction refuses: every disk it accepts extracts again, and a
/// disk that is not a whole number of sectors is refused with a message that says what to do.
@Suite("packaging: every disk that packages extracts again")
struct PackageShapesTests {
    /// A disk shape: its size and the data runs written into it (the rest is a hole).
    struct Shape: CustomTestStringConvertible, Sendable {
        let name: String
        let size: UInt64
        let runs: [(offset: UInt64, length: Int)]
        var testDescription: String { name }
    }

    static let shapes: [Shape] = [
        Shape(name: "empty, one sector, all hole", size: 512, runs: []),
        Shape(name: "one sector of data", size: 512, runs: [(0, 512)]),
        Shape(name: "three sectors, dense", size: 1536, runs: [(0, 1536)]),
        Shape(name: "1 MiB dense", size: 1 << 20, runs: [(0, 1 << 20)]),
        Shape(name: "hole at the start", size: 4 << 20, runs: [((4 << 20) - 65536, 65536)]),
        Shape(name: "hole at the end", size: 4 << 20, runs: [(0, 65536)]),
        Shape(name: "holes at both ends, unaligned data", size: 4 << 20, runs: [((1 << 20) + 700, 5000)]),
        Shape(name: "many runs", size: 8 << 20, runs: (0..<16).map { (UInt64($0) << 19 + 512, 3000) }),
        Shape(name: "empty, 0 bytes", size: 0, runs: []),
    ]

    /// Writes `disk.img` of `shape` and a valid `machine.json` into the new folder `folder`,
    /// returning the disk's bytes.
    static func makeFolder(_ folder: String, _ shape: Shape) throws -> [UInt8] {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: false)
        try Data(ArchiveBuilder.machineJSON).write(to: URL(fileURLWithPath: folder + "/machine.json"))
        var bytes = [UInt8](repeating: 0, count: Int(shape.size))
        let fd = open(folder + "/disk.img", O_WRONLY | O_CREAT | O_EXCL, 0o644)
        #expect(fd >= 0)
        defer { close(fd) }
        #expect(ftruncate(fd, off_t(shape.size)) == 0)
        var state = shape.size &+ UInt64(shape.runs.count)
        for run in shape.runs {
            var data = (0..<run.length).map { _ -> UInt8 in
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                return UInt8(truncatingIfNeeded: state >> 33) | 1
            }
            if run.offset == 0 { data.replaceSubrange(0..<min(4, data.count), with: Array("boot".utf8).prefix(data.count)) }
            bytes.replaceSubrange(Int(run.offset)..<(Int(run.offset) + run.length), with: data)
            #expect(data.withUnsafeBytes { pwrite(fd, $0.baseAddress, run.length, off_t(run.offset)) } == run.length)
        }
        return bytes
    }

    @Test("a disk that packages extracts again, byte for byte", arguments: shapes)
    func roundTrip(_ shape: Shape) throws {
        let scratch = try TemporaryFolder("package-shape")
        defer { scratch.remove() }
        let disk = try Self.makeFolder(scratch.file("image"), shape)
        let archive = FilePath(scratch.file("image.tar.zst"))
        let packaged: PackageResult
        do {
            packaged = try ImageArchive.package(folder: FilePath(scratch.file("image")), to: archive)
        } catch {
            // Refusing is allowed only for a disk that could not be a whole number of sectors
            // of data (the empty one); everything else must package.
            #expect(shape.size == 0, "\(shape.name) was refused: \(error)")
            #expect(!FileManager.default.fileExists(atPath: archive.string))
            return
        }
        #expect(packaged.virtualSize == shape.size)
        let out = scratch.file("out")
        let contents = try ImageArchive.extract(archive: archive, into: FilePath(out))
        #expect(contents.virtualSize == shape.size)
        #expect(try ImageArchive.verify(archive: archive) == contents)
        let extracted = Array(try Data(contentsOf: URL(fileURLWithPath: out + "/disk.img")))
        #expect(extracted == disk, "\(shape.name): extracted disk differs")
    }

    @Test("a disk of 1 MiB + 100 bytes (or 511) is refused, saying how to fix it, and nothing is written",
          arguments: [(1 << 20) + 100, 511, (4 << 20) + 1] as [UInt64])
    func refusesPartialSector(_ size: UInt64) throws {
        let scratch = try TemporaryFolder("package-odd")
        defer { scratch.remove() }
        _ = try Self.makeFolder(scratch.file("image"), Shape(name: "odd", size: size, runs: [(0, Int(min(size, 4096)))]))
        let archive = FilePath(scratch.file("image.tar.zst"))
        let rounded = (size + 511) / 512 * 512
        do {
            try ImageArchive.package(folder: FilePath(scratch.file("image")), to: archive)
            Issue.record("a \(size)-byte disk was packaged")
        } catch {
            #expect(payloadRule(error) == "virtual-size", "\(error)")
            #expect(error.description.contains("not a multiple of 512"), "\(error)")
            #expect(error.description.contains("truncate -s \(rounded) "), "the message says what to do: \(error)")
            #expect(!error.description.contains("\n"))
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.path) == ["image"], "partial output left behind")
        #expect(!FileManager.default.fileExists(atPath: scratch.file("image/layer.qcow2")))
        // Doing what the message says makes it package, and extract again.
        #expect(truncate(scratch.file("image/disk.img"), off_t(rounded)) == 0)
        try ImageArchive.package(folder: FilePath(scratch.file("image")), to: archive)
        #expect(try ImageArchive.extract(archive: archive, into: FilePath(scratch.file("out"))).virtualSize == rounded)
    }

    @Test("a mutable image whose disk a VM left at an odd size refuses to package")
    func mutableImage() async throws {
        let scratch = try TemporaryFolder("package-mutable")
        defer { scratch.remove() }
        var machine = Machine()
        machine.memory = 1024
        machine.mac = "aa:bb:cc:00:11:22"
        let image = try MutableImage(folder: FilePath(scratch.file("build")), size: 1, machine: machine)
        let disk = try image.diskFile
        #expect(truncate(disk.string, off_t((1 << 30) + 100)) == 0)
        try await image.release()
        let archive = FilePath(scratch.file("image.tar.zst"))
        do {
            try await image.package(to: archive)
            Issue.record("a disk of 1 GiB + 100 bytes was packaged")
        } catch {
            #expect(payloadRule(error) == "virtual-size", "\(error)")
            #expect(error.description.contains("truncate -s \((1 << 30) + 512) "), "\(error)")
        }
        #expect(!FileManager.default.fileExists(atPath: archive.string))
        try image.dispose()
    }
}
