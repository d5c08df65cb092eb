import Foundation
import Testing
import TestSupport

/// SIGINT and SIGTERM in the middle of each command that writes files: the command removes its
/// partial output (the folder `extract` was filling, `verify`'s scratch folder in `$TMPDIR`,
/// the temporary files of `package`, `convert` and `create`) and exits 130 or 143.
///
/// Each case starts the built qcowtool on real input, waits until its temporary output exists,
/// sends the signal while the command is still working, and then lists the output folder and
/// a private `$TMPDIR` given to the child. `extract` and `verify` read the archive from a FIFO
/// that the test feeds only half of, so they are certainly mid-way; `package` (zstd level 19,
/// one thread), `convert` and `create` get inputs that take seconds.
@Suite(.serialized) struct InterruptionTests {
    enum Command: String, CaseIterable, Sendable {
        case extract, verify, package, convert, create
    }

    static let signals: [Int32] = [SIGINT, SIGTERM]

    @Test("an interrupted command removes its partial output and exits 128 + the signal",
          arguments: Command.allCases, InterruptionTests.signals)
    func interrupted(_ command: Command, _ signal: Int32) throws {
        let inputs = try Inputs.shared.get()
        let folder = try TemporaryFolder("qcowtool-interrupt")
        defer { folder.remove() }
        let output = folder.file("out")
        let scratch = folder.file("tmp")
        for path in [output, scratch] {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        }

        var arguments: [String]
        var fifo: String?
        /// Whether the command has begun writing its output.
        let started: () -> Bool
        switch command {
        case .extract, .verify:
            let path = folder.file("archive.fifo")
            guard mkfifo(path, 0o600) == 0 else { throw TestFailure("mkfifo: errno \(errno)") }
            fifo = path
            if command == .extract {
                arguments = ["extract", path, "\(output)/image", "-q"]
                started = { Tool.exists("\(output)/image/disk.img") }
            } else {
                arguments = ["verify", path, "-q"]
                started = { !Self.names(in: scratch).isEmpty }
            }
        case .package:
            arguments = ["package", inputs.image, "\(output)/image.tar.zst", "-q", "--level", "19", "--threads", "1"]
            started = { Self.names(in: output).contains { $0.hasPrefix(".image.tar.zst.partial-") } }
        case .convert:
            arguments = ["convert", "-f", "raw", "-O", "raw", inputs.convertSource, "\(output)/disk.raw"]
            started = { Self.names(in: output).contains { $0.hasPrefix(".disk.raw.partial-") } }
        case .create:
            arguments = ["create", "-q", "-f", "qcow2", "-o", "preallocation=metadata", "\(output)/big.qcow2", Inputs.createSize]
            started = { Self.names(in: output).contains { $0.hasPrefix(".big.qcow2.create-") } }
        }

        let child = try Child(arguments: arguments, temporaryDirectory: scratch, stderrFile: folder.file("stderr"))
        var feeder: FIFOFeeder?
        if let fifo {
            feeder = try FIFOFeeder(path: fifo, bytes: inputs.archiveHalf, child: child)
        }
        defer { feeder?.close() }
        let ready = try child.waitUntil {
            if let feeder, !feeder.feed() { return false }
            return started()
        }
        #expect(ready, "\(command.rawValue) never started writing (exit \(child.process.isRunning ? "-" : "\(child.process.terminationStatus)")): \(child.stderr())")
        guard ready else {
            child.process.terminate()
            child.process.waitUntilExit()
            return
        }
        #expect(child.process.isRunning, "\(command.rawValue) ended before the signal: the input is too small")
        kill(child.process.processIdentifier, signal)
        child.process.waitUntilExit()
        feeder?.close()

        let stderr = child.stderr()
        #expect(child.process.terminationReason == .exit, "\(command.rawValue): ended by a signal, not by exit: \(stderr)")
        #expect(child.process.terminationStatus == 128 + signal, "\(command.rawValue): exit \(child.process.terminationStatus): \(stderr)")
        let lines = stderr.split(separator: "\n", omittingEmptySubsequences: true)
        let name = signal == SIGINT ? "SIGINT" : "SIGTERM"
        #expect(lines.count == 1 && lines.first?.contains("\(command.rawValue): interrupted by \(name)") == true, "\(stderr)")
        #expect(Self.names(in: output) == [], "\(command.rawValue): left \(Self.names(in: output)) in the output folder")
        #expect(Self.names(in: scratch) == [], "\(command.rawValue): left \(Self.names(in: scratch)) in $TMPDIR")
        if command == .package {
            // The input folder holds its own files and the fresh layer only: no temporary layer.
            #expect(Self.names(in: inputs.image) == ["disk.img", "layer.qcow2", "machine.json"], "\(Self.names(in: inputs.image))")
        }
    }

