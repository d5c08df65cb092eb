import ByteStreams
import SystemPackage
import TestSupport
import Testing
import Zstd

@testable import Tar

/// The seams of `TarSparseFormats.swift`: PAX 0.0 folded into the 0.1 map, the one extent cap,
/// old GNU extension blocks, and the per-member data position.
@Suite("Tar sparse formats in one place")
struct TarSparseFormatsTests {
    /// The sparse map and format of `disk.img` in a committed GNU tar fixture.
    static func diskMap(_ fixture: String) throws -> (SparseMap, TarSparseFormat?) {
        let fd = try FileDescriptor.open(Fixtures.path("\(fixture).tar.zst"), .readOnly)
        defer { try? fd.close() }
        let reader = TarReader(reading: try ZstdDecompressor(readingFrom: FileSource(fd)))
        while let entry = try reader.next() {
            if entry.name == "disk.img" { return (try #require(entry.sparseMap), entry.sparseFormat) }
        }
        throw TarError(.invalidState, "no disk.img in \(fixture)")
    }

    @Test("GNU tar's PAX 0.0, 0.1, 1.0 and old GNU archives of one file read to one sparse map")
    func fixturesAgree() throws {
        let (map00, format00) = try Self.diskMap("gnu-pax-0.0")
        let (map01, format01) = try Self.diskMap("gnu-pax-0.1")
        let (map10, format10) = try Self.diskMap("gnu-pax-1.0")
        let (mapOld, formatOld) = try Self.diskMap("gnu-oldsparse")
        #expect(format00 == .pax0_0)
        #expect(format01 == .pax0_1)
        #expect(format10 == .pax1_0)
        #expect(formatOld == .oldGNU)
        #expect(map00.extents.count > 20)  // the 30 runs of the source tree, some merged by GNU tar
        #expect(map00 == map01)
        #expect(map01 == map10)
        #expect(map10 == mapOld)
    }

    static func records(_ pairs: [(String, String)]) throws -> PaxSparseRecords {
        var records = PaxSparseRecords()
        for (key, value) in pairs {
            try records.take(key, Array(value.utf8)[...], member: "s", offset: 0)
        }
        return records
    }

    static func noBlocks(_ what: String) throws -> (block: UnsafeRawBufferPointer, offset: UInt64) {
        throw TarError(.truncated, "no block expected for \(what)")
    }

    @Test("PAX 0.0 pairs are folded into 0.1 map text as they are read, and read to the same map as 0.1")
    func pax00FoldsInto01() throws {
        let v00 = try Self.records([
            ("GNU.sparse.size", "10000"), ("GNU.sparse.numblocks", "2"), ("GNU.sparse.offset", "0"), ("GNU.sparse.numbytes", "512"),
            ("path", "ignored"), ("GNU.sparse.offset", "9512"), ("GNU.sparse.numbytes", "488"),
        ])
        #expect(v00.folded00Map == Array("0,512,9512,488".utf8))
        #expect(!v00.awaitsNumbytes)
        let v01 = try Self.records([("GNU.sparse.size", "10000"), ("GNU.sparse.numblocks", "2"), ("GNU.sparse.map", "0,512,9512,488")])
        #expect(v01.folded00Map.isEmpty)
        func read(_ records: PaxSparseRecords) throws -> (map: SparseMap, format: TarSparseFormat, mapBytes: UInt64)? {
            try TarSparseFormats.paxMap(
                records, archived: 1000, dataOffset: 512, maximumExtents: 8, member: "s", headerOffset: 0, nextBlock: Self.noBlocks)
        }
        let a = try #require(try read(v00))
        let b = try #require(try read(v01))
        #expect(a.format == .pax0_0)
        #expect(b.format == .pax0_1)
        #expect(a.map == b.map)
        #expect(a.map.extents == [SparseExtent(offset: 0, length: 512), SparseExtent(offset: 9512, length: 488)])
        #expect(a.mapBytes == 0)
        // PAX 0.0 pairs past the cap are refused even beside a 0.1 map that would win.
        let both = try Self.records([("GNU.sparse.size", "10000"), ("GNU.sparse.map", "0,512")] + (0..<9).flatMap {
            [("GNU.sparse.offset", "\($0 * 600)"), ("GNU.sparse.numbytes", "10")]
        })
        expectTarError(.limitExceeded) { _ = try read(both) }
        // Only a name: not a sparse member.
        #expect(try read(try Self.records([("GNU.sparse.name", "n")])) == nil)
    }

    @Test("a PAX 0.0 value that is not one number, or out of pairing, is refused where it is read")
    func pax00ValuesChecked() {
        // A comma would add a value to the folded map: refused, not split.
        expectTarError(.badSparseMap) { _ = try Self.records([("GNU.sparse.offset", "0,1")]) }
        expectTarError(.badSparseMap) { _ = try Self.records([("GNU.sparse.offset", "")]) }
        expectTarError(.badSparseMap) { _ = try Self.records([("GNU.sparse.numbytes", "5")]) }
        expectTarError(.badSparseMap) { _ = try Self.records([("GNU.sparse.offset", "0"), ("GNU.sparse.offset", "5")]) }
        let unpaired = try? Self.records([("GNU.sparse.size", "10"), ("GNU.sparse.offset", "0")])
        #expect(unpaired?.awaitsNumbytes == true)
        expectTarError(.badSparseMap) {
            _ = try TarSparseFormats.paxMap(
                #require(unpaired), archived: 0, dataOffset: 0, maximumExtents: 8, member: "s", headerOffset: 0, nextBlock: Self.noBlocks)
        }
    }

    @Test("the one extent cap: appends past it and declared counts over it are refused, naming the limit")
    func extentCap() throws {
        var list = SparseExtentList(maximum: 2, member: "m")
        try list.append(SparseExtent(offset: 0, length: 1), offset: 7)
        try list.append(SparseExtent(offset: 5, length: 1), offset: 7)
        let error = expectTarError(.limitExceeded) { try list.append(SparseExtent(offset: 9, length: 1), offset: 7) }
        #expect(error?.description.contains("more than 2 entries") == true)
        #expect(list.extents.count == 2)
        var declared = SparseExtentList(maximum: 2, member: "m")
        expectTarError(.limitExceeded) { try declared.expect(3, offset: 0) }
        try declared.expect(2, offset: 0)
        // Map text goes through the same cap.
        var text = SparseExtentList(maximum: 2, member: "m")
        expectTarError(.limitExceeded) {
            try TarSparseFormats.appendMapText(Array("0,1,5,1,9,1".utf8), source: "GNU.sparse.map", to: &text, offset: 0)
        }
    }

    /// An old GNU list: `entries` (offset, length) written as octal from byte `first`, then the
    /// `isextended` flag at `flagAt`.
    static func oldGNUBlock(_ entries: [(UInt64, UInt64)], first: Int, flagAt: Int, extended: Bool, realSize: UInt64? = nil) -> [UInt8] {
        var block = [UInt8](repeating: 0, count: 512)
        block.withUnsafeMutableBytes { raw in
            for (index, entry) in entries.enumerated() {
                let at = first + index * 24
                _ = TarNumber.writeOctal(entry.0, into: UnsafeMutableRawBufferPointer(rebasing: raw[at..<(at + 12)]))
                _ = TarNumber.writeOctal(entry.1, into: UnsafeMutableRawBufferPointer(rebasing: raw[(at + 12)..<(at + 24)]))
            }
            raw[flagAt] = extended ? 1 : 0
            if let realSize { _ = TarNumber.writeOctal(realSize, into: UnsafeMutableRawBufferPointer(rebasing: raw[483..<495])) }
        }
        return block
    }

    /// Reads an old GNU map from `header` and `blocks` with a cap of `maximum`.
    static func oldGNU(_ header: [UInt8], _ blocks: [[UInt8]], maximum: Int) throws -> (SparseMap, blocksRead: Int) {
        var read = 0
        // The blocks in one buffer, so the views handed out stay valid as the reader's do.
        let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: max(blocks.count, 1) * 512, alignment: 8)
        defer { storage.deallocate() }
        for (index, block) in blocks.enumerated() {
            block.withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: storage[(index * 512)..<((index + 1) * 512)]).copyMemory(from: $0) }
        }
        let map = try header.withUnsafeBytes { raw in
            try TarSparseFormats.oldGNUMap(header: raw, headerOffset: 0, maximumExtents: maximum, member: "s") { what in
                guard read < blocks.count else { throw TarError(.truncated, "archive ends inside \(what)") }
                read += 1
                return (UnsafeRawBufferPointer(rebasing: storage[((read - 1) * 512)..<(read * 512)]), UInt64(read * 512))
            }
        }
        return (map, read)
    }

