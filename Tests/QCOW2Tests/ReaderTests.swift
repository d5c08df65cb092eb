import ByteStreams
import Foundation
import Testing
import TestSupport
@testable import QCOW2

@Suite struct ReaderTests {
    static func sha256(_ path: String) throws -> String {
        let (out, status) = try Fixtures.run("sha256sum", [path])
        #expect(status == 0)
        return String(decoding: out.prefix(64), as: UTF8.self)
    }

    static func temporaryFolder() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("qcow2-reader-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    @Test(.enabled(if: Oracle.has("sha256sum")), arguments: QemuImages.names)
    func convertMatchesQemuImgConvert(name: String) throws {
        let reader = try ImageReader.open(path: QemuImages.path(name), options: ChainOptions(followBacking: true))
        let folder = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let output = "\(folder)/\(name).raw"
        let summary = try RawConversion.convert(reader, to: output)
        #expect(summary.size == reader.virtualSize)
        let expected = try QemuImages.oracle(name, "raw.sha256").trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(try Self.sha256(output) == expected)
        // Only the output is left in the folder.
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == ["\(name).raw"])
    }

    @Test("a missing image or backing file: the reader and the chain gate say they cannot open it, and why")
    func missingImage() throws {
        let folder = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let missing = folder + "/missing.qcow2"
        #expect(throws: ImageAccessError.io(path: missing, reason: "cannot open: No such file or directory")) {
            try ImageReader.open(path: missing)
        }
        // The top of a chain without the files below it.
        let top = folder + "/chain-top.qcow2"
        try FileManager.default.copyItem(atPath: QemuImages.path("chain-top"), toPath: top)
        let fd = try SystemCall.openForReading(top, nonBlocking: true)
        defer { SystemCall.closeIgnoringErrors(fd) }
        let image = try QCOW2Image(descriptor: fd, path: top)
        #expect(ChainGate.refusal(for: image, path: top, policy: ChainPolicy())
            == "'\(top)': backing file: cannot open '\(folder)/chain-mid2.qcow2': No such file or directory")
    }

    @Test func outputIsSparse() throws {
        let reader = try ImageReader.open(path: QemuImages.path("c2m"))
        let folder = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let summary = try RawConversion.convert(reader, to: "\(folder)/out.raw")
        #expect(summary.size == 6 << 20)
        #expect(summary.dataBytes == (8 << 10) + (2 << 20))
        var st = stat()
        #expect(stat("\(folder)/out.raw", &st) == 0)
        #expect(st.st_size == 6 << 20)
        #expect(Int(st.st_blocks) * 512 < 3 << 20)
    }

    @Test func backingIsNotOpenedUnlessAsked() throws {
        let reader = try ImageReader.open(path: QemuImages.path("chain-top"))
        #expect(reader.chainLength == 1)
        var buffer = [UInt8](repeating: 0xFF, count: 4096)
        // Guest offset 0 is in the top image itself.
        try buffer.withUnsafeMutableBytes { try reader.read(into: $0, at: 0) }
        #expect(buffer.allSatisfy { $0 == 0xC5 })
        // 64 KiB lives in a backing file.
        #expect(throws: ImageAccessError.backingNotOpened(name: "chain-mid2.qcow2")) {
            try buffer.withUnsafeMutableBytes { try reader.read(into: $0, at: 65536) }
        }
        let chain = try ImageReader.open(path: QemuImages.path("chain-top"), options: ChainOptions(followBacking: true))
        #expect(chain.chainLength == 4)
        #expect(throws: ImageAccessError.backingChainTooDeep(limit: 2)) {
            _ = try ImageReader.open(path: QemuImages.path("chain-top"), options: ChainOptions(followBacking: true, maximumDepth: 2))
        }
    }

    @Test func unsafeBackingNamesAreRefused() throws {
        let folder = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: QemuImages.path("chain-mid1"))))
        let name = Array("chain-base.raw".utf8)
        guard let at = (0..<4096).first(where: { Array(bytes[$0..<($0 + name.count)]) == name }) else {
            Issue.record("backing name not found")
            return
        }
        bytes.replaceSubrange(at..<(at + name.count), with: Array("../etc/passwd1".utf8))
        let path = "\(folder)/evil.qcow2"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        #expect(throws: ImageAccessError.unsafeBackingName(name: "../etc/passwd1", problem: .parentReference)) {
            _ = try ImageReader.open(path: path, options: ChainOptions(followBacking: true))
        }
        // Without following, the image itself still opens.
        #expect(try ImageReader.open(path: path).chainLength == 1)
    }

    @Test func corruptCompressedClusterIsTyped() throws {
        let folder = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        for name in ["zlib", "zstd"] {
            var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: QemuImages.path(name))))
            // Find the first compressed L2 entry and scribble over its data.
            let reader = try ImageReader.open(path: QemuImages.path(name))
            guard case let .qcow2(layer) = reader.layers[0],
                  case let (.compressed(descriptor, _), _) = try layer.run(at: 0, limit: 65536) else {
                Issue.record("guest cluster 0 of \(name) is not compressed")
                continue
            }
            let start = Int(descriptor.hostOffset)
            for i in start..<(start + 64) { bytes[i] ^= 0x5A }
            let path = "\(folder)/\(name).qcow2"
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            let damaged = try ImageReader.open(path: path)
            var buffer = [UInt8](repeating: 0, count: 65536)
            #expect(throws: ImageAccessError.self) {
                try buffer.withUnsafeMutableBytes { try damaged.read(into: $0, at: 0) }
            }
        }
    }
}
