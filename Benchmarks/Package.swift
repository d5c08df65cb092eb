// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "swift-vmimage-benchmarks",
    platforms: [.macOS(.v13)],
    dependencies: [
        .package(name: "swift-vmimage", path: ".."),
        .package(url: "https://github.com/apple/swift-system", from: "1.4.0"),
        .package(url: "https://github.com/ordo-one/package-benchmark", from: "1.38.0", traits: []),
    ],
    targets: [
        .executableTarget(
            name: "ImageBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "package-benchmark"),
                .product(name: "QCOW2", package: "swift-vmimage"),
                .product(name: "VMImage", package: "swift-vmimage"),
                .product(name: "Tar", package: "swift-vmimage"),
                .product(name: "Zstd", package: "swift-vmimage"),
                .product(name: "ByteStreams", package: "swift-vmimage"),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            path: "Benchmarks/ImageBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "package-benchmark")]
        ),
    ]
)
