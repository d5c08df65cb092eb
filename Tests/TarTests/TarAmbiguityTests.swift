import ByteStreams
import Foundation
import SystemPackage
import Tar
import TestSupport
import Testing

/// Headers that GNU tar and bsdtar read differently are refused, and chains of headers that
/// add nothing are bounded in count. The fixtures are made by `make_hostile.py`.
@Suite("Tar headers other readers disagree on, and empty header chains")
struct TarAmbiguityTests {
    /// Fixtures whose meaning differs between GNU tar 1.34 and bsdtar 3.6, with our refusal.
    static let ambiguous: [(String, TarError.Code)] = [
        ("ustar-magic-prefix", .badHeaderField),
        ("longname-vs-path", .badExtendedHeader),
        ("global-path", .badExtendedHeader),
        ("empty-pax-path", .badExtendedHeader),
        ("slash-data", .badHeaderField),
        ("oldgnu-short-extended", .badSparseMap),
        ("oldgnu-half-entry", .badSparseMap),
        ("oldgnu-empty-extensions", .badSparseMap),
    ]

    static let haveBothTars = Oracle.has("tar") && Oracle.has("bsdtar")

    /// What `tool` makes of `archive`: its exit status and every path it extracted, with the
    /// kind and bytes of each.
    static func extraction(_ tool: String, _ archive: String, in folder: TemporaryFolder) throws -> String {
        let out = folder.file("\(tool)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: false)
        let result = try Oracle.run(tool, ["-xf", archive, "-C", out])
        var lines = ["exit \(result.status == 0 ? "0" : "non-zero")"]
        for path in FileCheck.tree(out) {
            var isDirectory: ObjCBool = false
            _ = FileManager.default.fileExists(atPath: "\(out)/\(path)", isDirectory: &isDirectory)
            let bytes = isDirectory.boolValue ? "dir" : (try? Data(contentsOf: URL(fileURLWithPath: "\(out)/\(path)")))?.base64EncodedString() ?? "?"
            lines.append("\(path): \(bytes)")
        }
        return lines.joined(separator: "\n")
    }

    @Test("GNU tar and bsdtar extract each ambiguous fixture differently", .enabled(if: haveBothTars), arguments: ambiguous)
    func readersDisagree(_ name: String, _ code: TarError.Code) throws {
        let folder = try TemporaryFolder("tar-ambiguous")
        defer { folder.remove() }
        let path = Fixtures.path("hostile-\(name).tar")
        let gnu = try Self.extraction("tar", path, in: folder)
        let bsd = try Self.extraction("bsdtar", path, in: folder)
        #expect(gnu != bsd, "GNU tar and bsdtar agree on \(name): the fixture no longer shows an ambiguity")
    }

    @Test("we refuse each ambiguous fixture rather than pick one reading", arguments: ambiguous)
    func refused(_ name: String, _ code: TarError.Code) throws {
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("hostile-\(name).tar"))))
        let error = expectTarError(code) {
            let reader = memoryReader(bytes)
            while try reader.next() != nil { try reader.skipData() }
        }
        #expect(error?.detail.contains("bsdtar") == true, "the message says which readers disagree: \(String(describing: error))")
    }

    @Test("a regular-file header named 'disk.img/' without data is a directory, as GNU tar and bsdtar read it")
    func slashIsDirectory() throws {
        let (reader, close) = try openArchive(Fixtures.path("slash-directory.tar"))
        defer { close() }
        let first = try #require(try reader.next())
        #expect(first.kind == .directory)
        #expect(first.name == "disk.img/")
        #expect(try reader.next()?.name == "machine.json")
        #expect(try reader.next() == nil)
    }

    @Test("GNU tar and bsdtar list 'disk.img/' of type 0 as a directory", .enabled(if: haveBothTars))
    func slashIsDirectoryToOthers() throws {
        for tool in ["tar", "bsdtar"] {
            let listing = try Oracle.run(tool, ["-tvf", Fixtures.path("slash-directory.tar")])
            #expect(listing.status == 0)
            #expect(listing.text.split(separator: "\n").first?.hasPrefix("d") == true, "\(tool): \(listing.text)")
        }
    }

    /// A source of `head`, then `unit` `count` times, then `tail`, made up as it is read
    /// (a 4 GiB archive costs nothing); counts the bytes handed out.
    struct RepeatingSource: ByteSource {
        let head: [UInt8]
        let unit: [UInt8]
        let count: UInt64
        let tail: [UInt8]
        var position: UInt64 = 0
        var total: UInt64 { UInt64(head.count) + UInt64(unit.count) * count + UInt64(tail.count) }

        mutating func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
            var written = 0
            while written < buffer.count, position < total {
                let byte: UInt8
                let body = UInt64(head.count)
                let bodyEnd = body + UInt64(unit.count) * count
                if position < body {
                    byte = head[Int(position)]
                } else if position < bodyEnd {
                    byte = unit[Int((position - body) % UInt64(unit.count))]
                } else {
                    byte = tail[Int(position - bodyEnd)]
                }
                buffer[written] = byte
                written += 1
                position += 1
            }
            return written
        }
    }

    /// Reads `source` to the end or the first error, returning the error and the seconds taken.
    func readAll(_ source: RepeatingSource) -> (TarError?, Double) {
        var options = TarReaderOptions()
        options.bufferSize = 64 << 10
        let reader = TarReader(reading: source, options: options)
        let start = Date()
        do {
            while try reader.next() != nil { try reader.skipData() }
            return (nil, Date().timeIntervalSince(start))
        } catch let error as TarError {
            #expect(reader.source.position <= 1 << 20, "read \(reader.source.position) bytes before refusing")
            return (error, Date().timeIntervalSince(start))
        } catch {
            Issue.record("unexpected \(error)")
            return (nil, 0)
        }
    }

    @Test("8M empty pax headers before one member are refused at the header cap, at once", .timeLimit(.minutes(1)))
    func emptyHeaderChain() throws {
        let fixture = Array(try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("hostile-empty-header-chain.tar"))))
        let emptyHeader = Array(fixture[..<512])
        let tail = Array(fixture[(65 * 512)...])
        let source = RepeatingSource(head: [], unit: emptyHeader, count: 8 << 20, tail: tail)
        #expect(source.total > 4 << 30)
        let (error, seconds) = readAll(source)
        #expect(error?.code == .limitExceeded, "\(String(describing: error))")
        #expect(error?.detail.contains("64") == true, "the message names the cap: \(String(describing: error))")
        #expect(seconds < 2, "took \(seconds) s")
        // One header fewer than the cap is read as it always was.
        let under = RepeatingSource(head: [], unit: emptyHeader, count: 64, tail: tail)
        let reader = TarReader(reading: under)
        #expect(try reader.next()?.name == "disk.img")
    }

    @Test("8M empty GNU sparse extension blocks are refused at the first one, at once", .timeLimit(.minutes(1)))
    func emptyExtensionChain() throws {
        let fixture = Array(try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("hostile-oldgnu-empty-extensions.tar"))))
        let source = RepeatingSource(head: Array(fixture[..<512]), unit: Array(fixture[512..<1024]), count: 8 << 20, tail: [])
        let (error, seconds) = readAll(source)
        #expect(error?.code == .badSparseMap, "\(String(describing: error))")
        #expect(seconds < 2, "took \(seconds) s")
    }

    @Test("a cap of extended headers set by the caller is honoured")
    func headerCapOption() throws {
        let fixture = Array(try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("hostile-empty-header-chain.tar"))))
        var options = TarReaderOptions()
        options.maximumMetadataHeaders = 65
        let reader = memoryReader(fixture, options: options)
        #expect(try reader.next()?.name == "disk.img")
        options.maximumMetadataHeaders = 3
        let error = expectTarError(.limitExceeded) { _ = try memoryReader(fixture, options: options).next() }
        #expect(error?.offset == 3 * 512)
    }
}

