import Foundation
import Testing
import TestSupport

/// Runs the built `qcowtool` binary the way a user would: as a subprocess, on real files.
enum Tool {
    /// The repository root, found from this file's path.
    static let repository: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    /// `TestImages/<area>` in the repository.
    static func fixtures(_ area: String) -> String { "\(repository)/TestImages/\(area)" }

    /// The `qcowtool` executable SwiftPM built beside the test bundle.
    static let binary = BuiltExecutable.path("qcowtool", repository: repository)

    /// Runs `qcowtool arguments…` (in `directory`, when given).
    @discardableResult
    static func run(_ arguments: [String], in directory: String? = nil, stdoutFile: String? = nil) throws -> Oracle.Output {
        try Oracle.run(binary, arguments, stdoutFile: stdoutFile, currentDirectory: directory)
    }

    /// The lines of standard error, without empty ones.
    static func errorLines(_ output: Oracle.Output) -> [Substring] {
        output.stderr.split(separator: "\n", omittingEmptySubsequences: true)
    }

    /// Whether qemu-img is installed (the differential tests skip without it).
    static let hasQemu = Oracle.has("qemu-img")
    /// Whether the zstd CLI is installed (needed to unpack the stored qcow2-data images).
    static let hasZstd = Oracle.has("zstd")

    /// The SHA-256 of a file, by coreutils' `sha256sum`.
    static func sha256(_ path: String) throws -> String {
        let output = try Oracle.run("sha256sum", [path])
        return String(output.text.prefix { $0 != " " })
    }

    /// Makes `path` a file of `size` bytes (a hole).
    static func makeSparseFile(_ path: String, size: Int64) -> Bool {
        FileManager.default.createFile(atPath: path, contents: nil) && truncate(path, off_t(size)) == 0
    }

    /// `(st_size, st_blocks * 512)` of a file.
    static func sizes(_ path: String) -> (size: Int64, allocated: Int64) {
        var info = stat()
        guard stat(path, &info) == 0 else { return (-1, -1) }
        return (Int64(info.st_size), Int64(info.st_blocks) * 512)
    }

    /// Whether anything exists at `path` (a dangling symlink counts).
    static func exists(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0
    }
}

/// Failures that stop a test early with a message.
struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// JSON parsed with Foundation and compared field by field.
enum JSON {
    /// Parses `data` (a JSON object or array) with `JSONSerialization`.
    static func parse(_ data: Data, _ what: String) throws -> Any {
        do {
            return try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
        } catch {
            throw TestFailure("\(what): not JSON (\(error)): \(String(decoding: data.prefix(300), as: UTF8.self))")
        }
    }

    /// Every difference between `expected` and `actual`, as `path: expected vs actual`, skipping
    /// object members named in `ignoring` at any depth.
    static func differences(_ expected: Any, _ actual: Any, ignoring: Set<String> = [], path: String = "$") -> [String] {
        switch (expected, actual) {
        case let (e as [String: Any], a as [String: Any]):
            var out: [String] = []
            for key in Set(e.keys).union(a.keys).sorted() where !ignoring.contains(key) {
                switch (e[key], a[key]) {
                case let (ev?, av?): out += differences(ev, av, ignoring: ignoring, path: "\(path).\(key)")
                case let (ev?, nil): out.append("\(path).\(key): expected \(ev), missing")
                case let (nil, av?): out.append("\(path).\(key): unexpected \(av)")
                default: break
                }
            }
            return out
        case let (e as [Any], a as [Any]):
            guard e.count == a.count else { return ["\(path): \(e.count) elements expected, \(a.count) found"] }
            return zip(e, a).enumerated().flatMap { index, pair in
                differences(pair.0, pair.1, ignoring: ignoring, path: "\(path)[\(index)]")
            }
        case let (e as String, a as String):
            return e == a ? [] : ["\(path): expected \"\(e)\", found \"\(a)\""]
        case let (e as Bool, a as Bool):
            return e == a ? [] : ["\(path): expected \(e), found \(a)"]
        case let (e as Int, a as Int):
            return e == a ? [] : ["\(path): expected \(e), found \(a)"]
        case let (e as Double, a as Double):
            return e == a ? [] : ["\(path): expected \(e), found \(a)"]
        case let (e as NSNumber, a as NSNumber):
            return e == a ? [] : ["\(path): expected \(e), found \(a)"]
        case (is NSNull, is NSNull):
            return []
        default:
            return ["\(path): expected \(expected) (\(type(of: expected))), found \(actual) (\(type(of: actual)))"]
        }
    }
}

/// The images of `TestImages/qcow2-data/images`, unpacked dense as git checks them out (the stored
/// `map.json` verdicts were made on dense files; qemu-img map reports host holes as zeros).
final class DataImages: Sendable {
    /// The folder holding the unpacked images.
    let folder: TemporaryFolder
    /// The qcow2 image names (each has stored `.check.json`, `.check.rc`, `.map.json`, `.raw.sha256`).
    let names: [String]

    /// Unpacks once per test process; `nil` without the zstd CLI.
    static let shared: DataImages? = try? DataImages()

    private init() throws {
        guard Tool.hasZstd else { throw TestFailure("zstd missing") }
        let source = Tool.fixtures("qcow2-data/images")
        folder = try TemporaryFolder("qcowtool-data")
        let packed = try FileManager.default.contentsOfDirectory(atPath: source).filter { $0.hasSuffix(".zst") }.sorted()
        for name in packed {
            let out = folder.file(String(name.dropLast(4)))
            let result = try Oracle.run("zstd", ["-q", "-d", "--no-sparse", "-f", "\(source)/\(name)", "-o", out])
            guard result.status == 0 else { throw TestFailure("zstd -d \(name): \(result.stderr)") }
        }
        names = packed.map { String($0.dropLast(4)) }.filter { $0.hasSuffix(".qcow2") }
    }

    /// The stored qemu-img verdict `NAME.SUFFIX` beside the packed image.
    func stored(_ name: String, _ suffix: String) throws -> Data {
        try Data(contentsOf: URL(fileURLWithPath: "\(Tool.fixtures("qcow2-data/images"))/\(name).\(suffix)"))
    }
}

/// The images of `TestImages/qcow2`: those qemu-img opens (a stored `.info.json`) and those it refuses (`.info.err`).
enum HeaderImages {
    static let folder = Tool.fixtures("qcow2")

    private static func names(withSuffix suffix: String) -> [String] {
        let all = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        return all.filter { $0.hasSuffix(suffix) }.map { String($0.dropLast(suffix.count)) }.sorted()
    }

    /// Every fixture qemu-img info opens (qcow2 and raw).
    static let opened = names(withSuffix: ".info.json")
    /// The qcow2 fixtures qemu-img info opens.
    static let openedQcow2 = opened.filter { $0.hasSuffix(".qcow2") }
    /// The fixtures qemu-img refuses.
    static let refused = names(withSuffix: ".info.err")

    /// The format to force: raw for `raw*.img` and `disk.img`, else qcow2 (as the README says).
    static func format(_ name: String) -> String { name.hasSuffix(".img") ? "raw" : "qcow2" }
}
