import AsyncHTTPClient

/// How ``downloadImage(from:sha256:monitor:options:)`` retries, waits and limits.
public struct DownloadOptions: Sendable {
    /// Attempts in all, the first included (the original's 7).
    public var maxAttempts: Int = 7
    /// The wait before the first retry; each further retry doubles it, with ±25 % jitter.
    public var baseDelay: Duration = .milliseconds(100)
    /// The longest wait between two attempts.
    public var maxDelay: Duration = .seconds(30)
    /// The largest image accepted, in bytes (50 GiB); a larger `Content-Length` or body is a
    /// malformed payload.
    public var maxBytes: UInt64 = 50 << 30
    /// How long to wait for a connection (async-http-client keeps retrying a refused one until then).
    public var connectTimeout: Duration = .seconds(10)
    /// How long the server may stay silent in the middle of a response.
    public var readTimeout: Duration = .seconds(60)
    /// The client to use; `nil` makes one per download with the timeouts above (and shuts it down).
    public var httpClient: HTTPClient?

    /// The defaults: 7 attempts, 100 ms base delay, 30 s cap, 50 GiB.
    public init() {}

    /// The wait before attempt `attempt + 1`, for `attempt` ≥ 1, with `jitter` in 0.75…1.25.
    func delay(afterAttempt attempt: Int, jitter: Double) -> Duration {
        let doublings = min(max(attempt - 1, 0), 30)
        let base = baseDelay * (1 << doublings)
        let jittered = base * jitter
        return min(jittered, maxDelay)
    }

    /// ``delay(afterAttempt:jitter:)`` with a random jitter.
    func randomDelay(afterAttempt attempt: Int) -> Duration {
        var generator = SystemRandomNumberGenerator()
        return delay(afterAttempt: attempt, jitter: Double.random(in: 0.75...1.25, using: &generator))
    }
}