/// Sparse members GNU tar and bsdtar extract differently, built here byte by byte: GNU tar
/// sizes the file by the map (it truncates at a closing zero-length entry), bsdtar by the real
/// size; GNU tar reads a PAX 0.x map only after `GNU.sparse.numblocks`; bsdtar reads version
/// records only as 1.0; a real size without a map fails GNU tar and sizes bsdtar's file.
extension TarAmbiguityTests {
    /// One hand-built sparse archive and whether GNU tar and bsdtar should read it alike.
    struct SparseCase: Sendable, CustomTestStringConvertible {
        let testDescription: String
        let bytes: [UInt8]
    }

    static let sparseData = [UInt8](repeating: 1, count: 512)

    static func paxZero(_ records: [(String, String)]) -> SparseCase {
        SparseCase(
            testDescription: records.map { "\($0.0)=\($0.1)" }.joined(separator: " "),
            bytes: RawTar.pax(records) + RawTar.member("GNUSparseFile.1/s", sparseData) + RawTar.end)
    }

    static func paxOne(map: String, realSize: Int) -> SparseCase {
        let data = RawTar.padded(Array(map.utf8)) + sparseData
        let records = [("GNU.sparse.major", "1"), ("GNU.sparse.minor", "0"), ("GNU.sparse.name", "s"), ("GNU.sparse.realsize", "\(realSize)")]
        return SparseCase(
            testDescription: "PAX 1.0 map \(map.split(separator: "\n")) real size \(realSize)",
            bytes: RawTar.pax(records) + RawTar.member("GNUSparseFile.1/s", data) + RawTar.end)
    }

    static func oldGNU(_ entries: [(UInt64, UInt64)], realSize: UInt64) -> SparseCase {
        var header = RawTar.header("s", size: 512, type: "S", magic: .gnu)
        let sparse = TarSparseFormatsTests.oldGNUBlock(entries, first: 386, flagAt: 482, extended: false, realSize: realSize)
        header.replaceSubrange(386..<495, with: sparse[386..<495])
        var bytes = header + sparseData + RawTar.end
        TarMutationTests.fixChecksums(&bytes)
        return SparseCase(testDescription: "old GNU map \(entries) real size \(realSize)", bytes: bytes)
    }

