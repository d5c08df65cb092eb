import ByteStreams
import Testing

@testable import Tar

/// Hand-built header blocks, so each test controls every byte.
enum RawTar {
    enum Magic { case v7, ustar, gnu }

    static func header(
        _ name: String, size: UInt64 = 0, type: Character = "0", magic: Magic = .ustar, linkName: String = "",
        prefix: String = "", mtime: Int64 = 1_700_000_000, signedChecksum: Bool = false, checksumDelta: Int = 0,
        nameBytes: [UInt8]? = nil
    ) -> [UInt8] {
        var block = [UInt8](repeating: 0, count: 512)
        block.withUnsafeMutableBytes { raw in
            func put(_ bytes: [UInt8], at: Int) { for (i, b) in bytes.enumerated() { raw[at + i] = b } }
            put(nameBytes ?? Array(name.utf8), at: 0)
            _ = TarNumber.writeOctal(0o644, into: UnsafeMutableRawBufferPointer(rebasing: raw[100..<108]))
            _ = TarNumber.writeOctal(0, into: UnsafeMutableRawBufferPointer(rebasing: raw[108..<116]))
            _ = TarNumber.writeOctal(0, into: UnsafeMutableRawBufferPointer(rebasing: raw[116..<124]))
            TarNumber.write(Int64(clamping: size), into: UnsafeMutableRawBufferPointer(rebasing: raw[124..<136]))
            TarNumber.write(mtime, into: UnsafeMutableRawBufferPointer(rebasing: raw[136..<148]))
            raw[156] = type.asciiValue!
            put(Array(linkName.utf8), at: 157)
            switch magic {
            case .v7: break
            case .ustar: put(Array("ustar\u{0}00".utf8), at: 257)
            case .gnu: put(Array("ustar  \u{0}".utf8), at: 257)
            }
            put(Array(prefix.utf8), at: 345)
            let sums = HeaderLayout.checksums(UnsafeRawBufferPointer(raw))
            let sum = (signedChecksum ? UInt64(bitPattern: sums.signed) : sums.unsigned) &+ UInt64(bitPattern: Int64(checksumDelta))
            _ = TarNumber.writeOctal(sum, into: UnsafeMutableRawBufferPointer(rebasing: raw[148..<155]))
            raw[155] = 0x20
        }
        return block
    }

    static func padded(_ data: [UInt8]) -> [UInt8] {
        data + [UInt8](repeating: 0, count: (512 - data.count % 512) % 512)
    }

    static func member(_ name: String, _ data: [UInt8], type: Character = "0", magic: Magic = .ustar) -> [UInt8] {
        header(name, size: UInt64(data.count), type: type, magic: magic) + padded(data)
    }

    static func pax(_ records: [(String, String)], type: Character = "x") -> [UInt8] {
        let data = records.flatMap { PaxRecords.record($0.0, Array($0.1.utf8)) }
        return header("./PaxHeaders/x", size: UInt64(data.count), type: type) + padded(data)
    }

    static let end = [UInt8](repeating: 0, count: 1024)
}

@Suite("Tar numeric fields and pax records")
struct TarNumberTests {
    func unsigned(_ text: String) -> UInt64? {
        Array(text.utf8).withUnsafeBytes { TarNumber.unsigned($0) }
    }

    @Test("octal fields: padding, terminators, blanks, junk, overflow")
    func octal() {
        #expect(unsigned("0000644\u{0}") == 0o644)
        #expect(unsigned("  644 \u{0}") == 0o644)
        #expect(unsigned("644") == 0o644)
        #expect(unsigned("\u{0}\u{0}\u{0}") == 0)
        #expect(unsigned("        ") == 0)
        #expect(unsigned("12a\u{0}") == nil)
        #expect(unsigned("12 3") == nil)
        #expect(unsigned("7777777777777777777777") == nil)  // 66 bits
        #expect(unsigned("1777777777777777777777") == UInt64.max)
    }

    @Test("base-256 fields: positive, negative, too large")
    func base256() {
        var field = [UInt8](repeating: 0, count: 12)
        field.withUnsafeMutableBytes { TarNumber.writeBase256(9 << 30, into: $0) }
        #expect(field[0] == 0x80)
        #expect(field.withUnsafeBytes { TarNumber.unsigned($0) } == 9 << 30)
        field.withUnsafeMutableBytes { TarNumber.writeBase256(-86400, into: $0) }
        #expect(field[0] == 0xFF)
        #expect(field.withUnsafeBytes { TarNumber.signed($0) } == -86400)
        #expect(field.withUnsafeBytes { TarNumber.unsigned($0) } == nil)
        let huge: [UInt8] = [0x80, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]  // 2^80
        #expect(huge.withUnsafeBytes { TarNumber.unsigned($0) } == nil)
        // Octal is used when it fits, base-256 only when it does not.
        #expect(field.withUnsafeMutableBytes { TarNumber.write(0o77777777777, into: $0) })
        #expect(!field.withUnsafeMutableBytes { TarNumber.write(1 << 33, into: $0) })
    }

