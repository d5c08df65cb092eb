import ArgumentParser
import ByteStreams
import QCOW2
import SystemPackage

/// `qcowtool create`: `qemu-img create -f qcow2` without qemu (see ``QCOW2Creator``).
struct CreateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create",
        abstract: "Create a qcow2 image, like 'qemu-img create -f qcow2'.",
        discussion: """
            Options (-o, comma-separated, repeatable): compat (0.10|1.1), cluster_size, \
            refcount_bits, lazy_refcounts, extended_l2, compression_type (zlib|zstd), \
            backing_file, backing_fmt (raw|qcow2), preallocation (off|metadata), size. \
            SIZE takes K, M, G, T, P, E suffixes (powers of 1024). Without SIZE the size \
            is taken from the backing file. Unlike qemu-img, an existing FILE is not \
            replaced unless --overwrite is given, and the backing name must be a plain file \
            name beside FILE unless --trust-chain is given.
            """)

    @Option(name: .customShort("f"), help: "Image format (only qcow2).")
    var format: String = "qcow2"

    @Option(name: .customShort("b"), help: "Backing file name, stored in the image (resolved beside FILE).")
    var backingFile: String?

    @Option(name: .customShort("F"), help: "Backing file format: raw or qcow2.")
    var backingFormat: String?

    @Option(name: .customShort("o"), help: "qemu-img options, name=value[,name=value…].")
    var optionLists: [String] = []

    @Flag(name: .customShort("q"), help: "Quiet: do not print the 'Formatting' line.")
    var quiet = false

    @Flag(name: .customShort("u"), help: "Accepted for qemu-img compatibility; the backing file is only opened when SIZE is omitted.")
    var unsafe = false

    @Flag(name: .long, help: "Replace an existing regular file at FILE.")
    var overwrite = false

    @Flag(name: .customLong("no-sync"), help: "Skip fsync of the new file and its folder (scratch images).")
    var noSync = false

    @Flag(name: .customLong("trust-chain"), help: "The backing chain is yours: store a backing name with '/', '..', an absolute path or a protocol prefix, as qemu-img does.")
    var trustChain = false

    /// The old spelling of `--trust-chain`, kept so existing scripts still work.
    @Flag(name: .customLong("allow-unsafe-backing-name"), help: .hidden)
    var allowUnsafeBackingName = false

    @Argument(help: "The image to create.")
    var file: String

    @Argument(help: "Virtual size, e.g. 10G.")
    var size: String?

    func run() throws {
        InterruptHandler.install(command: "create")
        guard format == "qcow2" else {
            // One line and exit 1, as qemu-img does for a format it does not know.
            printError("\(TerminalText.escaping(file)): Unknown file format '\(TerminalText.escaping(format))' (qcowtool creates qcow2 images only)")
            throw ExitCode(1)
        }
        var line = QCOW2CreateCommandLine()
        do {
            for list in optionLists { try line.apply(optionList: list) }
            if let backingFile { try line.set("backing_file", backingFile) }
            if let backingFormat { try line.set("backing_fmt", backingFormat) }
            if let size { try line.setSize(size) }
            line.setWriteOptions(allowUnsafeBackingName: trustChain || allowUnsafeBackingName, overwrite: overwrite, sync: !noSync)
            let summary = try QCOW2Creator.create(at: PathText.filePath(file), options: line.options)
            line.noteResolvedSize(summary.virtualSize)
            if !quiet { print(line.formattingLine(file: file)) }
        } catch {
            printError("\(TerminalText.escaping(file)): \(error)")
            throw ExitCode(1)
        }
    }
}

