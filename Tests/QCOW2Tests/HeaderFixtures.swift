import Foundation
@testable import QCOW2
import SystemPackage

/// Locates the header/info/audit fixtures in `TestImages/qcow2` (see its README.md).
enum HeaderFixtures {
    /// `TestImages/qcow2`, found from this file's path.
    static let folder: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.appendingPathComponent("TestImages/qcow2").path
    }()

    /// The absolute path of fixture `name`.
    static func path(_ name: String) -> String { "\(folder)/\(name)" }

    /// Every fixture name with the given suffix, sorted.
    static func names(endingWith suffix: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [])
            .filter { $0.hasSuffix(suffix) }.sorted()
    }

    /// The fixture's bytes.
    static func bytes(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: path(name))))
    }

    /// Parses a fixture's header through the file-descriptor entry point.
    static func header(_ name: String) throws -> QCOW2Header {
        try QCOW2Image.header(atPath: path(name))
    }

    /// The text qemu-img printed when it refused the fixture, without the
    /// "qemu-img: Could not open 'NAME': " prefix; `nil` when qemu opened it.
    static func qemuError(_ name: String) -> String? {
        guard let text = try? String(contentsOfFile: path(name + ".info.err"), encoding: .utf8) else { return nil }
        let line = text.split(separator: "\n").first.map(String.init) ?? ""
        let prefix = "qemu-img: Could not open '\(name)': "
        return line.hasPrefix(prefix) ? String(line.dropFirst(prefix.count)) : line
    }
}
