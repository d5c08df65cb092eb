import Foundation
import TestSupport
import Testing
@testable import VMImageDownload

@Suite("SHA-256")
struct SHA256Tests {
    private func digest(_ bytes: [UInt8]) -> String {
        var hasher = SHA256()
        hasher.update(bytes)
        return hasher.hexDigest()
    }

    @Test func matchesTheFIPSVectors() {
        #expect(digest([]) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(digest(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(digest(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
            == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        let twoBlocks = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmno"
            + "ijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu"
        #expect(digest(Array(twoBlocks.utf8)) == "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1")
    }

    @Test(arguments: [1_000_000, 1000, 997, 64, 1])
    func hashesAMillionAsInAnyPieces(pieceSize: Int) {
        let million = [UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)
        var hasher = SHA256()
        million.withUnsafeBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let end = min(offset + pieceSize, bytes.count)
                hasher.update(UnsafeRawBufferPointer(rebasing: bytes[offset..<end]))
                offset = end
            }
        }
        #expect(hasher.hexDigest() == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0",
                "pieces of \(pieceSize)")
    }

    @Test func digestIsTheBytesOfTheHexDigest() {
        var hasher = SHA256()
        hasher.update(Array("abc".utf8))
        let bytes = hasher.digest()
        #expect(bytes.count == 32)
        #expect(bytes.prefix(4) == [0xba, 0x78, 0x16, 0xbf] && bytes.suffix(2) == [0x15, 0xad])
        #expect(bytes.map { String(format: "%02x", $0) }.joined() == hasher.hexDigest())
    }

    @Test func readingTheDigestDoesNotDisturbFurtherFeeding() {
        var generator = SplitMix64(seed: UInt64.random(in: 0...UInt64.max))
        let bytes = generator.bytes(1000)
        for split in [0, 1, 55, 56, 64, 100, 999, 1000] {
            var hasher = SHA256()
            hasher.update(bytes[..<split])
            #expect(hasher.hexDigest() == digest(Array(bytes[..<split])))
            hasher.update(bytes[split...])
            #expect(hasher.hexDigest() == digest(bytes), "split at \(split), seed \(generator.seed)")
        }
    }

    @Test func feedingInPiecesEqualsFeedingAtOnce() {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<10_000).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let whole = digest(bytes)
        for split in [1, 55, 56, 63, 64, 65, 127, 4097] {
            var hasher = SHA256()
            var rest = bytes[...]
            while !rest.isEmpty {
                hasher.update(rest.prefix(split))
                rest = rest.dropFirst(split)
            }
            #expect(hasher.hexDigest() == whole, "pieces of \(split)")
        }
    }

    @Test(.enabled(if: Sha256sum.path != nil))
    func agreesWithSha256sumOnPaddingBoundaries() throws {
        let inputs = [0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 1000].map { length in
            (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        }
        let expected = try Sha256sum.digests(of: inputs)
        for (bytes, sum) in zip(inputs, expected) {
            #expect(sum == digest(bytes), "length \(bytes.count)")
        }
    }

    @Test(.enabled(if: Sha256sum.path != nil))
    func randomLengthsInRandomPiecesAgreeWithSha256sum() throws {
        var generator = SplitMix64(seed: UInt64.random(in: 0...UInt64.max))
        let inputs = (0...300).map { generator.bytes($0) } + [generator.bytes(70_001), generator.bytes(262_144)]
        let expected = try Sha256sum.digests(of: inputs)
        #expect(expected.count == inputs.count)
        for (bytes, sum) in zip(inputs, expected) {
            let largest = bytes.count > 1000 ? 9000 : 80
            var hasher = SHA256()
            var offset = 0
            var pieces = 0
            while offset < bytes.count || pieces == 0 {
                let size = min(Int(generator.next() % UInt64(largest + 1)), bytes.count - offset)
                // Alternate the raw-pointer and the collection entry points; empty pieces included.
                if pieces % 2 == 0 {
                    bytes.withUnsafeBytes { hasher.update(UnsafeRawBufferPointer(rebasing: $0[offset..<offset + size])) }
                } else {
                    hasher.update(bytes[offset..<offset + size])
                }
                offset += size
                pieces += 1
            }
            #expect(hasher.hexDigest() == sum, "length \(bytes.count) in \(pieces) pieces, seed \(generator.seed)")
        }
    }
}

/// The system's `sha256sum`, the oracle for the SHA-256 tests (they skip when it is absent).
private enum Sha256sum {
    static let path: String? = ["/usr/bin/sha256sum", "/bin/sha256sum", "/usr/local/bin/sha256sum"]
        .first { FileManager.default.isExecutableFile(atPath: $0) }

    /// The hex digests `sha256sum` prints for `inputs`, in order (one run over temporary files).
    static func digests(of inputs: [[UInt8]]) throws -> [String] {
        let tool = try #require(path)
        let folder = NSTemporaryDirectory() + "sha256-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let files = inputs.indices.map { folder + "/\($0)" }
        for (file, bytes) in zip(files, inputs) {
            try Data(bytes).write(to: URL(fileURLWithPath: file))
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = files
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        let lines = String(decoding: output, as: UTF8.self).split(separator: "\n")
        try #require(lines.count == inputs.count, "sha256sum printed \(lines.count) lines for \(inputs.count) files")
        for (line, file) in zip(lines, files) {
            #expect(line.hasSuffix(" " + file) || line.hasSuffix("*" + file), "sha256sum line out of order: \(line)")
        }
        return lines.map { String($0.prefix(64)) }
    }
}
