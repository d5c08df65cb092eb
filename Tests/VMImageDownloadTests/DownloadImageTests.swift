import Foundation
import Logging
import Synchronization
import SystemPackage
import Testing
import VMImage
@testable import VMImageDownload

/// A fresh empty folder under /tmp for one test, removed by `cleanup()`.
struct ScratchFolder {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "vmimage-download-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
    }

    var imageFile: FilePath { FilePath(path + "/image.tar.zst") }

    func contents() -> [UInt8]? {
        FileManager.default.contents(atPath: imageFile.string).map { Array($0) }
    }

    func cleanup() {
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// `count` pseudo-random bytes.
func randomBytes(_ count: Int) -> [UInt8] {
    var generator = SystemRandomNumberGenerator()
    var bytes = [UInt8](repeating: 0, count: count)
    bytes.withUnsafeMutableBytes { raw in
        var offset = 0
        while offset < raw.count {
            var word = generator.next()
            let take = min(8, raw.count - offset)
            withUnsafeBytes(of: &word) { raw.baseAddress?.advanced(by: offset).copyMemory(from: $0.baseAddress!, byteCount: take) }
            offset += take
        }
    }
    return bytes
}

/// Options for fast tests: 1 ms base delay between attempts, and timeouts that are generous
/// upper bounds only (no test here waits for one to fire, except where it sets its own): the
/// test server and client share Swift's cooperative thread pool (one thread per core) with
/// whatever else runs in the process, and in a full parallel `swift test` CPU-bound tests of
/// other suites can hold every thread for minutes; a shorter read timeout then fires on the
/// first attempt before the server has answered, and the tests of resuming see no resume.
func fastOptions() -> DownloadOptions {
    var options = DownloadOptions()
    options.baseDelay = .milliseconds(1)
    options.maxDelay = .milliseconds(20)
    options.connectTimeout = .seconds(60)
    options.readTimeout = .seconds(900)
    return options
}

/// Runs a download of `server`'s image into a scratch folder.
func download(
    from server: TestHTTPServer, sha256: String? = nil, monitor: Monitor = .silent, options: DownloadOptions = fastOptions()
) async throws -> ScratchFolder {
    let folder = try ScratchFolder()
    let downloader = downloadImage(from: try #require(URL(string: server.url())), sha256: sha256, monitor: monitor, options: options)
    do {
        try await downloader(folder.imageFile)
    } catch {
        defer { folder.cleanup() }
        #expect(folder.contents() == nil, "a failed download leaves no file")
        throw error
    }
    return folder
}

@Suite("downloadImage against a real HTTP server on loopback")
struct DownloadImageTests {
    @Test func downloadsTheBody() async throws {
        let body = randomBytes(300_000)
        let server = try await TestHTTPServer { _, _ in .serve(body) }
        let folder = try await download(from: server)
        defer { folder.cleanup() }
        #expect(sameBytes(folder.contents() ?? [], body))
        #expect(server.requests.count == 1)
        #expect(server.requests.first?.range == nil)
        #expect(server.requests.first?.method == "GET" && server.requests.first?.uri == "/image.tar.zst")
        await server.stop()
    }

    @Test func serverErrorsAreRetriedExactlySevenTimesThenFail() async throws {
        let server = try await TestHTTPServer { _, _ in .status(500) }
        await #expect {
            _ = try await download(from: server)
        } throws: { error in
            guard case VMImageError.downloadFailed(_, let attempts, let reason) = error else { return false }
            return attempts == 7 && reason.contains("500")
        }
        #expect(server.requests.count == 7)
        await server.stop()
    }

    @Test func aServerErrorThenSuccessRecovers() async throws {
        let body = randomBytes(10_000)
        let server = try await TestHTTPServer { _, index in index < 3 ? .status(503) : .serve(body) }
        let folder = try await download(from: server)
        defer { folder.cleanup() }
        #expect(sameBytes(folder.contents() ?? [], body))
        #expect(server.requests.count == 4)
        await server.stop()
    }

    @Test(arguments: [404, 403, 410, 400, 301])
    func otherStatusesFailAtOnceAsMalformedPayload(status: Int) async throws {
        let server = try await TestHTTPServer { _, _ in .status(status) }
        await #expect {
            _ = try await download(from: server)
        } throws: { error in
            guard case VMImageError.malformedPayload(let member, let rule, let message) = error else { return false }
            return rule == .httpStatus && member == server.url() && message.contains("\(status)")
        }
        #expect(server.requests.count == 1)
        await server.stop()
    }

    // The progress hook reports every whole MiB a download takes in, so the drops below come
    // after exactly 1 MiB: the server closes once the client has reported taking in all of it.

    @Test func aDroppedConnectionResumesWithRange() async throws {
        let body = randomBytes(3 << 20)
        let client = ClientBytes()
        let server = try await TestHTTPServer { _, index in
            index == 0 ? .serve(body, chunkSize: 256 << 10, interruption: .drop(after: 1 << 20, once: client)) : .serve(body)
        }
        let digest = { var hasher = SHA256(); hasher.update(body); return hasher.hexDigest() }()
        let folder = try await download(from: server, sha256: digest, monitor: client.monitor)
        defer { folder.cleanup() }
        #expect(sameBytes(folder.contents() ?? [], body))
        let requests = server.requests
        #expect(requests.count == 2)
        #expect(requests.first?.range == nil)
        #expect(requests.last?.range == "bytes=\(1 << 20)-", "the second request asks only for the rest; retries: \(client.warnings)")
        await server.stop()
    }

    @Test func aServerIgnoringRangeMakesTheDownloadStartOver() async throws {
        let body = randomBytes(5 << 19)
        let client = ClientBytes()
        let server = try await TestHTTPServer { _, index in
            index == 0
                ? .serve(body, honorRange: false, chunkSize: 200_000, interruption: .drop(after: 1 << 20, once: client))
                : .serve(body, honorRange: false)
        }
        let folder = try await download(from: server, monitor: client.monitor)
        defer { folder.cleanup() }
        #expect(sameBytes(folder.contents() ?? [], body), "the 200 answer replaced the partial bytes instead of being appended")
        #expect(server.requests.count == 2, "retries: \(client.warnings)")
        #expect(server.requests.last?.range == "bytes=\(1 << 20)-", "retries: \(client.warnings)")
        await server.stop()
    }

    @Test func aSHA256MismatchFailsAndRemovesTheFile() async throws {
        let server = try await TestHTTPServer { _, _ in .serve(Array("not the image".utf8)) }
        let wrong = String(repeating: "ab", count: 32)
        await #expect {
            _ = try await download(from: server, sha256: wrong)
        } throws: { error in
            guard case VMImageError.malformedPayload(_, let rule, let message) = error else { return false }
            return rule == .sha256 && message.contains(wrong)
        }
        #expect(server.requests.count == 1, "a digest mismatch is not retried")
        await server.stop()
    }

    @Test func aMatchingSHA256InUppercaseIsAccepted() async throws {
        let body = Array("abc".utf8)
        let server = try await TestHTTPServer { _, _ in .serve(body) }
        let folder = try await download(from: server, sha256: "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD")
        defer { folder.cleanup() }
        #expect(sameBytes(folder.contents() ?? [], body))
        await server.stop()
    }

    @Test func aSlowServerReportsProgressUpToTheTotal() async throws {
        let body = randomBytes(6 << 20)
        let server = try await TestHTTPServer { _, _ in .serve(body, chunkSize: 512 << 10, chunkDelay: .milliseconds(20)) }
        let reports = Mutex([ProgressReport]())
        let monitor = Monitor(logger: Logger(label: "test")) { report in reports.withLock { $0.append(report) } }
        let folder = try await download(from: server, monitor: monitor)
        defer { folder.cleanup() }
        #expect(sameBytes(folder.contents() ?? [], body))
        let seen = reports.withLock { $0 }
        #expect(seen.count >= 6, "at least one report per MiB")
        #expect(seen.allSatisfy { $0.totalBytes == UInt64(body.count) && $0.prefix == "download" })
        #expect(zip(seen, seen.dropFirst()).allSatisfy { $0.bytesDone <= $1.bytesDone })
        #expect(seen.last?.bytesDone == UInt64(body.count))
        #expect(seen.last?.fractionDone == 1)
        await server.stop()
    }

    @Test func aBodyLargerThanTheLimitIsRejected() async throws {
        let server = try await TestHTTPServer { _, _ in .serve(randomBytes(5000)) }
        var options = fastOptions()
        options.maxBytes = 4096
        await #expect {
            _ = try await download(from: server, options: options)
        } throws: { error in
            guard case VMImageError.malformedPayload(_, let rule, _) = error else { return false }
            return rule == .sizeLimit
        }
        #expect(server.requests.count == 1)
        await server.stop()
    }

    @Test func aRefusedConnectionIsRetriedThenReported() async throws {
        let server = try await TestHTTPServer { _, _ in .status(200) }
        let port = server.port
        await server.stop()  // nothing listens on the port now
        let folder = try ScratchFolder()
        defer { folder.cleanup() }
        var options = fastOptions()
        options.maxAttempts = 3
        options.connectTimeout = .milliseconds(300)  // async-http-client keeps retrying a refused connect until then
        let downloader = downloadImage(from: try #require(URL(string: "http://127.0.0.1:\(port)/x")), options: options)
        await #expect {
            try await downloader(folder.imageFile)
        } throws: { error in
            guard case VMImageError.downloadFailed(_, let attempts, _) = error else { return false }
            return attempts == 3
        }
        #expect(folder.contents() == nil)
    }

    @Test(arguments: ["ftp://127.0.0.1/x", "file:///etc/passwd", "http:///nohost"])
    func onlyHTTPURLsWithAHostAreFetched(url: String) async throws {
        let folder = try ScratchFolder()
        defer { folder.cleanup() }
        let downloader = downloadImage(from: try #require(URL(string: url)))
        await #expect {
            try await downloader(folder.imageFile)
        } throws: { error in
            guard case VMImageError.malformedPayload(_, let rule, _) = error else { return false }
            return rule == .url
        }
    }

    @Test(arguments: ["abc", String(repeating: "g", count: 64), String(repeating: "a", count: 63)])
    func aMalformedDigestIsRejectedBeforeAnyRequest(digest: String) async throws {
        let server = try await TestHTTPServer { _, _ in .serve([1, 2, 3]) }
        await #expect {
            _ = try await download(from: server, sha256: digest)
        } throws: { error in
            guard case VMImageError.malformedPayload(_, let rule, _) = error else { return false }
            return rule == .sha256
        }
        #expect(server.requests.isEmpty)
        await server.stop()
    }
}
