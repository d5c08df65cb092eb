import ArgumentParser
import QCOW2

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `qcowtool inspect` (alias `info`): what `qemu-img info` says, plus the audit.
struct InspectCommand: ParsableCommand, JSONWording, FormatWording {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show what qemu-img info shows about qcow2 or raw files, and audit them.",
        discussion: """
            Exit status: 0 when every file was parsed (and, with --strict, no audit error was \
            found); 1 when a file could not be parsed (one line on stderr names it) or, with \
            --strict, when the audit found an error.
            """,
        aliases: ["info"])

    static let jsonHelp = "Print qemu-img's JSON (same field names and layout) plus an \"audit\" member."
    static let formatHelp = "Force the format instead of probing (qcow2 or raw)."

    @OptionGroup var output: JSONOutputOptions<InspectCommand>

    @OptionGroup var formatOption: FormatOption<InspectCommand>

    @Flag(help: "Exit 1 when the audit finds an error in any file.")
    var strict = false

    @Flag(help: "Also inspect each image's backing file, and its backing file in turn, but only after the audit of the image that names it passed.")
    var backingChain = false

    @OptionGroup var chain: ChainFlags

    @Argument(help: "Image files to inspect.")
    var files: [String]

    func validate() throws {
        guard !files.isEmpty else { throw ValidationError("Name at least one image file.") }
    }

    func run() throws {
        let status = InspectJob(
            json: output.isJSON, format: formatOption.format, strict: strict, backingChain: backingChain, policy: chain.policy, files: files
        ).run()
        if status != 0 { throw ExitCode(status) }
    }
}
