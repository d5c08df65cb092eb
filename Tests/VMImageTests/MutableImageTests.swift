import ByteStreams
import Foundation
import QCOW2
import SystemPackage
import TestSupport
import Testing
@testable import VMImage

@Suite("mutable image")
struct MutableImageTests {
    @Test("blank 8 GiB disk, write, package, load with the manager, read back through the overlay")
    func roundTrip() async throws {
        let scratch = try TemporaryFolder("mutable")
        defer { scratch.remove() }
        var machine = Machine()
        machine.memory = 1024
        machine.mac = "aa:bb:cc:00:11:22"
        let image = try MutableImage(folder: FilePath(scratch.file("build")), size: 8, machine: machine)
        #expect(image.format == "raw")
        let disk = try image.diskFile
        #expect(image.isInUse)
        await #expect(throws: VMImageError.self) { try await image.package(to: FilePath(scratch.file("x.tar.zst"))) }
        // The "VM" writes at a few offsets.
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: disk.string))
        let writes: [(UInt64, [UInt8])] = [(0, Array("boot sector".utf8)), (3 << 30, [UInt8](repeating: 0xAB, count: 65536)),
                                           ((8 << 30) - 4096, [UInt8](repeating: 0xCD, count: 4096))]
        for (offset, bytes) in writes {
            try handle.seek(toOffset: offset)
            try handle.write(contentsOf: Data(bytes))
        }
        try handle.close()
        try await image.release()
        await #expect(throws: VMImageError.self) { try await image.release() }
        let result = try await image.package(to: FilePath(scratch.file("image.tar.zst")))
        #expect(result.virtualSize == 8 << 30)
        #expect(result.archiveBytes < 1 << 20)

        let manager = try ImageManager(imageFolder: FilePath(scratch.file("images")),
                                       gc: GarbageCollector(storageFolder: FilePath(scratch.path), minimumDiskSpace: 0, minimumMemory: 0))
        let archivePath = scratch.file("image.tar.zst")
        let instance = try await manager.instance(imageID: "built") { target in
            try FileManager.default.copyItem(atPath: archivePath, toPath: target.string)
        }
        #expect(instance.machine.memory == 1024)
        let reader = try ImageReader.open(path: try instance.diskFile.string, options: ChainOptions(followBacking: true))
        func read(_ offset: UInt64, _ count: Int) throws -> [UInt8] {
            var bytes = [UInt8](repeating: 0xFF, count: count)
            try bytes.withUnsafeMutableBytes { try reader.read(into: $0, at: offset) }
            return bytes
        }
        for (offset, bytes) in writes {
            #expect(try read(offset, bytes.count) == bytes)
        }
        #expect(try read(1 << 30, 16) == [UInt8](repeating: 0, count: 16))
        let backing = try instance.diskFile.removingLastComponent().appending("disk.img")
        var status = stat()
        #expect(stat(backing.string, &status) == 0)
        #expect(Int(status.st_size) == 8 << 30)
        #expect(Int(status.st_blocks) * 512 < 4 << 20, "disk.img must stay sparse")
        #expect(instance.imageFolder == backing.removingLastComponent())
        try await instance.release()
        try image.dispose()
        #expect(!FileManager.default.fileExists(atPath: scratch.file("build")))
    }

    @Test("an image made from an archive extracts off the caller's thread and packages again")
    func fromArchive() async throws {
        let scratch = try TemporaryFolder("mutable-archive")
        defer { scratch.remove() }
        var machine = Machine()
        machine.memory = 2048
        let blank = try MutableImage(folder: FilePath(scratch.file("blank")), size: 1, machine: machine)
        try await blank.package(to: FilePath(scratch.file("first.tar.zst")))
        let image = try await MutableImage(imageFile: FilePath(scratch.file("first.tar.zst")), imageFolder: FilePath(scratch.file("again")))
        #expect(image.machine.memory == 2048)
        var status = stat()
        #expect(stat(scratch.file("again/disk.img"), &status) == 0)
        #expect(Int(status.st_size) == 1 << 30)
        _ = try image.diskFile
        try await image.release()
        let result = try await image.package(to: FilePath(scratch.file("second.tar.zst")))
        #expect(result.virtualSize == 1 << 30)
        // A broken archive is refused and leaves no folder behind.
        try Array("not zstd".utf8).withUnsafeBytes { try Data($0).write(to: URL(fileURLWithPath: scratch.file("bad.tar.zst"))) }
        await #expect(throws: VMImageError.self) {
            _ = try await MutableImage(imageFile: FilePath(scratch.file("bad.tar.zst")), imageFolder: FilePath(scratch.file("bad")))
        }
        #expect(!FileManager.default.fileExists(atPath: scratch.file("bad")))
        try image.dispose()
        try blank.dispose()
    }

    @Test("blank disks over 80 GiB are refused")
    func sizeLimit() throws {
        let scratch = try TemporaryFolder("mutable-limit")
        defer { scratch.remove() }
        #expect(throws: VMImageError.self) { try MutableImage(folder: FilePath(scratch.file("a")), size: 81, machine: Machine()) }
        #expect(!FileManager.default.fileExists(atPath: scratch.file("a")))
    }
}
