// StreamBenchmark: the time from "the image's bytes start arriving" to "instance ready", for
// extraction while downloading (`ImageManager.streamingInstance(imageID:stream:)` fed by
// `streamImage(from:)`) beside download-then-extract (`instance(imageID:download:)` fed by
// `downloadImage(from:)`). Both fetch the same `image.tar.zst` over real HTTP from a server on
// 127.0.0.1 (ArchiveServer), unpaced and paced to network rates; runs alternate between the two
// paths, and the medians and their ratio are printed. A second table puts "restart with a warm
// cache → instance ready" (a new ImageManager adopting the image left by the previous one)
// beside "cold download → instance ready".
//
//   StreamBenchmark [--runs N] [--rates 0,100,...] [--min-ratio X] [--json FILE]
//
//   --rates    MB/s (10^6 bytes) to pace the server at; 0 = unpaced loopback. Default 0,100.
//   --min-ratio  exit 1 when download-then-extract / streaming (medians) is below X at any rate.
// Sizes come from VMIMAGE_BENCH_PROFILE (ci, the default, or full), as in the suite.
import BenchFixtures
import Foundation
import SystemPackage
import VMImage
import VMImageDownload

/// The two ways an image reaches an instance.
enum Path: String, CaseIterable {
    case downloadThenExtract = "download then extract"
    case streaming = "streaming extract"
}

/// One measured load.
struct Sample {
    /// Seconds from the server's first body byte to the instance being returned.
    var fromFirstByte: Double
    /// Seconds from the call to the instance being returned.
    var total: Double
}

struct Options {
    var runs = 5
    var rates: [Double] = [0, 100]
    var minimumRatio: Double?
    var jsonPath: String?

    init(_ arguments: [String]) throws {
        var rest = arguments[...]
        func value(_ flag: String) throws -> String {
            guard let next = rest.popFirst() else { throw FixtureError("\(flag) needs a value") }
            return next
        }
        while let flag = rest.popFirst() {
            switch flag {
            case "--runs":
                guard let count = Int(try value(flag)), count > 0 else { throw FixtureError("--runs needs a positive number") }
                runs = count
            case "--rates":
                let list = try value(flag).split(separator: ",").map { Double($0) }
                guard !list.isEmpty, list.allSatisfy({ $0 != nil && $0! >= 0 }) else { throw FixtureError("--rates needs MB/s values like 0,100") }
                rates = list.map { $0! }
            case "--min-ratio":
                guard let ratio = Double(try value(flag)) else { throw FixtureError("--min-ratio needs a number") }
                minimumRatio = ratio
            case "--json":
                jsonPath = try value(flag)
            default:
                throw FixtureError("unknown option \(flag) (see the comment at the top of main.swift)")
            }
        }
    }
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    let middle = sorted.count / 2
    return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}

/// Loads the image once through `path` into a fresh image folder and returns the timings.
func load(_ path: Path, url: URL, server: ArchiveServer, scratch: Scratch, run: Int) async throws -> Sample {
    let folder = FilePath(scratch.file("images-\(path == .streaming ? "s" : "d")\(run)"))
    let gc = GarbageCollector(storageFolder: folder, minimumDiskSpace: 0, minimumMemory: 0)
    let manager = try ImageManager(imageFolder: folder, gc: gc)
    server.resetFirstByte()
    let start = monotonicSeconds()
    let instance: Instance
    switch path {
    case .downloadThenExtract:
        instance = try await manager.instance(imageID: "bench", download: downloadImage(from: url))
    case .streaming:
        instance = try await manager.streamingInstance(imageID: "bench", stream: streamImage(from: url))
    }
    let ready = monotonicSeconds()
    guard let firstByte = server.firstByteSent else { throw FixtureError("the server sent no body") }
    // The instance must be real: its disk exists and the machine came through.
    var status = stat()
    guard stat(try instance.diskFile.string, &status) == 0, instance.machine.memory == 1024 else {
        throw FixtureError("\(path.rawValue): the instance is not usable")
    }
    try await instance.release()
    _ = try await gc.collectAll()
    try? FileManager.default.removeItem(atPath: folder.string)
    return Sample(fromFirstByte: ready - firstByte, total: ready - start)
}

/// Cold download then a restart: the time to an instance of an image not cached (download then
/// extract, unpaced), then, after the manager is gone, the time from opening a new manager on the
/// same folder (adopting the image) to an instance, with a downloader that must not be called.
func restart(url: URL, scratch: Scratch, run: Int) async throws -> (cold: Double, warm: Double) {
    let folder = FilePath(scratch.file("images-restart\(run)"))
    let cold: Double
    do {
        // The first worker's collector goes with it, as it would in a real restart.
        let manager = try ImageManager(
            imageFolder: folder, gc: GarbageCollector(storageFolder: folder, minimumDiskSpace: 0, minimumMemory: 0))
        let start = monotonicSeconds()
        let instance = try await manager.instance(imageID: "bench", download: downloadImage(from: url))
        cold = monotonicSeconds() - start
        try await instance.release()
    }
    let gc = GarbageCollector(storageFolder: folder, minimumDiskSpace: 0, minimumMemory: 0)
    let start = monotonicSeconds()
    let manager = try ImageManager(imageFolder: folder, gc: gc)
    let instance = try await manager.instance(imageID: "bench") { _ in
        throw FixtureError("the warm restart downloaded the image again")
    }
    let warm = monotonicSeconds() - start
    try await instance.release()
    _ = try await gc.collectAll()
    try? FileManager.default.removeItem(atPath: folder.string)
    return (cold, warm)
}