    @Test("old GNU: header entries and full extension blocks make one map, each entry counted by the one cap")
    func oldGNUExtensions() throws {
        let four = (0..<4).map { (UInt64($0) * 1024, UInt64(512)) }
        let header = Self.oldGNUBlock(four, first: 386, flagAt: 482, extended: true, realSize: 30 * 1024 + 100)
        let full = (4..<25).map { (UInt64($0) * 1024, UInt64(512)) }
        let last = [(UInt64(30 * 1024), UInt64(100))]
        let blocks = [Self.oldGNUBlock(full, first: 0, flagAt: 504, extended: true), Self.oldGNUBlock(last, first: 0, flagAt: 504, extended: false)]
        let (map, read) = try Self.oldGNU(header, blocks, maximum: 26)
        #expect(read == 2)
        #expect(map.extents.count == 26)
        #expect(map.extents.last == SparseExtent(offset: 30 * 1024, length: 100))
        #expect(map.realSize == 30 * 1024 + 100)
        // One entry fewer allowed: refused at the entry that passes the cap.
        expectTarError(.limitExceeded) { _ = try Self.oldGNU(header, blocks, maximum: 25) }
        // The header's own entries count too.
        let plain = Self.oldGNUBlock(four, first: 386, flagAt: 482, extended: false, realSize: 64 << 10)
        expectTarError(.limitExceeded) { _ = try Self.oldGNU(plain, [], maximum: 3) }
        // A continued map after a short block is refused before the next block is read.
        let short = [Self.oldGNUBlock(last, first: 0, flagAt: 504, extended: true), blocks[1]]
        expectTarError(.badSparseMap) { _ = try Self.oldGNU(header, short, maximum: 100) }
        // An archive that ends inside the extension blocks.
        expectTarError(.truncated) { _ = try Self.oldGNU(header, [blocks[0]], maximum: 100) }
    }

