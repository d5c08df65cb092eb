import ByteStreams
import Foundation
import SystemPackage
import Tar
import TestSupport
import Testing
import Zstd

/// The fixture folder `TestImages/tar`, found from this file's path.
enum Fixtures {
    static let folder: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }  // Fixtures.swift, TarTests, Tests
        return url.appendingPathComponent("TestImages/tar").path
    }()

    static func path(_ name: String) -> String { "\(folder)/\(name)" }

    /// The interop archives made by GNU tar and bsdtar (see TestImages/tar/README.md).
    static let interopArchives = ["gnu-oldsparse", "gnu-pax-0.0", "gnu-pax-0.1", "gnu-pax-1.0", "bsdtar"]

    /// Decompresses `name.tar.zst` into `folder/name.tar` and returns that path.
    static func decompressed(_ name: String, into folder: TemporaryFolder) throws -> String {
        let out = folder.file("\(name).tar")
        let input = try FileDescriptor.open(path("\(name).tar.zst"), .readOnly)
        defer { try? input.close() }
        let output = try FileDescriptor.open(out, .writeOnly, options: [.create, .truncate], permissions: .ownerReadWrite)
        defer { try? output.close() }
        var sink = FileSink(output)
        try Zstd.decompress(from: FileSource(input), to: &sink)
        return out
    }
}

/// The source tree of the interop fixtures, as `make_source_tree.py` makes it.
enum SourceTree {
    static let gib: UInt64 = 1 << 30
    static let diskSize: UInt64 = 9 * gib
    static let runs: [(offset: UInt64, length: Int)] = (0..<30).map { (i: Int) -> (offset: UInt64, length: Int) in
        let offset: UInt64 = UInt64(i) * (300 << 20) + UInt64(i % 3) * 513
        let length: Int = 1000 + (i * 211) % 6000
        return (offset, length)
    }
    static let longPath: String = {
        let dir = (0..<4).map { String(format: "d%02d-", $0) + String(repeating: "x", count: 44) }.joined(separator: "/")
        return String(dir.prefix(191)) + "/file.txt"
    }()
    static let longContents = Array("two hundred characters of path\n".utf8)
    static let denseContents: [UInt8] = runBytes(100, 16384) + [UInt8](repeating: 0, count: 16384) + runBytes(101, 32768)

    static func runBytes(_ i: Int, _ length: Int) -> [UInt8] {
        (0..<length).map { (j: Int) -> UInt8 in
            let value: Int = (i * 37 + j * 7) % 251 + 1
            return UInt8(value)
        }
    }

