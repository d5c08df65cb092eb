import Logging

/// Where a component sends its logs, its error reports and its progress: taskcluster-worker's
/// `runtime.Monitor` on top of swift-log.
///
/// A value type: ``withPrefix(_:)`` and ``withTag(_:_:)`` return child monitors that add a
/// dotted prefix or a tag to everything they log (as swift-log metadata `prefix` and the tag's
/// key), sharing the parent's log handler and progress hook. Reported errors and warnings get
/// an incident ID that a caller can put into a task log to find the full report.
public struct Monitor: Sendable {
    /// The logger that receives every message, with the prefix and tags as metadata.
    public private(set) var logger: Logger
    /// The dotted prefix of this monitor (`""` for the root).
    public private(set) var prefix: String
    /// The tags of this monitor.
    public private(set) var tags: [String: String]
    private let progressHandler: ProgressHandler?

    /// A hook that receives progress of long operations (download, packaging, extraction).
    public typealias ProgressHandler = @Sendable (ProgressReport) -> Void

    /// A monitor that logs to `logger` and sends progress to `onProgress`.
    public init(logger: Logger, onProgress: ProgressHandler? = nil) {
        self.logger = logger
        self.prefix = ""
        self.tags = [:]
        self.progressHandler = onProgress
    }

    /// A monitor logging through swift-log's bootstrapped backend under `label`, at `level` and above.
    public init(label: String, level: Logger.Level = .info, onProgress: ProgressHandler? = nil) {
        var logger = Logger(label: label)
        logger.logLevel = level
        self.init(logger: logger, onProgress: onProgress)
    }

    /// A monitor that drops everything (for callers that do not care).
    public static var silent: Monitor {
        Monitor(logger: Logger(label: "vmimage.silent", factory: { _ in SwiftLogNoOpLogHandler() }))
    }

    /// Logs a debugging detail.
    public func debug(_ message: @autoclosure () -> String, file: String = #fileID, function: String = #function, line: UInt = #line) {
        logger.debug("\(message())", file: file, function: function, line: line)
    }

    /// Logs normal operation worth a line in the system log.
    public func info(_ message: @autoclosure () -> String, file: String = #fileID, function: String = #function, line: UInt = #line) {
        logger.info("\(message())", file: file, function: function, line: line)
    }

    /// Logs something unexpected that the component handled.
    public func warn(_ message: @autoclosure () -> String, file: String = #fileID, function: String = #function, line: UInt = #line) {
        logger.warning("\(message())", file: file, function: function, line: line)
    }

    /// Logs a failure.
    public func error(_ message: @autoclosure () -> String, file: String = #fileID, function: String = #function, line: UInt = #line) {
        logger.error("\(message())", file: file, function: function, line: line)
    }

    /// Reports `error` as an incident at error level and returns its new incident ID.
    @discardableResult
    public func reportError(_ error: any Error, _ message: String = "", file: String = #fileID, function: String = #function, line: UInt = #line) -> String {
        report(error, message, level: .error, file: file, function: function, line: line)
    }

    /// Reports `error` as an incident at warning level and returns its new incident ID.
    @discardableResult
    public func reportWarning(_ error: any Error, _ message: String = "", file: String = #fileID, function: String = #function, line: UInt = #line) -> String {
        report(error, message, level: .warning, file: file, function: function, line: line)
    }

    private func report(_ error: any Error, _ message: String, level: Logger.Level, file: String, function: String, line: UInt) -> String {
        let incidentID = newIncidentID()
        let text = message.isEmpty ? "\(error)" : "\(message): \(error)"
        logger.log(
            level: level, "\(text)",
            metadata: ["incidentId": "\(incidentID)", "error": "\(String(reflecting: error))"],
            file: file, function: function, line: line)
        return incidentID
    }

    /// Records a measurement (`name` under this monitor's prefix) at debug level.
    public func measure(_ name: String, _ values: Double...) {
        logger.debug("measure: \(qualified(name)) recorded \(values.map { String($0) }.joined(separator: ","))")
    }

    /// Records a counter increment at debug level.
    public func count(_ name: String, _ value: Double = 1) {
        logger.debug("counter: \(qualified(name)) incremented by \(value)")
    }

    /// Runs `body`, measuring its duration in milliseconds under `name`.
    public func time<T>(_ name: String, _ body: () async throws -> T) async rethrows -> T {
        let clock = ContinuousClock()
        let start = clock.now
        defer {
            let elapsed = clock.now - start
            let milliseconds = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
            measure(name, milliseconds)
        }
        return try await body()
    }

    /// A child monitor whose prefix is this one's plus `prefix` (joined with `.`).
    public func withPrefix(_ prefix: String) -> Monitor {
        var child = self
        child.prefix = self.prefix.isEmpty ? prefix : self.prefix + "." + prefix
        child.logger[metadataKey: "prefix"] = "\(child.prefix)"
        return child
    }

    /// A child monitor that adds the tag `key` = `value` (replacing an earlier value of `key`;
    /// `prefix` cannot be overwritten by a tag).
    public func withTag(_ key: String, _ value: String) -> Monitor {
        withTags([key: value])
    }

    /// A child monitor that adds `tags` (see ``withTag(_:_:)``).
    public func withTags(_ tags: [String: String]) -> Monitor {
        var child = self
        for (key, value) in tags where key != "prefix" {
            child.tags[key] = value
            child.logger[metadataKey: key] = "\(value)"
        }
        return child
    }

    /// Tells the progress hook that `bytesDone` of `totalBytes` (when known) are done.
    public func reportProgress(bytesDone: UInt64, totalBytes: UInt64?) {
        progressHandler?(ProgressReport(prefix: prefix, tags: tags, bytesDone: bytesDone, totalBytes: totalBytes))
    }

    private func qualified(_ name: String) -> String {
        prefix.isEmpty ? name : prefix + "." + name
    }
}

/// How far a long operation has come, as sent to a ``Monitor``'s progress hook.
public struct ProgressReport: Sendable, Hashable {
    /// The prefix of the monitor that reported it (names the operation, e.g. `image.download`).
    public var prefix: String
    /// The tags of the monitor that reported it.
    public var tags: [String: String]
    /// Bytes done so far.
    public var bytesDone: UInt64
    /// Bytes in all, when known.
    public var totalBytes: UInt64?

    /// A report of `bytesDone` out of `totalBytes`.
    public init(prefix: String, tags: [String: String] = [:], bytesDone: UInt64, totalBytes: UInt64?) {
        self.prefix = prefix
        self.tags = tags
        self.bytesDone = bytesDone
        self.totalBytes = totalBytes
    }

    /// `bytesDone / totalBytes` in 0…1, when the total is known and not zero.
    public var fractionDone: Double? {
        guard let totalBytes, totalBytes > 0 else { return nil }
        return min(1, Double(bytesDone) / Double(totalBytes))
    }
}

/// A random (version 4) UUID in lowercase, used as an incident ID.
func newIncidentID() -> String {
    var generator = SystemRandomNumberGenerator()
    var bytes = (0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) }
    bytes[6] = (bytes[6] & 0x0F) | 0x40
    bytes[8] = (bytes[8] & 0x3F) | 0x80
    let hex = bytes.map { byte in
        let digits = String(byte, radix: 16)
        return digits.count == 1 ? "0" + digits : digits
    }
    return [hex[0..<4], hex[4..<6], hex[6..<8], hex[8..<10], hex[10..<16]].map { $0.joined() }.joined(separator: "-")
}
