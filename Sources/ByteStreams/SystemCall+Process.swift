#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The process-level calls beside the file system ones: anonymous memory, clocks, signals and
/// threads, in the same style (`errno` or the returned code read right after the call, one
/// error type, ``SystemCallError``; `EINTR` retried where the call can be interrupted).
extension SystemCall {
    /// Maps `count` bytes of private, zero-filled memory that may be read and written, straight
    /// from the kernel (`mmap(MAP_PRIVATE | MAP_ANONYMOUS)`): pages count as memory only once
    /// touched, and all of them go back on ``unmap(_:)``. `count` must be more than 0.
    public static func mapAnonymous(count: Int) throws(SystemCallError) -> UnsafeMutableRawBufferPointer {
        guard let address = mmap(nil, count, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
              address != MAP_FAILED else {
            throw SystemCallError(operation: "mmap of \(count) bytes", path: nil, code: errno)
        }
        return UnsafeMutableRawBufferPointer(start: address, count: count)
    }

    /// Gives back memory ``mapAnonymous(count:)`` mapped (`munmap`); `memory` must not be used
    /// afterwards.
    public static func unmap(_ memory: UnsafeMutableRawBufferPointer) throws(SystemCallError) {
        guard munmap(memory.baseAddress, memory.count) == 0 else {
            throw SystemCallError(operation: "munmap of \(memory.count) bytes", path: nil, code: errno)
        }
    }

    /// A clock ``SystemCall/time(of:)`` reads.
    public enum Clock: Sendable {
        /// Time since an unspecified start that never goes back (`CLOCK_MONOTONIC`): for
        /// measuring how long something took.
        case monotonic
        /// The wall clock, since the Unix epoch (`CLOCK_REALTIME`): for timestamps kept across
        /// restarts; it jumps when the system's time is set.
        case realtime
    }

    /// The current time of `clock` (`clock_gettime`).
    public static func time(of clock: Clock) throws(SystemCallError) -> timespec {
        var now = timespec()
        let result: Int32
        switch clock {
        case .monotonic: result = clock_gettime(CLOCK_MONOTONIC, &now)
        case .realtime: result = clock_gettime(CLOCK_REALTIME, &now)
        }
        guard result == 0 else { throw SystemCallError(operation: "clock_gettime", path: nil, code: errno) }
        return now
    }

    /// What the process does on `signal` (`sigaction`); installs `replacement` first when given.
    /// Returns the action in place before the call.
    @discardableResult
    public static func signalAction(_ signal: Int32, replacingWith replacement: sigaction? = nil) throws(SystemCallError) -> sigaction {
        var previous = sigaction()
        let result: Int32
        if var replacement {
            result = sigaction(signal, &replacement, &previous)
        } else {
            result = sigaction(signal, nil, &previous)
        }
        guard result == 0 else { throw SystemCallError(operation: "sigaction for signal \(signal)", path: nil, code: errno) }
        return previous
    }

    /// Blocks `signals` in the calling thread when `blocked`, else unblocks them
    /// (`pthread_sigmask` with `SIG_BLOCK` or `SIG_UNBLOCK`). Threads started afterwards
    /// inherit the mask.
    public static func setSignals(_ signals: sigset_t, blocked: Bool) throws(SystemCallError) {
        var signals = signals
        let code = pthread_sigmask(blocked ? SIG_BLOCK : SIG_UNBLOCK, &signals, nil)
        guard code == 0 else { throw SystemCallError(operation: "pthread_sigmask", path: nil, code: code) }
    }

    /// Waits until one of `signals` is pending for the calling thread or the process, takes it
    /// and returns its number (`sigwait`, retrying `EINTR`). Block `signals` in every thread
    /// first (``setSignals(_:blocked:)``), or a handler may take them instead.
    public static func waitForSignal(in signals: sigset_t) throws(SystemCallError) -> Int32 {
        var signals = signals
        var taken: Int32 = 0
        while true {
            let code = sigwait(&signals, &taken)
            if code == 0 { return taken }
            if code != EINTR { throw SystemCallError(operation: "sigwait", path: nil, code: code) }
        }
    }

    /// The function a thread of ``startDetachedThread(_:argument:)`` runs, given the argument.
    #if os(Linux)
    public typealias ThreadBody = @convention(c) (UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer?
    #else
    public typealias ThreadBody = @convention(c) (UnsafeMutableRawPointer) -> UnsafeMutableRawPointer?
    #endif

    /// Starts a thread running `body(argument)` that nobody joins: its resources go back when it
    /// returns (`pthread_create`, then `pthread_detach`). The thread inherits the caller's
    /// signal mask.
    public static func startDetachedThread(_ body: ThreadBody, argument: UnsafeMutableRawPointer? = nil) throws(SystemCallError) {
        #if os(Linux)
        var thread = pthread_t()
        #else
        var thread: pthread_t?
        #endif
        let code = pthread_create(&thread, nil, body, argument)
        guard code == 0 else { throw SystemCallError(operation: "pthread_create", path: nil, code: code) }
        #if os(Linux)
        pthread_detach(thread)
        #else
        if let thread { pthread_detach(thread) }
        #endif
    }
}
