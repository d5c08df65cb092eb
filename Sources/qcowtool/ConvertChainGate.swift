import ByteStreams
import QCOW2
import SystemPackage

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Decides whether `inspect --backing-chain`, `map` and `convert` may open an image's
/// backing chain, under a ``ChainPolicy``.
///
/// For a stranger's image (``ChainPolicy/untrusted``) every image in the chain must pass the
/// ``Audit`` (no error finding: safe backing names with an explicit format, not dirty or
/// corrupt, no encryption or external data file…; only ``ownTableFindings`` are let through)
/// and a raw backing file must not pose as another format. With `--trust-chain`
/// (``ChainPolicy/trusted``) the chain is followed as qemu-img follows it, without the audit.
/// Either way each file is examined before the next name is opened, and every backing file
/// is opened through ``NamedFile`` (no symlink, FIFO, device or folder; no loop; bounded depth).
enum ChainGate {
    /// `nil` when the chain may be followed (or there is none), else why not.
    static func refusal(forImageAt path: String, policy: ChainPolicy) -> String? {
        let hint = policy.trustsChain ? "" : "; pass \(ChainPolicy.optInFlag) to follow a chain you trust as qemu-img does"
        var current = path
        var format = ImageInspection.Format.qcow2
        var fd: FileDescriptor
        do {
            fd = try FileDescriptor.open(PathText.filePath(path), .readOnly, options: [.closeOnExec, .nonBlocking])
        } catch {
            return "cannot open \(TerminalText.quoted(path)): \(error)"
        }
        var visited: [NamedFile.Identity] = NamedFile.identity(of: fd).map { [$0] } ?? []
        while true {
            let here = fd
            defer { try? here.close() }
            if format == .raw {
                return policy.trustsChain ? nil : rawRefusal(here, path: current).map { $0 + hint }
            }
            let header: QCOW2Header
            do {
                let image = try QCOW2Image(descriptor: here, path: current)
                header = image.header
                if !policy.trustsChain, let name = header.backingFileNameBytes, name.first.map({ $0 != 0 }) ?? false {
                    // The name and format rules first: their refusal names the flag that lifts them.
                    do {
                        _ = try policy.backingPath(name: name, imagePath: current)
                        _ = try policy.backingFormat(header.backingFormat, name: name)
                    } catch {
                        return "\(TerminalText.quoted(current)): \(error)"
                    }
                }
                if !policy.trustsChain, let first = Audit(image: image).errors.first(where: { !Self.ownTableFindings.contains($0.code) }) {
                    return "\(TerminalText.quoted(current)): \(first.message)\(hint)"
                }
            } catch {
                return "\(TerminalText.quoted(current)): \(error)"
            }
            guard let name = header.backingFileNameBytes, name.first.map({ $0 != 0 }) ?? false else { return nil }
            do {
                let link = try policy.openBacking(name: name, format: header.backingFormat, imagePath: current, visited: &visited)
                fd = link.descriptor
                current = link.path
                format = link.format
            } catch {
                return "\(TerminalText.quoted(current)): \(error)"
            }
        }
    }

    /// Audit errors about an image's own tables lying outside the file, past 2^56 or over
    /// each other: they do not change which file is opened next or how, and the reader treats
    /// such tables as qemu does (bytes past the end read as zeros), so they do not stop the chain.
    static let ownTableFindings: Set<String> = [
        "l1-table-outside-file", "refcount-table-outside-file", "snapshot-table-outside-file", "host-offset-out-of-range",
        "metadata-overlap",
    ]

    /// A raw backing file (already opened through ``NamedFile``) must pass the raw audit.
    private static func rawRefusal(_ fd: FileDescriptor, path: String) -> String? {
        var st = stat()
        guard fstat(fd.rawValue, &st) == 0 else { return "cannot stat the raw backing file \(TerminalText.quoted(path))" }
        var prefix = [UInt8](repeating: 0, count: ForeignFormat.prefixLength)
        let got = (try? prefix.withUnsafeMutableBytes { try fd.read(fromAbsoluteOffset: 0, into: $0) }) ?? 0
        let audit = Audit(rawPrefix: Array(prefix[..<got]), fileSize: UInt64(clamping: st.st_size), fileName: path)
        // Audit messages show the names they quote escaped already.
        if let first = audit.errors.first { return "\(TerminalText.quoted(path)): \(first.message)" }
        return nil
    }
}

extension ChainGate {
    /// What qemu-img's open of the image at `path` for map or convert would refuse
    /// (see ``QemuOpenGate``), or `nil`; also `nil` when the header itself cannot be parsed,
    /// which the open that follows reports.
    static func qemuOpenRefusal(forImageAt path: String, policy: ChainPolicy) -> String? {
        guard let fd = try? FileDescriptor.open(PathText.filePath(path), .readOnly, options: [.closeOnExec, .nonBlocking]) else { return nil }
        defer { try? fd.close() }
        guard let image = try? QCOW2Image(descriptor: fd, path: path) else { return nil }
        return QemuOpenGate.refusal(image: image, path: path, policy: policy)
    }

    /// Whether map and convert may read the external data file of the image at `path`:
    /// qemu opens its name relative to the working directory, qcowtool reads only a plain
    /// name beside the image, so both must be the same file (a regular file, not a symlink).
    static func mayReadDataFile(ofImageAt path: String) -> Bool {
        guard let fd = try? FileDescriptor.open(PathText.filePath(path), .readOnly, options: [.closeOnExec, .nonBlocking]),
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