    /// The expected bytes of disk.img in `range` (computed run by run, not byte by byte).
    static func diskBytes(_ range: Range<UInt64>) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: Int(range.count))
        for (i, run) in runs.enumerated() {
            let runRange = run.offset..<(run.offset + UInt64(run.length))
            let overlap = runRange.clamped(to: range)
            guard !overlap.isEmpty else { continue }
            let data = runBytes(i, run.length)
            bytes.replaceSubrange(
                Int(overlap.lowerBound - range.lowerBound)..<Int(overlap.upperBound - range.lowerBound),
                with: data[Int(overlap.lowerBound - run.offset)..<Int(overlap.upperBound - run.offset)])
        }
        return bytes
    }

    /// Writes the tree into `root` (a sparse 9 GiB disk.img, the long-path file, dense.bin).
    static func create(in root: String) throws {
        let disk = try FileDescriptor.open("\(root)/disk.img", .writeOnly, options: [.create, .exclusiveCreate], permissions: .ownerReadWrite)
        defer { try? disk.close() }
        try SparseFile.setSize(of: disk, to: diskSize)
        for (i, run) in runs.enumerated() {
            try runBytes(i, run.length).withUnsafeBytes { try disk.pwriteAll($0, at: run.offset) }
        }
        let long = "\(root)/\(longPath)"
        try FileManager.default.createDirectory(
            atPath: (long as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data(longContents).write(to: URL(fileURLWithPath: long))
        try Data(denseContents).write(to: URL(fileURLWithPath: "\(root)/dense.bin"))
    }
}

/// File checks that understand holes.
enum FileCheck {
    static func withOpen<R>(_ path: String, _ body: (FileDescriptor) throws -> R) throws -> R {
        let fd = try FileDescriptor.open(path, .readOnly)
        defer { try? fd.close() }
        return try body(fd)
    }

    static func status(_ path: String) throws -> SparseFile.Status {
        try withOpen(path) { try SparseFile.status(of: $0) }
    }

    /// Whether two files have the same size and bytes, reading only where either has data.
    static func sameContents(_ a: String, _ b: String) throws -> Bool {
        try withOpen(a) { fa in
            try withOpen(b) { fb in
                let sa = try SparseFile.status(of: fa), sb = try SparseFile.status(of: fb)
                guard sa.size == sb.size else { return false }
                let ranges = (try SparseFile.dataExtents(of: fa, size: sa.size) ?? [0..<sa.size])
                    + (try SparseFile.dataExtents(of: fb, size: sb.size) ?? [0..<sb.size])
                for range in ranges {
                    var offset = range.lowerBound
                    while offset < range.upperBound {
                        let n = Int(min(1 << 20, range.upperBound - offset))
                        let x = try read(fa, offset, n), y = try read(fb, offset, n)
                        guard x == y else { return false }
                        offset += UInt64(n)
                    }
                }
                return true
            }
        }
    }

    static func read(_ fd: FileDescriptor, _ offset: UInt64, _ count: Int) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        let n = try bytes.withUnsafeMutableBytes { try fd.pread(into: $0, at: offset) }
        return Array(bytes[..<n])
    }

    static func contents(_ path: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    /// Checks an extracted disk.img against the source tree: size, every run, zeros elsewhere.
    static func isSourceDisk(_ path: String) throws -> Bool {
        try withOpen(path) { fd in
            let st = try SparseFile.status(of: fd)
            guard st.size == SourceTree.diskSize else { return false }
            for (i, run) in SourceTree.runs.enumerated() {
                guard try read(fd, run.offset, run.length) == SourceTree.runBytes(i, run.length) else { return false }
            }
            for extent in try SparseFile.dataExtents(of: fd, size: st.size) ?? [] {
                guard extent.count < 64 << 20 else { return false }  // the disk must still be sparse
                guard try read(fd, extent.lowerBound, Int(extent.count)) == SourceTree.diskBytes(extent) else { return false }
            }
            return true
        }
    }

    /// Names of everything below `root` (files, links, folders), sorted.
    static func tree(_ root: String) -> [String] {
        ((try? FileManager.default.subpathsOfDirectory(atPath: root)) ?? []).sorted()
    }
}

/// Opens `path` for a ``TarReader`` (closed by the returned closure).
func openArchive(_ path: String) throws -> (TarReader<FileSource>, () -> Void) {
    let fd = try FileDescriptor.open(path, .readOnly)
    return (TarReader(reading: FileSource(fd, path: path)), { try? fd.close() })
}

/// A reader over bytes in memory, handing them out in odd-sized pieces.
func memoryReader(_ bytes: [UInt8], chunk: Int = 777, options: TarReaderOptions = .init()) -> TarReader<BufferSource> {
    TarReader(reading: BufferSource(bytes, maximumChunk: chunk), options: options)
}

/// Writes an archive into memory with `body`.
func archive(options: TarWriterOptions = .init(), _ body: (TarWriter<BufferSink>) throws -> Void) throws -> [UInt8] {
    let writer = TarWriter(writingTo: BufferSink(), options: options)
    try body(writer)
    return try writer.finish().bytes
}

/// Expects `body` to throw a ``TarError`` with `code`, returning it.
@discardableResult
func expectTarError(_ code: TarError.Code, sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void) -> TarError? {
    do {
        try body()
        Issue.record("expected TarError.\(code), nothing was thrown", sourceLocation: sourceLocation)
    } catch let error as TarError {
        #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
        return error
    } catch {
        Issue.record("expected TarError.\(code), got \(error)", sourceLocation: sourceLocation)
    }
    return nil
}
