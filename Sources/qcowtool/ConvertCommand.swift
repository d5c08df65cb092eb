import ArgumentParser
import ByteStreams
import QCOW2

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `qcowtool convert -O raw`: the guest disk as a sparse raw file, like qemu-img convert.
struct ConvertCommand: ParsableCommand, FormatWording {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Write a qcow2 image's guest disk to a sparse raw file, like qemu-img convert -O raw.",
        discussion: "Follows the backing chain only when it passes the safety rules (or, with --trust-chain, as qemu-img follows it); refuses otherwise. The output is written to a temporary file beside DST and renamed into place.")

    @Option(name: .customShort("O"), help: "Output format (only raw).")
    var outputFormat: String

    static let formatHelp = "The input format (qcow2 or raw); probed when not given."

    @OptionGroup var formatOption: FormatOption<ConvertCommand>

    @Flag(name: .customShort("p"), help: "Show progress on a terminal.")
    var progress = false

    @OptionGroup var chain: ChainFlags

    @Argument(help: "The qcow2 image.")
    var source: String

    @Argument(help: "The raw file to write.")
    var destination: String

    func validate() throws {
        guard outputFormat == "raw" else { throw ValidationError("only -O raw is supported, not '\(outputFormat)'") }
    }

    func run() throws {
        InterruptHandler.install(command: "convert")
        // The source is opened once here, so that a file that cannot be opened is one line
        // naming it; the probe, qemu's open checks, the chain gate and the reader all read
        // this descriptor, and a qcow2 header is parsed once.
        let opened = try CommandLineFile.openImage(source, forced: formatOption.format, command: "convert")
        defer { SystemCall.closeIgnoringErrors(opened.descriptor) }
        let image = opened.isRaw ? nil : try checkQCOW2Source(opened)
        let showProgress = progress && isatty(STDERR_FILENO) == 1
        do {
            let reader: ImageReader
            if let image {
                reader = try ImageReader.open(image: image, path: source, options: ChainOptions(
                    policy: chain.policy, allowExternalDataFile: ChainGate.mayReadDataFile(of: image, path: source)))
            } else {
                reader = ImageReader.openRaw(file: try opened.file.get())
            }
            defer { reader.close() }
            var lastShown = -1
            _ = try RawConversion.convert(reader, to: destination) { done, total in
                guard showProgress, total > 0 else { return }
                let hundredths = Int(done * 10000 / total)
                guard hundredths != lastShown else { return }
                lastShown = hundredths
                let fraction = hundredths % 100
                writeStandardError("\r    (\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)/100%)")
            }
            if showProgress { writeStandardError("\n") }
        } catch {
            if showProgress { writeStandardError("\n") }
            printError("convert: " + (CommandLineFile.openFailure(error, of: source) ?? "\(error)"))
            throw ExitCode(1)
        }
    }

    /// The qcow2 source `opened`, parsed; exits 1 with one line when it cannot be opened as
    /// qemu-img opens it, or names a backing chain that must not be followed.
    private func checkQCOW2Source(_ opened: CommandLineImage) throws -> QCOW2Image {
        let image: QCOW2Image
        do {
            image = try opened.qcow2()
        } catch {
            // The open's own error names the path too: say it once.
            printError("convert: " + (CommandLineFile.openFailure(error, of: source) ?? "could not open '\(TerminalText.escaping(source))': \(error)"))
            throw ExitCode(1)
        }
        if let refusal = QemuOpenGate.refusal(image: image, path: source, policy: chain.policy) {
            printError("convert: could not open '\(TerminalText.escaping(source))': \(refusal)")
            throw ExitCode(1)
        }
        if let name = image.header.backingFileNameBytes, name.first.map({ $0 != 0 }) ?? false,
           let refusal = ChainGate.refusal(for: image, path: source, policy: chain.policy) {
            printError("convert: refusing to follow the backing chain of '\(TerminalText.escaping(source))': \(refusal)")
            throw ExitCode(1)
        }
        return image
    }
}