    @Test("a member's data position: empty runs are passed over, padding follows the archived bytes")
    func memberData() {
        var data = TarMemberData(
            runs: [SparseExtent(offset: 0, length: 0), SparseExtent(offset: 100, length: 3), SparseExtent(offset: 900, length: 2)],
            stored: 5, archived: 517)
        #expect(data.padding == 507)
        #expect(data.currentRun().map { [$0.offset, $0.length] } == [100, 3])
        data.advance(by: 2)
        #expect(data.currentRun().map { [$0.offset, $0.length] } == [102, 1])
        data.advance(by: 1)
        #expect(data.currentRun().map { [$0.offset, $0.length] } == [900, 2])
        data.advance(by: 2)
        #expect(data.remaining == 0)
        #expect(data.currentRun() == nil)
        #expect(TarMemberData.none.padding == 0)
        var none = TarMemberData.none
        #expect(none.currentRun() == nil)
    }

    @Test("an entry's owner, mode and time are the writer's attributes type, read back whole")
    func entryAttributes() throws {
        let attributes = TarMemberAttributes(
            mode: 0o640, uid: 1234, gid: 99, userName: "builder", groupName: "ci", modificationTime: 1_700_000_123)
        let bytes = try archive { try $0.appendFile(named: "f", contents: [1, 2, 3], attributes: attributes) }
        let reader = memoryReader(bytes)
        let entry = try #require(try reader.next())
        #expect(entry.attributes == attributes)
        #expect(entry.mode == 0o640)
        #expect(entry.userName == "builder")
        var changed = entry
        changed.uid = 7
        #expect(changed.attributes.uid == 7)
    }
}
