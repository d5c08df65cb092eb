import ArgumentParser
import ByteStreams
import QCOW2
import SystemPackage

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `qcowtool check`: a read-only refcount check with qemu-img check's counts and exit codes.
struct CheckCommand: ParsableCommand, JSONWording, FormatWording {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Check a qcow2 image's metadata and refcounts (read-only), like qemu-img check.",
        discussion: "Exit status: 0 clean, 1 check not completed, 2 corruptions, 3 leaks only, 63 the format (raw) has no check.")

    static let jsonHelp = "Print qemu-img check --output=json's JSON."
    static let formatHelp = "The image format (qcow2 or raw); probed when not given."

    @OptionGroup var output: JSONOutputOptions<CheckCommand>

    @OptionGroup var formatOption: FormatOption<CheckCommand>

    @OptionGroup var chain: ChainFlags

    @Argument(help: "The qcow2 image.")
    var file: String

    /// qemu-img check's exit status for a format without checks (raw).
    static let unsupportedFormatStatus: Int32 = 63

    func run() throws {
        let result: CheckResult
        // Each message is printed as it is found (qemu-img's habit), so a file whose many
        // snapshots share one damaged table cannot make us hold millions of lines.
        let messages = OutputBuffer(descriptor: .standardError)
        do {
            let opened = try CommandLineFile.openImage(file, forced: formatOption.format, command: "check")
            defer { SystemCall.closeIgnoringErrors(opened.descriptor) }
            // A file whose size cannot be read is not checked, whatever its format.
            _ = try opened.file.get()
            if opened.isRaw {
                // qemu-img probes a file no other format driver claims as raw, and raw
                // has no check.
                printError("check: '\(TerminalText.escaping(file))': This image format does not support checks")
                throw ExitCode(Self.unsupportedFormatStatus)
            }
            // What qemu-img check's open refuses (a data file or backing file it cannot
            // open, encryption without a key) stops the check, as in qemu-img: exit 1.
            let image = try opened.qcow2(forCheck: true)
            if let refusal = QemuOpenGate.refusal(image: image, path: file, policy: chain.policy) {
                printError("check: could not open '\(TerminalText.escaping(file))': \(refusal)")
                throw ExitCode(1)
            }
            // The image parsed once, above, is the one checked.
            result = try ImageCheck.run(image) { messages.write("qcowtool: \($0)\n") }
        } catch let exit as ExitCode {
            throw exit
        } catch {
            messages.flush()
            printError("check: could not check '\(TerminalText.escaping(file))': \(error)")
            throw ExitCode(1)
        }
        messages.flush()
        print(output.isJSON ? result.json(filename: file) : result.humanSummary)
        if result.exitCode != 0 { throw ExitCode(result.exitCode) }
    }

}
