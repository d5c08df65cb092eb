import ByteStreams
import QCOW2
import SystemPackage

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Decides whether `map` and `convert` may open an image's backing chain: only when
/// every image in it passes the ``Audit`` (no error finding: safe backing names with an
/// explicit format, not dirty or corrupt, no encryption or external data file…; only
/// ``ownTableFindings`` are let through) and a raw backing file does not pose as another format. Each file
/// is audited before the next name is opened, and opened without following symlinks.
enum ChainGate {
    /// `nil` when the chain may be followed (or there is none), else why not.
    static func refusal(forImageAt path: String, maximumDepth: Int = 16) -> String? {
        var current = path
        for depth in 0...maximumDepth {
            let fd: FileDescriptor
            do {
                fd = try FileDescriptor.open(FilePath(current), .readOnly, options: depth == 0 ? [] : [.noFollow])
            } catch {
                return "cannot open '\(TerminalText.escaping(current))': \(error)"
            }
            defer { try? fd.close() }
            let header: QCOW2Header
            do {
                let image = try QCOW2Image(descriptor: fd, path: current)
                let audit = Audit(image: image)
                if let first = audit.errors.first(where: { !Self.ownTableFindings.contains($0.code) }) {
                    return "'\(TerminalText.escaping(current))': \(first.message)"
                }
                header = image.header
            } catch {
                return "'\(TerminalText.escaping(current))': \(error)"
            }
            guard let stored = header.backingFileNameBytes, stored.first.map({ $0 != 0 }) ?? false else { return nil }
            let name = stored
            let text = String(decoding: name, as: UTF8.self)
            let next = ImageReaderPaths.sibling(of: current, named: text)
            switch header.backingFormat {
            case "raw":
                return rawRefusal(next)
            case "qcow2":
                current = next
            default:
                return "backing file '\(TerminalText.escaping(name))' has format '\(TerminalText.escaping(header.backingFormat ?? ""))', which is not followed"
            }
        }
        return "the backing chain is more than \(maximumDepth) files deep"
    }

    /// Audit errors about an image's own tables lying outside the file, past 2^56 or over
    /// each other: they do not change which file is opened next or how, and the reader treats
    /// such tables as qemu does (bytes past the end read as zeros), so they do not stop the chain.
    static let ownTableFindings: Set<String> = [
        "l1-table-outside-file", "refcount-table-outside-file", "snapshot-table-outside-file", "host-offset-out-of-range",
        "metadata-overlap",
    ]

    /// A raw backing file must be a regular file (not a symlink) that passes the raw audit.
    private static func rawRefusal(_ path: String) -> String? {
        guard let fd = try? FileDescriptor.open(FilePath(path), .readOnly, options: [.noFollow]) else {
            return "cannot open the raw backing file '\(TerminalText.escaping(path))' (missing, or a symlink)"
        }
        defer { try? fd.close() }
        var st = stat()
        guard fstat(fd.rawValue, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
            return "the raw backing file '\(TerminalText.escaping(path))' is not a regular file"
        }
        var prefix = [UInt8](repeating: 0, count: ForeignFormat.prefixLength)
        let got = (try? prefix.withUnsafeMutableBytes { try fd.read(fromAbsoluteOffset: 0, into: $0) }) ?? 0
        let audit = Audit(rawPrefix: Array(prefix[..<got]), fileSize: UInt64(clamping: st.st_size), fileName: path)
        if let first = audit.errors.first { return "'\(TerminalText.escaping(path))': \(first.message)" }
        return nil
    }
}

extension ChainGate {
    /// What qemu-img's open of the image at `path` for map or convert would refuse
    /// (see ``QemuOpenGate``), or `nil`; also `nil` when the header itself cannot be parsed,
    /// which the open that follows reports.
    static func qemuOpenRefusal(forImageAt path: String) -> String? {
        guard let fd = try? FileDescriptor.open(FilePath(path), .readOnly, options: [.closeOnExec, .nonBlocking]) else { return nil }
        defer { try? fd.close() }
        guard let image = try? QCOW2Image(descriptor: fd, path: path) else { return nil }
        return QemuOpenGate.refusal(image: image, path: path)
    }

    /// Whether map and convert may read the external data file of the image at `path`:
    /// qemu opens its name relative to the working directory, qcowtool reads only a plain
    /// name beside the image, so both must be the same file (a regular file, not a symlink).
    static func mayReadDataFile(ofImageAt path: String) -> Bool {
        guard let fd = try? FileDescriptor.open(FilePath(path), .readOnly, options: [.closeOnExec, .nonBlocking]),
              let header = try? { defer { try? fd.close() }; return try QCOW2Image(descriptor: fd, path: path).header }(),
              header.hasExternalDataFile, let stored = header.dataFileNameBytes,
              BackingNameProblem.check(stored) == nil else { return false }
        let name = String(decoding: stored, as: UTF8.self)
        var here = stat(), beside = stat()
        guard lstat(name, &here) == 0, lstat(ImageReaderPaths.sibling(of: path, named: name), &beside) == 0 else { return false }
        return (here.st_mode & S_IFMT) == S_IFREG && here.st_dev == beside.st_dev && here.st_ino == beside.st_ino
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
