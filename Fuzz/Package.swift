// swift-tools-version:6.0
// libFuzzer targets over the parsers that read untrusted bytes. A separate package so the
// main build never needs the fuzzer runtime. Build and run (see CONTRIBUTING.md):
//   swift build -c release -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library
//   .build/release/FuzzQCOW2 -max_total_time=600 ../TestImages/qcow2
// or simply `Fuzz/run.sh TARGET SECONDS SEED_FOLDER...`; `Fuzz/run.sh all SECONDS` runs each
// target with its seeds.
import PackageDescription


let package = Package(
    name: "swift-vmimage-fuzz",
    dependencies: [
        .package(name: "swift-vmimage", path: ".."),
        .package(url: "https://github.com/apple/swift-system", from: "1.4.0"),
    ],
    targets: [
        // The libFuzzer driver, an in-memory file (memfd) for inputs, a tmpfs scratch folder, work caps.
        .target(
            name: "FuzzSupport",
            dependencies: [
                .product(name: "ByteStreams", package: "swift-vmimage"),
                .product(name: "QCOW2", package: "swift-vmimage"),
            ],
            path: "Sources/FuzzSupport"),
        .executableTarget(
            name: "FuzzZstd",
            dependencies: [
                "FuzzSupport", .product(name: "Zstd", package: "swift-vmimage"),
                .product(name: "ByteStreams", package: "swift-vmimage"),
            ]),
        .executableTarget(
            name: "FuzzQCOW2",
            dependencies: [
                "FuzzSupport", .product(name: "QCOW2", package: "swift-vmimage"),
                .product(name: "SystemPackage", package: "swift-system"),
            ]),
        // The image reader on bytes: audit, check, map, convert, every cluster read.
        .executableTarget(
            name: "FuzzImage",
            dependencies: [
                "FuzzSupport", .product(name: "QCOW2", package: "swift-vmimage"),
                .product(name: "SystemPackage", package: "swift-system"),
            ]),
        // Image archive extraction and verification: zstd -> tar -> the archive's rules -> files.
        .executableTarget(
            name: "FuzzArchive",
            dependencies: [
                "FuzzSupport", .product(name: "VMImage", package: "swift-vmimage"),
                .product(name: "Zstd", package: "swift-vmimage"),
                .product(name: "ByteStreams", package: "swift-vmimage"),
                .product(name: "SystemPackage", package: "swift-system"),
            ]),
        .executableTarget(
            name: "FuzzTar",
            dependencies: [
                "FuzzSupport", .product(name: "Tar", package: "swift-vmimage"),
                .product(name: "ByteStreams", package: "swift-vmimage"),
            ]),
    ]
)