    @Test("pax record lengths count their own digits")
    func recordLength() throws {
        for valueLength in [0, 1, 85, 86, 87, 88, 990, 995, 996, 1000] {
            let record = PaxRecords.record("path", [UInt8](repeating: 0x61, count: valueLength))
            let parsed = try PaxRecords.parse(record, member: nil, offset: 0)
            #expect(parsed.count == 1)
            #expect(parsed.first?.value.count == valueLength)
        }
    }

    @Test("malformed pax records are refused", arguments: ["5 a=b\n", "abc a=b\n", "7 ab\n\n\n", "6 a=bc", "99 a=b\n", "0 =\n"])
    func badRecords(_ text: String) {
        expectTarError(.badExtendedHeader) { _ = try PaxRecords.parse(Array(text.utf8), member: "m", offset: 0) }
    }

    @Test("pax times keep whole seconds")
    func times() {
        #expect(PaxRecords.seconds(Array("1700000000.123456789".utf8)) == 1_700_000_000)
        #expect(PaxRecords.seconds(Array("-5.5".utf8)) == -5)
        #expect(PaxRecords.seconds(Array("12x".utf8)) == nil)
        #expect(PaxRecords.seconds(Array("".utf8)) == nil)
    }
}

@Suite("Tar reader on hand-built headers")
struct TarReaderFormatTests {
    func entries(_ bytes: [UInt8], options: TarReaderOptions = .init()) throws -> [(TarEntry, [UInt8])] {
        let reader = memoryReader(bytes, options: options)
        var result: [(TarEntry, [UInt8])] = []
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 100, alignment: 1)
        defer { buffer.deallocate() }
        while let entry = try reader.next() {
            var data: [UInt8] = []
            while let chunk = try reader.readData(into: buffer) {
                if entry.sparseMap == nil { #expect(chunk.offset == UInt64(data.count)) }
                data += UnsafeRawBufferPointer(rebasing: buffer[..<chunk.count])
            }
            result.append((entry, data))
        }
        return result
    }

    @Test("V7, ustar with prefix, and GNU headers")
    func dialects() throws {
        let bytes = RawTar.member("v7file", [1, 2, 3], magic: .v7)
            + RawTar.header("name", size: 2, prefix: "some/prefix") + RawTar.padded([4, 5])
            + RawTar.member("gnufile", [6], magic: .gnu)
            + RawTar.header("olddir/", size: 0, type: "\u{0}", magic: .v7)
            + RawTar.end
        let read = try entries(bytes)
        #expect(read.map(\.0.name) == ["v7file", "some/prefix/name", "gnufile", "olddir/"])
        #expect(read.map(\.0.format) == [.v7, .ustar, .gnu, .v7])
        #expect(read.map(\.1) == [[1, 2, 3], [4, 5], [6], []])
        #expect(read[3].0.kind == .directory)
    }

    @Test("GNU L and K long names")
    func gnuLongNames() throws {
        let long = String(repeating: "l", count: 300), target = String(repeating: "t", count: 200)
        let bytes = RawTar.member("././@LongLink", Array(long.utf8) + [0], type: "L", magic: .gnu)
            + RawTar.member("././@LongLink", Array(target.utf8) + [0], type: "K", magic: .gnu)
            + RawTar.header("short", type: "2", magic: .gnu, linkName: "x")
            + RawTar.end
        let read = try entries(bytes)
        #expect(read.count == 1)
        #expect(read[0].0.name == long)
        #expect(read[0].0.linkName == target)
        #expect(read[0].0.kind == .symbolicLink)
    }

    @Test("global pax records apply until overridden; local ones win")
    func globalPax() throws {
        let bytes = RawTar.pax([("uname", "global"), ("mtime", "42")], type: "g")
            + RawTar.member("a", [1])
            + RawTar.pax([("uname", "local"), ("path", "renamed/b")])
            + RawTar.member("b", [2])
            + RawTar.end
        let read = try entries(bytes)
        #expect(read.map(\.0.userName) == ["global", "local"])
        #expect(read.map(\.0.modificationTime) == [42, 42])
        #expect(read.map(\.0.name) == ["a", "renamed/b"])
        #expect(read.map(\.0.format) == [.pax, .pax])
    }