    /// Each reads to a different file (or an error) in GNU tar 1.34 and bsdtar 3.6.
    static let ambiguousSparse: [SparseCase] = [
        paxZero([("GNU.sparse.numblocks", "1"), ("GNU.sparse.map", "8192,512"), ("GNU.sparse.name", "s"), ("GNU.sparse.realsize", "65536")]),
        paxOne(map: "1\n8192\n512\n", realSize: 65536),
        oldGNU([(8192, 512)], realSize: 65536),
        paxZero([("GNU.sparse.map", "8192,512"), ("GNU.sparse.name", "s"), ("GNU.sparse.realsize", "8704")]),
        paxZero([("GNU.sparse.map", "8192,512"), ("GNU.sparse.numblocks", "1"), ("GNU.sparse.name", "s"), ("GNU.sparse.realsize", "8704")]),
        paxZero([("GNU.sparse.size", "8704"), ("GNU.sparse.offset", "8192"), ("GNU.sparse.numbytes", "512")]),
        paxZero([
            ("GNU.sparse.major", "0"), ("GNU.sparse.minor", "1"), ("GNU.sparse.numblocks", "1"), ("GNU.sparse.map", "8192,512"),
            ("GNU.sparse.name", "s"), ("GNU.sparse.realsize", "8704"),
        ]),
        paxZero([("GNU.sparse.realsize", "65536")]),
        paxZero([("GNU.sparse.size", "65536")]),
        paxZero([("GNU.sparse.numblocks", "0"), ("GNU.sparse.size", "65536")]),
    ]

    /// The same files spelled as GNU tar writes them: both readers agree, and so do we.
    static let agreedSparse: [SparseCase] = [
        paxZero([("GNU.sparse.numblocks", "2"), ("GNU.sparse.map", "8192,512,65536,0"), ("GNU.sparse.name", "s"), ("GNU.sparse.realsize", "65536")]),
        paxOne(map: "2\n8192\n512\n65536\n0\n", realSize: 65536),
        oldGNU([(8192, 512), (65536, 0)], realSize: 65536),
        paxZero([("GNU.sparse.numblocks", "1"), ("GNU.sparse.map", "8192,512"), ("GNU.sparse.name", "s"), ("GNU.sparse.realsize", "8704")]),
        paxZero([("GNU.sparse.size", "8704"), ("GNU.sparse.numblocks", "1"), ("GNU.sparse.offset", "8192"), ("GNU.sparse.numbytes", "512")]),
    ]

    /// GNU tar's and bsdtar's extractions of `bytes`.
    static func bothExtractions(_ bytes: [UInt8]) throws -> (gnu: String, bsd: String) {
        let folder = try TemporaryFolder("tar-sparse-ambiguous")
        defer { folder.remove() }
        let path = folder.file("archive.tar")
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return (try extraction("tar", path, in: folder), try extraction("bsdtar", path, in: folder))
    }

    @Test("GNU tar and bsdtar extract each ambiguous sparse member differently", .enabled(if: haveBothTars), arguments: ambiguousSparse)
    func sparseReadersDisagree(_ sample: SparseCase) throws {
        let (gnu, bsd) = try Self.bothExtractions(sample.bytes)
        #expect(gnu != bsd, "GNU tar and bsdtar agree: the sample no longer shows an ambiguity")
    }

    @Test("we refuse each ambiguous sparse member, saying which readers disagree", arguments: ambiguousSparse)
    func sparseRefused(_ sample: SparseCase) {
        let error = expectTarError(.badSparseMap) {
            let reader = memoryReader(sample.bytes)
            while try reader.next() != nil { try reader.skipData() }
        }
        #expect(error?.detail.contains("bsdtar") == true, "\(String(describing: error))")
    }

    @Test("GNU tar and bsdtar read the well-formed spellings alike", .enabled(if: haveBothTars), arguments: agreedSparse)
    func sparseReadersAgree(_ sample: SparseCase) throws {
        let (gnu, bsd) = try Self.bothExtractions(sample.bytes)
        #expect(gnu == bsd)
        #expect(gnu.hasPrefix("exit 0"), "\(gnu)")
    }

    @Test("we read the well-formed spellings to the map's real size", arguments: agreedSparse)
    func sparseAccepted(_ sample: SparseCase) throws {
        let reader = memoryReader(sample.bytes)
        let entry = try #require(try reader.next())
        #expect(entry.name.hasSuffix("s"))  // PAX 0.0 has no GNU.sparse.name: the header's name stands
        let map = try #require(entry.sparseMap)
        #expect(entry.size == map.realSize)
        #expect(map.extents.first == SparseExtent(offset: 8192, length: 512))
        #expect(try reader.skipData() == 512)
        #expect(try reader.next() == nil)
    }
}
