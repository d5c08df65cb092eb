import SystemPackage

/// A system call that failed: which one (`operation`), on what (`path`, when there is one) and
/// why (`errno`, swift-system's typed errno).
///
/// The one error style of ``SystemCall``: every wrapper there throws this and nothing else, so a
/// caller maps one type into its module's error (``QCOW2CreateError``-style `.system` cases,
/// `VMImageError.fileSystem`) instead of reading the global `errno` itself.
public struct SystemCallError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The call or step that failed, as a person would say it (`"fsync"`, `"rename to"`).
    public var operation: String
    /// The path the call was about (shown through ``TerminalText``), if any.
    public var path: String?
    /// The error the system reported.
    public var errno: Errno

    /// A failure of `operation` on `path` with `errno`.
    public init(operation: String, path: String?, errno: Errno) {
        self.operation = operation
        self.path = path
        self.errno = errno
    }

    /// A failure of `operation` on `path` with the raw errno value `code`.
    public init(operation: String, path: String?, code: Int32) {
        self.init(operation: operation, path: path, errno: Errno(rawValue: code))
    }

    /// One line: the operation, the quoted path and the system's words for the errno.
    public var description: String {
        if let path { return "\(operation) \(TerminalText.quoted(path, limit: 4096)) failed: \(errno.description)" }
        return "\(operation) failed: \(errno.description)"
    }
}
