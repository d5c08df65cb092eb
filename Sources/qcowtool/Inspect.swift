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

    /// `--output=json|human`, as qemu-img spells it.
    enum Output: String, ExpressibleByArgument {
        case json, human
    }

    @Option(help: "qemu-img's spelling: --output=json is --json.")
    var output: Output?

    @Option(name: [.customShort("f"), .customLong("format")], help: "Force the format instead of probing (qcow2 or raw).")
    var format: ImageInspection.Format?

    @Flag(help: "Exit 1 when the audit finds an error in any file.")
    var strict = false

    @Flag(help: "Also inspect each image's backing file, and its backing file in turn, but only after the audit of the image that names it passed.")
    var backingChain = false

    @Argument(help: "Image files to inspect.")
    var files: [String]

    func validate() throws {
        guard !files.isEmpty else { throw ValidationError("Name at least one image file.") }
    }

    func run() throws {
        var failed = false
        var unsafe = false
        var outputs: [String] = []
        let json = self.json || output == .json
        for file in files {
            var path = file
            var forced = format
            for depth in 0...(backingChain ? Self.maximumChainDepth : 0) {
                let inspection: ImageInspection
                do {
                    inspection = try ImageInspection(path: path, format: forced)
                } catch {
                    failed = true
                    InspectReport.complain("\(path): \(error)")
                    break
                }
                unsafe = unsafe || !inspection.audit.isSafe
                outputs.append(json ? inspection.json : InspectReport.human(inspection))
                guard backingChain, let next = Self.backing(of: inspection, at: path) else { break }
                if let refusal = next.refusal {
                    unsafe = true
                    InspectReport.complain("\(path): backing file not inspected: \(refusal)")
                    break
                }
                if depth == Self.maximumChainDepth {
                    unsafe = true
                    InspectReport.complain("\(path): backing chain longer than \(Self.maximumChainDepth) images; stopped")
                    break
                }
                path = next.path
                forced = next.format
            }
        }
        if json {
            if files.count == 1 && !backingChain {
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

    /// How deep `--backing-chain` goes.
    static let maximumChainDepth = 16

    /// The backing file `inspection` names (resolved beside `path`) and its format, or why it
    /// must not be opened; `nil` when there is none.
    static func backing(of inspection: ImageInspection, at path: String) -> (path: String, format: ImageInspection.Format?, refusal: String?)? {
        guard let header = inspection.header, let name = header.backingFileNameBytes else { return nil }
        let text = String(decoding: name, as: UTF8.self)
        guard inspection.audit.isSafe else {
            return ("", nil, "the audit of this image found errors, so '\(text)' is not opened")
        }
        if let problem = BackingNameProblem.check(name) {
            return ("", nil, "'\(text)': \(problem)")
        }
        let format: ImageInspection.Format?
        switch header.backingFormat {
        case "raw": format = .raw
        case "qcow2": format = .qcow2
        case let other?: return ("", nil, "'\(text)' has the backing format '\(other)', which is neither raw nor qcow2")
        case nil: return ("", nil, "'\(text)' has no backing format")
        }
        return (ImageReaderPaths.sibling(of: path, named: text), format, nil)
    }
}
