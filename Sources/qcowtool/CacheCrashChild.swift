import ArgumentParser
import ByteStreams
import Dispatch
import SystemPackage
import VMImage

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `qcowtool cache crash-child` (hidden): the process the crash tests kill with `SIGKILL`.
///
/// It opens an ``ImageManager`` on FOLDER, loads the archive as the image `complete`, then
/// gets into the state `--phase` names, prints `ready` on standard output and waits to be
/// killed: `instances` holds two instances of `complete`; `download` is half-way through
/// writing the archive of the image `partial` into the manager's temporary download file;
/// `extract` has streamed half of that archive into an extraction. Not for users: it never
/// exits by itself.
struct CacheCrashChild: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "crash-child", abstract: "Test helper: get into a state, print 'ready', wait to be killed.",
        shouldDisplay: false)

    @Argument var folder: String
    @Argument var archive: String
    @Option var phase: String

    func validate() throws {
        guard ["instances", "download", "extract"].contains(phase) else {
            throw ValidationError("--phase must be instances, download or extract")
        }
    }

    func run() throws {
        let bytes = try readWholeFile(archive)
        let folder = FilePath(folder)
        let phase = phase
        Task {
            do {
                try await Self.work(folder: folder, archive: bytes, phase: phase)
            } catch {
                printError("cache crash-child: \(error)")
                Glibc.exit(1)
            }
        }
        while true { pause() }
    }

    private static func work(folder: FilePath, archive: [UInt8], phase: String) async throws {
        let gc = GarbageCollector(storageFolder: folder, minimumDiskSpace: 0, minimumMemory: 0)
        let manager = try ImageManager(imageFolder: folder, gc: gc)
        let copy: Downloader = { path in try writeWholeFile(path.string, archive) }
        let first = try await manager.instance(imageID: "complete", download: copy)
        let second = try await manager.instance(imageID: "complete", download: copy)
        if phase != "instances" {
            try await first.release()
            try await second.release()
        }
        let half = Array(archive.prefix(archive.count / 2))
        switch phase {
        case "download":
            Task {
                _ = try await manager.instance(imageID: "partial") { path in
                    try writeWholeFile(path.string, half)
                    announceReady()
                    try await Task.sleep(for: .seconds(86_400))
                }
            }
        case "extract":
            Task {
                _ = try await manager.streamingInstance(imageID: "partial") { deliver in
                    for start in stride(from: 0, to: half.count, by: 64 << 10) {
                        try await deliver(Array(half[start..<min(start + (64 << 10), half.count)]))
                    }
                    announceReady()
                    try await Task.sleep(for: .seconds(86_400))
                }
            }
        default:
            announceReady()
        }
        try await Task.sleep(for: .seconds(86_400))
        withExtendedLifetime((manager, first, second)) {}
    }
}

/// Writes `ready` to standard output, unbuffered (the parent waits for it on a pipe).
private func announceReady() {
    try? Array("ready\n".utf8).withUnsafeBytes { text in
        try SystemCall.writeAll(text, to: .standardOutput, path: nil)
    }
}

/// The whole of the file at `path` (the archive the test made), read through ``SystemCall``.
private func readWholeFile(_ path: String) throws -> [UInt8] {
    let descriptor = try SystemCall.openForReading(path, nonBlocking: false)
    defer { SystemCall.closeIgnoringErrors(descriptor) }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 1 << 20)
    while true {
        let n = try buffer.withUnsafeMutableBytes { chunk in
            try SystemCall.readFully(descriptor, into: chunk, at: UInt64(bytes.count), path: path)
        }
        bytes += buffer[0..<n]
        if n < buffer.count { return bytes }
    }
}

/// Writes `bytes` as the whole file at `path` (the manager's download file), created or
/// emptied, never through a link (``SystemCall/openForRewriting(_:mode:)``).
private func writeWholeFile(_ path: String, _ bytes: [UInt8]) throws {
    let descriptor = try SystemCall.openForRewriting(path, mode: 0o600)
    defer { SystemCall.closeIgnoringErrors(descriptor) }
    try bytes.withUnsafeBytes { chunk in try SystemCall.writeAll(chunk, to: descriptor, at: 0, path: path) }
}