func main() async throws {
    let options = try Options(Array(CommandLine.arguments.dropFirst()))
    let profile = Profile.current
    let scratch = try Scratch("stream")
    defer { scratch.remove() }
    try Fixtures.makeImageFolder(at: scratch.file("image"), profile: profile)
    let archive = scratch.file("image.tar.zst")
    try ImageArchive.package(folder: FilePath(scratch.file("image")), to: FilePath(archive))
    let archiveSize = try FileManager.default.attributesOfItem(atPath: archive)[.size] as? Int ?? 0
    let server = try ArchiveServer(serving: archive)
    guard let url = URL(string: "http://127.0.0.1:\(server.port)/image.tar.zst") else { throw FixtureError("bad URL") }

    print("StreamBenchmark, profile \(profile.name): \(profile.diskSize >> 20) MiB disk with "
          + "\(profile.diskDataBytes >> 20) MiB of /usr data, archive \(archiveSize) bytes, \(options.runs) runs per path, alternating")
    print("")
    print("| server pace | path | first byte → ready (median) | call → ready (median) | ratio |")
    print("|---|---|---|---|---|")
    var results: [[String: Any]] = []
    var failed = false
    for rate in options.rates {
        server.setPace(bytesPerSecond: rate > 0 ? rate * 1e6 : nil)
        // One unmeasured load per path warms the page cache, the HTTP client and the allocator.
        for path in Path.allCases { _ = try await load(path, url: url, server: server, scratch: scratch, run: -1) }
        var samples: [Path: [Sample]] = [:]
        for run in 0..<options.runs {
            let order = run % 2 == 0 ? Path.allCases : Path.allCases.reversed()
            for path in order { samples[path, default: []].append(try await load(path, url: url, server: server, scratch: scratch, run: run)) }
        }
        let fromFirstByte = Path.allCases.map { path in median(samples[path, default: []].map(\.fromFirstByte)) }
        let total = Path.allCases.map { path in median(samples[path, default: []].map(\.total)) }
        let ratio = fromFirstByte[0] / fromFirstByte[1]
        let pace = rate > 0 ? "\(Int(rate)) MB/s" : "unpaced loopback"
        for (index, path) in Path.allCases.enumerated() {
            let ratioText = path == .streaming ? String(format: "**%.2fx**", ratio) : "1.00x"
            print("| \(pace) | \(path.rawValue) | \(String(format: "%.1f ms", fromFirstByte[index] * 1e3)) | "
                  + "\(String(format: "%.1f ms", total[index] * 1e3)) | \(ratioText) |")
        }
        results.append([
            "rateMBps": rate, "archiveBytes": archiveSize, "runs": options.runs,
            "downloadThenExtractSeconds": fromFirstByte[0], "streamingSeconds": fromFirstByte[1],
            "downloadThenExtractTotalSeconds": total[0], "streamingTotalSeconds": total[1], "ratio": ratio,
        ])
        if let minimum = options.minimumRatio, ratio < minimum {
            FileHandle.standardError.write(Data("StreamBenchmark: at \(pace), streaming is \(String(format: "%.2f", ratio))x download-then-extract, below the floor \(minimum)x\n".utf8))
            failed = true
        }
    }
    print("")
    print("ratio = download-then-extract / streaming, first byte → ready (higher: streaming wins).")

    server.setPace(bytesPerSecond: nil)
    var restarts: [(cold: Double, warm: Double)] = []
    for run in 0..<options.runs {
        restarts.append(try await restart(url: url, scratch: scratch, run: run))
    }
    let cold = median(restarts.map(\.cold))
    let warm = median(restarts.map(\.warm))
    print("")
    print("| unpaced loopback | call → instance ready (median of \(options.runs)) |")
    print("|---|---|")
    print("| cold download → instance ready | \(String(format: "%.1f ms", cold * 1e3)) |")
    print("| restart with a warm cache → instance ready | \(String(format: "%.1f ms", warm * 1e3)) |")
    let restartResult: [String: Any] = ["runs": options.runs, "coldDownloadSeconds": cold, "warmRestartSeconds": warm]
    if let jsonPath = options.jsonPath {
        let data = try JSONSerialization.data(withJSONObject: ["profile": profile.name, "results": results, "restart": restartResult], options: [.prettyPrinted, .sortedKeys])
        try data.write(to: URL(fileURLWithPath: jsonPath))
    }
    if failed { exit(1) }
}

do {
    try await main()
} catch {
    FileHandle.standardError.write(Data("StreamBenchmark: \(error)\n".utf8))
    exit(2)
}
