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

    @Option(help: "qemu-img's spelling: --output=json is --json.")
    var output: Inspect.Output?

    @Argument(help: "The qcow2 image.")
    var file: String

    func run() throws {
        let result: CheckResult
        do {
            let fd = try FileDescriptor.open(FilePath(file), .readOnly)
            defer { try? fd.close() }
            let imageFile = try ImageFile(descriptor: fd, path: file)
            // What qemu-img check's open refuses (a data file or backing file it cannot
            // open, encryption without a key) stops the check, as in qemu-img: exit 1.
            let image = try QCOW2Image(descriptor: fd, path: file, fileSize: imageFile.size, forCheck: true)
            if let refusal = QemuOpenGate.refusal(image: image, path: file) {
                printError("check: could not open '\(file)': \(refusal)")
                throw ExitCode(1)
            }
            result = try ImageCheck.run(imageFile)
        } catch let exit as ExitCode {
            throw exit
        } catch {
            printError("check: could not check '\(file)': \(error)")
            throw ExitCode(1)
        }
        for message in result.messages { printError(message) }
        print(json || output == .json ? result.json(filename: file) : result.humanSummary)
        if result.exitCode != 0 { throw ExitCode(result.exitCode) }
    }
}