    @Test("a signed checksum is accepted, a wrong one is not")
    func checksums() throws {
        let name: [UInt8] = Array("caf".utf8) + [0xC3, 0xA9]
        let signed = RawTar.header("", signedChecksum: true, nameBytes: name) + RawTar.end
        #expect(try entries(signed).first?.0.name == "café")
        let bad = RawTar.header("x", checksumDelta: 1) + RawTar.end
        let error = expectTarError(.badChecksum) { _ = try entries(bad) }
        #expect(error?.member == "x")
        #expect(error?.offset == 0)
    }

    @Test("end of archive: two zero blocks, a lone zero block, none at all")
    func endMarker() throws {
        let one = RawTar.member("a", [1])
        let lone = memoryReader(one + [UInt8](repeating: 0, count: 512))
        #expect(try lone.next()?.name == "a")
        #expect(try lone.next() == nil)
        #expect(try lone.trailer() == .zeroPadding(bytes: 0))

        expectTarError(.truncated) { _ = try entries(one) }
        var relaxed = TarReaderOptions()
        relaxed.requiresEndMarker = false
        #expect(try entries(one, options: relaxed).count == 1)

        let padded = memoryReader(one + RawTar.end + [UInt8](repeating: 0, count: 9000))
        while try padded.next() != nil {}
        #expect(try padded.trailer() == .zeroPadding(bytes: 9000))
        #expect(try padded.next() == nil)

        let capped = memoryReader(one + RawTar.end + [UInt8](repeating: 0, count: 9000))
        while try capped.next() != nil {}
        #expect(try capped.trailer(limit: 4096) == .paddingBeyondLimit(limit: 4096))
    }

    @Test("truncation inside a header and inside data names the member and offset")
    func truncation() {
        expectTarError(.truncated) { _ = try entries(Array(RawTar.member("a", [1]).prefix(300))) }
        let error = expectTarError(.truncated) {
            _ = try entries(RawTar.header("big", size: 5000) + [UInt8](repeating: 1, count: 1000))
        }
        #expect(error?.member == "big")
        #expect(error?.offset == 1512)
        expectTarError(.invalidState) { _ = try memoryReader(RawTar.end).trailer() }
    }

    @Test("a 9 GiB size travels as pax size and base-256; skipping a short member is truncation")
    func largeSize() throws {
        var fields = HeaderEncoder.Fields(name: Array("huge".utf8), typeFlag: UInt8(ascii: "0"), size: 9 << 30, attributes: .init())
        fields.recordsLongName = true
        let records = HeaderEncoder.overflowRecords(fields)
        #expect(records.map(\.0) == ["size"])
        let header = HeaderEncoder.block(fields)
        #expect(header[124] == 0x80)
        let reader = memoryReader(RawTar.pax([("size", "\(9 << 30)")]) + header + [UInt8](repeating: 7, count: 4096))
        let entry = try #require(try reader.next())
        #expect(entry.size == 9 << 30)
        #expect(entry.storedSize == 9 << 30)
        let error = expectTarError(.truncated) { _ = try reader.next() }
        #expect(error?.member == "huge")
    }

    @Test("extended headers are capped, one at a time and in total")
    func metadataLimit() {
        var options = TarReaderOptions()
        options.maximumMetadataSize = 1024
        let big = RawTar.pax([("comment", String(repeating: "c", count: 2000))]) + RawTar.member("a", [1]) + RawTar.end
        expectTarError(.limitExceeded) { _ = try entries(big, options: options) }
        let many = (0..<4).flatMap { _ in RawTar.pax([("comment", String(repeating: "c", count: 400))]) }
            + RawTar.member("a", [1]) + RawTar.end
        expectTarError(.limitExceeded) { _ = try entries(many, options: options) }
    }

