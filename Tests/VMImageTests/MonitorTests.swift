import Logging
import Synchronization
import Testing
@testable import VMImage

/// A swift-log handler that keeps every entry for inspection.
final class CapturedLog: Sendable {
    struct Entry: Sendable {
        var level: Logger.Level
        var message: String
        var metadata: [String: String]
    }

    let entries = Mutex([Entry]())

    func logger() -> Logger {
        var logger = Logger(label: "test") { _ in Handler(log: self) }
        logger.logLevel = .trace
        return logger
    }

    var all: [Entry] { entries.withLock { $0 } }

    struct Handler: LogHandler {
        let log: CapturedLog
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            var merged = metadata
            merged.merge(event.metadata ?? [:]) { $1 }
            let flat = merged.mapValues { "\($0)" }
            log.entries.withLock { $0.append(Entry(level: event.level, message: "\(event.message)", metadata: flat)) }
        }
    }
}

@Suite("Monitor")
struct MonitorTests {
    @Test func logsAtEachLevelWithPrefixAndTags() {
        let log = CapturedLog()
        let root = Monitor(logger: log.logger())
        let child = root.withPrefix("image").withPrefix("download").withTag("imageId", "abc")
        root.debug("d")
        child.info("i")
        child.warn("w")
        child.error("e")
        let entries = log.all
        #expect(entries.map(\.level) == [.debug, .info, .warning, .error])
        #expect(entries.map(\.message) == ["d", "i", "w", "e"])
        #expect(entries[0].metadata["prefix"] == nil)
        #expect(entries[1].metadata["prefix"] == "image.download")
        #expect(entries[1].metadata["imageId"] == "abc")
        #expect(child.prefix == "image.download" && child.tags == ["imageId": "abc"])
        #expect(root.prefix == "" && root.tags.isEmpty, "children do not change the parent")
    }

    @Test func tagsCannotOverwriteThePrefix() {
        let log = CapturedLog()
        Monitor(logger: log.logger()).withPrefix("a").withTags(["prefix": "evil", "k": "v"]).info("x")
        #expect(log.all.first?.metadata["prefix"] == "a")
        #expect(log.all.first?.metadata["k"] == "v")
    }

    @Test func reportedIncidentsCarryAFreshIncidentID() {
        struct Broken: Error {}
        let log = CapturedLog()
        let monitor = Monitor(logger: log.logger())
        let first = monitor.reportError(Broken(), "disk vanished")
        let second = monitor.reportWarning(Broken())
        #expect(first != second)
        for id in [first, second] {
            #expect(id.count == 36 && Machine(uuid: id).validationIssues.isEmpty, "a lowercase v4 UUID: \(id)")
        }
        let entries = log.all
        #expect(entries.map(\.level) == [.error, .warning])
        #expect(entries[0].metadata["incidentId"] == first)
        #expect(entries[0].message.hasPrefix("disk vanished: "))
        #expect(entries[1].metadata["incidentId"] == second)
    }

    @Test func progressReachesTheHookWithTheReporterPrefix() {
        let reports = Mutex([ProgressReport]())
        let monitor = Monitor(logger: CapturedLog().logger()) { report in reports.withLock { $0.append(report) } }
        monitor.withPrefix("download").reportProgress(bytesDone: 50, totalBytes: 200)
        monitor.reportProgress(bytesDone: 7, totalBytes: nil)
        let seen = reports.withLock { $0 }
        #expect(seen.count == 2)
        #expect(seen[0].prefix == "download" && seen[0].fractionDone == 0.25)
        #expect(seen[1].prefix == "" && seen[1].fractionDone == nil)
    }

    @Test func measurementsAreLoggedAtDebug() async {
        let log = CapturedLog()
        let monitor = Monitor(logger: log.logger()).withPrefix("gc")
        monitor.count("disposed", 2)
        let value = await monitor.time("collect") { 42 }
        #expect(value == 42)
        #expect(log.all.map(\.message).first == "counter: gc.disposed incremented by 2.0")
        #expect(log.all.last?.message.hasPrefix("measure: gc.collect recorded ") == true)
    }

    @Test func silentMonitorDropsEverything() {
        Monitor.silent.info("nothing")
        #expect(Monitor.silent.reportError(CancellationError()).count == 36)
    }
}
