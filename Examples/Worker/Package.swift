// swift-tools-version:6.0
// A tiny CI worker built on swift-vmimage, as a user's own package would be: it depends on the
// library products only (here by path; a user names the repository's URL instead).
import PackageDescription

let package = Package(
    name: "Worker",
    platforms: [.macOS(.v13)],
    dependencies: [
        .package(name: "swift-vmimage", path: "../.."),
    ],
    targets: [
        .executableTarget(
            name: "Worker",
            dependencies: [
                .product(name: "VMImage", package: "swift-vmimage"),
                .product(name: "VMImageDownload", package: "swift-vmimage"),
            ]
        ),
    ]
)
