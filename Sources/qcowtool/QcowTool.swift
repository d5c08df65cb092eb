import ArgumentParser
import VMImage

@main
struct QcowTool: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "qcowtool",
        abstract: "Audit, build and unpack VM images without qemu-img, tar or zstd binaries.",
        version: "0.1.0",
        subcommands: [Inspect.self, Check.self, Map.self, Convert.self, Create.self, Package.self, Extract.self, Verify.self, NewDisk.self, Cache.self, MAC.self]
    )

    /// Runs plain `inspect` command lines without ArgumentParser (see ``InspectFastPath``),
    /// every other command line through it.
    static func main() {
        if let job = InspectFastPath.job(for: CommandLine.arguments.dropFirst()) {
            InspectFastPath.run(job)
        }
        main(nil)
    }
}

/// `qcowtool mac`: prints a random, locally administered unicast MAC address.
struct MAC: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a random MAC address (locally administered, unicast).")

    func run() throws {
        print(randomMAC())
    }
}
