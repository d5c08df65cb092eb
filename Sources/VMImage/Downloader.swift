import SystemPackage

/// Fetches an image archive into `imageFile`, retrying as it sees fit, and throws only when
/// it has given up. The image manager calls it with a temporary path of its choosing.
///
/// `VMImageDownload.downloadImage(from:sha256:monitor:options:)` makes one for an HTTP(S)
/// URL; callers that bring their own transport write their own closure and never build HTTP.
public typealias Downloader = @Sendable (_ imageFile: FilePath) async throws -> Void
