import Dispatch

/// Runs long blocking work (extraction, packaging: minutes of file I/O for a large disk) on
/// a Dispatch thread, so it never holds one of the few threads of Swift's cooperative pool.
func runBlocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global(qos: .userInitiated).async {
            continuation.resume(with: Result { try body() })
        }
    }
}
