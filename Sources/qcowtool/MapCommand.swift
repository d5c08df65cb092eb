import ArgumentParser
import QCOW2

/// `qcowtool map`: where each range of the guest disk comes from, like qemu-img map.
struct Map: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show where each range of a qcow2 image's guest disk is stored, like qemu-img map.",
        discussion: "The backing chain is followed only when it passes the safety rules; otherwise ranges the image does not hold show as unallocated.")

    @Flag(name: .long, help: "Print qemu-img map --output=json's JSON.")
    var json = false

    @Argument(help: "The qcow2 image.")
    var file: String

    func run() throws {
        let refusal = ChainGate.refusal(forImageAt: file)
        let entries: [MapEntry]
        do {
            let reader = try ImageReader.open(path: file, options: ChainOptions(followBacking: refusal == nil))
            defer { reader.close() }
            entries = try reader.map()
        } catch {
            printError("map: could not map '\(file)': \(error)")
            throw ExitCode(1)
        }
        if let refusal, !json { printError("map: backing chain not followed: \(refusal)") }
        if json {
            print(MapJSON.render(entries), terminator: "")
            return
        }
        print("Offset              Length              Kind          Depth  Host offset")
        for entry in entries {
            let host = entry.offset.map { hex($0) } ?? "-"
            print("\(pad(hex(entry.start), 20))\(pad(hex(entry.length), 20))\(pad(entry.kind, 14))\(pad(String(entry.depth), 7))\(host)")
        }
    }

    private func hex(_ value: UInt64) -> String { "0x" + String(value, radix: 16) }
    private func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
    }
}
