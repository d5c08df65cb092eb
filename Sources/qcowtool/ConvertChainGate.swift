import QCOW2
import SystemPackage

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Decides whether `map` and `convert` may open an image's backing chain: only when
/// every image in it is clean (not dirty or corrupt, no encryption, no external data
/// file, no unknown incompatible feature) and names its backing file safely, with an
/// explicit raw or qcow2 format. Headers are read one by one; nothing is opened by a
/// name the rule refuses.
enum ChainGate {
    /// `nil` when the chain may be followed (or there is none), else why not.
    static func refusal(forImageAt path: String, maximumDepth: Int = 16) -> String? {
        var current = path
        for depth in 0...maximumDepth {
            let header: QCOW2Header
            do {
                header = try QCOW2Image.header(atPath: current)
            } catch {
                return "'\(current)': \(error)"
            }
            if header.isDirty { return "'\(current)' is marked dirty" }
            if header.isCorrupt { return "'\(current)' is marked corrupt" }
            if header.isEncrypted { return "'\(current)' is encrypted" }
            if header.hasExternalDataFile { return "'\(current)' uses an external data file" }
            if !header.incompatibleFeatures.unknown.isEmpty { return "'\(current)' has unknown incompatible features" }
            guard let name = header.backingFileNameBytes else { return nil }
            let text = String(decoding: name, as: UTF8.self)
            if let problem = BackingNameProblem.check(name) { return "backing file '\(text)': \(problem)" }
            guard let format = header.backingFormat else { return "backing file '\(text)' has no backing format" }
            let next = ImageReaderPaths.sibling(of: current, named: text)
            switch format {
            case "raw":
                return rawIsPlain(next) ? nil : "backing file '\(text)' is not a plain raw file"
            case "qcow2":
                current = next
            default:
                return "backing file '\(text)' has format '\(format)'"
            }
            if depth == maximumDepth { break }
        }
        return "the backing chain is more than \(maximumDepth) files deep"
    }

    /// A raw backing file must be a regular file (not a symlink) whose start is not a
    /// qcow2 header (format confusion).
    private static func rawIsPlain(_ path: String) -> Bool {
        guard let fd = try? FileDescriptor.open(FilePath(path), .readOnly, options: [.noFollow]) else { return false }
        defer { try? fd.close() }
        var st = stat()
        guard fstat(fd.rawValue, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return false }
        var magic = [UInt8](repeating: 0, count: 4)
        let got = (try? magic.withUnsafeMutableBytes { try fd.read(fromAbsoluteOffset: 0, into: $0) }) ?? 0
        return !(got == 4 && magic == [0x51, 0x46, 0x49, 0xFB])
    }
}

/// Path helpers shared by the map and convert commands.
enum ImageReaderPaths {
    /// `name` in the folder of `path`.
    static func sibling(of path: String, named name: String) -> String {
        var folder = FilePath(path)
        folder.removeLastComponent()
        return folder.appending(name).string
    }
}

/// One line on standard error.
func printError(_ message: String) {
    writeStandardError("qcowtool: \(message)\n")
}

/// Writes `text` to file descriptor 2, unbuffered.
func writeStandardError(_ text: String) {
    var text = text
    text.withUTF8 { bytes in
        var done = 0
        while done < bytes.count {
            let n = write(STDERR_FILENO, bytes.baseAddress! + done, bytes.count - done)
            if n <= 0 { return }
            done += n
        }
    }
}
