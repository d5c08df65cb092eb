import ArgumentParser
import VMImage

/// `qcowtool mac`: prints a random, locally administered unicast MAC address.
struct MACCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mac",
        abstract: "Print a random MAC address (locally administered, unicast).")

    func run() throws {
        print(randomMAC())
    }
}
