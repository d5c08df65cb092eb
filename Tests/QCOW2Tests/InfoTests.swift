import ByteStreams
import Foundation
@testable import QCOW2
import SystemPackage
import Testing

/// Our `ImageInfo` JSON against what qemu-img 7.2 printed for each fixture.
struct InfoTests {
    /// Fixtures with a stored `qemu-img info --output=json`.
    static let fixtures = HeaderFixtures.names(endingWith: ".info.json").map { String($0.dropLast(".info.json".count)) }

    /// Our info for a fixture, opened the way make-fixtures.sh opened it.
    static func info(_ name: String) throws -> ImageInfo {
        let fd = try FileDescriptor.open(FilePath(HeaderFixtures.path(name)), .readOnly)
        defer { try? fd.close() }
        let status = try SparseFile.status(of: fd)
        if name.hasPrefix("raw") || name == "disk.img" {
            return ImageInfo(rawFilename: name, fileSize: status.size, actualSize: status.allocatedBytes)
        }
        let image = try QCOW2Image(descriptor: fd, path: name, fileSize: status.size)
        return try ImageInfo(image: image, filename: name, actualSize: status.allocatedBytes)
    }

    /// The text without the machine-dependent `actual-size` line.
    static func withoutActualSize(_ text: String) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false)
            .filter { !$0.contains("\"actual-size\"") }.joined(separator: "\n")
    }

    @Test(arguments: fixtures)
    func matchesQemuImg(name: String) throws {
        let expected = try String(contentsOfFile: HeaderFixtures.path(name + ".info.json"), encoding: .utf8)
        let ours = try Self.info(name).json.rendered() + "\n"
        #expect(Self.withoutActualSize(ours) == Self.withoutActualSize(expected), "\(name)")
    }

    @Test func snapshotTable() throws {
        let fd = try FileDescriptor.open(FilePath(HeaderFixtures.path("snapshots.qcow2")), .readOnly)
        defer { try? fd.close() }
        let image = try QCOW2Image(descriptor: fd)
        let table = try QCOW2SnapshotTable(image: image)
        #expect(table.snapshots.map(\.name) == ["first", "second"])
        #expect(table.snapshots.map(\.id) == ["1", "2"])
        #expect(table.snapshots.allSatisfy { $0.extraDataSize == 24 && $0.diskSize == 1 << 20 && $0.icount == 0 })
        #expect(table.snapshots.allSatisfy { $0.l1Size == 1 && $0.l1TableOffset % 65536 == 0 })
        #expect(table.snapshots[0].entryOffset == image.header.snapshotsOffset)
        #expect(table.snapshots[1].entryOffset % 8 == 0)
        // The pure parser over the same bytes agrees with the file reader.
        let bytes = try image.file.read(count: Int(table.length), at: image.header.snapshotsOffset)
        #expect(try QCOW2SnapshotTable(parsing: bytes, header: image.header) == table)
    }

    @Test func snapshotExtraDataCap() throws {
        var header = try HeaderFixtures.header("snapshots.qcow2")
        header.snapshotCount = 1
        var entry = [UInt8](repeating: 0, count: 40)
        entry[38] = 0x04; entry[39] = 0x01  // extra_data_size 1025
        #expect(throws: QCOW2HeaderError.snapshotExtraDataTooLarge(index: 0, size: 1025)) {
            try QCOW2SnapshotTable(parsing: entry, header: header)
        }
    }

    @Test func bitmapsAndLUKS() throws {
        let bitmaps = try Self.info("bitmap.qcow2").formatSpecific?.bitmaps
        #expect(bitmaps?.map(\.name) == ["bitmap0", "bitmap1"])
        #expect(bitmaps?.map(\.flags) == [["auto"], []])
        guard case let .luks(luks)? = try Self.info("luks.qcow2").formatSpecific?.encrypt else {
            Issue.record("luks.qcow2 has no LUKS info")
            return
        }
        #expect(luks.cipherAlgorithm == "aes-256" && luks.cipherMode == "xts" && luks.ivGenerator == "plain64")
        #expect(luks.keySlots.filter(\.isActive).count == 1)
    }

    @Test func qemuJSONQuoting() {
        var out = ""
        QemuJSON.quote("a\"b\\c\n\u{01}é😀", into: &out)
        #expect(out == "\"a\\\"b\\\\c\\n\\u0001\\u00E9\\uD83D\\uDE00\"")
        #expect(QemuJSON.object([]).rendered() == "{\n}")
        #expect(QemuJSON.array([]).rendered() == "[\n]")
    }

    @Test func backingResolution() {
        #expect(ImageInfo.resolve("base.qcow2", relativeTo: "dir/top.qcow2") == "dir/base.qcow2")
        #expect(ImageInfo.resolve("base.qcow2", relativeTo: "top.qcow2") == "base.qcow2")
        #expect(ImageInfo.resolve("/abs/base", relativeTo: "dir/top.qcow2") == "/abs/base")
        #expect(ImageInfo.resolve("json:{}", relativeTo: "dir/top.qcow2") == "json:{}")
        #expect(ImageInfo.resolve("a/b", relativeTo: "/x/top.qcow2") == "/x/a/b")
    }
}

/// Inspecting a typical image (the archive's layer.qcow2) stays in the microseconds.
struct InspectSpeedTests {
    @Test func layerInspectionIsFast() throws {
        let path = HeaderFixtures.path("layer.qcow2")
        let rounds = 300
        let clock = ContinuousClock()
        var safe = 0
        let elapsed = try clock.measure {
            for _ in 0..<rounds where try ImageInspection(path: path).audit.isSafe { safe += 1 }
        }
        #expect(safe == rounds)
        let micros = Double(elapsed.components.attoseconds) / 1e12 + Double(elapsed.components.seconds) * 1e6
        print("inspect layer.qcow2: \(micros / Double(rounds)) µs per image (open, fstat, reads, parse, info, audit, close)")
        // Generous bound for debug builds on a shared machine; release is far below it.
        #expect(micros / Double(rounds) < 5000)
    }
}

/// Stored names become JSON text exactly as qemu's modified-UTF-8 decoder makes them.
struct QemuTextTests {
    @Test func decodesLikeQemu() {
        let bytes: [UInt8] = Array("ba".utf8) + [0xFF] + Array("se".utf8) + [0xC3] + Array("(".utf8) + [0xE2, 0x82]
            + Array(" ".utf8) + [0xF0, 0x9F, 0x98, 0x80] + Array(" ".utf8) + [0xC0, 0x80] + Array(" end".utf8)
            + [0xEF, 0xBF, 0xBE] + [0xED, 0xA0, 0x80] + [0, 0x41]
        var out = ""
        QemuJSON.quote(QemuJSON.cString(bytes), into: &out)
        // What qemu-img 7.2 printed for this name (see LiveQemuTests for the live check).
        #expect(out == "\"ba\\uFFFDse\\uFFFD(\\uFFFD \\uD83D\\uDE00 \\u0000 end\\uFFFD\\uFFFD\"")
    }
}
