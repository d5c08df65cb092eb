import ArgumentParser
import ByteStreams
import SystemPackage
import VMImage

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

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

    /// Prints `error` as one line naming `subject` (escaped: a path can hold any byte) and
    /// turns it into the exit code.
    static func fail(_ command: String, _ subject: String, _ error: any Error) -> ExitCode {
        if let error = error as? VMImageError {
            printError("\(command): \(TerminalText.escaping(subject)): \(error)")
            return ExitCode(error.isMalformedPayload ? refused : failed)
        }
        printError("\(command): \(TerminalText.escaping(subject)): \(error)")
        return ExitCode(failed)
    }
}

/// `qcowtool package FOLDER OUT.tar.zst`.
struct Package: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Package an image folder (disk.img + machine.json) into an image.tar.zst archive.",
        discussion: """
            Writes a fresh layer.qcow2 (backing disk.img, raw) into FOLDER, then a sparse tar of \
            disk.img, layer.qcow2 and machine.json through multithreaded zstd into a temporary file \
            beside OUT, renamed into place when complete. Holes and runs of zeros in disk.img are \
            not stored. The folder is checked with the rules extraction applies first.

            \(ImageExit.discussion)
            """)

    @Argument(help: "The image folder holding disk.img and machine.json.")
    var folder: String

    @Argument(help: "The archive to write (replaced if it exists).")
    var output: String

    @Option(help: "zstd compression level.")
    var level: Int = 3

    @Option(help: "zstd worker threads (default: one per core).")
    var threads: Int?

    @Flag(name: .shortAndLong, help: "No progress output.")
    var quiet = false

    func validate() throws {
        guard (1...19).contains(level) else { throw ValidationError("--level must be 1…19, not \(level)") }
        if let threads, threads < 0 || threads > 256 { throw ValidationError("--threads must be 0…256") }
    }

    func run() throws {
        InterruptHandler.install(command: "package")
        let line = ProgressLine(label: "package", quiet: quiet)
        var options = PackageOptions(level: level)
        if let threads { options.workers = threads }
        options.progress = { done, total in line.update(done: done, total: total) }
        do {
            let result = try ImageArchive.package(folder: FilePath(folder), to: FilePath(output), options: options)
            line.finish()
            if !quiet {
                print("\(TerminalText.escaping(output)): \(result.archiveBytes) bytes, disk \(result.virtualSize) bytes virtual, \(result.diskDataBytes) bytes of data")
            }
        } catch {
            line.finish()
            throw ImageExit.fail("package", folder, error)
        }
    }
}

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

/// Opens an archive for the extract and verify commands.
func openArchive(_ path: String, command: String) throws -> (FileDescriptor, UInt64) {
    do {
        let descriptor = try FileDescriptor.open(FilePath(path), .readOnly, options: [.closeOnExec])
        do {
            let status = try SparseFile.status(of: descriptor, path: path)
            return (descriptor, status.size)
        } catch {
            try? descriptor.close()
            throw error
        }
    } catch {
        printError("\(command): cannot open '\(TerminalText.escaping(path))': \(error)")
        throw ExitCode(ImageExit.failed)
    }
}