    @Test("PAX 0.1 and 0.0 maps from hand-built records, and their validation")
    func paxZeroMaps() throws {
        let data = [UInt8](repeating: 5, count: 1024)
        let v01 = RawTar.pax([
            ("GNU.sparse.size", "9512"), ("GNU.sparse.numblocks", "2"), ("GNU.sparse.name", "s"),
            ("GNU.sparse.map", "0,512,9000,512"),
        ]) + RawTar.member("GNUSparseFile.1/s", data) + RawTar.end
        let read = try entries(v01)
        #expect(read[0].0.name == "s")
        #expect(read[0].0.size == 9512)
        #expect(read[0].0.sparseFormat == .pax0_1)
        #expect(read[0].0.sparseMap?.extents == [SparseExtent(offset: 0, length: 512), SparseExtent(offset: 9000, length: 512)])

        let wrongCount = RawTar.pax([("GNU.sparse.size", "10000"), ("GNU.sparse.numblocks", "3"), ("GNU.sparse.map", "0,512,9000,512")])
            + RawTar.member("s", data) + RawTar.end
        expectTarError(.badSparseMap) { _ = try entries(wrongCount) }

        let unpaired = RawTar.pax([("GNU.sparse.size", "10000"), ("GNU.sparse.offset", "0"), ("GNU.sparse.offset", "5")])
            + RawTar.member("s", data) + RawTar.end
        expectTarError(.badSparseMap) { _ = try entries(unpaired) }

        let v00 = RawTar.pax([
            ("GNU.sparse.size", "9512"), ("GNU.sparse.numblocks", "2"),
            ("GNU.sparse.offset", "0"), ("GNU.sparse.numbytes", "512"),
            ("GNU.sparse.offset", "9000"), ("GNU.sparse.numbytes", "512"),
        ]) + RawTar.member("s", data) + RawTar.end
        #expect(try entries(v00)[0].0.sparseFormat == .pax0_0)

        var options = TarReaderOptions()
        options.maximumSparseExtents = 1
        expectTarError(.limitExceeded) { _ = try entries(v01, options: options) }
    }

    @Test("type S without the GNU magic is refused")
    func sparseWithoutGNUMagic() {
        expectTarError(.badHeaderField) { _ = try entries(RawTar.header("s", type: "S") + RawTar.end) }
    }

    @Test("data comes in chunks with their offsets, straight into large buffers and from the buffer for small ones")
    func chunkedData() throws {
        var content = [UInt8](repeating: 0, count: 3 << 20)
        for i in content.indices { content[i] = UInt8(truncatingIfNeeded: i &* 31 &+ i >> 9) }
        let bytes = try archive { try $0.appendFile(named: "f", contents: content) }
        for chunk in [1 << 20, 4096, 513] {
            let reader = memoryReader(bytes, chunk: chunk)
            _ = try #require(try reader.next())
            #expect(reader.remainingData == UInt64(content.count))
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 256 << 10, alignment: 1)
            defer { buffer.deallocate() }
            var got = [UInt8]()
            // Peek at the first bytes, then read the rest in big pieces.
            let small = UnsafeMutableRawBufferPointer(rebasing: buffer[..<16])
            let first = try #require(try reader.readData(into: small))
            #expect(first.offset == 0)
            got += UnsafeRawBufferPointer(rebasing: small[..<first.count])
            while let piece = try reader.readData(into: buffer) {
                #expect(piece.offset == UInt64(got.count))
                got += UnsafeRawBufferPointer(rebasing: buffer[..<piece.count])
            }
            #expect(got == content)
            #expect(reader.remainingData == 0)
            #expect(try reader.next() == nil)
        }
    }
}

@Suite("Tar reader after a failure")
struct TarReaderFailureTests {
    @Test("after an error every call throws it again instead of reading on from an unknown position")
    func sticky() throws {
        let bytes = RawTar.member("ok", [1]) + RawTar.header("bad", checksumDelta: 5) + RawTar.member("later", [2]) + RawTar.end
        let reader = memoryReader(bytes)
        #expect(try reader.next()?.name == "ok")
        let first = expectTarError(.badChecksum) { _ = try reader.next() }
        let again = expectTarError(.badChecksum) { _ = try reader.next() }
        #expect(first == again)
        expectTarError(.badChecksum) { _ = try reader.skipData() }
        #expect(reader.currentEntry == nil)
    }

    @Test("a global header alone before the end marker is fine")
    func globalThenEnd() throws {
        let reader = memoryReader(RawTar.pax([("comment", "only")], type: "g") + RawTar.end)
        #expect(try reader.next() == nil)
        #expect(try reader.trailer() == .zeroPadding(bytes: 0))
    }
}

@Suite("Tar writer extent collection")
struct ExtentCollectorTests {
    @Test("touching runs merge; past the cap the smallest holes are filled")
    func collector() {
        var c = ExtentCollector(cap: 4)
        c.add(offset: 0, length: 4096)
        c.add(offset: 4096, length: 4096)
        #expect(c.extents == [SparseExtent(offset: 0, length: 8192)])
        for i in 1...10 { c.add(offset: UInt64(i) * 65536, length: 4096) }
        #expect(c.extents.count <= 4)
        // Everything added is still covered.
        for i in 1...10 {
            let start = UInt64(i) * 65536
            #expect(c.extents.contains { $0.offset <= start && start + 4096 <= $0.offset + $0.length })
        }
        #expect(c.extents.first?.offset == 0)
    }
}