    @Test("a signal the shell set to ignore stays ignored (nohup, background jobs)")
    func ignoredSignalStaysIgnored() throws {
        let inputs = try Inputs.shared.get()
        let folder = try TemporaryFolder("qcowtool-interrupt")
        defer { folder.remove() }
        let output = folder.file("out")
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: false)
        // `trap '' TERM` makes the shell's children start with SIGTERM ignored.
        let child = try Child(
            arguments: ["-c", "trap '' TERM; exec \"$0\" \"$@\"", Tool.binary,
                        "convert", "-f", "raw", "-O", "raw", inputs.convertSource, "\(output)/disk.raw"],
            executable: "/bin/sh", temporaryDirectory: folder.path, stderrFile: folder.file("stderr"))
        let ready = try child.waitUntil { Self.names(in: output).contains { $0.hasPrefix(".disk.raw.partial-") } }
        #expect(ready, "convert never started: \(child.stderr())")
        kill(child.process.processIdentifier, SIGTERM)
        child.process.waitUntilExit()
        #expect(child.process.terminationReason == .exit && child.process.terminationStatus == 0,
                "an ignored SIGTERM ended convert: \(child.process.terminationStatus) \(child.stderr())")
        #expect(Self.names(in: output) == ["disk.raw"])
    }

    /// The names in `folder`, sorted (none when it cannot be read).
    static func names(in folder: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).sorted()
    }
}

/// The inputs, made once per test process: an image folder whose disk holds random data, its
/// archive (first half kept, for the FIFO), and the create size.
private final class Inputs: Sendable {
    /// `img/` (disk.img of 1 GiB with `dataSize` random bytes at 256 MiB, and a machine.json).
    let image: String
    /// The raw file `convert` reads (the image's disk).
    let convertSource: String
    /// The first half of `image`'s archive.
    let archiveHalf: Data
    private let folder: TemporaryFolder

    /// Random bytes in the disk: enough for a debug-build `convert` and a level-19 `package` to
    /// take seconds, and for half the archive to end inside disk.img.
    static let dataSize = 96 << 20
    /// A size whose `preallocation=metadata` image takes seconds to write (L2 tables and
    /// refcount blocks for 2^19 clusters).
    static let createSize = "32G"

    static let shared = Result<Inputs, TestFailure> { () throws(TestFailure) in
        do {
            return try Inputs()
        } catch {
            throw TestFailure("making the inputs: \(error)")
        }
    }

    private init() throws {
        folder = try TemporaryFolder("qcowtool-interrupt-inputs")
        let made = try Tool.run(["new-disk", "img", "--size", "1"], in: folder.path)
        guard made.status == 0 else { throw TestFailure("new-disk: \(made.stderr)") }
        image = folder.file("img")
        convertSource = "\(image)/disk.img"
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: convertSource))
        try handle.seek(toOffset: 256 << 20)
        var random = SplitMix64(seed: 12)
        let chunk = 8 << 20
        for _ in 0..<(Self.dataSize / chunk) {
            var words = [UInt64](repeating: 0, count: chunk / 8)
            for index in words.indices { words[index] = random.next() }
            try handle.write(contentsOf: words.withUnsafeBytes { Data($0) })
        }
        try handle.close()
        let packed = try Tool.run(["package", image, folder.file("image.tar.zst"), "-q", "--level", "1"])
        guard packed.status == 0 else { throw TestFailure("package: \(packed.stderr)") }
        let archive = try Data(contentsOf: URL(fileURLWithPath: folder.file("image.tar.zst")))
        archiveHalf = archive.prefix(archive.count / 2)
    }
}

/// A qcowtool (or other) child process with its own `$TMPDIR` and standard error in a file.
private final class Child {
    let process = Process()
    private let stderrPath: String

    init(arguments: [String], executable: String = Tool.binary, temporaryDirectory: String, stderrFile: String) throws {
        stderrPath = stderrFile
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["TMPDIR"] = temporaryDirectory
        process.environment = environment
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        _ = FileManager.default.createFile(atPath: stderrFile, contents: nil)
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: stderrFile))
        try process.run()
    }

    /// Polls `condition` every millisecond until it holds (true), the child ends or 30 s pass
    /// (false).
    func waitUntil(_ condition: () throws -> Bool) throws -> Bool {
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            if try condition() { return true }
            if !process.isRunning { return false }
            usleep(1000)
        }
        return false
    }

    /// What the child wrote to standard error so far.
    func stderr() -> String {
        (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? ""
    }
}

/// Writes `bytes` into a FIFO the child reads, without blocking, and then keeps it open
/// without writing more, so the child waits mid-archive.
private final class FIFOFeeder {
    private var descriptor: Int32 = -1
    private let bytes: Data
    private var offset = 0

    init(path: String, bytes: Data, child: Child) throws {
        self.bytes = bytes
        // A write end opened before the child opened the read end would fail (ENXIO): retry.
        _ = signal(SIGPIPE, SIG_IGN)
        let opened = try child.waitUntil {
            descriptor = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC)
            return descriptor >= 0
        }
        guard opened else { throw TestFailure("the child never opened the FIFO: \(child.stderr())") }
    }

    /// Writes what the pipe takes now; true once every byte was written.
    func feed() -> Bool {
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { buffer in
                write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
            }
            if n <= 0 { return false }
            offset += n
        }
        return true
    }

    func close() {
        if descriptor >= 0 { Glibc.close(descriptor) }
        descriptor = -1
    }
}
