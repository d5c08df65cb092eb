import ByteStreams
import Foundation
import SystemPackage
import Tar
import TestSupport
import Zstd
import Testing

@Suite("Tar writer")
struct TarWriterTests {
    /// Archives the source tree with our writer into `folder/ours.tar`.
    static func writeSourceTree(in folder: TemporaryFolder, options: TarWriterOptions = .init()) throws -> (String, [TarWrittenMember]) {
        let src = folder.file("src")
        try FileManager.default.createDirectory(atPath: src, withIntermediateDirectories: false)
        try SourceTree.create(in: src)
        let out = folder.file("ours.tar")
        let fd = try FileDescriptor.open(out, .writeOnly, options: [.create, .exclusiveCreate], permissions: .ownerReadWrite)
        defer { try? fd.close() }
        let writer = TarWriter(writingTo: FileSink(fd, path: out), options: options)
        var written: [TarWrittenMember] = []
        let attributes = TarMemberAttributes(mode: 0o640, modificationTime: 1_700_000_000)
        for name in ["disk.img", SourceTree.longPath, "dense.bin"] {
            let file = try FileDescriptor.open("\(src)/\(name)", .readOnly)
            defer { try? file.close() }
            written.append(try writer.appendFile(named: name, contentsOf: file, attributes: attributes))
        }
        try writer.finish()
        return (out, written)
    }

