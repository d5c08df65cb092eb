import Foundation
import Testing
import TestSupport

/// Issue 14: frames are compressed and decoded in parallel, a small fixed number in flight.
/// On a disk holding 160 MiB of incompressible data (so every frame's compressed bytes are as
/// large as its content, the worst case for the buffers), `package`, `extract` and `verify`
/// stay under 64 MiB of peak RSS, measured on the child with `wait4` (FanOutTests' measurer);
/// holding the data would take 160 MiB.
@Suite(.serialized) struct SeekableMemoryTests {
    @Test("package, extract and verify of 160 MiB of incompressible data stay under 64 MiB; GNU tar agrees",
          .enabled(if: Oracle.has("python3") && Oracle.has("head")))
    func boundedMemory() throws {
        let folder = try TemporaryFolder("seekable-memory")
        defer { folder.remove() }
        let made = try Tool.run(["new-disk", "img", "--size", "1"], in: folder.path)
        #expect(made.status == 0, "\(made.stderr)")
        let filled = try Oracle.shell("head -c 160M /dev/urandom | dd of=img/disk.img bs=1M seek=100 conv=notrunc status=none",
                                      currentDirectory: folder.path)
        #expect(filled.status == 0, "\(filled.stderr)")

        let package = try FanOutTests.measure(Tool.binary, ["package", "-q", folder.file("img"), folder.file("a.tar.zst")],
                                              stdout: folder.file("p.out"), stderr: folder.file("p.err"))
        #expect(package.status == 0)
        #expect(package.peakRSS <= FanOutTests.peakLimit, "package peak RSS \(FanOutTests.mib(package.peakRSS))")
        let extract = try FanOutTests.measure(Tool.binary, ["extract", "-q", folder.file("a.tar.zst"), folder.file("out")],
                                              stdout: folder.file("e.out"), stderr: folder.file("e.err"))
        #expect(extract.status == 0)
        #expect(extract.peakRSS <= FanOutTests.peakLimit, "extract peak RSS \(FanOutTests.mib(extract.peakRSS))")
        let verify = try FanOutTests.measure(Tool.binary, ["verify", folder.file("a.tar.zst")],
                                             stdout: folder.file("v.out"), stderr: folder.file("v.err"))
        #expect(verify.status == 0)
        #expect(verify.peakRSS <= FanOutTests.peakLimit, "verify peak RSS \(FanOutTests.mib(verify.peakRSS))")
        #expect(FileManager.default.contentsEqual(atPath: folder.file("out/disk.img"), andPath: folder.file("img/disk.img")))

        if Oracle.has("zstd") && Oracle.has("tar") {
            try FileManager.default.createDirectory(atPath: folder.file("gnu"), withIntermediateDirectories: false)
            let gnu = try Oracle.shell("zstd -dc ../a.tar.zst | tar -xSf -", currentDirectory: folder.file("gnu"))
            #expect(gnu.status == 0, "\(gnu.stderr)")
            #expect(FileManager.default.contentsEqual(atPath: folder.file("gnu/disk.img"), andPath: folder.file("img/disk.img")))
        }
    }
}
