import SystemPackage

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The partial output this process would leave behind if it were interrupted (SIGINT,
/// SIGTERM) now: temporary files not yet renamed into place, folders not yet complete.
///
/// Writers register only what they created themselves, and keep the registry true with three
/// rules, each step inside one ``transaction(_:)`` so that an interruption sees the state
/// before or after it, never half of it:
///
/// - create the path and ``Registry/add(_:kind:)`` it in the same transaction (a path created
///   outside one could be left behind by an interruption between the two steps);
/// - rename it into place, or delete it, and ``Registry/remove(_:)`` it in the same transaction;
/// - create files inside a registered folder in a transaction too, so none appears once the
///   cleanup has started.
///
/// A transaction holds a lock for its few system calls only (no data is written under it).
/// The process's interruption handler (qcowtool installs one; a library user may install its
/// own) calls ``removeAllForInterruption()``, which takes the lock for good, deletes every
/// registered path and returns; the handler then ends the process with `_exit`. A writer that
/// tries another transaction after that point waits until the process is gone, so nothing
/// is created behind the cleanup's back. Without a handler the registry is bookkeeping only.
public enum InterruptCleanup {
    /// What a registered path is, which says how to remove it.
    public enum Kind: Sendable {
        /// A file: unlinked.
        case file
        /// A folder this process created: the entries directly inside it are unlinked (never
        /// followed), then the folder is removed. A subfolder is left in place.
        case folder
    }

    /// Identifies one registration, for ``Registry/remove(_:)``.
    public struct Ticket: Sendable, Hashable {
        fileprivate let id: UInt64
    }

    /// The registered paths, changed only inside ``InterruptCleanup/transaction(_:)``.
    public struct Registry: Sendable {
        fileprivate var entries: [(id: UInt64, path: String, kind: Kind)] = []
        fileprivate var nextID: UInt64 = 0

        /// Registers `path` (absolute, or relative to the working directory, which qcowtool
        /// never changes), created by this process, for removal on interruption.
        public mutating func add(_ path: String, kind: Kind) -> Ticket {
            nextID &+= 1
            entries.append((nextID, path, kind))
            return Ticket(id: nextID)
        }

        /// Forgets a registration (its path was renamed into place or deleted).
        public mutating func remove(_ ticket: Ticket) {
            entries.removeAll { $0.id == ticket.id }
        }

        /// The registered paths, oldest first.
        public var paths: [String] { entries.map(\.path) }
    }

    /// Runs `body` with the registry locked. Keep it to the system calls that create, rename
    /// or delete a path and the matching registry change; do not nest transactions.
    public static func transaction<Result, Failure: Error>(
        _ body: (inout Registry) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        state.lock()
        defer { state.unlock() }
        return try body(&state.registry)
    }

    /// Registers `path`, created outside any transaction by code that cannot run inside one
    /// (a library call), as soon as it exists. Prefer creating it in a ``transaction(_:)``.
    public static func add(_ path: String, kind: Kind) -> Ticket {
        transaction { $0.add(path, kind: kind) }
    }

    /// Forgets `ticket` (see ``Registry/remove(_:)``).
    public static func remove(_ ticket: Ticket) {
        transaction { $0.remove(ticket) }
    }

    /// For an interruption handler: waits for the running transaction, then keeps the lock
    /// for the rest of the process's life and deletes every registered path, newest first.
    /// Returns the paths it deleted. The caller must end the process (`_exit`) next: no
    /// transaction can run again.
    ///
    /// Runs on an ordinary thread (one that took the signal with `sigwait`, say), never in a
    /// signal handler: it allocates.
    @discardableResult
    public static func removeAllForInterruption() -> [String] {
        state.lock()
        var removed: [String] = []
        for entry in state.registry.entries.reversed() {
            switch entry.kind {
            case .file:
                if (try? SystemCall.unlink(entry.path, in: nil, path: entry.path)) != nil { removed.append(entry.path) }
            case .folder:
                if removeFolder(entry.path) { removed.append(entry.path) }
            }
        }
        state.registry.entries.removeAll()
        return removed
    }

    /// Deletes the folder `path` and the entries directly inside it. A writer still running
    /// may create an entry between reading the folder and removing it (one that does not use a
    /// transaction): then the folder is read again. Once the folder is gone nothing can be
    /// created in it, even through a descriptor still open on it.
    ///
    /// The calls go through ``SystemCall`` like any other: this runs on an ordinary thread (the
    /// one that took the signal with `sigwait`), never in a signal handler, so nothing here has
    /// to be async-signal-safe. Failures are not reported: the process is ending, and a path
    /// that could not be removed is simply not listed as removed.
    private static func removeFolder(_ path: String) -> Bool {
        for _ in 0..<64 {
            guard let folder = try? SystemCall.openSubfolder(path, in: nil, path: path) else { return false }
            // Names as the bytes the folder holds (not decoded: any byte sequence is a name).
            guard let names = try? SystemCall.entryNames(of: folder, path: path) else {
                SystemCall.closeIgnoringErrors(folder)
                return false
            }
            for name in names { _ = try? SystemCall.unlink(PathText.text(name), in: folder, path: path) }
            SystemCall.closeIgnoringErrors(folder)
            do throws(SystemCallError) {
                try SystemCall.removeFolder(path, in: nil, path: path)
                return true
            } catch {
                if error.errno != .directoryNotEmpty && error.errno != .fileExists { return false }
            }
        }
        return false
    }

    private static let state = State()

    /// The registry and its lock (a pthread mutex at a fixed address).
    private final class State: @unchecked Sendable {
        private let mutex: UnsafeMutablePointer<pthread_mutex_t>
        var registry = Registry()

        init() {
            mutex = .allocate(capacity: 1)
            mutex.initialize(to: pthread_mutex_t())
            pthread_mutex_init(mutex, nil)
        }

        func lock() { pthread_mutex_lock(mutex) }
        func unlock() { pthread_mutex_unlock(mutex) }
    }
}
