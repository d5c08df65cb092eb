import Foundation
import SystemPackage
import TestSupport
import Testing
@testable import VMImage

/// A `qcowtool cache crash-child` process: an image manager in another process, brought into
/// a state and then killed with `SIGKILL` (no cleanup code of it runs).
final class CrashChild {
    static let repository: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    let process = Process()
    private let output = Pipe()
    private let errors = Pipe()

    /// Starts the child on `folder` with `archive` in `phase` and waits (up to two minutes)
    /// until it prints `ready`.
    init(folder: String, archive: String, phase: String) throws {
        process.executableURL = URL(fileURLWithPath: BuiltExecutable.path("qcowtool", repository: Self.repository))
        process.arguments = ["cache", "crash-child", folder, archive, "--phase", phase]
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let watchdog = DispatchWorkItem { [process] in if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
        DispatchQueue.global().asyncAfter(deadline: .now() + 120, execute: watchdog)
        defer { watchdog.cancel() }
        var seen = Data()
        while !String(decoding: seen, as: UTF8.self).contains("ready\n") {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty {
                process.waitUntilExit()
                let stderr = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                throw ChildFailed(description: "crash-child \(phase) ended (status \(process.terminationStatus)) before ready: \(stderr)")
            }
            seen += chunk
        }
    }

    struct ChildFailed: Error, CustomStringConvertible { var description: String }

    /// Kills the child with `SIGKILL` and reaps it.
    func killHard() {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}

@Suite("image cache after a crash (real SIGKILL of another process)", .serialized)
struct CrashRecoveryTests {
    /// Waits (up to a minute) until `condition` holds: the child's extraction runs on its own thread.
    func eventually(_ condition: () -> Bool) async throws -> Bool {
        for _ in 0..<600 {
            if condition() { return true }
            try await Task.sleep(for: .milliseconds(100))
        }
        return condition()
    }

    @Test("a new manager adopts complete images and removes every byte of the dead one's partial work",
          arguments: ["instances", "download", "extract"])
    func recovery(phase: String) async throws {
        let scratch = try TemporaryFolder("crash-\(phase)")
        defer { scratch.remove() }
        let images = scratch.file("images")
        let archiveBytes = try bulkyArchive(scratch)
        let archive = scratch.file("image.tar.zst")
        try Data(archiveBytes).write(to: URL(fileURLWithPath: archive))
        // What the image needs on disk: its three files, as extraction writes them.
        let reference = FilePath(scratch.file("reference"))
        try ImageArchive.extract(archive: FilePath(archive), into: reference)
        let needed = allocatedBytes(reference.string)

        let child = try CrashChild(folder: images, archive: archive, phase: phase)
        // The dead process's partial work really is there before the kill.
        let before = folderTree(images)
        switch phase {
        case "instances":
            #expect(before.keys.filter { $0.hasSuffix(".qcow2") && $0.contains("/instance-") }.count == 2, "\(before.keys.sorted())")
        case "download":
            let downloads = before.filter { $0.key.hasPrefix(".download-") && $0.key.hasSuffix(".tar.zst") }
            #expect(downloads.count == 1 && downloads.values.allSatisfy { $0.allocated > 0 }, "\(before.keys.sorted())")
        default:
            let partial = try await eventually {
                imageFolders(images).contains { folder in
                    let names = (try? FileManager.default.contentsOfDirectory(atPath: "\(images)/\(folder)")) ?? []
                    return !names.contains(ImageManifest.fileName) && names.contains(ImageArchive.diskName)
                }
            }
            #expect(partial, "no partial extraction seen: \(folderTree(images).keys.sorted())")
        }
        #expect(imageFolders(images).count == (phase == "instances" ? 1 : phase == "download" ? 1 : 2))

        // While it lives, the folder is its: another process (this one) is refused at once.
        #expect(throws: VMImageError.imageFolderInUse(path: images)) {
            _ = try ImageManager(imageFolder: FilePath(images), gc: shortCollector(scratch.path))
        }
        child.killHard()
        #expect(child.process.terminationReason == .uncaughtSignal && child.process.terminationStatus == SIGKILL)

        let source = CountingDownloader(archive: archiveBytes, delay: .zero)
        let manager = try ImageManager(imageFolder: FilePath(images), gc: shortCollector(scratch.path))
        #expect(await manager.adoptedImageIDs == ["complete"])
        let after = folderTree(images)
        let kept = imageFolders(images)
        #expect(kept.count == 1)
        let expected = Set([FolderLock.fileName] + kept + kept.flatMap { folder in
            ["disk.img", "layer.qcow2", "machine.json", "manifest.json"].map { "\(folder)/\($0)" }
        })
        #expect(Set(after.keys) == expected, "left behind: \(Set(after.keys).subtracting(expected).sorted())")
        let manifestBytes = after["\(kept[0])/\(ImageManifest.fileName)"]?.allocated ?? 0
        #expect(allocatedBytes(images) == needed + manifestBytes, "disk usage must return to what the adopted image needs")

        let instance = try await manager.instance(imageID: "complete", download: source.downloader)
        #expect(source.count == 0, "the adopted image must not be downloaded again")
        #expect(try instance.diskFile.removingLastComponent().string == "\(images)/\(kept[0])")
        try await instance.release()
        // The image the dead process was loading loads normally now.
        try await manager.instance(imageID: "partial", download: source.downloader).release()
        #expect(source.count == 1)
    }
}
