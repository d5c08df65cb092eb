import Foundation

/// Locating and running the external tools that tests compare against (qemu-img, GNU tar,
/// bsdtar, zstd). They are oracles only: tests that need one skip when it is absent.
public enum Oracle {
    /// The absolute path of `tool` on `PATH`, or `nil`.
    public static func path(of tool: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for dir in path.split(separator: ":") {
            let candidate = "\(dir)/\(tool)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// Whether `tool` is installed.
    public static func has(_ tool: String) -> Bool { path(of: tool) != nil }

    /// The result of running a command.
    public struct Output: Sendable {
        /// Exit status.
        public var status: Int32
        /// Captured standard output.
        public var stdout: Data
        /// Captured standard error, as text.
        public var stderr: String
        /// Standard output as UTF-8 text.
        public var text: String { String(decoding: stdout, as: UTF8.self) }
    }

    /// Runs `executable` with `arguments` (optionally feeding `stdinFile`), capturing output.
    @discardableResult
    public static func run(_ executable: String, _ arguments: [String], stdinFile: String? = nil,
                           stdoutFile: String? = nil, currentDirectory: String? = nil) throws -> Output {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable.hasPrefix("/") ? executable : (path(of: executable) ?? executable))
        process.arguments = arguments
        if let currentDirectory { process.currentDirectoryURL = URL(fileURLWithPath: currentDirectory) }
        if let stdinFile { process.standardInput = try FileHandle(forReadingFrom: URL(fileURLWithPath: stdinFile)) }
        else { process.standardInput = FileHandle.nullDevice }
        let outPipe = Pipe()
        let errPipe = Pipe()
        var outHandle: FileHandle?
        if let stdoutFile {
            _ = FileManager.default.createFile(atPath: stdoutFile, contents: nil)
            outHandle = try FileHandle(forWritingTo: URL(fileURLWithPath: stdoutFile))
            process.standardOutput = outHandle
        } else {
            process.standardOutput = outPipe
        }
        process.standardError = errPipe
        try process.run()
        // Drain both pipes concurrently so a chatty child cannot block on a full pipe.
        let errBox = DataBox()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async {
            errBox.data = errPipe.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        let out = stdoutFile == nil ? outPipe.fileHandleForReading.readDataToEndOfFile() : Data()
        group.wait()
        process.waitUntilExit()
        try outHandle?.close()
        return Output(status: process.terminationStatus, stdout: out,
                      stderr: String(decoding: errBox.data, as: UTF8.self))
    }

    /// Runs a shell command line with `/bin/sh -c`.
    @discardableResult
    public static func shell(_ command: String, currentDirectory: String? = nil) throws -> Output {
        try run("/bin/sh", ["-c", command], currentDirectory: currentDirectory)
    }
}

private final class DataBox: @unchecked Sendable {
    var data = Data()
}

/// A fresh temporary folder, removed by `remove()`.
public struct TemporaryFolder: Sendable {
    /// Its absolute path.
    public let path: String

    /// Creates a new empty folder under the system's temporary directory.
    public init(_ label: String = "test") throws {
        let base = FileManager.default.temporaryDirectory.path
        let path = "\(base)/swift-vmimage-\(label)-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        self.path = path
    }

    /// `path/name`.
    public func file(_ name: String) -> String { "\(path)/\(name)" }

    /// Deletes the folder and everything in it.
    public func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// Deterministic pseudo-random bytes (SplitMix64), so fixtures made in tests are reproducible and a
/// failing random case can be replayed from the seed in its message.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    /// The seed the generator started from.
    public let seed: UInt64
    private var state: UInt64
    /// A generator starting from `seed`.
    public init(seed: UInt64) {
        self.seed = seed
        state = seed
    }
    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// `count` random bytes.
    public mutating func bytes(_ count: Int) -> [UInt8] {
        var result = [UInt8](repeating: 0, count: count)
        var i = 0
        while i < count {
            var word = next()
            for _ in 0..<8 where i < count {
                result[i] = UInt8(truncatingIfNeeded: word)
                word >>= 8
                i += 1
            }
        }
        return result
    }
}

/// Whether two byte arrays are equal. Use it in `#expect(sameBytes(a, b))` for large arrays:
/// a failed `#expect(a == b)` makes Swift Testing compute a diff of the two collections, which
/// takes minutes for megabytes and looks like a hang.
public func sameBytes(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    a == b
}
