import AsyncHTTPClient
import NIOCore
import NIOHTTP1
import SystemPackage
import VMImage

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A ``Downloader`` that fetches `url` over HTTP(S) into the file it is given.
///
/// - Streams the body to the file (bounded memory), creating or truncating it; the file is
///   removed again when the download fails.
/// - Up to `options.maxAttempts` (7) attempts, with exponential, jittered backoff, on
///   connection errors, bodies cut short and 5xx answers; then
///   ``VMImageError/downloadFailed(url:attempts:reason:)``.
/// - Any other non-2xx answer is ``VMImageError/malformedPayload(member:rule:message:)`` with
///   rule ``PayloadRule/httpStatus`` at once, without retrying.
/// - A retry after some bytes arrived asks for the rest with `Range: bytes=N-`; a `206` whose
///   `Content-Range` starts at N is appended, anything else (a `200`) starts over from byte 0.
/// - With `sha256` (64 hex digits), the file's SHA-256 must match, or the download fails with
///   rule ``PayloadRule/sha256``; a malformed digest is that error before any request.
/// - Progress (bytes written, total when known) goes to `monitor`'s progress hook under the
///   prefix `download`; each retry is logged as a warning.
public func downloadImage(
    from url: URL, sha256: String? = nil, monitor: Monitor = .silent, options: DownloadOptions = DownloadOptions()
) -> Downloader {
    { imageFile in
        var download = try ImageDownload(url: url, sha256: sha256, monitor: monitor.withPrefix("download"), options: options)
        try await download.run(to: imageFile)
    }
}

private typealias FileDescriptor = SystemPackage.FileDescriptor

/// One run of a ``Downloader`` made by ``downloadImage(from:sha256:monitor:options:)``.
struct ImageDownload {
    let url: String
    let expectedDigest: String?
    let monitor: Monitor
    let options: DownloadOptions

