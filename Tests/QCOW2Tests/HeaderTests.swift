import ByteStreams
@testable import QCOW2
import SystemPackage
import Testing
import TestSupport

/// The header parser on qemu-made images and on hand-broken ones (TestImages/qcow2).
struct HeaderTests {
    @Test func version2Fields() throws {
        let h = try HeaderFixtures.header("v2.qcow2")
        #expect(h.version == 2)
        #expect(h.headerLength == 72)
        #expect(h.refcountOrder == 4 && h.refcountBits == 16)
        #expect(h.clusterBits == 16 && h.clusterSize == 65536)
        #expect(h.virtualSize == 1 << 20)
        #expect(h.incompatibleFeatures.isEmpty && h.compatibleFeatures.isEmpty && h.autoclearFeatures.isEmpty)
        #expect(h.l1Size == 1)
        #expect(h.refcountTableOffset == 65536 && h.refcountTableClusters == 1)
        #expect(h.l1TableOffset == 3 * 65536)
        #expect(h.backingFileNameBytes == nil && h.backingFileName == nil)
        #expect(h.compressionType == .zlib)
        #expect(h.snapshotCount == 0)
    }

    @Test func version3Fields() throws {
        let h = try HeaderFixtures.header("v3.qcow2")
        #expect(h.version == 3)
        #expect(h.headerLength == 112)
        #expect(h.additionalHeaderBytes == [UInt8](repeating: 0, count: 7))
        #expect(h.cryptMethod == 0 && !h.isEncrypted)
        #expect(!h.isDirty && !h.isCorrupt && !h.hasExtendedL2)
        #expect(h.l1EntriesNeeded == 1)
    }

    @Test(arguments: [("cluster512.qcow2", 9), ("v3-4k.qcow2", 12), ("v3.qcow2", 16), ("cluster2m.qcow2", 21)])
    func clusterSizes(name: String, bits: UInt32) throws {
        let h = try HeaderFixtures.header(name)
        #expect(h.clusterBits == bits)
        #expect(h.refcountTableOffset == UInt64(h.clusterSize))
    }

    @Test(arguments: [("refcount1.qcow2", 0), ("refcount64.qcow2", 6), ("v3.qcow2", 4)])
    func refcountWidths(name: String, order: UInt32) throws {
        #expect(try HeaderFixtures.header(name).refcountOrder == order)
    }

    @Test func featureBits() throws {
        #expect(try HeaderFixtures.header("lazy.qcow2").compatibleFeatures == .lazyRefcounts)
        let extended = try HeaderFixtures.header("extended-l2.qcow2")
        #expect(extended.incompatibleFeatures == .extendedL2 && extended.hasExtendedL2 && extended.l2Bits == 12)
        let zstd = try HeaderFixtures.header("compressed-zstd.qcow2")
        #expect(zstd.compressionType == .zstd && zstd.incompatibleFeatures.contains(.compressionType))
        #expect(try HeaderFixtures.header("compressed-zlib.qcow2").compressionType == .zlib)
        #expect(try HeaderFixtures.header("dirty.qcow2").isDirty)
        #expect(try HeaderFixtures.header("corrupt.qcow2").isCorrupt)
        let unknownCompat = try HeaderFixtures.header("flagged-unknown-compatible-bit.qcow2")
        #expect(unknownCompat.compatibleFeatures.unknown.rawValue == 1 << 9)
    }

    @Test func backingNameAndFormat() throws {
        let layer = try HeaderFixtures.header("layer.qcow2")
        #expect(layer.backingFileName == "disk.img")
        #expect(layer.backingFileNameBytes == Array("disk.img".utf8))
        #expect(layer.backingFormat == "raw")
        #expect(layer.compatibleFeatures.contains(.lazyRefcounts))
        let noFormat = try HeaderFixtures.header("backing-noformat.qcow2")
        #expect(noFormat.backingFileName == "disk.img" && noFormat.backingFormat == nil)
        let nul = try HeaderFixtures.header("flagged-backing-nul.qcow2")
        #expect(nul.backingFileName == "base.img")
        #expect(nul.backingFileNameBytes?.count == 20)
    }

    @Test func extensions() throws {
        let data = try HeaderFixtures.header("datafile.qcow2")
        #expect(data.hasExternalDataFile && data.dataFileName == "datafile.data")
        let raw = try HeaderFixtures.header("datafile-raw.qcow2")
        #expect(raw.autoclearFeatures.contains(.rawExternalData))
        let luks = try HeaderFixtures.header("luks.qcow2")
        #expect(luks.cryptMethod == 2)
        let pointer = try #require(luks.encryptionHeaderPointer)
        #expect(pointer.offset % UInt64(luks.clusterSize) == 0 && pointer.length > 0)
        let bitmap = try HeaderFixtures.header("bitmap.qcow2")
        #expect(bitmap.hasBitmaps && bitmap.bitmapsExtension?.bitmapCount == 2)
        let unknown = try HeaderFixtures.header("flagged-unknown-extension.qcow2")
        let ext = try #require(unknown.extensions.first)
        #expect(ext.type == 0x1234_5678 && !ext.isKnown && ext.data == Array("hello, future".utf8))
        #expect(unknown.hasEndMarker)
    }

    @Test func featureNameTable() throws {
        // qemu writes its feature-name table when it rewrites a header (here: snapshot -c).
        let h = try HeaderFixtures.header("snapshots.qcow2")
        let names = h.featureNames
        #expect(names.contains { $0.kind == .incompatible && $0.bit == 0 && $0.name == "dirty bit" })
        #expect(names.name(of: .compatible, bit: 0) == "lazy refcounts")
        #expect(names.names(of: .incompatible, mask: 1 << 1 | 1 << 40) == ["corrupt bit", "Unknown incompatible feature: 10000000000"])
    }

