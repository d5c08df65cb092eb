import SystemPackage
import VMImage

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A ``Downloader`` that fetches `url` over HTTP(S) into the file it is given.
///
/// - Streams the body to the file (bounded memory), creating or truncating it (never
///   following a symlink); the file is removed again when the download fails.
/// - Up to `options.maxAttempts` (7) attempts, with exponential, jittered backoff, on
///   connection errors, bodies cut short and 5xx answers; then
///   ``VMImageError/downloadFailed(url:attempts:reason:)``.
/// - Any other non-2xx answer is ``VMImageError/malformedPayload(member:rule:message:)`` with
///   rule ``PayloadRule/httpStatus`` at once, without retrying.
/// - A retry after some bytes arrived asks for the rest with `Range: bytes=N-` (and `If-Range`
///   with the first answer's strong `ETag` or `Last-Modified`); a `206` whose `Content-Range`
///   starts at N is appended, anything else (a `200`) starts the file over from byte 0.
/// - With `sha256` (64 hex digits, any case), the file's SHA-256 must match, or the download
///   fails with rule ``PayloadRule/sha256``; a malformed digest is that error before any request.
/// - Progress (bytes written, total when known) goes to `monitor`'s progress hook under the
///   prefix `download`; each retry is logged as a warning.
public func downloadImage(
    from url: URL, sha256: String? = nil, monitor: Monitor = .silent, options: DownloadOptions = DownloadOptions()
) -> Downloader {
    { imageFile in
        var download = try ImageDownload(url: url, sha256: sha256, monitor: monitor.withPrefix("download"), options: options)
        var sink = try FileSink(path: imageFile)
        do {
            try await download.run(into: &sink)
            try sink.close()
        } catch {
            sink.closeAndRemove()
            throw error
        }
    }
}

/// A ``StreamingDownloader`` that fetches `url` over HTTP(S), for extraction while downloading.
///
/// The same retries, status rules, size limit, digest check and progress as
/// ``downloadImage(from:sha256:monitor:options:)``, except that delivered bytes cannot be taken
/// back: when a retry is answered with the whole body (`200`) instead of the rest (`206`), the
/// bytes already delivered are skipped, provided the answer's length and validator (`ETag`,
/// `Last-Modified`) match the first answer's; otherwise the image changed on the server and the
/// download fails. With `sha256`, the digest is checked after the last byte is delivered and a
/// mismatch is thrown from the streamer, so the consumer must discard its work.
public func streamImage(
    from url: URL, sha256: String? = nil, monitor: Monitor = .silent, options: DownloadOptions = DownloadOptions()
) -> StreamingDownloader {
    { deliver in
        var download = try ImageDownload(url: url, sha256: sha256, monitor: monitor.withPrefix("download"), options: options)
        var sink = ConsumerSink(deliver: deliver)
        try await download.run(into: &sink)
    }
}
