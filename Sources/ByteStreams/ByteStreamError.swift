/// Failures of the byte plumbing itself (limits, short sources), as opposed to format errors.
/// A failed system call is a ``SystemCallError``, the one error of ``SystemCall``.
public enum ByteStreamError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A sink or reader was asked to hold more than its limit.
    case limitExceeded(limit: Int)
    /// A source ended before the expected number of bytes.
    case unexpectedEnd(expected: UInt64, got: UInt64)

    /// A sentence a person can act on, on one line (the path is shown through ``TerminalText``).
    public var description: String {
        switch self {
        case let .limitExceeded(limit):
            return "more than \(limit) bytes where at most \(limit) are allowed"
        case let .unexpectedEnd(expected, got):
            return "stream ended after \(got) bytes, \(expected) were expected"
        }
    }
}
