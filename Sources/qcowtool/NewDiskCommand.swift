import ArgumentParser
import ByteStreams
import SystemPackage
import VMImage

/// `qcowtool new-disk FOLDER --size N`.
struct NewDiskCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "new-disk",
        abstract: "Create an image folder with a blank sparse disk and a machine.json, as MutableImage does.",
        discussion: """
            FOLDER must not exist. The disk is N GiB (1 to \(MutableImage.maximumSizeGiB)) and takes no \
            space until written. The machine definition comes from --machine (a machine.json file, \
            validated) or is empty (version 1, every field unset).

            \(ImageExit.discussion)
            """)

    @Argument(help: "The folder to create.")
    var folder: String

    @Option(help: "Disk size in GiB (1…\(MutableImage.maximumSizeGiB)).")
    var size: Int

    @Option(help: "A machine.json to use.")
    var machine: String?

    func validate() throws {
        guard (1...MutableImage.maximumSizeGiB).contains(size) else {
            throw ValidationError("--size must be 1…\(MutableImage.maximumSizeGiB) GiB, not \(size)")
        }
    }

    func run() throws {
        var definition = Machine()
        if let machine {
            do {
                let bytes = try readSmallFile(machine, limit: 1 << 20)
                definition = try Machine(json: bytes, member: machine)
            } catch {
                throw ImageExit.fail("new-disk", machine, error)
            }
        }
        do {
            let image = try MutableImage(folder: FilePath(folder), size: size, machine: definition)
            print(TerminalText.escaping(image.folder.appending(ImageArchive.diskName).string))
        } catch {
            throw ImageExit.fail("new-disk", folder, error)
        }
    }
}

/// Reads a small file whole (opened through ``SystemCall``, non-blocking so that a FIFO fails
/// instead of hanging), refusing more than `limit` bytes.
func readSmallFile(_ path: String, limit: Int) throws -> [UInt8] {
    let descriptor = try SystemCall.openForReading(path, nonBlocking: true)
    defer { SystemCall.closeIgnoringErrors(descriptor) }
    var bytes = [UInt8](repeating: 0, count: limit + 1)
    let n = try bytes.withUnsafeMutableBytes { buffer in
        try SystemCall.readFully(descriptor, into: buffer, at: 0, path: path)
    }
    guard n <= limit else {
        throw VMImageError.malformedPayload(member: path, rule: .sizeLimit, message: "is larger than \(limit) bytes")
    }
    return Array(bytes.prefix(n))
}