/// `qcowtool extract IMAGE.tar.zst FOLDER`.
struct Extract: ParsableCommand {
    static let configuration = CommandConfiguration(
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

    @Option(name: .customLong("max-size"), help: "Largest archive, member and virtual size accepted, in GiB.")
    var maxSizeGiB: UInt64 = 50

    @Flag(name: .shortAndLong, help: "No progress output.")
    var quiet = false

    func run() throws {
        InterruptHandler.install(command: "extract")
        let (descriptor, size) = try openArchive(archive, command: "extract")
        defer { try? descriptor.close() }
        let line = ProgressLine(label: "extract", quiet: quiet)
        let source = ProgressSource(upstream: FileSource(descriptor, path: archive), total: size, line: line)
        do {
            let contents = try ImageArchive.extract(
                from: source, into: FilePath(folder), archiveName: archive,
                limits: ImageLimits(maxImageSize: maxSizeGiB << 30))
            line.finish()
            if !quiet {
                print("\(TerminalText.escaping(folder)): disk.img \(contents.virtualSize) bytes virtual (\(contents.diskDataBytes) bytes of data), layer.qcow2, machine.json")
            }
        } catch {
            line.finish()
            throw ImageExit.fail("extract", archive, error)
        }
    }
}

/// `qcowtool verify IMAGE.tar.zst`.
struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check an image.tar.zst archive against every extraction rule without writing the disk.",
        discussion: """
            Streams the whole archive (so damage anywhere is found) and applies the rules of \
            'extract'; only layer.qcow2 and machine.json are written, to a temporary folder that is \
            removed afterwards.

            \(ImageExit.discussion)
            """)

    @Argument(help: "The archive to verify.")
    var archive: String

    @Option(name: .customLong("max-size"), help: "Largest archive, member and virtual size accepted, in GiB.")
    var maxSizeGiB: UInt64 = 50

    @Flag(name: .shortAndLong, help: "No progress output.")
    var quiet = false

    func run() throws {
        InterruptHandler.install(command: "verify")
        let (descriptor, size) = try openArchive(archive, command: "verify")
        defer { try? descriptor.close() }
        let line = ProgressLine(label: "verify", quiet: quiet)
        let source = ProgressSource(upstream: FileSource(descriptor, path: archive), total: size, line: line)
        do {
            let contents = try ImageArchive.verify(from: source, archiveName: archive,
                                                   limits: ImageLimits(maxImageSize: maxSizeGiB << 30))
            line.finish()
            if !quiet {
                print("\(TerminalText.escaping(archive)): valid image; disk \(contents.virtualSize) bytes virtual, \(contents.diskDataBytes) bytes of data")
            }
        } catch {
            line.finish()
            throw ImageExit.fail("verify", archive, error)
        }
    }
}

/// `qcowtool new-disk FOLDER --size N`.
struct NewDisk: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "new-disk",
        abstract: "Create an image folder with a blank sparse disk and a machine.json, as MutableImage does.",
        discussion: """
            FOLDER must not exist. The disk is N GiB (1 to \(MutableImage.maximumSizeGiB)) and takes no \
            space until written. The machine definition comes from --machine (a machine.json file, \
            validated) or is empty (version 1, every field unset).

            \(ImageExit.discussion)
            """)

    @Argument(help: "The folder to create.")
    var folder: String

    @Option(help: "Disk size in GiB (1…\(MutableImage.maximumSizeGiB)).")
    var size: Int

    @Option(help: "A machine.json to use.")
    var machine: String?

    func validate() throws {
        guard (1...MutableImage.maximumSizeGiB).contains(size) else {
            throw ValidationError("--size must be 1…\(MutableImage.maximumSizeGiB) GiB, not \(size)")
        }
    }

    func run() throws {
        var definition = Machine()
        if let machine {
            do {
                let bytes = try readSmallFile(machine, limit: 1 << 20)
                definition = try Machine(json: bytes, member: machine)
            } catch {
                throw ImageExit.fail("new-disk", machine, error)
            }
        }
        do {
            let image = try MutableImage(folder: FilePath(folder), size: size, machine: definition)
            print(TerminalText.escaping(image.folder.appending(ImageArchive.diskName).string))
        } catch {
            throw ImageExit.fail("new-disk", folder, error)
        }
    }
}

/// Reads a small file whole, refusing more than `limit` bytes.
func readSmallFile(_ path: String, limit: Int) throws -> [UInt8] {
    let descriptor = try FileDescriptor.open(FilePath(path), .readOnly, options: [.closeOnExec])
    defer { try? descriptor.close() }
    var bytes = [UInt8](repeating: 0, count: limit + 1)
    let n = try bytes.withUnsafeMutableBytes { try descriptor.pread(into: $0, at: 0, path: path) }
    guard n <= limit else {
        throw VMImageError.malformedPayload(member: path, rule: .sizeLimit, message: "is larger than \(limit) bytes")
    }
    return Array(bytes.prefix(n))
}
