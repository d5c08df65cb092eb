import ByteStreams

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A progress line on standard error (bytes done, rate, time left), drawn only when standard
/// error is a terminal and `-q` was not given; silent otherwise.
final class ProgressLine: @unchecked Sendable {
    private let label: String
    private let enabled: Bool
    private let start = ProgressLine.now()
    private var lastDraw = 0.0
    private var drawn = false
    private var lock = pthread_mutex_t()

    init(label: String, quiet: Bool) {
        self.label = label
        self.enabled = !quiet && isatty(STDERR_FILENO) == 1
        pthread_mutex_init(&lock, nil)
    }

    deinit { pthread_mutex_destroy(&lock) }

    /// Redraws the line (at most ten times a second).
    func update(done: UInt64, total: UInt64?) {
        guard enabled else { return }
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        let now = Self.now()
        guard now - lastDraw >= 0.1 else { return }
        lastDraw = now
        let elapsed = max(now - start, 0.001)
        let rate = Double(done) / elapsed
        var line = "\r\(label): \(Self.bytes(done))"
        if let total, total > 0 {
            let percent = min(100, Int(Double(done) * 100 / Double(total)))
            line += " of \(Self.bytes(total)) (\(percent)%)"
            if rate > 0, total > done {
                line += ", \(Self.duration(Double(total - done) / rate)) left"
            }
        }
        line += ", \(Self.bytes(UInt64(rate)))/s   "
        writeStandardError(line)
        drawn = true
    }

    /// Ends the line.
    func finish() {
        guard enabled, drawn else { return }
        writeStandardError("\n")
    }

    /// Seconds on the monotonic clock; 0 if it cannot be read (the line then shows no rate).
    static func now() -> Double {
        guard let ts = try? SystemCall.time(of: .monotonic) else { return 0 }
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    static func bytes(_ count: UInt64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(count)
        var unit = 0
        while value >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        if unit == 0 { return "\(count) B" }
        let tenths = Int((value * 10).rounded())
        return "\(tenths / 10).\(tenths % 10) \(units[unit])"
    }

    static func duration(_ seconds: Double) -> String {
        let total = Int(seconds.rounded())
        return total >= 60 ? "\(total / 60)m\(total % 60 < 10 ? "0" : "")\(total % 60)s" : "\(total)s"
    }
}
