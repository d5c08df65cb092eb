import ArgumentParser
import QCOW2

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension ImageInspection.Format: ExpressibleByArgument {}

/// `qcowtool inspect` (alias `info`): what `qemu-img info` says, plus the audit.
struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show what qemu-img info shows about qcow2 or raw files, and audit them.",
        discussion: """
            Exit status: 0 when every file was parsed (and, with --strict, no audit error was \
            found); 1 when a file could not be parsed (one line on stderr names it) or, with \
            --strict, when the audit found an error.
            """,
        aliases: ["info"])

    @Flag(help: "Print qemu-img's JSON (same field names and layout) plus an \"audit\" member.")
    var json = false

    @Option(name: [.customShort("f"), .customLong("format")], help: "Force the format instead of probing (qcow2 or raw).")
    var format: ImageInspection.Format?

    @Flag(help: "Exit 1 when the audit finds an error in any file.")
    var strict = false

    @Argument(help: "Image files to inspect.")
    var files: [String]

    func run() throws {
        var failed = false
        var unsafe = false
        var outputs: [String] = []
        for file in files {
            do {
                let inspection = try ImageInspection(path: file, format: format)
                unsafe = unsafe || !inspection.audit.isSafe
                outputs.append(json ? inspection.json : InspectReport.human(inspection))
            } catch {
                failed = true
                InspectReport.complain("\(file): \(error)")
            }
        }
        if json {
            if files.count == 1 {
                if let only = outputs.first { print(only) }
            } else {
                // Several files: a JSON array of the objects, indented like qemu indents arrays.
                let items = outputs.map { "    " + $0.split(separator: "\n", omittingEmptySubsequences: false).joined(separator: "\n    ") }
                print("[\n" + items.joined(separator: ",\n") + "\n]")
            }
        } else {
            print(outputs.joined(separator: "\n\n"), terminator: outputs.isEmpty ? "" : "\n")
        }
        if failed || (strict && unsafe) { throw ExitCode(1) }
    }
}
