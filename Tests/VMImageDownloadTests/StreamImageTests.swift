import Foundation
import Synchronization
import Testing
import VMImage
@testable import VMImageDownload

/// Collects what a streaming downloader delivers, telling `client` how many bytes arrived.
final class Collected: Sendable {
    let chunks = Mutex([[UInt8]]())
    let client = ClientBytes()
    var bytes: [UInt8] { chunks.withLock { $0.flatMap { $0 } } }

    func append(_ chunk: [UInt8]) {
        let total = chunks.withLock { chunks in
            chunks.append(chunk)
            return chunks.reduce(0) { $0 + $1.count }
        }
        client.raise(to: total)
    }
}

struct ConsumerRefused: Error {}

/// Streams `server`'s image into a ``Collected``.
func stream(from server: TestHTTPServer, sha256: String? = nil, into collected: Collected) async throws {
    let streamer = streamImage(
        from: try #require(URL(string: server.url())), sha256: sha256, monitor: collected.client.monitor, options: fastOptions())
    try await streamer { chunk in collected.append(chunk) }
}

@Suite("streamImage against a real HTTP server on loopback")
struct StreamImageTests {
    @Test func deliversEveryByteOnceInOrder() async throws {
        let body = randomBytes(300_000)
        let server = try await TestHTTPServer { _, _ in .serve(body, chunkSize: 10_000) }
        let collected = Collected()
        try await stream(from: server, into: collected)
        #expect(sameBytes(collected.bytes, body))
        await server.stop()
    }

    @Test func resumesWithRangeAndIfRangeWithoutDuplicates() async throws {
        let body = randomBytes(400_000)
        let etag = "\"v1\""
        let collected = Collected()
        let server = try await TestHTTPServer { _, index in
            index == 0
                ? .serve(body, chunkSize: 40_000, interruption: .drop(after: 120_000, once: collected.client), etag: etag)
                : .serve(body, etag: etag)
        }
        let digest = { var hasher = SHA256(); hasher.update(body); return hasher.hexDigest() }()
        try await stream(from: server, sha256: digest, into: collected)
        #expect(sameBytes(collected.bytes, body))
        #expect(server.requests.count == 2 && server.requests.first?.range == nil)
        #expect(server.requests.last?.range == "bytes=120000-", "retries: \(collected.client.warnings)")
        #expect(server.requests.last?.ifRange == etag)
        await server.stop()
    }

    @Test func aFullAnswerToARetrySkipsWhatWasDelivered() async throws {
        let body = randomBytes(200_000)
        let collected = Collected()
        let server = try await TestHTTPServer { _, index in
            index == 0
                ? .serve(body, honorRange: false, chunkSize: 25_000, interruption: .drop(after: 75_000, once: collected.client))
                : .serve(body, honorRange: false)
        }
        try await stream(from: server, into: collected)
        #expect(sameBytes(collected.bytes, body))
        #expect(server.requests.count == 2, "retries: \(collected.client.warnings)")
        #expect(server.requests.last?.range == "bytes=75000-", "retries: \(collected.client.warnings)")
        await server.stop()
    }

    @Test func anImageThatChangedDuringTheDownloadFails() async throws {
        let first = randomBytes(100_000)
        let second = randomBytes(100_000)
        let collected = Collected()
        let server = try await TestHTTPServer { _, index in
            index == 0
                ? .serve(first, chunkSize: 20_000, interruption: .drop(after: 40_000, once: collected.client), etag: "\"a\"")
                : .serve(second, etag: "\"b\"")
        }
        await #expect {
            try await stream(from: server, into: collected)
        } throws: { error in
            guard case VMImageError.downloadFailed(_, _, let reason) = error else { return false }
            return reason.contains("changed")
        }
        #expect(
            sameBytes(collected.bytes, Array(first.prefix(40_000))),
            "all of the old image up to the drop, nothing of the new; retries: \(collected.client.warnings)")
        #expect(server.requests.count == 2)
        await server.stop()
    }

    @Test func aConsumerErrorEndsTheDownloadUnchanged() async throws {
        let server = try await TestHTTPServer { _, _ in .serve(randomBytes(100_000), chunkSize: 10_000) }
        let streamer = streamImage(from: try #require(URL(string: server.url())), options: fastOptions())
        await #expect(throws: ConsumerRefused.self) {
            try await streamer { _ in throw ConsumerRefused() }
        }
        #expect(server.requests.count == 1, "a consumer's verdict is not retried")
        await server.stop()
    }

    @Test func aDigestMismatchIsThrownAfterTheLastByte() async throws {
        let body = randomBytes(5_000)
        let server = try await TestHTTPServer { _, _ in .serve(body) }
        let collected = Collected()
        await #expect {
            try await stream(from: server, sha256: String(repeating: "0", count: 64), into: collected)
        } throws: { error in
            guard case VMImageError.malformedPayload(_, let rule, _) = error else { return false }
            return rule == .sha256
        }
        #expect(sameBytes(collected.bytes, body))
        await server.stop()
    }
}
