// swift-tools-version:6.0
// libFuzzer targets over the parsers that read untrusted bytes. A separate package so the
// main build never needs the fuzzer runtime. Build and run (see CONTRIBUTING.md):
//   swift build -c debug -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library
//   .build/debug/FuzzQCOW2 -max_total_time=600 ../TestImages/qcow2
import PackageDescription

let fuzzFlags: [SwiftSetting] = []

let package = Package(
    name: "swift-vmimage-fuzz",
    dependencies: [.package(name: "swift-vmimage", path: "..")],
    targets: [
        .target(name: "FuzzSupport", path: "Sources/FuzzSupport"),
        .executableTarget(
            name: "FuzzZstd",
            dependencies: ["FuzzSupport", .product(name: "Zstd", package: "swift-vmimage")]),
    ]
)