    @Test("the source tree round-trips through our writer and extractor, byte-identical and sparse")
    func roundTrip() throws {
        let folder = try TemporaryFolder("tar-writer")
        defer { folder.remove() }
        let (tar, written) = try Self.writeSourceTree(in: folder)
        #expect(written[0].sparseMap != nil)
        #expect(written[0].size == SourceTree.diskSize)
        #expect(written[0].storedSize <= 30 * 8192)
        #expect(written[1].sparseMap == nil)
        // dense.bin has a 16 KiB zero run: stored sparse with two runs.
        #expect(written[2].sparseMap?.extents.filter { $0.length > 0 }.count == 2)
        #expect(written[2].storedSize == 48 << 10)
        // The archive holds only the data, not the 9 GiB.
        #expect(try FileCheck.status(tar).size < 512 << 10)

        let out = folder.file("out")
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: false)
        try Tar.extract(archive: FilePath(tar), into: FilePath(out))
        #expect(try FileCheck.isSourceDisk("\(out)/disk.img"))
        #expect(try FileCheck.sameContents("\(out)/disk.img", folder.file("src/disk.img")))
        #expect(try FileCheck.contents("\(out)/\(SourceTree.longPath)") == SourceTree.longContents)
        #expect(try FileCheck.contents("\(out)/dense.bin") == SourceTree.denseContents)
    }

    @Test("a sink that lends its memory gets the same archive, file data read straight into it")
    func lendingSink() throws {
        let folder = try TemporaryFolder("tar-writer-lend")
        defer { folder.remove() }
        let src = folder.file("src")
        try FileManager.default.createDirectory(atPath: src, withIntermediateDirectories: false)
        try SourceTree.create(in: src)
        func archive<Sink: ByteSink>(into sink: Sink) throws -> Sink {
            let writer = TarWriter(writingTo: sink)
            for name in ["disk.img", SourceTree.longPath, "dense.bin"] {
                let file = try FileDescriptor.open("\(src)/\(name)", .readOnly)
                defer { try? file.close() }
                try writer.appendFile(named: name, contentsOf: file, attributes: .init(mode: 0o600))
            }
            return try writer.finish()
        }
        let plain = try archive(into: BufferSink()).bytes
        let lending = try archive(into: LendingSink())
        #expect(sameBytes(lending.bytes, plain))
        #expect(lending.lentBytes > 100_000, "\(lending.lentBytes) bytes went through loans")
    }

    @Test("the reader sees PAX 1.0 sparse, the real name and size, and the long path")
    func headersAsWritten() throws {
        let folder = try TemporaryFolder("tar-writer")
        defer { folder.remove() }
        let (tar, _) = try Self.writeSourceTree(in: folder)
        let (reader, close) = try openArchive(tar)
        defer { close() }
        let disk = try #require(try reader.next())
        #expect(disk.name == "disk.img")
        #expect(disk.format == .pax)
        #expect(disk.sparseFormat == .pax1_0)
        #expect(disk.size == 9 << 30)
        #expect(disk.mode == 0o640)
        #expect(disk.modificationTime == 1_700_000_000)
        // A trailing hole is marked GNU-style with an empty run at the real size.
        #expect(disk.sparseMap?.extents.last == SparseExtent(offset: 9 << 30, length: 0))
        let long = try #require(try reader.next())
        #expect(long.name == SourceTree.longPath)
        #expect(long.name.utf8.count == 200)
        let dense = try #require(try reader.next())
        #expect(dense.name == "dense.bin")
        #expect(try reader.next() == nil)
        #expect(try reader.trailer() == .zeroPadding(bytes: 0))
    }

    @Test("output is deterministic: the same input gives the same bytes")
    func deterministic() throws {
        let a = try TemporaryFolder("tar-writer"), b = try TemporaryFolder("tar-writer")
        defer { a.remove(); b.remove() }
        let (ta, _) = try Self.writeSourceTree(in: a)
        let (tb, _) = try Self.writeSourceTree(in: b)
        #expect(sameBytes(try FileCheck.contents(ta), try FileCheck.contents(tb)))
    }

    @Test("with hole finding and zero runs off, a file is stored dense")
    func denseWhenAsked() throws {
        let folder = try TemporaryFolder("tar-writer")
        defer { folder.remove() }
        let path = folder.file("f")
        try Data(SourceTree.denseContents).write(to: URL(fileURLWithPath: path))
        var options = TarWriterOptions()
        options.detectsZeroRuns = false
        options.findsHoles = false
        let fd = try FileDescriptor.open(path, .readOnly)
        defer { try? fd.close() }
        let writer = TarWriter(writingTo: BufferSink(), options: options)
        let member = try writer.appendFile(named: "f", contentsOf: fd, attributes: .init())
        #expect(member.sparseMap == nil)
        #expect(member.storedSize == 65536)
        #expect(writer.bytesRead == 65536)
        let bytes = try writer.finish().bytes
        #expect(bytes.count == 512 + 65536 + 1024)
    }

    @Test("a file with holes is read once, never its holes: its data extents are trusted")
    func readsOnlyData() throws {
        let folder = try TemporaryFolder("tar-writer")
        defer { folder.remove() }
        let path = folder.file("sparse")
        let fd = try FileDescriptor.open(path, .readWrite, options: [.create], permissions: .ownerReadWrite)
        defer { try? fd.close() }
        try SparseFile.setSize(of: fd, to: 1 << 30)
        let data = [UInt8](repeating: 7, count: 1 << 20)
        try data.withUnsafeBytes { try fd.pwriteAll($0, at: 512 << 20) }
        let writer = TarWriter(writingTo: CountingSink())
        let member = try writer.appendFile(named: "sparse", contentsOf: fd, attributes: .init())
        #expect(member.storedSize == 1 << 20)
        #expect(writer.bytesRead == 1 << 20)
        #expect(try writer.finish().count < (1 << 20) + 8192)
    }

    /// A 1 GiB file with holes whose one data extent (1 MiB at 512 MiB) holds a written
    /// 256 KiB zero run in its middle.
    static func sparseFileWithZeroRun(in folder: TemporaryFolder) throws -> FileDescriptor {
        let fd = try FileDescriptor.open(folder.file("sparse"), .readWrite, options: [.create], permissions: .ownerReadWrite)
        try SparseFile.setSize(of: fd, to: 1 << 30)
        let data = [UInt8](repeating: 7, count: 512 << 10) + [UInt8](repeating: 0, count: 256 << 10)
            + [UInt8](repeating: 9, count: 256 << 10)
        try data.withUnsafeBytes { try fd.pwriteAll($0, at: 512 << 20) }
        return fd
    }

    @Test("zero blocks inside the data of a file with holes are stored as data, unless scansFilesWithHoles")
    func zeroRunsInFilesWithHoles() throws {
        let folder = try TemporaryFolder("tar-writer")
        defer { folder.remove() }
        let fd = try Self.sparseFileWithZeroRun(in: folder)
        defer { try? fd.close() }
        guard try SparseFile.dataExtents(of: fd, size: 1 << 30) == [(512 << 20)..<(513 << 20)] else {
            return  // a file system that reports other extents: nothing to check here
        }
        let trusting = TarWriter(writingTo: BufferSink())
        let trusted = try trusting.appendFile(named: "sparse", contentsOf: fd, attributes: .init())
        #expect(trusted.sparseMap?.extents == [SparseExtent(offset: 512 << 20, length: 1 << 20), SparseExtent(offset: 1 << 30, length: 0)])
        #expect(trusting.bytesRead == 1 << 20)

        var options = TarWriterOptions()
        options.scansFilesWithHoles = true
        let scanning = TarWriter(writingTo: BufferSink(), options: options)
        let scanned = try scanning.appendFile(named: "sparse", contentsOf: fd, attributes: .init())
        #expect(scanned.sparseMap?.extents == [
            SparseExtent(offset: 512 << 20, length: 512 << 10), SparseExtent(offset: (512 << 20) + (768 << 10), length: 256 << 10),
            SparseExtent(offset: 1 << 30, length: 0),
        ])
        #expect(scanning.bytesRead == (1 << 20) + (768 << 10))  // the scan, then the data without the zero run

        // Both archives hold the same file: the data region reads back identical.
        var regions: [[UInt8]] = []
        for writer in [trusting, scanning] {
            let reader = TarReader(reading: BufferSource(try writer.finish().bytes))
            let entry = try #require(try reader.next())
            #expect(entry.size == 1 << 30)
            var region = [UInt8](repeating: 0, count: 1 << 20)
            while try reader.withNextChunk({ (offset: UInt64, bytes: UnsafeRawBufferPointer) -> Bool in
                let at = Int(offset) - (512 << 20)
                region.replaceSubrange(at..<(at + bytes.count), with: bytes)
                return true
            }) != nil {}
            regions.append(region)
        }
        #expect(sameBytes(regions[0], regions[1]))
        #expect(regions[0][(512 << 10)..<(768 << 10)].allSatisfy { $0 == 0 })
        #expect(regions[0].last == 9)
    }

    @Test("a file without holes is scanned for zero runs: read twice, its zero blocks left out")
    func denseFilesAreScanned() throws {
        let folder = try TemporaryFolder("tar-writer")
        defer { folder.remove() }
        let path = folder.file("dense")
        try Data(SourceTree.denseContents).write(to: URL(fileURLWithPath: path))
        let fd = try FileDescriptor.open(path, .readOnly)
        defer { try? fd.close() }
        let writer = TarWriter(writingTo: BufferSink())
        let member = try writer.appendFile(named: "dense", contentsOf: fd, attributes: .init())
        #expect(member.sparseMap?.extents.filter { $0.length > 0 }.count == 2)
        #expect(member.storedSize == 48 << 10)
        #expect(writer.bytesRead == 2 * 48 << 10 + 16 << 10)
    }

    @Test("a name over 100 bytes gets a pax path; a short one does not")
    func longNames() throws {
        let long = String(repeating: "n", count: 150)
        let bytes = try archive {
            try $0.appendFile(named: long, contents: [1])
            try $0.appendFile(named: "short", contents: [2])
        }
        let reader = memoryReader(bytes)
        let first = try #require(try reader.next())
        #expect(first.name == long)
        #expect(first.format == .pax)
        let second = try #require(try reader.next())
        #expect(second.name == "short")
        #expect(second.format == .ustar)
        #expect(bytes.count == 512 * 6 + 1024)  // pax header, pax data, header, data; header, data; end marker
    }

    @Test("a name with NUL or an empty name is refused; the writer then refuses further use")
    func badNames() throws {
        let writer = TarWriter(writingTo: BufferSink())
        expectTarError(.unrepresentable) { try writer.appendFile(named: "a\u{0}b", contents: [1]) }
        expectTarError(.invalidState) { try writer.appendFile(named: "ok", contents: [1]) }
        let other = TarWriter(writingTo: BufferSink())
        expectTarError(.unrepresentable) { try other.appendFile(named: "", contents: [1]) }
        let finished = TarWriter(writingTo: BufferSink())
        try finished.finish()
        expectTarError(.invalidState) { try finished.appendFile(named: "late", contents: [1]) }
    }

    @Test("huge ids, negative times and long user names go to pax records and come back")
    func paxOverflow() throws {
        let attributes = TarMemberAttributes(
            mode: 0o600, uid: 1 << 40, gid: 3_000_000, userName: String(repeating: "u", count: 40), groupName: "g",
            modificationTime: -86400)
        let bytes = try archive { try $0.appendFile(named: "f", contents: [1, 2, 3], attributes: attributes) }
        let entry = try #require(try memoryReader(bytes).next())
        #expect(entry.uid == 1 << 40)
        #expect(entry.gid == 3_000_000)
        #expect(entry.userName == String(repeating: "u", count: 40))
        #expect(entry.groupName == "g")
        #expect(entry.modificationTime == -86400)
        #expect(entry.mode == 0o600)
    }

    @Test("the sparse map is capped: with many tiny runs the smallest holes are filled")
    func mapCap() throws {
        let folder = try TemporaryFolder("tar-writer")
        defer { folder.remove() }
        let fd = try FileDescriptor.open(folder.file("f"), .readWrite, options: [.create], permissions: .ownerReadWrite)
        defer { try? fd.close() }
        // 64 data blocks separated by 4 KiB zero blocks.
        for i in 0..<64 { try [UInt8](repeating: 9, count: 4096).withUnsafeBytes { try fd.pwriteAll($0, at: UInt64(i) * 8192) } }
        var options = TarWriterOptions()
        options.maximumSparseExtents = 10
        let writer = TarWriter(writingTo: BufferSink(), options: options)
        let member = try writer.appendFile(named: "f", contentsOf: fd, attributes: .init())
        #expect(member.sparseMap == nil || member.sparseMap!.extents.count <= 11)
        let bytes = try writer.finish().bytes
        let folder2 = try TemporaryFolder("tar-writer")
        defer { folder2.remove() }
        try Tar.extract(from: memoryReader(bytes), into: FilePath(folder2.path))
        #expect(try FileCheck.sameContents(folder.file("f"), folder2.file("f")))
    }
}

