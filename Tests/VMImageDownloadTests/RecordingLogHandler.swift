import Logging
import Synchronization

/// Messages kept by a ``RecordingLogHandler``.
final class LogRecord: Sendable {
    let messages = Mutex([String]())
}

/// A swift-log handler that keeps the messages at `logLevel` and above in a ``LogRecord``, so a
/// failing test can say why the code under test did what it did.
struct RecordingLogHandler: LogHandler {
    let record: LogRecord
    var logLevel: Logger.Level
    var metadata: Logger.Metadata = [:]

    init(record: LogRecord, level: Logger.Level) {
        self.record = record
        self.logLevel = level
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        record.messages.withLock { $0.append("\(event.level): \(event.message)") }
    }
}
