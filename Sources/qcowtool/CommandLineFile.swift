import ArgumentParser
import ByteStreams
import SystemPackage

/// A file a person named on the command line: opening it through ``SystemCall`` and the one
/// line every command prints when it cannot be opened (`cannot open 'x': No such file or
/// directory`: the path once, then the system's reason).
enum CommandLineFile {
    /// Opens `path` read-only (a link the person made is followed), or prints `command: cannot
    /// open 'path': reason` and throws exit status 1. `nonBlocking` for an image, which is
    /// read at offsets (a FIFO then fails instead of hanging); not for a stream read from start
    /// to end, which may be a pipe.
    static func openForReading(_ path: String, nonBlocking: Bool, command: String) throws -> FileDescriptor {
        do throws(SystemCallError) {
            return try SystemCall.openForReading(path, nonBlocking: nonBlocking)
        } catch {
            printError("\(command): \(cannotOpen(path, error.errno))")
            throw ExitCode(1)
        }
    }

    /// `cannot open 'path': reason`, the path escaped and quoted.
    static func cannotOpen(_ path: String, _ reason: Errno) -> String {
        "cannot open \(TerminalText.quoted(path, limit: 4096)): \(reason.description)"
    }

    /// The line for `error` when it is the failed `open` of `path` (``cannotOpen(_:_:)``), else
    /// `nil`: for commands whose library call opens the file itself.
    static func openFailure(_ error: any Error, of path: String) -> String? {
        guard let error = error as? SystemCallError, error.operation == "open", error.path == path else { return nil }
        return cannotOpen(path, error.errno)
    }

    /// One line for any failure about `subject`: the ``openFailure(_:of:)`` line; a
    /// ``SystemCallError`` about `subject` as it is (it names the path already); otherwise the
    /// subject, escaped, then the error.
    static func line(for error: any Error, subject: String) -> String {
        if let line = openFailure(error, of: subject) { return line }
        if let error = error as? SystemCallError, error.path == subject { return error.description }
        return "\(TerminalText.escaping(subject)): \(error)"
    }
}
