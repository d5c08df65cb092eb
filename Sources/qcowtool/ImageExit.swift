import ArgumentParser
import ByteStreams
import SystemPackage
import VMImage

/// Exit codes of the image commands (also listed in README and each command's --help).
enum ImageExit {
    /// The archive or folder breaks a rule of the image format (malformed payload).
    static let refused: Int32 = 2
    /// Anything else went wrong: arguments, files, the host.
    static let failed: Int32 = 1

    static let discussion = """
        Exit status: 0 on success; 2 when the image breaks a rule of the image format \
        (the message names the member and the rule); 1 for any other failure.
        """

    /// Prints `error` as one line naming `subject` once (escaped: a path can hold any byte;
    /// see ``CommandLineFile/line(for:subject:)``) and turns it into the exit code.
    static func fail(_ command: String, _ subject: String, _ error: any Error) -> ExitCode {
        if let error = error as? VMImageError {
            if case let .fileSystem(operation, path, code) = error, path == subject {
                // The error names the path already: say it once.
                let opening = operation == "open" || operation == "open folder"
                printError("\(command): " + (opening ? CommandLineFile.cannotOpen(path, Errno(rawValue: code)) : "\(error)"))
                return ExitCode(failed)
            }
            printError("\(command): \(TerminalText.escaping(subject)): \(error)")
            return ExitCode(error.isMalformedPayload ? refused : failed)
        }
        printError("\(command): \(CommandLineFile.line(for: error, subject: subject))")
        return ExitCode(failed)
    }
}
