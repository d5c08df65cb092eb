import Foundation

/// Executables of this package that SwiftPM built beside the test bundle.
public enum BuiltExecutable {
    /// The path of the built executable `name` (`qcowtool`): beside the running test binary,
    /// else `.build/debug/` of the repository.
    public static func path(_ name: String, repository: String) -> String {
        var candidates: [String] = []
        if let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            candidates.append(URL(fileURLWithPath: exe).deletingLastPathComponent().appendingPathComponent(name).path)
        }
        if let first = CommandLine.arguments.first {
            let url = URL(fileURLWithPath: first).standardizedFileURL
            candidates.append(url.deletingLastPathComponent().appendingPathComponent(name).path)
        }
        candidates.append("\(repository)/.build/debug/\(name)")
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) } ?? candidates[candidates.count - 1]
    }
}
