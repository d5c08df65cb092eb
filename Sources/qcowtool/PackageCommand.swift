import ArgumentParser
import ByteStreams
import SystemPackage
import VMImage

/// `qcowtool package FOLDER OUT.tar.zst`.
struct PackageCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "package",
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

    @OptionGroup var quietOption: QuietOption

    func validate() throws {
        guard (1...19).contains(level) else { throw ValidationError("--level must be 1…19, not \(level)") }
        if let threads, threads < 0 || threads > 256 { throw ValidationError("--threads must be 0…256") }
    }

    func run() throws {
        InterruptHandler.install(command: "package")
        let quiet = quietOption.quiet
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
