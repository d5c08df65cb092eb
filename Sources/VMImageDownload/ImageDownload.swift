import AsyncHTTPClient
import ByteStreams
import NIOCore
import NIOHTTP1
import VMImage

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// One download of an image URL into a ``DownloadSink``: the retry loop, the status rules,
/// resuming, the size limit, the digest and progress shared by ``downloadImage(from:sha256:monitor:options:)``
/// and ``streamImage(from:sha256:monitor:options:)``.
struct ImageDownload {
    let url: String
    let expectedDigest: String?
    let monitor: Monitor
    let options: DownloadOptions

    /// Bytes of the image given to the sink so far (the next byte's offset).
    private var received: UInt64 = 0
    /// The hash of the bytes given to the sink, kept only when a digest is to be checked.
    private var hasher: SHA256?
    /// What the first full answer said about the image, to recognise it in later answers.
    private var identity: ImageIdentity?

    /// A download of `url`; throws the `url` and `sha256` rule errors before any request.
    init(url: URL, sha256: String?, monitor: Monitor, options: DownloadOptions) throws(VMImageError) {
        self.url = url.absoluteString
        self.monitor = monitor
        self.options = options
        let scheme = url.scheme?.lowercased()
        guard scheme == "http" || scheme == "https", let host = url.host, !host.isEmpty else {
            throw .malformedPayload(member: self.url, rule: .url, message: "only http and https URLs with a host can be downloaded")
        }
        if let sha256 {
            let digest = sha256.lowercased()
            let isHex = digest.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }
            guard digest.utf8.count == 64, isHex else {
                throw .malformedPayload(member: self.url, rule: .sha256, message: "expected SHA-256 is not 64 hexadecimal digits")
            }
            expectedDigest = digest
            hasher = SHA256()
        } else {
            expectedDigest = nil
        }
    }

    /// Runs the attempts until the sink has the whole image, or throws.
    mutating func run(into sink: inout some DownloadSink) async throws {
        let client = options.httpClient ?? HTTPClient(
            eventLoopGroupProvider: .singleton,
            configuration: HTTPClient.Configuration(timeout: HTTPClient.Configuration.Timeout(
                connect: TimeAmount(options.connectTimeout), read: TimeAmount(options.readTimeout))))
        do {
            try await attempts(into: &sink, client: client)
        } catch let failure as SinkFailure {
            if options.httpClient == nil { try? await client.shutdown() }
            throw failure.underlying
        } catch {
            if options.httpClient == nil { try? await client.shutdown() }
            throw error
        }
        if options.httpClient == nil { try await client.shutdown() }
    }

    private mutating func attempts(into sink: inout some DownloadSink, client: HTTPClient) async throws {
        let maxAttempts = max(options.maxAttempts, 1)
        var lastFailure = ""
        for attempt in 1...maxAttempts {
            if attempt > 1 {
                let delay = options.randomDelay(afterAttempt: attempt - 1)
                monitor.warn("attempt \(attempt - 1) of \(maxAttempts) for \(url) failed: \(lastFailure); retrying in \(delay)")
                try await Task.sleep(for: delay)
            }
            do {
                try await attemptOnce(into: &sink, client: client, attempt: attempt)
                try verifyDigest()
                monitor.info("downloaded \(received) bytes from \(url) in \(attempt) attempt(s)")
                return
            } catch let failure as RetryableFailure {
                lastFailure = failure.reason
            }
        }
        throw VMImageError.downloadFailed(url: url, attempts: maxAttempts, reason: lastFailure)
    }

    /// One request; failures worth retrying are thrown as ``RetryableFailure``, the sink's own
    /// errors as ``SinkFailure``.
    private mutating func attemptOnce(into sink: inout some DownloadSink, client: HTTPClient, attempt: Int) async throws {
        var request = HTTPClientRequest(url: url)
        let resumeFrom = received
        if resumeFrom > 0 {
            request.headers.add(name: "Range", value: "bytes=\(resumeFrom)-")
            if let validator = identity?.validator {
                request.headers.add(name: "If-Range", value: validator)
            }
        }
        let response: HTTPClientResponse
        do {
            response = try await client.execute(request, deadline: .distantFuture)
        } catch let error as CancellationError {
            throw error
        } catch {
            throw RetryableFailure(reason: "request failed: \(error)")
        }

        let status = response.status.code
        let answer = ImageIdentity(response.headers)
        var expectedTotal: UInt64?
        var skip: UInt64 = 0
        switch status {
        case 206 where resumeFrom > 0:
            guard let range = ContentRange(response.headers.first(name: "Content-Range")), range.start == resumeFrom else {
                try restart(&sink)
                throw RetryableFailure(reason: "206 with a Content-Range not starting at byte \(resumeFrom)")
            }
            expectedTotal = range.total ?? range.end.addingReportingOverflow(1).partialValue
            monitor.info("resuming \(url) at byte \(resumeFrom)")
        case 200...299:
            expectedTotal = answer.length
            if resumeFrom == 0 {
                identity = answer
            } else if try restart(&sink) {
                monitor.info("server answered \(status) to a range request for \(url); starting over")
            } else if let identity, identity.matches(answer) {
                monitor.info("server answered \(status) to a range request for \(url); skipping \(resumeFrom) bytes already delivered")
                skip = resumeFrom
            } else {
                throw VMImageError.downloadFailed(
                    url: url, attempts: attempt,
                    reason: "the image changed on the server after \(resumeFrom) bytes were delivered (length or validator differ)")
            }
        case 416 where resumeFrom > 0:
            try restart(&sink)
            throw RetryableFailure(reason: "416 for bytes \(resumeFrom)-")
        case 500...599:
            throw RetryableFailure(reason: "server answered \(status) \(TerminalText.escaping(response.status.reasonPhrase))")
        default:
            throw VMImageError.malformedPayload(
                member: url, rule: .httpStatus, message: "server answered \(status) \(TerminalText.escaping(response.status.reasonPhrase))")
        }
        if let expectedTotal, expectedTotal > options.maxBytes {
            throw VMImageError.malformedPayload(
                member: url, rule: .sizeLimit, message: "image is \(expectedTotal) bytes; at most \(options.maxBytes) are allowed")
        }

        var lastReported = received
        monitor.reportProgress(bytesDone: received, totalBytes: expectedTotal)
        do {
            for try await buffer in response.body {
                var bytes = Array(buffer.readableBytesView)
                if skip > 0 {
                    let dropped = Int(min(skip, UInt64(bytes.count)))
                    bytes.removeFirst(dropped)
                    skip -= UInt64(dropped)
                    if bytes.isEmpty { continue }
                }
                try await append(bytes, to: &sink)
                if received - lastReported >= 1 << 20 {
                    monitor.reportProgress(bytesDone: received, totalBytes: expectedTotal)
                    lastReported = received
                }
            }
        } catch let error as CancellationError {
            throw error
        } catch let error as SinkFailure {
            throw error
        } catch let error as VMImageError {
            throw error
        } catch {
            monitor.reportProgress(bytesDone: received, totalBytes: expectedTotal)
            throw RetryableFailure(reason: "connection lost after byte \(received): \(error)")
        }
        monitor.reportProgress(bytesDone: received, totalBytes: expectedTotal)
        if skip > 0 {
            throw RetryableFailure(reason: "body ended before byte \(resumeFrom) where the download was to resume")
        }
        if let expectedTotal, received != expectedTotal {
            throw RetryableFailure(reason: "body ended at byte \(received) of \(expectedTotal)")
        }
    }

    /// Gives `bytes` to the sink, feeding the hash and enforcing the size limit.
    private mutating func append(_ bytes: [UInt8], to sink: inout some DownloadSink) async throws {
        let (end, overflow) = received.addingReportingOverflow(UInt64(bytes.count))
        guard !overflow, end <= options.maxBytes else {
            throw VMImageError.malformedPayload(member: url, rule: .sizeLimit, message: "body exceeds \(options.maxBytes) bytes")
        }
        hasher?.update(bytes)
        do {
            try await sink.append(bytes)
        } catch {
            throw SinkFailure(underlying: error)
        }
        received = end
    }

    /// Makes the sink start over when it can; returns whether it did.
    @discardableResult
    private mutating func restart(_ sink: inout some DownloadSink) throws -> Bool {
        let restarted: Bool
        do {
            restarted = try sink.restart()
        } catch {
            throw SinkFailure(underlying: error)
        }
        if restarted {
            received = 0
            if hasher != nil { hasher = SHA256() }
        }
        return restarted
    }

    private func verifyDigest() throws(VMImageError) {
        guard let expectedDigest, let hasher else { return }
        let actual = hasher.hexDigest()
        guard actual == expectedDigest else {
            throw .malformedPayload(member: url, rule: .sha256, message: "SHA-256 of the \(received) bytes is \(actual), expected \(expectedDigest)")
        }
    }
}

