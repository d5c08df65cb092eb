import ArgumentParser
import ByteStreams
import VMImage

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@main
struct QcowTool: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "qcowtool",
        abstract: "Audit, build and unpack VM images without qemu-img, tar or zstd binaries.",
        version: "0.1.0",
        subcommands: [
            InspectCommand.self, CheckCommand.self, MapCommand.self, ConvertCommand.self, CreateCommand.self, PackageCommand.self,
            ExtractCommand.self, VerifyCommand.self, NewDiskCommand.self, CacheCommand.self, MACCommand.self,
        ]
    )

    /// Runs plain `inspect` command lines without ArgumentParser (see ``InspectFastPath``),
    /// every other command line through it.
    static func main() {
        // The raw argv bytes: a file name that is not valid UTF-8 still names its file.
        let arguments = PathText.arguments
        if let job = InspectFastPath.job(for: arguments.dropFirst()) {
            InspectFastPath.run(job)
        }
        do {
            var command = try parseAsRoot(Array(arguments.dropFirst()))
            try command.run()
        } catch {
            exitEscaping(error)
        }
    }

    /// ArgumentParser's `exit(withError:)`, except that a failure's message is printed with
    /// each line escaped (``TerminalText``): it echoes a bad option value, which can hold any
    /// byte. Help and version text (exit 0) are printed as ArgumentParser prints them.
    static func exitEscaping(_ error: any Error) -> Never {
        let code = exitCode(for: error)
        guard code != .success else { exit(withError: error) }
        let message = fullMessage(for: error)
        if !message.isEmpty {
            let lines = message.split(separator: "\n", omittingEmptySubsequences: false).map { TerminalText.escaping(String($0)) }
            writeStandardError(lines.joined(separator: "\n") + "\n")
        }
        #if canImport(Glibc)
        Glibc.exit(code.rawValue)
        #else
        Darwin.exit(code.rawValue)
        #endif
    }
}
