import ArgumentParser
import ByteStreams
import QCOW2

/// `qcowtool map`: where each range of the guest disk comes from, like qemu-img map.
struct Map: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show where each range of a qcow2 image's guest disk is stored, like qemu-img map.",
        discussion: "The backing chain is followed only when it passes the safety rules (or, with --trust-chain, as qemu-img follows it); otherwise ranges the image does not hold show as unallocated.")

    @Flag(name: .long, help: "Print qemu-img map --output=json's JSON.")
    var json = false

    @Option(help: "qemu-img's spelling: --output=json is --json.")
    var output: Inspect.Output?

    @Option(name: .long, help: "Also draw the map as an SVG picture into this file (a strip per GiB, colour per kind).")
    var svg: String?

    @Option(name: [.customShort("f"), .customLong("format")], help: "The image format (qcow2 or raw); probed when not given.")
    var format: ImageInspection.Format?

    @OptionGroup var chain: ChainFlags

    @Argument(help: "The qcow2 image.")
    var file: String

    func run() throws {
        let probed = FormatProbe.probe(path: file, forced: format)
        if case .unread(let other) = probed { throw FormatProbe.refuse("map", path: file, format: other) }
        let raw = probed == .raw
        if !raw, let refusal = ChainGate.qemuOpenRefusal(forImageAt: file, policy: chain.policy) {
            printError("map: could not open '\(TerminalText.escaping(file))': \(refusal)")
            throw ExitCode(1)
        }
        let refusal = raw ? nil : ChainGate.refusal(forImageAt: file, policy: chain.policy)
        let entries: [MapEntry]
        let virtualSize: UInt64
        do {
            let dataFile = ChainGate.mayReadDataFile(ofImageAt: file)
            let options = refusal == nil ? ChainOptions(policy: chain.policy, allowExternalDataFile: dataFile)
                : ChainOptions(followBacking: false, allowExternalDataFile: dataFile)
            let reader = raw ? try ImageReader.openRaw(path: file) : try ImageReader.open(path: file, options: options)
            defer { reader.close() }
            entries = try reader.map()
            virtualSize = reader.virtualSize
        } catch {
            printError("map: could not map '\(TerminalText.escaping(file))': \(error)")
            throw ExitCode(1)
        }
        let json = self.json || output == .json
        if let refusal, !json { printError("map: backing chain not followed: \(refusal)") }
        if let svg {
            do {
                try writeTextFile(svg, MapSVG.render(entries, virtualSize: virtualSize, title: file))
            } catch {
                printError("map: could not write '\(TerminalText.escaping(svg))': \(error)")
                throw ExitCode(1)
            }
        }
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
