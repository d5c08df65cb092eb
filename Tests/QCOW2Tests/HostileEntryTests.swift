import Foundation
import Testing
import TestSupport
@testable import QCOW2

/// Hostile table entries that qemu-img opens but refuses to read or check, found by
/// byte-patching qemu-img's own images: we must refuse them too, not read something else.
@Suite(.enabled(if: Fixtures.hasQemu))
struct HostileEntryTests {
    static func u64(_ bytes: [UInt8], _ at: Int) -> UInt64 {
        bytes[at..<at + 8].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
    }

    static func put64(_ bytes: inout [UInt8], _ at: Int, _ value: UInt64) {
        for i in 0..<8 { bytes[at + i] = UInt8(truncatingIfNeeded: value >> UInt64(56 - 8 * i)) }
    }

    static func put32(_ bytes: inout [UInt8], _ at: Int, _ value: UInt32) {
        for i in 0..<4 { bytes[at + i] = UInt8(truncatingIfNeeded: value >> UInt32(24 - 8 * i)) }
    }

    /// Makes `name` in `folder` with qemu-img create `options` and the qemu-io `commands`,
    /// and returns its bytes and the file offset of its first L2 table.
    static func image(_ folder: TemporaryFolder, _ name: String, options: String, size: String,
                      commands: [String]) throws -> (bytes: [UInt8], l2: Int) {
        try #require(try Oracle.run("qemu-img", ["create", "-q", "-f", "qcow2", "-o", options, name, size],
                                    currentDirectory: folder.path).status == 0)
        let io = try Oracle.run("qemu-io", ["-f", "qcow2"] + commands.flatMap { ["-c", $0] } + [name],
                                currentDirectory: folder.path)
        try #require(io.status == 0)
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: folder.file(name))))
        let l1 = Int(u64(bytes, 40))
        let l2 = Int(u64(bytes, l1) & QCOW2Format.l1OffsetMask)
        try #require(l2 != 0)
        return (bytes, l2)
    }

    static func write(_ bytes: [UInt8], to path: String) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    /// Reads the whole guest disk, 64 KiB at a time.
    static func readAll(_ reader: ImageReader) throws {
        var buffer = [UInt8](repeating: 0, count: 65536)
        var offset: UInt64 = 0
        while offset < reader.virtualSize {
            try buffer.withUnsafeMutableBytes { try reader.read(into: $0, at: offset) }
            offset += UInt64(buffer.count)
        }
    }

    /// A version 2 image has no zero clusters: qemu calls the zero flag corruption ("Zero
    /// cluster entry found in pre-v3 image") and fails map and convert. We read zeros.
    @Test func zeroFlagInVersion2ImageFailsReads() throws {
        let folder = try TemporaryFolder("qcow2-v2-zero")
        defer { folder.remove() }
        var (bytes, l2) = try Self.image(folder, "v2.qcow2", options: "compat=0.10,cluster_size=4096", size: "64k",
                                         commands: ["write -P 0x11 0 8k"])
        Self.put64(&bytes, l2, Self.u64(bytes, l2) | 1)
        try Self.write(bytes, to: folder.file("v2.qcow2"))

        let reader = try ImageReader.open(path: folder.file("v2.qcow2"))
        #expect(throws: ImageAccessError.self) { try Self.readAll(reader) }
        #expect(throws: ImageAccessError.self) { _ = try reader.map() }
        #expect(try Oracle.run("qemu-img", ["map", "--output=json", "v2.qcow2"], currentDirectory: folder.path).status == 1)
        #expect(try Oracle.run("qemu-img", ["convert", "-O", "raw", "v2.qcow2", "q.raw"], currentDirectory: folder.path).status == 1)

        // The same entry in a version 3 image is a zero cluster, read as zeros.
        var (v3, v3L2) = try Self.image(folder, "v3.qcow2", options: "compat=1.1,cluster_size=4096", size: "64k",
                                        commands: ["write -P 0x11 0 8k"])
        Self.put64(&v3, v3L2, Self.u64(v3, v3L2) | 1)
        try Self.write(v3, to: folder.file("v3.qcow2"))
        try Self.readAll(try ImageReader.open(path: folder.file("v3.qcow2")))
    }

    /// With an external data file every guest cluster lives at the same offset in the data
    /// file; qemu refuses any other ("External data file host cluster offset … does not match
    /// guest cluster offset"). An entry pointing elsewhere must not read another guest
    /// cluster's data (or a device's bytes at an offset the image chooses).
    @Test func dataFileOffsetThatIsNotTheGuestOffsetFailsReads() throws {
        let folder = try TemporaryFolder("qcow2-datafile-offset")
        defer { folder.remove() }
        var (bytes, l2) = try Self.image(folder, "a.qcow2", options: "data_file=a.data,cluster_size=4096", size: "64k",
                                         commands: ["write -P 0x66 0 8k"])
        // Guest cluster 1 now claims data-file offset 0 (guest cluster 0's data), copied flag kept.
        Self.put64(&bytes, l2 + 8, QCOW2Format.copiedFlag)
        try Self.write(bytes, to: folder.file("a.qcow2"))

        let reader = try ImageReader.open(path: folder.file("a.qcow2"), options: ChainOptions(allowExternalDataFile: true))
        var cluster0 = [UInt8](repeating: 0, count: 4096)
        try cluster0.withUnsafeMutableBytes { try reader.read(into: $0, at: 0) }
        #expect(cluster0.allSatisfy { $0 == 0x66 })
        var cluster1 = [UInt8](repeating: 0, count: 4096)
        #expect(throws: ImageAccessError.self) { try cluster1.withUnsafeMutableBytes { try reader.read(into: $0, at: 4096) } }
        #expect(throws: ImageAccessError.self) { _ = try reader.map() }
        #expect(try Oracle.run("qemu-img", ["map", "--output=json", "a.qcow2"], currentDirectory: folder.path).status == 1)
        #expect(try Oracle.run("qemu-img", ["convert", "-O", "raw", "a.qcow2", "q.raw"], currentDirectory: folder.path).status == 1)
    }

    /// A snapshot table laid over an L2 table: its entries lack the version 3 extra data, and
    /// the first one's L1 offset (the L2 entry, copied flag included: 0x8000000000050000)
    /// cannot be read. qemu-img check reports the incomplete entries first, then fails with
    /// an I/O error (exit 1); we must fail too, with qemu's messages in qemu's order.
    @Test func snapshotL1TablePastTheRequestLimitFailsTheCheck() throws {
        let folder = try TemporaryFolder("qcow2-snapshot-l1")
        defer { folder.remove() }
        var (bytes, l2) = try Self.image(folder, "s.qcow2", options: "extended_l2=on", size: "1M",
                                         commands: ["write -P 0x16 2k 2k", "write -z 8k 2k"])
        #expect(Self.u64(bytes, l2) == 0x8000_0000_0005_0000)
        Self.put32(&bytes, 60, 2)
        Self.put64(&bytes, 64, UInt64(l2))
        try Self.write(bytes, to: folder.file("s.qcow2"))

        var messages: [String] = []
        #expect(throws: ImageAccessError.self) {
            _ = try QemuImages.withFile(folder.file("s.qcow2")) { file in
                try ImageCheck.run(QCOW2Image(descriptor: file.descriptor, path: file.path, fileSize: file.size, forCheck: true)) {
                    messages.append($0)
                }
            }
        }
        let qemu = try Oracle.run("qemu-img", ["check", "s.qcow2"], currentDirectory: folder.path)
        #expect(qemu.status == 1)
        let qemuMessages = qemu.stderr.split(separator: "\n").map(String.init).filter { $0.hasPrefix("ERROR") }
        #expect(messages == qemuMessages)
        #expect(messages.last == "ERROR: I/O error in check_refcounts_l1")
    }

    /// A 64 MiB image (4 KiB clusters) with one persistent bitmap of 4 KiB granularity: its
    /// table has one entry. Returns the bytes and the file offsets of its directory entry
    /// and of its table.
    static func bitmapImage(_ folder: TemporaryFolder, _ name: String) throws -> (bytes: [UInt8], entry: Int, table: Int) {
        try #require(try Oracle.run("qemu-img", ["create", "-q", "-f", "qcow2", "-o", "cluster_size=4096", name, "64M"],
                                    currentDirectory: folder.path).status == 0)
        try #require(try Oracle.run("qemu-img", ["bitmap", "--add", "-g", "4096", name, "x"], currentDirectory: folder.path).status == 0)
        try #require(try Oracle.run("qemu-io", ["-f", "qcow2", "-c", "write -P 1 0 64k", name], currentDirectory: folder.path).status == 0)
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: folder.file(name))))
        let image = try QemuImages.withFile(folder.file(name)) { try QCOW2Image(descriptor: $0.descriptor, path: $0.path, fileSize: $0.size) }
        let ext = try #require(image.header.bitmapsExtension)
        let entry = Int(ext.directoryOffset)
        let table = Int(u64(bytes, entry))
        try #require(bytes[entry + 8..<entry + 12] == [0, 0, 0, 1])
        return (bytes, entry, table)
    }

    /// What our open makes of `path`: the bitmap directory read, and qemu's open checks.
    static func openOutcome(_ path: String) throws -> (directory: Result<QCOW2BitmapDirectory?, any Error>, refusal: String?) {
        try QemuImages.withFile(path) { file in
            let image = try QCOW2Image(descriptor: file.descriptor, path: file.path, fileSize: file.size)
            return (Result { try QCOW2BitmapDirectory.read(from: image) }, QemuOpenGate.refusal(image: image, path: path))
        }
    }

    /// qemu loads every bitmap not in use when it opens an image: a table whose size does not
    /// fit the virtual size ("Could not read bitmap 'x' from image: Invalid argument") or an
    /// entry check_table_entry refuses ("Could not read bitmap_table table …") fails the open
    /// of info, check, map and convert. We opened both.
    @Test(arguments: ["virtual size 0", "virtual size 511", "two table entries", "unaligned entry", "reserved bits", "all-ones with offset"])
    func bitmapThatQemuCannotLoadFailsTheOpen(damage: String) throws {
        let folder = try TemporaryFolder("qcow2-bitmap-load")
        defer { folder.remove() }
        var (bytes, entry, table) = try Self.bitmapImage(folder, "b.qcow2")
        switch damage {
        case "virtual size 0": Self.put64(&bytes, 24, 0)
        case "virtual size 511": Self.put64(&bytes, 24, 511)
        case "two table entries": Self.put32(&bytes, entry + 8, 2)
        case "unaligned entry": Self.put64(&bytes, table, 4096 + 512)
        case "reserved bits": Self.put64(&bytes, table, 1 << 60)
        default: Self.put64(&bytes, table, 4096 | 1)
        }
        try Self.write(bytes, to: folder.file("b.qcow2"))

        let qemu = try Oracle.run("qemu-img", ["info", "b.qcow2"], currentDirectory: folder.path)
        #expect(qemu.status == 1)
        let (directory, refusal) = try Self.openOutcome(folder.file("b.qcow2"))
        #expect(throws: QCOW2HeaderError.self) { _ = try directory.get() }
        let words = damage.contains("size") || damage.contains("two") ? "Could not read bitmap 'x' from image" : "Could not read bitmap_table table from image for bitmap 'x'"
        #expect(qemu.stderr.contains(words))
        #expect(refusal?.contains(words) == true, "\(refusal ?? "no refusal")")
    }

    /// A bitmap in use is not loaded at open, so its bad table entry only shows in the check:
    /// qemu counts one corruption and fails the check ("Check failed: Invalid argument", exit 1).
    /// We counted a leak and exited 2. The undamaged image opens and checks clean.
    @Test func badTableEntryOfBitmapInUseFailsTheCheck() throws {
        let folder = try TemporaryFolder("qcow2-bitmap-in-use")
        defer { folder.remove() }
        var (bytes, entry, table) = try Self.bitmapImage(folder, "b.qcow2")
        #expect(try Self.openOutcome(folder.file("b.qcow2")).refusal == nil)
        bytes[entry + 15] |= 1
        Self.put64(&bytes, table, 4096 + 512)
        try Self.write(bytes, to: folder.file("b.qcow2"))

        let (directory, refusal) = try Self.openOutcome(folder.file("b.qcow2"))
        #expect(try directory.get()?.bitmaps.first?.isInUse == true)
        #expect(refusal == nil)
        #expect(throws: ImageAccessError.self) {
            _ = try QemuImages.withFile(folder.file("b.qcow2")) { try ImageCheck.run($0) }
        }
        let qemu = try Oracle.run("qemu-img", ["check", "b.qcow2"], currentDirectory: folder.path)
        #expect(qemu.status == 1 && qemu.stderr.contains("Check failed: Invalid argument"))
    }

    /// A backing format naming a driver whose open checks a magic (qcow, QED, VDI, LUKS …),
    /// or `host_device`, over a regular raw file: qemu-img check and map fail to open the
    /// chain ("Image not in qcow format"); our gate let check report a clean image (exit 0).
    @Test(arguments: ["qcow", "qed", "vdi", "luks", "vmdk", "host_device", "raw"])
    func backingFormatThatDoesNotMatchTheFileFailsTheOpen(format: String) throws {
        let folder = try TemporaryFolder("qcow2-backing-format")
        defer { folder.remove() }
        try #require(try Oracle.run("qemu-img", ["create", "-q", "-f", "raw", "base.raw", "1M"], currentDirectory: folder.path).status == 0)
        try #require(try Oracle.run("qemu-img", ["create", "-q", "-f", "qcow2", "-u", "-b", "base.raw", "-F", format, "top.qcow2", "1M"],
                                    currentDirectory: folder.path).status == 0)
        let refusal = try QemuImages.withFile(folder.file("top.qcow2")) { file in
            QemuOpenGate.refusal(image: try QCOW2Image(descriptor: file.descriptor, path: file.path, fileSize: file.size), path: file.path)
        }
        let qemu = try Oracle.run("qemu-img", ["check", "top.qcow2"], currentDirectory: folder.path)
        if format == "raw" {
            #expect(refusal == nil)
            #expect(qemu.status == 0)
        } else {
            #expect(refusal?.hasPrefix("Could not open backing file: ") == true, "\(refusal ?? "no refusal")")
            #expect(qemu.status == 1 && qemu.stderr.contains("Could not open backing file"))
        }
    }
}
