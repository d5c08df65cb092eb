import Testing
@testable import VMImageDownload

@Suite("download retry backoff")
struct DownloadOptionsTests {
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
