// DownloadBenchmark: download + SHA-256 throughput. `downloadImage(from:sha256:)` fetches one
// file over real HTTP from ArchiveServer on 127.0.0.1 into a file, with the digest checked as the
// bytes stream in, beside the same download without a digest (the peer, in the same run): the
// difference is what hashing costs the download. Runs alternate between the two; medians, MB/s
// (10^6 bytes) and the ratio are printed.
//
//   DownloadBenchmark [--mib N] [--runs N]      defaults: 512 MiB, 7 runs per path
import BenchFixtures
import Foundation
import SystemPackage
import VMImageDownload

struct Options {
    var mebibytes = 512
    var runs = 7

    init(_ arguments: [String]) throws {
        var rest = arguments[...]
        while let flag = rest.popFirst() {
            guard let text = rest.popFirst(), let number = Int(text), number > 0 else {
                throw FixtureError("\(flag) needs a positive number")
            }
            switch flag {
            case "--mib": mebibytes = number
            case "--runs": runs = number
            default: throw FixtureError("unknown option \(flag) (see the comment at the top of main.swift)")
            }
        }
    }
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    let middle = sorted.count / 2
    return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}

/// Writes `size` bytes of /usr data (64 MiB of it, repeated) to `path`.
func makeInput(at path: String, size: Int) throws {
    let piece = try Fixtures.usrBytes(min(size, 64 << 20))
    guard FileManager.default.createFile(atPath: path, contents: nil), let handle = FileHandle(forWritingAtPath: path) else {
        throw FixtureError("cannot write \(path)")
    }
    var written = 0
    while written < size {
        let count = min(piece.count, size - written)
        handle.write(Data(piece[0..<count]))
        written += count
    }
    try handle.close()
}

/// The hex SHA-256 of `path` by coreutils' `sha256sum` (an outside opinion on the digest).
func sha256sum(_ path: String) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
    process.arguments = [path]
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let output = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else { throw FixtureError("sha256sum \(path) failed") }
    return String(decoding: output.prefix(64), as: UTF8.self)
}

func main() async throws {
    let options = try Options(Array(CommandLine.arguments.dropFirst()))
    let scratch = try Scratch("download")
    defer { scratch.remove() }
    let size = options.mebibytes << 20
    let input = scratch.file("image.bin")
    try makeInput(at: input, size: size)
    let digest = try sha256sum(input)
    let server = try ArchiveServer(serving: input)
    guard let url = URL(string: "http://127.0.0.1:\(server.port)/image.bin") else { throw FixtureError("bad URL") }

    let paths: [(name: String, sha256: String?)] = [("download", nil), ("download + SHA-256", digest)]
    func load(_ sha256: String?) async throws -> Double {
        let target = scratch.file("downloaded")
        let start = monotonicSeconds()
        try await downloadImage(from: url, sha256: sha256)(FilePath(target))
        let seconds = monotonicSeconds() - start
        let got = (try FileManager.default.attributesOfItem(atPath: target)[.size] as? Int) ?? -1
        guard got == size else { throw FixtureError("downloaded \(got) bytes, expected \(size)") }
        try FileManager.default.removeItem(atPath: target)
        return seconds
    }
    for path in paths { _ = try await load(path.sha256) }  // warm the page cache, client and allocator
    var samples: [[Double]] = Array(repeating: [], count: paths.count)
    for run in 0..<options.runs {
        let order = run % 2 == 0 ? Array(paths.indices) : paths.indices.reversed()
        for index in order { samples[index].append(try await load(paths[index].sha256)) }
    }
    let medians = samples.map(median)
    print("DownloadBenchmark: \(options.mebibytes) MiB over HTTP on 127.0.0.1 into a file, \(options.runs) runs per path, alternating")
    print("")
    print("| path | median | throughput | ratio |")
    print("|---|---|---|---|")
    for (index, path) in paths.enumerated() {
        let rate = Double(size) / medians[index] / 1e6
        print("| \(path.name) | \(String(format: "%.0f ms", medians[index] * 1e3)) | \(String(format: "%.0f MB/s", rate)) | "
              + "\(String(format: "%.2fx", medians[0] / medians[index])) |")
    }
    print("")
    print("ratio = download time / this path's time (1.00x: hashing costs nothing).")
}

do {
    try await main()
} catch {
    FileHandle.standardError.write(Data("DownloadBenchmark: \(error)\n".utf8))
    exit(2)
}
