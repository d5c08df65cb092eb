// swift-tools-version:6.0
// libFuzzer targets over the parsers that read untrusted bytes. A separate package so the
// main build never needs the fuzzer runtime. Build and run (see CONTRIBUTING.md):
//   swift build -c debug -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library
//   .build/debug/FuzzQCOW2 -max_total_time=600 ../TestImages/qcow2
import PackageDescription


let package = Package(
    name: "swift-vmimage-fuzz",
    dependencies: [
        .package(name: "swift-vmimage", path: ".."),
        .package(url: "https://github.com/apple/swift-system", from: "1.4.0"),
    ],
    targets: [
        .target(name: "FuzzSupport", path: "Sources/FuzzSupport"),
        .executableTarget(
            name: "FuzzZstd",
            dependencies: ["FuzzSupport", .product(name: "Zstd", package: "swift-vmimage")]),
        .executableTarget(
            name: "FuzzQCOW2",
            dependencies: [
                "FuzzSupport", .product(name: "QCOW2", package: "swift-vmimage"),
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