/// What an answer says about which image it carries.
struct ImageIdentity: Hashable {
    var etag: String?
    var lastModified: String?
    var length: UInt64?

    init(_ headers: HTTPHeaders) {
        etag = headers.first(name: "ETag")
        lastModified = headers.first(name: "Last-Modified")
        length = headers.first(name: "Content-Length").flatMap(UInt64.init)
    }

    /// The value for `If-Range`: a strong ETag, else Last-Modified.
    var validator: String? {
        if let etag, !etag.hasPrefix("W/") { return etag }
        return lastModified
    }

    /// Whether `other`, a full answer, carries the same image as far as the headers tell.
    func matches(_ other: ImageIdentity) -> Bool {
        if let length, let otherLength = other.length, length != otherLength { return false }
        if let etag, let otherTag = other.etag, etag != otherTag { return false }
        if let lastModified, let otherDate = other.lastModified, lastModified != otherDate { return false }
        return true
    }
}

/// A failure that another attempt may cure (connection trouble, 5xx, a body cut short).
struct RetryableFailure: Error {
    var reason: String
}

/// An error thrown by the sink, passed through the download unchanged.
struct SinkFailure: Error {
    var underlying: any Error
}

extension TimeAmount {
    /// The same span as `duration`, to the nanosecond.
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
