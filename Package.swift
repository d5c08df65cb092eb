// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "swift-vmimage",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "ByteStreams", targets: ["ByteStreams"]),
        .library(name: "Zstd", targets: ["Zstd"]),
        .library(name: "Tar", targets: ["Tar"]),
        .library(name: "QCOW2", targets: ["QCOW2"]),
        .library(name: "VMImage", targets: ["VMImage"]),
        .library(name: "VMImageDownload", targets: ["VMImageDownload"]),
        .executable(name: "qcowtool", targets: ["qcowtool"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-system", from: "1.4.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.0"),
        // SHA-256 of downloads (VMImageDownload only).
        .package(url: "https://github.com/apple/swift-crypto", from: "4.0.0"),
        // Only for `swift package generate-documentation` (the DocC catalog in Sources/VMImage).
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.4.0"),
    ],
    targets: [
        // C: the system's libzstd, and the few Linux calls Glibc does not show to Swift.
        .systemLibrary(
            name: "CZstd",
            pkgConfig: "libzstd",
            providers: [.apt(["libzstd-dev"]), .brew(["zstd"])]
        ),
        .target(name: "CSystemShim"),

        // Byte sources and sinks shared by every streaming stage (files, buffers, sparse extents).
        .target(
            name: "ByteStreams",
            dependencies: [
                "CSystemShim",
                .product(name: "SystemPackage", package: "swift-system"),
            ]
        ),
        .target(name: "Zstd", dependencies: ["CZstd", "ByteStreams"]),
        .target(name: "Tar", dependencies: ["ByteStreams"]),
        .target(name: "QCOW2", dependencies: ["ByteStreams", "Zstd"]),
        .target(
            name: "VMImage",
            dependencies: [
                "QCOW2", "Tar", "Zstd", "ByteStreams",
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // HTTP download of images, apart so `import VMImage` never builds or loads an HTTP stack.
        .target(
            name: "VMImageDownload",
            dependencies: [
                "VMImage", "ByteStreams",
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .executableTarget(
            name: "qcowtool",
            dependencies: [
                "VMImage", "QCOW2", "Tar", "Zstd", "ByteStreams",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            // Release builds link the Swift runtime and FoundationEssentials statically: start-up
            // then skips loading and relocating 11 shared libraries. FoundationEssentials' static
            // archive needs its two helper archives named. libzstd stays the system's shared
            // library here, as library users get it (package and extract run their own frame
            // workers, so neither needs libzstd's threads and both builds use every core).
            // `./dev dist` builds the one-file, fully static qcowtool on top of these flags
            // (`-static-executable`), for sandboxes that have no libzstd (README "Install").
            // Release only: the test bundle links this target too, and it must share the dynamic
            // runtime with swift-testing.
            linkerSettings: [
                .unsafeFlags(
                    ["-static-stdlib", "-l_FoundationCollections", "-l_FoundationCShims"],
                    .when(platforms: [.linux], configuration: .release))
            ]
        ),

        // Helpers shared by the test targets: oracles (qemu-img, tar, zstd), temp folders.
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "ByteStreamsTests", dependencies: ["ByteStreams", "TestSupport"]),
        .testTarget(name: "ZstdTests", dependencies: ["Zstd", "ByteStreams", "TestSupport"]),
        .testTarget(
            name: "TarTests",
            dependencies: [
                "Tar", "ByteStreams", "Zstd", "TestSupport",
                .product(name: "SystemPackage", package: "swift-system"),
            ]
        ),
        .testTarget(
            name: "QcowToolTests",
            dependencies: ["qcowtool", "VMImage", "TestSupport", .product(name: "SystemPackage", package: "swift-system")]
        ),
        .testTarget(name: "QCOW2Tests", dependencies: ["QCOW2", "ByteStreams", "Zstd", "TestSupport"]),
        .testTarget(
            name: "VMImageTests",
            dependencies: [
                "VMImage", "TestSupport", "Tar", "Zstd", "QCOW2", "ByteStreams",
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "VMImageDownloadTests",
            dependencies: [
                "VMImageDownload", "VMImage", "TestSupport",
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
    ]
)