    /// Bytes of the image written to the file so far (the next byte's offset).
    private var received: UInt64 = 0
    /// The hash of the bytes written so far, kept only when a digest is to be checked.
    private var hasher: SHA256?

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
            guard digest.utf8.count == 64, digest.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }) else {
                throw .malformedPayload(member: self.url, rule: .sha256, message: "expected SHA-256 is not 64 hexadecimal digits")
            }
            expectedDigest = digest
            hasher = SHA256()
        } else {
            expectedDigest = nil
        }
    }

    mutating func run(to imageFile: FilePath) async throws {
        let file: FileDescriptor
        do {
            file = try FileDescriptor.open(
                imageFile, .writeOnly, options: [.create, .truncate, .noFollow, .closeOnExec], permissions: [.ownerReadWrite, .groupRead, .otherRead])
        } catch let error as Errno {
            throw VMImageError.fileSystem(operation: "open", path: imageFile.string, errno: error.rawValue)
        } catch {
            throw VMImageError.fileSystem(operation: "open", path: imageFile.string, errno: EIO)
        }
        let client = options.httpClient ?? HTTPClient(
            eventLoopGroupProvider: .singleton,
            configuration: HTTPClient.Configuration(timeout: HTTPClient.Configuration.Timeout(
                connect: TimeAmount(options.connectTimeout), read: TimeAmount(options.readTimeout))))
        do {
            try await download(into: file, path: imageFile, client: client)
            try file.close()
        } catch {
            try? file.close()
            _ = imageFile.withPlatformString { unlink($0) }
            if options.httpClient == nil { try? await client.shutdown() }
            throw error
        }
        if options.httpClient == nil { try await client.shutdown() }
    }

    private mutating func download(into file: FileDescriptor, path: FilePath, client: HTTPClient) async throws {
        var lastFailure = ""
        for attempt in 1...max(options.maxAttempts, 1) {
            if attempt > 1 {
                let delay = options.randomDelay(afterAttempt: attempt - 1)
                monitor.warn("attempt \(attempt - 1) of \(options.maxAttempts) for \(url) failed: \(lastFailure); retrying in \(delay)")
                try await Task.sleep(for: delay)
            }
            do {
                try await attemptOnce(into: file, path: path, client: client)
                try verifyDigest()
                monitor.info("downloaded \(received) bytes from \(url) in \(attempt) attempt(s)")
                return
            } catch let failure as RetryableFailure {
                lastFailure = failure.reason
            }
        }
        throw VMImageError.downloadFailed(url: url, attempts: max(options.maxAttempts, 1), reason: lastFailure)
    }

    /// One request: its failures worth retrying are thrown as ``RetryableFailure``.
    private mutating func attemptOnce(into file: FileDescriptor, path: FilePath, client: HTTPClient) async throws {
        var request = HTTPClientRequest(url: url)
        let resumeFrom = received
        if resumeFrom > 0 {
            request.headers.add(name: "Range", value: "bytes=\(resumeFrom)-")
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
        var expectedTotal: UInt64?
        switch status {
        case 206 where resumeFrom > 0:
            guard let range = ContentRange(response.headers.first(name: "Content-Range")), range.start == resumeFrom else {
                try restart(file: file, path: path)
                throw RetryableFailure(reason: "206 with a Content-Range not starting at byte \(resumeFrom); starting over")
            }
            expectedTotal = range.total ?? range.end.addingReportingOverflow(1).partialValue
            monitor.info("resuming \(url) at byte \(resumeFrom)")
        case 200...299:
            if resumeFrom > 0 {
                monitor.info("server answered \(status) to a range request for \(url); starting over")
                try restart(file: file, path: path)
            }
            if let length = response.headers.first(name: "Content-Length").flatMap(UInt64.init) {
                expectedTotal = length
            }
        case 416 where resumeFrom > 0:
            try restart(file: file, path: path)
            throw RetryableFailure(reason: "416 for bytes \(resumeFrom)-; starting over")
        case 500...599:
            throw RetryableFailure(reason: "server answered \(status) \(response.status.reasonPhrase)")
        default:
            throw VMImageError.malformedPayload(
                member: url, rule: .httpStatus, message: "server answered \(status) \(response.status.reasonPhrase)")
        }
        if let expectedTotal, expectedTotal > options.maxBytes {
            throw VMImageError.malformedPayload(
                member: url, rule: .sizeLimit, message: "image is \(expectedTotal) bytes; at most \(options.maxBytes) are allowed")
        }

        var lastReported: UInt64 = received
        monitor.reportProgress(bytesDone: received, totalBytes: expectedTotal)
        do {
            for try await chunk in response.body {
                try write(chunk, to: file, path: path)
                if received - lastReported >= 1 << 20 {
                    monitor.reportProgress(bytesDone: received, totalBytes: expectedTotal)
                    lastReported = received
                }
            }
        } catch let error as CancellationError {
            throw error
        } catch let error as VMImageError {
            throw error
        } catch {
            monitor.reportProgress(bytesDone: received, totalBytes: expectedTotal)
            throw RetryableFailure(reason: "connection lost after byte \(received): \(error)")
        }
        monitor.reportProgress(bytesDone: received, totalBytes: expectedTotal)
        if let expectedTotal, received != expectedTotal {
            throw RetryableFailure(reason: "body ended at byte \(received) of \(expectedTotal)")
        }
    }

    /// Appends `chunk` to the file, feeding the hash and enforcing the size limit.
    private mutating func write(_ chunk: ByteBuffer, to file: FileDescriptor, path: FilePath) throws(VMImageError) {
        let (end, overflow) = received.addingReportingOverflow(UInt64(chunk.readableBytes))
        guard !overflow, end <= options.maxBytes else {
            throw .malformedPayload(member: url, rule: .sizeLimit, message: "body exceeds \(options.maxBytes) bytes")
        }
        let offset = Int64(received)
        let failure: Errno? = chunk.withUnsafeReadableBytes { bytes in
            hasher?.update(bytes)
            do {
                _ = try file.writeAll(toAbsoluteOffset: offset, bytes)
                return nil
            } catch let error as Errno {
                return error
            } catch {
                return Errno.ioError
            }
        }
        if let failure {
            throw .fileSystem(operation: "write", path: path.string, errno: failure.rawValue)
        }
        received = end
    }

    /// Forgets what was written so far: the next bytes start the file again.
    private mutating func restart(file: FileDescriptor, path: FilePath) throws(VMImageError) {
        do {
            try file.resize(to: 0)
        } catch let error as Errno {
            throw .fileSystem(operation: "truncate", path: path.string, errno: error.rawValue)
        } catch {
            throw .fileSystem(operation: "truncate", path: path.string, errno: EIO)
        }
        received = 0
        if hasher != nil { hasher = SHA256() }
    }

    private func verifyDigest() throws(VMImageError) {
        guard let expectedDigest, let hasher else { return }
        let actual = hasher.hexDigest()
        guard actual == expectedDigest else {
            throw .malformedPayload(member: url, rule: .sha256, message: "SHA-256 of the \(received) bytes is \(actual), expected \(expectedDigest)")
        }
    }
}

/// A failure that another attempt may cure (connection trouble, 5xx, a body cut short).
struct RetryableFailure: Error {
    var reason: String
}

/// The parts of a `Content-Range: bytes START-END/TOTAL` header (`TOTAL` may be `*`).
struct ContentRange: Hashable {
    var start: UInt64
    var end: UInt64
    var total: UInt64?

    init(start: UInt64, end: UInt64, total: UInt64?) {
        self.start = start
        self.end = end
        self.total = total
    }

    init?(_ header: String?) {
        guard let header, header.hasPrefix("bytes ") else { return nil }
        let spec = header.dropFirst("bytes ".count)
        let halves = spec.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard halves.count == 2 else { return nil }
        let bounds = halves[0].split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
        guard bounds.count == 2, let start = UInt64(bounds[0]), let end = UInt64(bounds[1]), start <= end else { return nil }
        self.start = start
        self.end = end
        if halves[1] == "*" {
            total = nil
        } else {
            guard let total = UInt64(halves[1]), total > end else { return nil }
            self.total = total
        }
    }
}

extension TimeAmount {
    /// The same span as `duration`, to the nanosecond.
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
