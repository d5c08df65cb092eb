import ArgumentParser
import ByteStreams
import QCOW2
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

    /// Opens the image `path` of `check`, `map` or `convert` once for the whole command (the
    /// probe, qemu's open checks, the chain gate and the reader all read this descriptor) and
    /// reads it as `forced` with `-f`, else as probed (``FormatProbe``). A file that cannot be
    /// opened, or that qemu-img would open as a format qcowtool does not read, is one line
    /// (`command: …`) and exit status 1. The caller closes ``CommandLineImage/descriptor``.
    static func openImage(_ path: String, forced: ImageInspection.Format?, command: String) throws -> CommandLineImage {
        let descriptor = try openForReading(path, nonBlocking: true, command: command)
        let file = Result<ImageFile, any Error> { try ImageFile(descriptor: descriptor, path: path) }
        let probed = FormatProbe.probe(try? file.get(), path: path, forced: forced)
        if case .unread(let other) = probed {
            SystemCall.closeIgnoringErrors(descriptor)
            throw FormatProbe.refuse(command, path: path, format: other)
        }
        return CommandLineImage(descriptor: descriptor, path: path, file: file, isRaw: probed == .raw)
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

/// An image named on the command line, open (``CommandLineFile/openImage(_:forced:command:)``)
/// and read as raw or as qcow2.
struct CommandLineImage {
    /// The open file; the command closes it (`SystemCall.closeIgnoringErrors`).
    let descriptor: FileDescriptor
    /// The path as given.
    let path: String
    /// The file and its size, or why its size could not be read (reported when it is used).
    let file: Result<ImageFile, any Error>
    /// Whether it is read as a raw disk (forced or probed); otherwise as qcow2.
    let isRaw: Bool

    /// The qcow2 image on ``descriptor``, its header parsed (as `qemu-img check` opens it
    /// when `forCheck`).
    ///
    /// - Throws: the ``file`` error, ``QCOW2HeaderError`` or the read's `SystemCallError`.
    func qcow2(forCheck: Bool = false) throws -> QCOW2Image {
        try QCOW2Image(descriptor: descriptor, path: path, fileSize: file.get().size, forCheck: forCheck)
    }
}
