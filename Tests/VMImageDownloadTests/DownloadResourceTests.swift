import Foundation
import Testing
import VMImage
@testable import VMImageDownload

#if canImport(Glibc)
import Glibc
#endif

/// The process's peak resident set size (`VmHWM`) in bytes, or `nil` when unknown.
func peakResidentBytes() -> Int? {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
    for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
        return line.split(separator: " ").dropFirst().first.flatMap { Int($0) }.map { $0 * 1024 }
    }
    return nil
}

/// Resets the peak resident set size to the current one (Linux `clear_refs` 5).
func resetPeakResidentBytes() {
    try? "5".write(toFile: "/proc/self/clear_refs", atomically: false, encoding: .utf8)
}

@Suite("downloadImage cancellation and memory")
struct DownloadResourceTests {
    @Test func cancellingStopsAtOnceAndLeavesNoFile() async throws {
        // The server sends 1 MiB of 2 and then waits for the client to go away, so the download
        // is surely in the middle of the body when it is cancelled, however slow the machine.
        let server = try await TestHTTPServer { _, _ in .serve(randomBytes(2 << 20), interruption: .stall(after: 1 << 20)) }
        let folder = try ScratchFolder()
        defer { folder.cleanup() }
        let client = ClientBytes()
        let downloader = downloadImage(from: try #require(URL(string: server.url())), monitor: client.monitor, options: fastOptions())
        let task = Task { try await downloader(folder.imageFile) }
        #expect(await client.wait(for: 1 << 20), "the client reports the first MiB")
        let clock = ContinuousClock()
        let cancelled = clock.now
        task.cancel()
        let result = await task.result
        #expect(clock.now - cancelled < fastOptions().readTimeout, "cancelling does not wait for the read timeout")
        #expect(throws: CancellationError.self) { try result.get() }
        #expect(folder.contents() == nil)
        #expect(server.requests.count == 1, "a cancelled download is not retried")
        await server.stop()
    }

    /// Streams `VMIMAGE_BIG_DOWNLOAD_MIB` MiB (off by default: it writes that much to /tmp) and
    /// checks that memory stays bounded.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["VMIMAGE_BIG_DOWNLOAD_MIB"] != nil))
    func aBigDownloadStaysInBoundedMemory() async throws {
        let mebibytes = Int(ProcessInfo.processInfo.environment["VMIMAGE_BIG_DOWNLOAD_MIB"] ?? "") ?? 1024
        let size = mebibytes << 20
        let server = try await TestHTTPServer { _, _ in .pattern(size: size) }
        let folder = try ScratchFolder()
        defer { folder.cleanup() }
        resetPeakResidentBytes()
        let before = try #require(peakResidentBytes())
        let clock = ContinuousClock()
        let start = clock.now
        try await downloadImage(from: try #require(URL(string: server.url())), options: fastOptions())(folder.imageFile)
        let elapsed = clock.now - start
        let after = try #require(peakResidentBytes())
        let attributes = try FileManager.default.attributesOfItem(atPath: folder.imageFile.string)
        #expect((attributes[.size] as? Int) == size)
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        print("big download: \(mebibytes) MiB in \(elapsed), \(Int(Double(mebibytes) / seconds)) MiB/s, peak RSS \(before >> 20) -> \(after >> 20) MiB")
        #expect(after - before < 64 << 20)
        await server.stop()
    }
}
