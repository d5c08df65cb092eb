import Synchronization

/// A value computed at most once, on first use, and shared by every copy of the value type
/// that holds the cache (the outcome, a value or an error, is kept either way).
final class OnceCache<Value: Sendable>: Sendable {
    private let state = Mutex<Result<Value, any Error>?>(nil)

    /// The cached outcome, computing it with `make` the first time.
    func value(_ make: () throws -> Value) throws -> Value {
        try state.withLock { stored in
            if let stored { return try stored.get() }
            let outcome = Result { try make() }
            stored = outcome
            return try outcome.get()
        }
    }
}
