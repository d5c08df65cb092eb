import SystemPackage

/// Failures of the byte plumbing itself (files, buffers), as opposed to format errors.
public enum ByteStreamError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A system call failed. Only Tar's own calls still throw this; ByteStreams' file
    /// helpers (``FileSource``, ``FileSink``, ``SparseFile``, `pread`/`pwriteAll`) throw
    /// ``SystemCallError``, the one error of ``SystemCall``.
    case system(operation: String, path: String?, errno: Errno)
    /// A sink or reader was asked to hold more than its limit.
    case limitExceeded(limit: Int)
    /// A source ended before the expected number of bytes.
    case unexpectedEnd(expected: UInt64, got: UInt64)

    /// A sentence a person can act on, on one line (the path is shown through ``TerminalText``).
    public var description: String {
        switch self {
        case let .system(operation, path, errno):
            if let path { return "\(operation) \(TerminalText.quoted(path, limit: 4096)): \(errno.description)" }
            return "\(operation): \(errno.description)"
        case let .limitExceeded(limit):
            return "more than \(limit) bytes where at most \(limit) are allowed"
        case let .unexpectedEnd(expected, got):
            return "stream ended after \(got) bytes, \(expected) were expected"
        }
    }
}
