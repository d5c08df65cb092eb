import ArgumentParser
import ByteStreams
import QCOW2
import SystemPackage

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `qcowtool map`: where each range of the guest disk comes from, like qemu-img map.
struct MapCommand: ParsableCommand, JSONWording, FormatWording {
    static let configuration = CommandConfiguration(
        commandName: "map",
        abstract: "Show where each range of a qcow2 image's guest disk is stored, like qemu-img map.",
        discussion: "The backing chain is followed only when it passes the safety rules (or, with --trust-chain, as qemu-img follows it); otherwise ranges the image does not hold show as unallocated.")

    static let jsonHelp = "Print qemu-img map --output=json's JSON."
    static let formatHelp = "The image format (qcow2 or raw); probed when not given."

    @OptionGroup var output: JSONOutputOptions<MapCommand>

    @Option(name: .long, help: "Also draw the map as an SVG picture into this file (a strip per GiB, colour per kind).")
    var svg: String?

    @OptionGroup var formatOption: FormatOption<MapCommand>

    @OptionGroup var chain: ChainFlags

    @Argument(help: "The qcow2 image.")
    var file: String

    func run() throws {
        // The picture is written through AtomicFile: an interrupt removes its temporary file.
        if svg != nil { InterruptHandler.install(command: "map") }
        // One descriptor for the whole command: the probe, qemu's open checks, the chain gate
        // and the reader all read the same open file, and the header is parsed once.
        let opened = try CommandLineFile.openImage(file, forced: formatOption.format, command: "map")
        defer { SystemCall.closeIgnoringErrors(opened.descriptor) }
        // A header that cannot be parsed is reported by the open below, as qemu-img reports it.
        let image: Result<QCOW2Image, any Error>? = opened.isRaw ? nil : Result { try opened.qcow2() }
        if let parsed = try? image?.get(), let refusal = QemuOpenGate.refusal(image: parsed, path: file, policy: chain.policy) {
            printError("map: could not open '\(TerminalText.escaping(file))': \(refusal)")
            throw ExitCode(1)
        }
        let refusal = (try? image?.get()).flatMap { ChainGate.refusal(for: $0, path: file, policy: chain.policy) }
        let json = output.isJSON
        // Each merged record is printed as soon as it can no longer merge with the next, as
        // qemu-img prints it, and the picture keeps a bounded summary: a table shared by many
        // L1 entries can make millions of records, none of which we hold.
        let out = OutputBuffer(descriptor: .standardOutput)
        var picture: MapSVG?
        do {
            let reader: ImageReader
            if let image {
                let parsed = try image.get()
                let dataFile = ChainGate.mayReadDataFile(of: parsed, path: file)
                let options = refusal == nil ? ChainOptions(policy: chain.policy, allowExternalDataFile: dataFile)
                    : ChainOptions(followBacking: false, allowExternalDataFile: dataFile)
                reader = try ImageReader.open(image: parsed, path: file, options: options)
            } else {
                reader = ImageReader.openRaw(file: try opened.file.get())
            }
            defer { reader.close() }
            if svg != nil { picture = MapSVG(virtualSize: reader.virtualSize) }
            var first = true
            try reader.map { entry in
                // The notice and the heading come with the first record, so a map that fails
                // before it prints the one error line only.
                if first && !json {
                    if let refusal { printError("map: backing chain not followed: \(refusal)") }
                    out.write("Offset              Length              Kind          Depth  Host offset\n")
                }
                picture?.add(entry)
                if json {
                    out.append { MapJSON.appendPiece(entry, first: first, to: &$0) }
                } else {
                    let host = entry.offset.map { hex($0) } ?? "-"
                    out.write("\(pad(hex(entry.start), 20))\(pad(hex(entry.length), 20))\(pad(entry.kind, 14))\(pad(String(entry.depth), 7))\(host)\n")
                }
                first = false
            }
            if json { out.write(MapJSON.closing) }
        } catch {
            out.flush()
            printError("map: could not map '\(TerminalText.escaping(file))': \(error)")
            throw ExitCode(1)
        }
        out.flush()
        if let svg, let picture {
            do {
                try writeSVG(picture, to: svg)
            } catch {
                // AtomicFile's errors name the path they are about.
                printError("map: could not write the SVG picture: \(error)")
                throw ExitCode(1)
            }
        }
    }

    /// Writes the picture to a temporary file beside `path` and renames it into place, as
    /// `convert` publishes its output: an existing regular file is replaced, a symbolic link
    /// or anything else at `path` is refused and left as it is, and a failure removes the
    /// temporary file (``AtomicFile``).
    private func writeSVG(_ picture: MapSVG, to path: String) throws {
        let output = try AtomicFile(target: path, purpose: "map")
        do {
            var offset: UInt64 = 0
            try picture.render(title: file) { text in
                var text = text
                try text.withUTF8 { bytes in try output.write(UnsafeRawBufferPointer(bytes), at: offset) }
                offset += UInt64(text.utf8.count)
            }
            try output.publish(.replacingRegularFile, sync: false)
        } catch {
            output.discard()
            throw error
        }
    }

    private func hex(_ value: UInt64) -> String { "0x" + String(value, radix: 16) }
    private func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
    }
}
