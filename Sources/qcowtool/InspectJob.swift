import ByteStreams
import QCOW2

/// What one `qcowtool inspect` command line asks for, once parsed (by ArgumentParser in
/// ``Inspect``, or by ``InspectFastPath``), and doing it.
struct InspectJob {
    /// Print qemu-img's JSON (`--json` or `--output=json`).
    var json: Bool
    /// The format forced with `-f`, or `nil` to probe.
    var format: ImageInspection.Format?
    /// Exit 1 when an audit finds an error.
    var strict: Bool
    /// Also inspect backing files.
    var backingChain: Bool
    /// The image files, at least one.
    var files: [String]

    /// Inspects the files, printing the reports to standard output and problems to standard
    /// error; returns the exit status (0, or 1 when a file could not be parsed or, with
    /// `strict`, an audit found an error).
    func run() -> Int32 {
        var failed = false
        var unsafe = false
        var outputs: [String] = []
        for file in files {
            var path = file
            var forced = format
            for depth in 0...(backingChain ? Self.maximumChainDepth : 0) {
                let inspection: ImageInspection
                do {
                    inspection = try ImageInspection(path: path, format: forced)
                } catch {
                    failed = true
                    InspectReport.complain("\(TerminalText.escaping(path)): \(error)")
                    break
                }
                unsafe = unsafe || !inspection.audit.isSafe
                outputs.append(json ? inspection.json : InspectReport.human(inspection))
                guard backingChain, let next = Self.backing(of: inspection, at: path) else { break }
                if let refusal = next.refusal {
                    unsafe = true
                    InspectReport.complain("\(TerminalText.escaping(path)): backing file not inspected: \(refusal)")
                    break
                }
                if depth == Self.maximumChainDepth {
                    unsafe = true
                    InspectReport.complain("\(TerminalText.escaping(path)): backing chain longer than \(Self.maximumChainDepth) images; stopped")
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
        return failed || (strict && unsafe) ? 1 : 0
    }

    /// How deep `--backing-chain` goes.
    static let maximumChainDepth = 16

    /// The backing file `inspection` names (resolved beside `path`) and its format, or why it
    /// must not be opened; `nil` when there is none.
    static func backing(of inspection: ImageInspection, at path: String) -> (path: String, format: ImageInspection.Format?, refusal: String?)? {
        guard let header = inspection.header, let name = header.backingFileNameBytes else { return nil }
        let text = String(decoding: name, as: UTF8.self)
        guard inspection.audit.isSafe else {
            return ("", nil, "the audit of this image found errors, so '\(TerminalText.escaping(name))' is not opened")
        }
        if let problem = BackingNameProblem.check(name) {
            return ("", nil, "'\(TerminalText.escaping(name))': \(problem)")
        }
        let format: ImageInspection.Format?
        switch header.backingFormat {
        case "raw": format = .raw
        case "qcow2": format = .qcow2
        case let other?: return ("", nil, "'\(TerminalText.escaping(name))' has the backing format '\(TerminalText.escaping(other))', which is neither raw nor qcow2")
        case nil: return ("", nil, "'\(TerminalText.escaping(name))' has no backing format")
        }
        return (ImageReaderPaths.sibling(of: path, named: text), format, nil)
    }
}