    /// Every fixture qemu refused: we refuse it too, with qemu's words in our message.
    @Test(arguments: HeaderFixtures.names(endingWith: ".qcow2.info.err").map { String($0.dropLast(".info.err".count)) })
    func refusedLikeQemu(name: String) throws {
        let qemu = try #require(HeaderFixtures.qemuError(name))
        do {
            let h = try HeaderFixtures.header(name)
            // Some refusals come from a table qemu's open reads after the header (the bitmap
            // directory): the open gate makes them.
            let fd = try FileDescriptor.open(FilePath(HeaderFixtures.path(name)), .readOnly)
            defer { try? fd.close() }
            let refusal = QemuOpenGate.refusal(image: try QCOW2Image(descriptor: fd, path: name), path: HeaderFixtures.path(name))
            if let refusal {
                #expect(refusal.hasSuffix(qemu), "\(name): ours \(refusal), qemu \(qemu)")
            } else {
                Issue.record("\(name) parsed (version \(h.version)) but qemu says: \(qemu)")
            }
        } catch let error as QCOW2HeaderError {
            #expect(error.description.hasSuffix(qemu), "\(name): ours \(error), qemu \(qemu)")
        }
    }

    /// Every fixture qemu opened as qcow2: we open it too.
    @Test(arguments: HeaderFixtures.names(endingWith: ".qcow2.info.json").map { String($0.dropLast(".info.json".count)) })
    func acceptedLikeQemu(name: String) throws {
        _ = try HeaderFixtures.header(name)
    }

    @Test func typedErrorsNameTheField() throws {
        var bytes = try HeaderFixtures.bytes("v3-4k.qcow2")
        bytes[23] = 30
        #expect(throws: QCOW2HeaderError.unsupportedClusterBits(30)) {
            try QCOW2Header(parsing: bytes, fileSize: UInt64(bytes.count))
        }
        #expect("\(QCOW2HeaderError.unsupportedClusterBits(30))".contains("cluster_bits is 30"))
    }

    @Test func shortInputIsReportedNotMisparsed() throws {
        let bytes = try HeaderFixtures.bytes("v3.qcow2")
        #expect(throws: QCOW2HeaderError.insufficientInput(have: 100, need: 104)) {
            try QCOW2Header(parsing: Array(bytes[..<100]), fileSize: UInt64(bytes.count))
        }
        // No extensions and no backing name: 200 bytes are enough, and give the same header.
        let small = try HeaderFixtures.bytes("v3-4k.qcow2")
        #expect(try QCOW2Header(parsing: Array(small[..<200]), fileSize: UInt64(small.count))
                == QCOW2Header(parsing: small, fileSize: UInt64(small.count)))
        // v3.qcow2 carries a 384-byte feature-name table: 1 KiB suffices, 200 bytes do not.
        #expect(try QCOW2Header(parsing: Array(bytes[..<1024]), fileSize: UInt64(bytes.count))
                == QCOW2Header(parsing: bytes, fileSize: UInt64(bytes.count)))
        #expect(throws: QCOW2HeaderError.insufficientInput(have: 200, need: 65536)) {
            try QCOW2Header(parsing: Array(bytes[..<200]), fileSize: UInt64(bytes.count))
        }
        // The layer's backing-format extension runs past 120 bytes: the parser asks for the cluster.
        let layer = try HeaderFixtures.bytes("layer.qcow2")
        #expect(throws: QCOW2HeaderError.insufficientInput(have: 120, need: 65536)) {
            try QCOW2Header(parsing: Array(layer[..<120]), fileSize: UInt64(layer.count))
        }
        // A file that really is that short: bytes past EOF read as zeros, as in qemu.
        let h = try QCOW2Header(parsing: Array(bytes[..<112]), fileSize: 112)
        #expect(h.extensions.isEmpty && h.hasEndMarker)
        #expect(throws: QCOW2HeaderError.badMagic(0)) { try QCOW2Header(parsing: [], fileSize: 0) }
    }

    @Test func fullClusterPrefix() throws {
        for (name, cluster) in [("v3.qcow2", 65536), ("cluster2m.qcow2", 2 << 20), ("cluster512.qcow2", 512)] {
            let fd = try FileDescriptor.open(FilePath(HeaderFixtures.path(name)), .readOnly)
            defer { try? fd.close() }
            let size = try SparseFile.status(of: fd).size
            let prefix = try QCOW2Image.readPrefix(fd, path: name, fileSize: size)
            #expect(prefix.count >= min(cluster, Int(size)))
            #expect(try QCOW2Header(parsing: prefix, fileSize: size) == QCOW2Image(descriptor: fd).header)
        }
    }

    /// Random damage to the first 512 bytes never crashes, traps or hangs the parser.
    @Test func randomDamageNeverCrashes() throws {
        let good = try HeaderFixtures.bytes("layer.qcow2")
        var rng = SplitMix64(seed: 0x5eed)
        for _ in 0..<3000 {
            var bytes = Array(good[..<65536])
            for _ in 0..<(1 + Int(rng.next() % 8)) {
                let at = Int(rng.next() % 512)
                bytes[at] = UInt8(truncatingIfNeeded: rng.next())
            }
            let size = rng.next() % 4 == 0 ? rng.next() % 70000 : UInt64(good.count)
            let prefix = Array(bytes[..<Int(min(size, UInt64(bytes.count)))])
            _ = try? QCOW2Header(parsing: prefix, fileSize: size)
        }
    }
}
