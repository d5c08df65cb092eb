import Foundation
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
        #expect(digest([UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000))
            == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
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

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/sha256sum")))
    func agreesWithSha256sumOnPaddingBoundaries() throws {
        for length in [0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 1000] {
            let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
            let path = NSTemporaryDirectory() + "sha256-\(length)-\(UUID().uuidString)"
            #expect(FileManager.default.createFile(atPath: path, contents: Data(bytes)))
            defer { try? FileManager.default.removeItem(atPath: path) }
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
            process.arguments = [path]
            let pipe = Pipe()
            process.standardOutput = pipe
            try process.run()
            process.waitUntilExit()
            let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            #expect(output.prefix(64) == digest(bytes), "length \(length)")
        }
    }

    @Test func parsesContentRange() {
        #expect(ContentRange("bytes 100-999/1000") == ContentRange(start: 100, end: 999, total: 1000))
        #expect(ContentRange("bytes 0-0/*")?.total == nil)
        for bad in [nil, "", "bytes 5-4/10", "bytes 0-9/9", "items 0-1/2", "bytes 0-/*", "bytes a-b/c", "bytes 0-1"] {
            #expect(ContentRange(bad) == nil, "\(bad ?? "nil")")
        }
    }

    @Test func backoffDoublesWithJitterAndIsCapped() {
        var options = DownloadOptions()
        options.baseDelay = .milliseconds(100)
        options.maxDelay = .seconds(1)
        #expect(options.delay(afterAttempt: 1, jitter: 1) == .milliseconds(100))
        #expect(options.delay(afterAttempt: 2, jitter: 1) == .milliseconds(200))
        #expect(options.delay(afterAttempt: 3, jitter: 0.75) == .milliseconds(300))
        #expect(options.delay(afterAttempt: 4, jitter: 1.25) == .seconds(1))
        #expect(options.delay(afterAttempt: 60, jitter: 1) == .seconds(1))
        for attempt in 1...6 {
            let delay = options.randomDelay(afterAttempt: attempt)
            let base = options.delay(afterAttempt: attempt, jitter: 1)
            #expect(delay >= min(base * 0.75, .seconds(1)) && delay <= min(base * 1.25, .seconds(1)))
        }
    }
}
