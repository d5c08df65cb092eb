// swift-tools-version: 6.1
import PackageDescription

// The benchmark suite, apart from the root package so that its dependency (package-benchmark)
// never reaches library users. Run: `swift package benchmark` here, or `Benchmarks/ci.sh`.
let package = Package(
    name: "swift-vmimage-benchmarks",
    platforms: [.macOS(.v13)],
    dependencies: [
        // A path dependency is known by its folder's name (main, wt-bench, ...): name it once here.
        .package(name: "swift-vmimage", path: ".."),
        .package(url: "https://github.com/apple/swift-system", from: "1.4.0"),
        // The malloc interposer counts every allocation, so each row reports allocations and
        // peak resident memory next to time (swift-tools-version 6.1 is needed for traits).
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.0", traits: ["MallocInterposer"]),
    ],
    targets: [
        // What the benchmarks share: scratch folders, /usr data, sparse disks, the size profiles.
        .target(
            name: "BenchFixtures",
            dependencies: [
                .product(name: "QCOW2", package: "swift-vmimage"),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            path: "BenchFixtures"
        ),
        .executableTarget(
            name: "ImageBenchmarks",
            dependencies: [
                "BenchFixtures",
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "QCOW2", package: "swift-vmimage"),
                .product(name: "VMImage", package: "swift-vmimage"),
                .product(name: "Tar", package: "swift-vmimage"),
                .product(name: "Zstd", package: "swift-vmimage"),
                .product(name: "ByteStreams", package: "swift-vmimage"),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            path: "Benchmarks/ImageBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        // Measures the Tar module on real files: `swift run -c release TarBenchmark` here.
        .executableTarget(
            name: "TarBenchmark",
            dependencies: [
                .product(name: "Tar", package: "swift-vmimage"),
                .product(name: "Zstd", package: "swift-vmimage"),
                .product(name: "ByteStreams", package: "swift-vmimage"),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            path: "TarBenchmark"
        ),
        // Bytes start arriving → instance ready, streaming vs download-then-extract over HTTP on
        // loopback: `swift run -c release StreamBenchmark` here.
        .executableTarget(
            name: "StreamBenchmark",
            dependencies: [
                "BenchFixtures",
                .product(name: "VMImage", package: "swift-vmimage"),
                .product(name: "VMImageDownload", package: "swift-vmimage"),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            path: "StreamBenchmark"
        ),
        // Download + SHA-256 throughput beside the download alone, over HTTP on loopback:
        // `swift run -c release DownloadBenchmark` here.
        .executableTarget(
            name: "DownloadBenchmark",
            dependencies: [
                "BenchFixtures",
                .product(name: "VMImageDownload", package: "swift-vmimage"),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            path: "DownloadBenchmark"
        ),
    ]
)