/// A sink that remembers the size of every write.
struct RecordingSink: ByteSink {
    var sizes: [Int] = []
    mutating func write(_ bytes: UnsafeRawBufferPointer) throws { sizes.append(bytes.count) }
}

@Suite("Tar writer I/O pattern")
struct TarWriterIOTests {
    @Test("the sink gets whole 1 MiB buffers, never block-sized writes")
    func largeWrites() throws {
        let folder = try TemporaryFolder("tar-writer")
        defer { folder.remove() }
        let path = folder.file("f")
        var content = [UInt8](repeating: 0, count: 5 << 20)
        for i in stride(from: 0, to: content.count, by: 97) { content[i] = UInt8(truncatingIfNeeded: i | 1) }
        try Data(content).write(to: URL(fileURLWithPath: path))
        let fd = try FileDescriptor.open(path, .readOnly)
        defer { try? fd.close() }
        let writer = TarWriter(writingTo: RecordingSink())
        try writer.appendFile(named: "a", contents: [1, 2, 3])
        try writer.appendFile(named: "f", contentsOf: fd, attributes: .init())
        let sizes = try writer.finish().sizes
        #expect(sizes.dropLast().allSatisfy { $0 == 1 << 20 }, "\(sizes)")
        let expected: Int = 3 * 512 + (5 << 20) + 1024  // header+data of "a", header of "f", data, end
        #expect(sizes.reduce(0, +) == expected)
    }
}

