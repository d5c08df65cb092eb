import Foundation
import TestSupport

/// Locates committed fixtures and optional oracle tools for the QCOW2 tests.
enum Fixtures {
    /// `TestImages/qcow2-data`, found from this file's path.
    static let folder: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("TestImages/qcow2-data")

    static func bytes(_ relativePath: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: folder.appendingPathComponent(relativePath)))
    }

    static func path(_ relativePath: String) -> String {
        folder.appendingPathComponent(relativePath).path
    }

    static let hasPython = Oracle.has("python3")
    static let hasQemu = Oracle.has("qemu-img") && Oracle.has("qemu-io")

    /// Runs `tool` with `arguments`, feeding `input` on stdin; returns stdout and the exit status.
    @discardableResult
    static func run(_ tool: String, _ arguments: [String], input: [UInt8] = []) throws -> (output: [UInt8], status: Int32) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Oracle.path(of: tool) ?? tool)
        process.arguments = arguments
        let stdin = Pipe(), stdout = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = FileHandle.nullDevice
        try process.run()
        let writer = Thread {
            stdin.fileHandleForWriting.write(Data(input))
            try? stdin.fileHandleForWriting.close()
        }
        writer.start()
        let output = stdout.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return ([UInt8](output), process.terminationStatus)
    }
}

import Zstd
import SystemPackage
@testable import QCOW2

/// The qemu-made images of `TestImages/qcow2-data/images`, decompressed once into a
/// temporary folder (dense, as git checks files out).
enum QemuImages {
    static let names = [
        "compat010", "c512", "zero", "c2m", "refbits1", "refbits64", "extl2", "zlib", "zstd",
        "snapshots", "bitmap", "chain-mid1", "chain-mid2", "chain-top", "leak", "badref",
    ]

    static let folder: String = {
        let dir = FileManager.default.temporaryDirectory
            .appendingPathComponent("qcow2-fixtures-\(getpid())").path
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let source = Fixtures.folder.appendingPathComponent("images").path
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: source)) ?? [] where entry.hasSuffix(".zst") {
            let packed = (try? Data(contentsOf: URL(fileURLWithPath: "\(source)/\(entry)"))) ?? Data()
            let plain = (try? Zstd.decompress([UInt8](packed), limit: 64 << 20)) ?? []
            _ = FileManager.default.createFile(atPath: "\(dir)/\(entry.dropLast(4))", contents: Data(plain))
        }
        return dir
    }()

    static func path(_ name: String) -> String { "\(folder)/\(name).qcow2" }

    static func oracle(_ name: String, _ suffix: String) throws -> String {
        try String(contentsOfFile: Fixtures.folder.appendingPathComponent("images/\(name).qcow2.\(suffix)").path, encoding: .utf8)
    }

    /// Opens `path` read-only for the duration of `body`.
    static func withFile<T>(_ path: String, _ body: (ImageFile) throws -> T) throws -> T {
        let fd = try FileDescriptor.open(FilePath(path), .readOnly)
        defer { try? fd.close() }
        return try body(try ImageFile(descriptor: fd, path: path))
    }
}
