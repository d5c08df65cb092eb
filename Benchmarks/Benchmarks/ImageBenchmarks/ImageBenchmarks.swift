// The package-benchmark suite: in-process costs of the operations DESIGN.md section 7 sets
// targets for. Every input is built at run time by Fixtures (see Profile for the sizes).
//
//   cd Benchmarks && swift package benchmark                          # ci profile
//   cd Benchmarks && VMIMAGE_BENCH_PROFILE=full swift package benchmark
import BenchFixtures
import Benchmark
import ByteStreams
import Foundation
import QCOW2
import SystemPackage
import Tar
import VMImage
import Zstd

/// Megabytes (10^6 bytes) of real data per second, the figure the throughput rows report.
let megabytesPerSecond = BenchmarkMetric.custom("MB/s", polarity: .prefersLarger, useScalingFactor: false)

/// Runs `body` once and records its data rate for `bytes` bytes.
func measureRate(_ benchmark: Benchmark, bytes: Int, _ body: () throws -> Void) {
    let clock = ContinuousClock()
    let start = clock.now
    do { try body() } catch { benchmark.error("\(error)") }
    let elapsed = start.duration(to: clock.now)
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    if seconds > 0 { benchmark.measurement(megabytesPerSecond, Int(Double(bytes) / seconds / 1e6)) }
}

/// State shared by a benchmark's setup, body and teardown (each benchmark sets its own).
nonisolated(unsafe) var scratch: Scratch?
nonisolated(unsafe) var streamData: [UInt8] = []
nonisolated(unsafe) var tarData: [UInt8] = []
nonisolated(unsafe) var zstdData: [UInt8] = []

