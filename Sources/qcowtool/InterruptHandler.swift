import ByteStreams

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What the commands that write files (`extract`, `verify`, `package`, `convert`, `create`,
/// `map --svg`) do on SIGINT, SIGTERM or SIGHUP: remove the partial output the libraries
/// registered with ``InterruptCleanup`` and exit with status 128 + the signal's number (130
/// for SIGINT, 143 for SIGTERM, 129 for SIGHUP), as a shell reports a command a signal ended.
///
/// No code runs in a signal handler: the signals are blocked in every thread and one thread
/// takes them with `sigwait`, so the cleanup may allocate and take locks. The cleanup waits for
/// a library's create/rename/delete step in progress and then keeps every such step from
/// running again (see ``InterruptCleanup``), so the work threads cannot re-create what it
/// removes before `_exit` ends them.
enum InterruptHandler {
    /// The signals handled, with the names used in the message.
    private static let handled: [(signal: Int32, name: String)] = [(SIGINT, "SIGINT"), (SIGTERM, "SIGTERM"), (SIGHUP, "SIGHUP")]

    /// The command named in the message. Written once, before the waiting thread starts
    /// (`pthread_create`, through ``SystemCall/startDetachedThread(_:argument:)``, orders the
    /// write before the thread's reads).
    nonisolated(unsafe) private static var command = "qcowtool"
    /// The signals blocked and waited for (those not inherited as ignored), written like
    /// ``command``. Waiting for an ignored one would take it: the kernel does not discard a
    /// signal a thread is waiting for.
    nonisolated(unsafe) private static var waitedFor = sigset_t()

    /// Starts handling the signals for `command`. Call it first in `run()`: the signal mask is
    /// inherited, so it must be set before any other thread (zstd workers) is started.
    /// A signal this process inherited as ignored (`nohup`, or SIGINT in a shell's background
    /// job) stays ignored.
    static func install(command: String) {
        Self.command = command
        var signals = sigset_t()
        sigemptyset(&signals)
        var any = false
        for entry in handled where !isIgnored(entry.signal) {
            sigaddset(&signals, entry.signal)
            any = true
        }
        guard any else { return }
        waitedFor = signals
        do {
            try SystemCall.setSignals(signals, blocked: true)
        } catch {
            return  // Nothing blocked: the signals end the process as before.
        }
        do {
            try SystemCall.startDetachedThread { _ in
                InterruptHandler.waitForSignal()
                return nil
            }
        } catch {
            // No waiting thread: let the signals end the process as before.
            try? SystemCall.setSignals(signals, blocked: false)
        }
    }

    /// Whether `signal`'s disposition is "ignore".
    private static func isIgnored(_ signal: Int32) -> Bool {
        guard let current = try? SystemCall.signalAction(signal) else { return false }
        #if os(Linux)
        let handler = current.__sigaction_handler.sa_handler
        #else
        let handler = current.__sigaction_u.__sa_handler
        #endif
        // SIG_IGN is the handler value 1 on Linux and Darwin.
        return handler.map { unsafeBitCast($0, to: Int.self) == 1 } ?? false
    }

    /// The waiting thread: takes one of the blocked signals, removes the partial output, says
    /// so in one line and ends the process.
    private static func waitForSignal() {
        // sigwait fails only for a set holding an invalid signal, which `handled` never does.
        guard let signal = try? SystemCall.waitForSignal(in: waitedFor) else { return }
        let removed = InterruptCleanup.removeAllForInterruption()
        let name = handled.first { $0.signal == signal }?.name ?? "signal \(signal)"
        var line = "\(command): interrupted by \(name)"
        if !removed.isEmpty {
            line += "; removed the partial output " + removed.map { TerminalText.quoted($0) }.joined(separator: ", ")
        }
        // End a progress line left on the terminal first.
        writeStandardError((isatty(STDERR_FILENO) == 1 ? "\n" : "") + "qcowtool: \(line)\n")
        _exit(128 + signal)
    }
}
