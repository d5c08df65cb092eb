import ArgumentParser
import ByteStreams
import SystemPackage
import VMImage

/// A source that reports how many bytes were read.
struct ProgressSource: ByteSource {
    var upstream: FileSource
    let total: UInt64
    let line: ProgressLine

    mutating func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let n = try upstream.read(into: buffer)
        line.update(done: upstream.bytesRead, total: total)
        return n
    }
}

/// Opens an archive for the extract and verify commands (through ``SystemCall``), or prints
/// one line naming it and throws the image exit code for a failure that is not the archive's.
func openArchive(_ path: String, command: String) throws -> (FileDescriptor, UInt64) {
    let descriptor = try CommandLineFile.openForReading(path, nonBlocking: false, command: command)
    do {
        let status = try SparseFile.status(of: descriptor, path: path)
        return (descriptor, status.size)
    } catch {
        SystemCall.closeIgnoringErrors(descriptor)
        printError("\(command): \(error)")
        throw ExitCode(ImageExit.failed)
    }
}

/// What `extract` and `verify` share: open the archive, stream it with a progress line through
/// `body`, print `body`'s summary line unless quiet, and turn a failure into one line and the
/// image exit code.
func readArchive(
    _ archive: String, command: String, options: ArchiveReadOptions,
    _ body: (ProgressSource, ImageLimits) throws -> String
) throws {
    InterruptHandler.install(command: command)
    let (descriptor, size) = try openArchive(archive, command: command)
    defer { SystemCall.closeIgnoringErrors(descriptor) }
    let line = ProgressLine(label: command, quiet: options.quiet)
    let source = ProgressSource(upstream: FileSource(descriptor, path: archive), total: size, line: line)
    do {
        let summary = try body(source, ImageLimits(maxImageSize: options.maxSizeGiB << 30))
        line.finish()
        if !options.quiet {
            print(summary)
        }
    } catch {
        line.finish()
        throw ImageExit.fail(command, archive, error)
    }
}

/// `qcowtool extract IMAGE.tar.zst FOLDER`.
struct ExtractCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "extract",
        abstract: "Extract and validate an image.tar.zst archive into a new folder.",
        discussion: """
            Streams zstd -> tar -> disk in bounded memory and applies every rule of the image \
            format: exactly disk.img, layer.qcow2 and machine.json, each a regular file, within the \
            size limit; disk.img raw (no other format's header); layer.qcow2 an overlay of disk.img \
            (raw) passing the audit; machine.json valid. FOLDER must not exist; on any failure it \
            is removed with everything written. disk.img comes out sparse.

            \(ImageExit.discussion)
            """)

    @Argument(help: "The archive to extract.")
    var archive: String

    @Argument(help: "The folder to create.")
    var folder: String

    @OptionGroup var options: ArchiveReadOptions

    func run() throws {
        try readArchive(archive, command: "extract", options: options) { source, limits in
            let contents = try ImageArchive.extract(from: source, into: FilePath(folder), archiveName: archive, limits: limits)
            return "\(TerminalText.escaping(folder)): disk.img \(contents.virtualSize) bytes virtual (\(contents.diskDataBytes) bytes of data), layer.qcow2, machine.json"
        }
    }
}

/// `qcowtool verify IMAGE.tar.zst`.
struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check an image.tar.zst archive against every extraction rule without writing the disk.",
        discussion: """
            Streams the whole archive (so damage anywhere is found) and applies the rules of \
            'extract'; only layer.qcow2 and machine.json are written, to a temporary folder that is \
            removed afterwards.

            \(ImageExit.discussion)
            """)

    @Argument(help: "The archive to verify.")
    var archive: String

    @OptionGroup var options: ArchiveReadOptions

    func run() throws {
        try readArchive(archive, command: "verify", options: options) { source, limits in
            let contents = try ImageArchive.verify(from: source, archiveName: archive, limits: limits)
            return "\(TerminalText.escaping(archive)): valid image; disk \(contents.virtualSize) bytes virtual, \(contents.diskDataBytes) bytes of data"
        }
    }
}
