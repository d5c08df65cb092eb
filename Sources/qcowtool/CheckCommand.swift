import ArgumentParser
import QCOW2
import SystemPackage

/// `qcowtool check`: a read-only refcount check with qemu-img check's counts and exit codes.
struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check a qcow2 image's metadata and refcounts (read-only), like qemu-img check.",
        discussion: "Exit status: 0 clean, 1 check not completed, 2 corruptions, 3 leaks only.")

    @Flag(name: .long, help: "Print qemu-img check --output=json's JSON.")
    var json = false

    @Argument(help: "The qcow2 image.")
    var file: String

    func run() throws {
        let result: CheckResult
        do {
            let fd = try FileDescriptor.open(FilePath(file), .readOnly)
            defer { try? fd.close() }
            result = try ImageCheck.run(ImageFile(descriptor: fd, path: file))
        } catch {
            printError("check: could not check '\(file)': \(error)")
            throw ExitCode(1)
        }
        for message in result.messages { printError(message) }
        print(json ? result.json(filename: file) : result.humanSummary)
        if result.exitCode != 0 { throw ExitCode(result.exitCode) }
    }
}
