import ByteStreams
import QCOW2
import SystemPackage

/// What one `qcowtool inspect` command line asks for, once parsed (by ArgumentParser in
/// ``InspectCommand``, or by ``InspectFastPath``), and doing it.
struct InspectJob {
    /// Print qemu-img's JSON (`--json` or `--output=json`).
    var json: Bool
    /// The format forced with `-f`, or `nil` to probe.
    var format: ImageInspection.Format?
    /// Exit 1 when an audit finds an error.
    var strict: Bool
    /// Also inspect backing files.
    var backingChain: Bool
    /// Which backing files `backingChain` opens (`--trust-chain`).
    var policy: ChainPolicy
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
            // A backing file, opened by the chain policy (through NamedFile) before it is inspected.
            var opened: FileDescriptor?
            var visited: [NamedFile.Identity] = []
            if backingChain, let top = try? SystemCall.openForReading(file, nonBlocking: true) {
                if let identity = NamedFile.identity(of: top) { visited.append(identity) }
                SystemCall.closeIgnoringErrors(top)
            }
            while true {
                let inspection: ImageInspection
                do {
                    if let descriptor = opened {
                        defer { SystemCall.closeIgnoringErrors(descriptor) }
                        inspection = try ImageInspection(descriptor: descriptor, filename: path, format: forced)
                    } else {
                        inspection = try ImageInspection(path: path, format: forced)
                    }
                } catch {
                    failed = true
                    InspectReport.complain(CommandLineFile.openFailure(error, of: path) ?? "\(TerminalText.escaping(path)): \(error)")
                    break
                }
                unsafe = unsafe || !inspection.audit.isSafe
                outputs.append(json ? inspection.json : InspectReport.human(inspection))
                guard backingChain, let header = inspection.header, let name = header.backingFileNameBytes,
                      name.first.map({ $0 != 0 }) ?? false else { break }
                guard policy.trustsChain || inspection.audit.isSafe else {
                    unsafe = true
                    InspectReport.complain("\(TerminalText.escaping(path)): backing file not inspected: the audit of this image found errors, "
                        + "so \(TerminalText.quoted(QemuOpenGate.cName(name))) is not opened; pass \(ChainPolicy.optInFlag) to follow a chain you trust as qemu-img does")
                    break
                }
                do {
                    let link = try policy.openBacking(name: name, format: header.backingFormat, imagePath: path, visited: &visited)
                    opened = link.descriptor
                    path = link.path
                    forced = link.format
                } catch {
                    unsafe = true
                    InspectReport.complain("\(TerminalText.escaping(path)): backing file not inspected: \(error)")
                    break
                }
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
}
