// tar-benchmark: measures the Tar module alone (and with zstd) on real files.
//
//   TarBenchmark pack [--zstd] [--dense] OUT FILE...   archive FILEs (OUT "-" counts bytes only)
//   TarBenchmark unpack ARCHIVE[.zst] DIR                extract with Tar.extract
//   TarBenchmark verify ARCHIVE[.zst]                    read every member, write nothing
//
// Prints bytes read, bytes written, seconds and throughput on stderr. Run it under
// `/usr/bin/time -v` for peak memory.
import ByteStreams
import SystemPackage
import Tar
import Zstd

#if canImport(Glibc)
import Glibc
#endif

func printError(_ text: String) {
    var bytes = Array(text.utf8)
    _ = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress, $0.count) }
}

func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

func report(_ label: String, logical: UInt64, read: UInt64, written: UInt64, seconds: Double) {
    let mb = { (n: UInt64) in Double(n) / 1e6 }
    let line = "\(label): logical \(mb(logical)) MB, read \(mb(read)) MB, written \(mb(written)) MB, "
        + "\(seconds) s, \(mb(read) / seconds) MB/s read, \(mb(logical) / seconds) MB/s logical\n"
    printError(line)
}

func pack(_ arguments: [String]) throws {
    var args = arguments
    var useZstd = false
    var options = TarWriterOptions()
    while let first = args.first, first.hasPrefix("--") {
        if first == "--zstd" { useZstd = true }
        if first == "--dense" { options.findsHoles = false; options.detectsZeroRuns = false }
        if first == "--no-zero-runs" { options.detectsZeroRuns = false }
        args.removeFirst()
    }
    let out = args.removeFirst()
    var files: [(String, FileDescriptor)] = []
    for path in args { files.append((path, try FileDescriptor.open(path, .readOnly))) }
    var logical: UInt64 = 0
    let start = now()
    func appendAll<S: ByteSink>(_ writer: TarWriter<S>) throws {
        for (path, fd) in files {
            let name = path.split(separator: "/").last.map(String.init) ?? path
            logical += try writer.appendFile(named: name, contentsOf: fd, attributes: .init()).size
        }
    }
    if out == "-" {
        let writer = TarWriter(writingTo: CountingSink(), options: options)
        try appendAll(writer)
        let sink = try writer.finish()
        report("pack", logical: logical, read: writer.bytesRead, written: sink.count, seconds: now() - start)
    } else {
        let fd = try FileDescriptor.open(out, .writeOnly, options: [.create, .truncate], permissions: .ownerReadWrite)
        if useZstd {
            var zopts = ZstdCompressionOptions()
            zopts.level = 3
            zopts.workers = 2
            let compressor = try ZstdCompressor(writingTo: FileSink(fd), options: zopts)
            let writer = TarWriter(writingTo: compressor, options: options)
            try appendAll(writer)
            let sink = try writer.finish().finish()
            report("pack+zstd", logical: logical, read: writer.bytesRead, written: sink.bytesWritten, seconds: now() - start)
        } else {
            let writer = TarWriter(writingTo: FileSink(fd), options: options)
            try appendAll(writer)
            let sink = try writer.finish()
            report("pack", logical: logical, read: writer.bytesRead, written: sink.bytesWritten, seconds: now() - start)
        }
        try fd.close()
    }
}

func withReader(_ path: String, _ body: (TarReader<ZstdDecompressor<FileSource>>?, TarReader<FileSource>?) throws -> Void) throws {
    let fd = try FileDescriptor.open(path, .readOnly)
    defer { try? fd.close() }
    if path.hasSuffix(".zst") {
        try body(TarReader(reading: try ZstdDecompressor(readingFrom: FileSource(fd))), nil)
    } else {
        try body(nil, TarReader(reading: FileSource(fd)))
    }
}

func verify<S: ByteSource>(_ reader: TarReader<S>) throws -> (UInt64, UInt64) {
    var logical: UInt64 = 0, data: UInt64 = 0
    while let entry = try reader.next() {
        logical += entry.size
        data += try reader.skipData()
    }
    return (logical, data)
}

let arguments = Array(CommandLine.arguments.dropFirst())
do {
    switch arguments.first {
    case "pack":
        try pack(Array(arguments.dropFirst()))
    case "unpack" where arguments.count == 3:
        let start = now()
        try withReader(arguments[1]) { z, plain in
            let members = try z.map { try Tar.extract(from: $0, into: FilePath(arguments[2])) }
                ?? plain.map { try Tar.extract(from: $0, into: FilePath(arguments[2])) } ?? []
            let logical = members.reduce(0) { $0 + $1.size }, written = members.reduce(0) { $0 + $1.bytesWritten }
            report("unpack", logical: logical, read: 0, written: written, seconds: now() - start)
        }
    case "verify" where arguments.count == 2:
        let start = now()
        try withReader(arguments[1]) { z, plain in
            let (logical, data) = try z.map(verify) ?? plain.map(verify) ?? (0, 0)
            report("verify", logical: logical, read: data, written: 0, seconds: now() - start)
        }
    default:
        printError("usage: TarBenchmark pack [--zstd] [--dense] [--no-zero-runs] OUT FILE... | unpack ARCHIVE DIR | verify ARCHIVE\n")
        exit(2)
    }
} catch {
    printError("TarBenchmark: \(error)\n")
    exit(1)
}
