import Logging
import Synchronization
import VMImage

/// How many bytes of the image a client under test has taken in, as it tells (through its
/// monitor's progress hook or the streaming consumer); the test server waits on it so that a
/// deliberate drop lands exactly where the test says, however starved of CPU the client is.
final class ClientBytes: Sendable {
    private struct Waiter {
        var target: Int
        var continuation: CheckedContinuation<Void, Never>
    }

    private struct State {
        var count = 0
        var waiters: [Int: Waiter] = [:]
        var nextID = 0
        /// Waiters cancelled before they were registered.
        var cancelled: Set<Int> = []
    }

    private let state = Mutex(State())
    private let log = LogRecord()

    /// The highest count told so far.
    var count: Int { state.withLock { $0.count } }

    /// A monitor whose progress hook tells this count (a download's bytes done) and whose
    /// warnings (the reasons for retries) are kept in ``warnings``.
    var monitor: Monitor {
        let log = self.log
        return Monitor(logger: Logger(label: "test", factory: { _ in RecordingLogHandler(record: log, level: .warning) })) { [self] report in
            raise(to: Int(clamping: report.bytesDone))
        }
    }

    /// The warnings logged through ``monitor`` (why each retry was made), for failure messages.
    var warnings: [String] { log.messages.withLock { $0 } }

    /// Raises the count to `count` (a lower one, as after a restart, changes nothing) and wakes
    /// the waiters it satisfies.
    func raise(to count: Int) {
        let woken = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            guard count > state.count else { return [] }
            state.count = count
            let ready = state.waiters.filter { $0.value.target <= count }
            for id in ready.keys { state.waiters[id] = nil }
            return ready.values.map(\.continuation)
        }
        for continuation in woken { continuation.resume() }
    }

    /// Returns once the count reaches `target` (`true`), or `false` after `limit`: a generous
    /// upper bound (a starved client may take minutes; see `fastOptions()`), so that a client
    /// that never gets there fails its test instead of hanging it.
    @discardableResult
    func wait(for target: Int, upTo limit: Duration = .seconds(900)) async -> Bool {
        await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                await self.reached(target)
                return self.count >= target
            }
            group.addTask {
                try? await Task.sleep(for: limit)
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
    }

    /// Returns once the count reaches `target` or the task is cancelled.
    private func reached(_ target: Int) async {
        let id = state.withLock { state in
            state.nextID += 1
            return state.nextID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let now = state.withLock { state -> Bool in
                    if state.count >= target || state.cancelled.remove(id) != nil { return true }
                    state.waiters[id] = Waiter(target: target, continuation: continuation)
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { state -> Waiter? in
                if let waiter = state.waiters.removeValue(forKey: id) { return waiter }
                state.cancelled.insert(id)
                return nil
            }
            waiter?.continuation.resume()
        }
    }
}
