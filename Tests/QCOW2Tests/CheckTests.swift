import Foundation
import Testing
import TestSupport
@testable import QCOW2

@Suite struct CheckTests {
    @Test(arguments: QemuImages.names)
    func agreesWithQemuImgCheck(name: String) throws {
        let result = try QemuImages.withFile(QemuImages.path(name)) { try ImageCheck.run($0) }
        let expected = try QemuImages.oracle(name, "check.json")
        #expect(result.json(filename: "\(name).qcow2") + "\n" == expected, "\(result.messages)")
        let rc = try QemuImages.oracle(name, "check.rc").trimmingCharacters(in: .whitespacesAndNewlines)
        #expect("\(result.exitCode)" == rc)
    }

    @Test func leakAndCorruptionAreNamed() throws {
        let leak = try QemuImages.withFile(QemuImages.path("leak")) { try ImageCheck.run($0) }
        #expect(leak.leaks == 1 && leak.corruptions == 0 && leak.exitCode == 3)
        #expect(leak.messages.contains { $0.hasPrefix("Leaked cluster") })
        let bad = try QemuImages.withFile(QemuImages.path("badref")) { try ImageCheck.run($0) }
        #expect(bad.corruptions == 2 && bad.exitCode == 2)
        #expect(bad.messages.contains("ERROR cluster 5 refcount=0 reference=1"))
        #expect(bad.messages.contains("ERROR OFLAG_COPIED data cluster: l2_entry=8000000000050000 refcount=0"))
    }

    @Test func jsonEscapesLikeQemu() {
        var result = CheckResult()
        result.totalClusters = 3
        #expect(result.json(filename: "a\"b\u{1}é") == "{\n    \"total-clusters\": 3,\n    \"check-errors\": 0,\n    \"filename\": \"a\\\"b\\u0001\\u00E9\",\n    \"format\": \"qcow2\"\n}")
        #expect(CheckResult.percent(18.75) == "18.75" && CheckResult.percent(6.0) == "6.00")
        // qemu-img prints 17/32 compressed as 53.12 (printf rounds an exact half to even).
        #expect(CheckResult.percent(17.0 * 100 / 32) == "53.12" && CheckResult.percent(0.375) == "0.38")
    }
}

/// Hand-damaged copies of the fixtures, judged live by qemu-img (skipped without it).
@Suite(.enabled(if: Fixtures.hasQemu))
struct CheckDamageTests {
    /// Copies fixture `name`, applies `patch` to its bytes, and compares both checks.
    func compare(_ name: String, _ label: String, patch: (inout [UInt8]) -> Void) throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("qcow2-damage-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: QemuImages.path(name))))
        patch(&bytes)
        let file = "\(label).qcow2"
        try Data(bytes).write(to: URL(fileURLWithPath: "\(folder)/\(file)"))
        let qemu = try Oracle.run("qemu-img", ["check", "--output=json", file], currentDirectory: folder)
        let ours = try QemuImages.withFile("\(folder)/\(file)") { try ImageCheck.run($0) }
        #expect(ours.json(filename: file) + "\n" == qemu.text, "\(label): \(ours.messages) vs \(qemu.stderr)")
        #expect(ours.exitCode == qemu.status, "\(label)")
    }

    static func u64(_ b: [UInt8], _ o: Int) -> UInt64 { (0..<8).reduce(0) { $0 << 8 | UInt64(b[o + $1]) } }
    static func put(_ b: inout [UInt8], _ o: Int, _ v: UInt64) { for i in 0..<8 { b[o + i] = UInt8(truncatingIfNeeded: v >> (56 - 8 * i)) } }

    @Test func unalignedSnapshotL1() throws {
        try compare("snapshots", "snap-unaligned") { b in
            let table = Int(Self.u64(b, 64))
            Self.put(&b, table, Self.u64(b, table) + 8)
        }
    }

    @Test func l2EntryWithReservedBitsAndCompressedCopiedFlag() throws {
        try compare("zlib", "reserved-bits") { b in
            let l1 = Int(Self.u64(b, 40))
            let l2 = Int(Self.u64(b, l1) & 0x00FF_FFFF_FFFF_FE00)
            // Entry 0 is compressed: set the copied flag. Entry 1 is standard: set a reserved bit.
            Self.put(&b, l2, Self.u64(b, l2) | (1 << 63))
            Self.put(&b, l2 + 8, Self.u64(b, l2 + 8) | 0x2)
        }
    }

    @Test func refcountBlockOutsideTheFileAndL1Reserved() throws {
        try compare("compat010", "refblock-outside") { b in
            let reftable = Int(Self.u64(b, 48))
            Self.put(&b, reftable + 8, 0x4000_0000)
            let l1 = Int(Self.u64(b, 40))
            Self.put(&b, l1, Self.u64(b, l1) | 0x100)
        }
    }

    @Test func l2TableBeyondTheEnd() throws {
        try compare("zero", "l2-beyond") { b in
            let l1 = Int(Self.u64(b, 40))
            Self.put(&b, l1, (Self.u64(b, l1) & (1 << 63)) | 0x100_0000)
        }
    }
}
