import SystemPackage

/// Fetches an image archive into `imageFile`, retrying as it sees fit, and throws only when
/// it has given up. The image manager calls it with a temporary path of its choosing.
///
/// `VMImageDownload.downloadImage(from:sha256:monitor:options:)` makes one for an HTTP(S)
/// URL; callers that bring their own transport write their own closure and never build HTTP.
public typealias Downloader = @Sendable (_ imageFile: FilePath) async throws -> Void

/// Delivers an image archive's bytes to `deliver`, in order and each byte exactly once, for
/// extraction while downloading (no temporary archive file). It returns when all bytes were
/// delivered (and verified, when it checks a digest) and throws when it has given up or when
/// `deliver` throws (that error unchanged).
///
/// The bytes are untrusted until it returns: a consumer must be ready to throw away what it
/// made of them. `VMImageDownload.streamImage(from:sha256:monitor:options:)` makes one for HTTP(S).
public typealias StreamingDownloader = @Sendable (
    _ deliver: @escaping @Sendable (_ chunk: [UInt8]) async throws -> Void
) async throws -> Void