let benchmarks: @Sendable () -> Void = {
    let profile = Profile.current
    let perCall = Benchmark.Configuration(
        metrics: [.wallClock, .throughput, .mallocCountTotal, .peakMemoryResident],
        timeUnits: .microseconds, warmupIterations: 10,
        maxDuration: profile.maxDuration, maxIterations: profile.callIterations)
    let stream = Benchmark.Configuration(
        metrics: [.wallClock, .cpuTotal, .mallocCountTotal, .peakMemoryResident, megabytesPerSecond],
        warmupIterations: 1, maxDuration: profile.maxDuration, maxIterations: profile.throughputIterations)
    let teardown: Benchmark.BenchmarkTeardownHook = {
        scratch?.remove()
        scratch = nil
        streamData = []; tarData = []; zstdData = []
    }

    // MARK: Inspect: open + audit of a fresh overlay, per image.

    Benchmark("Inspect open+audit (qcow2 overlay, 1 GiB)", configuration: perCall, closure: { benchmark in
        let path = scratch!.file("layer.qcow2")
        for _ in benchmark.scaledIterations {
            do {
                let fd = try FileDescriptor.open(path, .readOnly)
                defer { try? fd.close() }
                let image = try QCOW2Image(descriptor: fd, path: path)
                let audit = Audit(image: image)
                guard audit.isSafe else { benchmark.error("audit of a fresh overlay failed: \(audit.findings)"); return }
                blackHole(audit)
            } catch {
                benchmark.error("\(error)")
            }
        }
    }, setup: {
        let folder = try Scratch("inspect")
        scratch = folder
        try Fixtures.makeSparseDisk(at: folder.file("disk.img"), size: 1 << 30, data: try Fixtures.usrBytes(1 << 20))
        _ = try QCOW2Creator.create(at: FilePath(folder.file("layer.qcow2")),
                                    options: Fixtures.overlayOptions(virtualSize: 1 << 30))
    }, teardown: teardown)

    // MARK: New instance: an overlay on disk.img (raw), no fsync.

    for (label, size) in [("1 GiB", UInt64(1) << 30), ("1 TiB", UInt64(1) << 40)] {
        Benchmark("Create overlay (backing raw, sync off, \(label))", configuration: perCall, closure: { benchmark in
            // A new instance gets a new file: the previous one is removed outside the measurement
            // (replacing an existing file costs the file system's unlink of the old inode).
            let path = scratch!.file("instance.qcow2")
            let options = Fixtures.overlayOptions(virtualSize: size)
            unlink(path)
            benchmark.startMeasurement()
            do { blackHole(try QCOW2Creator.create(at: FilePath(path), options: options)) } catch { benchmark.error("\(error)") }
            benchmark.stopMeasurement()
        }, setup: {
            let folder = try Scratch("create")
            scratch = folder
            try Fixtures.makeSparseDisk(at: folder.file("disk.img"), size: size, data: try Fixtures.usrBytes(1 << 20))
        }, teardown: teardown)
    }

    // MARK: Tar alone (in memory, real /usr bytes).

    Benchmark("Tar write (\(profile.streamBytes >> 20) MiB of /usr)", configuration: stream, closure: { benchmark in
        measureRate(benchmark, bytes: streamData.count) {
            let writer = TarWriter(writingTo: CountingSink())
            try streamData.withUnsafeBytes { try writer.appendFile(named: "usr.bin", contents: $0) }
            blackHole(try writer.finish().count)
        }
    }, setup: {
        streamData = try Fixtures.usrBytes(profile.streamBytes)
    }, teardown: teardown)

    Benchmark("Tar read (\(profile.streamBytes >> 20) MiB of /usr)", configuration: stream, closure: { benchmark in
        measureRate(benchmark, bytes: streamData.count) {
            let reader = TarReader(reading: BufferSource(tarData))
            var buffer = [UInt8](repeating: 0, count: 1 << 20)
            var total = 0
            while try reader.next() != nil {
                while let chunk = try buffer.withUnsafeMutableBytes({ try reader.readData(into: $0) }) { total += chunk.count }
            }
            guard total == streamData.count else { throw FixtureError("tar read \(total) of \(streamData.count) bytes") }
        }
    }, setup: {
        streamData = try Fixtures.usrBytes(profile.streamBytes)
        let writer = TarWriter(writingTo: BufferSink())
        try streamData.withUnsafeBytes { try writer.appendFile(named: "usr.bin", contents: $0) }
        tarData = try writer.finish().bytes
    }, teardown: teardown)

    // MARK: zstd alone (in memory, level 3; one thread like `zstd -b3`, and every core).

    for workers in [1, 2] {
        Benchmark("Zstd compress -3, \(workers) thread(s) (\(profile.streamBytes >> 20) MiB of /usr)",
                  configuration: stream, closure: { benchmark in
            measureRate(benchmark, bytes: streamData.count) {
                var source = BufferSource(streamData)
                let options = ZstdCompressionOptions(level: 3, workers: workers)
                blackHole(try Zstd.compress(from: &source, to: CountingSink(), options: options))
            }
        }, setup: {
            streamData = try Fixtures.usrBytes(profile.streamBytes)
        }, teardown: teardown)
    }

    Benchmark("Zstd decompress (\(profile.streamBytes >> 20) MiB of /usr)", configuration: stream, closure: { benchmark in
        measureRate(benchmark, bytes: streamData.count) {
            var sink = CountingSink()
            try Zstd.decompress(from: BufferSource(zstdData), to: &sink)
            guard sink.count == UInt64(streamData.count) else { throw FixtureError("zstd gave \(sink.count) bytes") }
        }
    }, setup: {
        streamData = try Fixtures.usrBytes(profile.streamBytes)
        zstdData = try Zstd.compress(streamData, options: ZstdCompressionOptions(level: 3))
    }, teardown: teardown)

    // MARK: Package and extract through the VMImage API (sparse disk, real data).

    let diskLabel = "\(profile.diskSize >> 20) MiB disk, \(profile.diskDataBytes >> 20) MiB data"
    Benchmark("Package image (\(diskLabel))", configuration: stream, closure: { benchmark in
        let folder = scratch!
        measureRate(benchmark, bytes: profile.diskDataBytes) {
            blackHole(try ImageArchive.package(folder: FilePath(folder.file("image")),
                                               to: FilePath(folder.file("image.tar.zst"))))
        }
    }, setup: {
        let folder = try Scratch("package")
        scratch = folder
        try Fixtures.makeImageFolder(at: folder.file("image"), profile: profile)
    }, teardown: teardown)

    Benchmark("Extract image (\(diskLabel))", configuration: stream, closure: { benchmark in
        let folder = scratch!
        let out = folder.file("extracted")
        try? FileManager.default.removeItem(atPath: out)
        benchmark.startMeasurement()
        measureRate(benchmark, bytes: profile.diskDataBytes) {
            blackHole(try ImageArchive.extract(archive: FilePath(folder.file("image.tar.zst")), into: FilePath(out)))
        }
        benchmark.stopMeasurement()
    }, setup: {
        let folder = try Scratch("extract")
        scratch = folder
        try Fixtures.makeImageFolder(at: folder.file("image"), profile: profile)
        try ImageArchive.package(folder: FilePath(folder.file("image")), to: FilePath(folder.file("image.tar.zst")))
    }, teardown: teardown)
}
