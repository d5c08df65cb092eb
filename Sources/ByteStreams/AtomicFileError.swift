/// Why an ``AtomicFile`` could not be created or published. Nothing is left at the target (nor
/// under the temporary name, once the file is discarded) when one of these is thrown.
public enum AtomicFileError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The target path names no file (empty, `/`, ends in `/`, `.` or `..`).
    case invalidTargetPath(path: String)
    /// Something exists at the target and the rule was ``AtomicFile/Publishing/withoutReplacing``.
    case targetExists(path: String)
    /// The target is a symbolic link; it is neither followed nor replaced.
    case targetIsSymbolicLink(path: String)
    /// The target exists and is not a regular file (a folder, a device…).
    case targetNotRegularFile(path: String)
    /// A system call failed.
    case system(SystemCallError)

    /// One line a person can act on; paths are shown through ``TerminalText``.
    public var description: String {
        switch self {
        case let .invalidTargetPath(path):
            return "\(TerminalText.quoted(path)) does not name a file"
        case let .targetExists(path):
            return "\(TerminalText.quoted(path)) already exists; remove it first"
        case let .targetIsSymbolicLink(path):
            return "\(TerminalText.quoted(path)) is a symbolic link; refusing to follow or replace it"
        case let .targetNotRegularFile(path):
            return "\(TerminalText.quoted(path)) exists and is not a regular file; refusing to replace it"
        case let .system(error):
            return error.description
        }
    }
}