@Suite("Tar through zstd")
struct TarZstdPipelineTests {
    @Test("writer -> zstd -> file -> zstd -> reader -> extraction keeps bytes and holes")
    func pipeline() throws {
        let folder = try TemporaryFolder("tar-zstd")
        defer { folder.remove() }
        let src = folder.file("src")
        try FileManager.default.createDirectory(atPath: src, withIntermediateDirectories: false)
        try SourceTree.create(in: src)
        let archivePath = folder.file("a.tar.zst")
        let out = try FileDescriptor.open(archivePath, .writeOnly, options: [.create, .exclusiveCreate], permissions: .ownerReadWrite)
        let writer = TarWriter(writingTo: try ZstdCompressor(writingTo: FileSink(out)))
        for name in ["disk.img", "dense.bin"] {
            let fd = try FileDescriptor.open("\(src)/\(name)", .readOnly)
            defer { try? fd.close() }
            try writer.appendFile(named: name, contentsOf: fd, attributes: .init())
        }
        try writer.finish().finish()
        try out.close()
        #expect(try FileCheck.status(archivePath).size < 64 << 10)

        let input = try FileDescriptor.open(archivePath, .readOnly)
        defer { try? input.close() }
        let reader = TarReader(reading: try ZstdDecompressor(readingFrom: FileSource(input)))
        let dest = folder.file("out")
        try FileManager.default.createDirectory(atPath: dest, withIntermediateDirectories: false)
        var options = TarExtractionOptions()
        options.allowedNames = ["disk.img", "dense.bin"]
        try Tar.extract(from: reader, into: FilePath(dest), options: options)
        #expect(try FileCheck.isSourceDisk("\(dest)/disk.img"))
        #expect(try FileCheck.contents("\(dest)/dense.bin") == SourceTree.denseContents)
    }
}

/// A sink that lends a small odd-sized scratch buffer, and appends what is committed.
final class LendingSink: ByteSink {
    private(set) var bytes: [UInt8] = []
    private(set) var lentBytes = 0
    private let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 9_999, alignment: 16)
    private var loan = 0

    deinit { scratch.deallocate() }

    func write(_ chunk: UnsafeRawBufferPointer) throws {
        #expect(loan == 0, "write while space is lent")
        bytes.append(contentsOf: chunk)
    }

    func borrowWritableSpace(maxCount: Int) throws -> UnsafeMutableRawBufferPointer? {
        loan = min(maxCount, scratch.count)
        return UnsafeMutableRawBufferPointer(rebasing: scratch[..<loan])
    }

    func commitBorrowedSpace(_ count: Int) throws {
        #expect(count <= loan)
        bytes.append(contentsOf: scratch[..<count])
        lentBytes += count
        loan = 0
    }
}
