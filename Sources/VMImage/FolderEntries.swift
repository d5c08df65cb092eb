import ByteStreams
import SystemPackage

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The name of an entry in a folder, kept as the raw bytes the kernel gave (a name left by a
/// crash or a stranger need not be UTF-8), with a terminal-safe rendering for messages.
struct EntryName: Sendable, Hashable {
    /// The name's bytes, without the terminating NUL.
    let bytes: [UInt8]

    init(_ bytes: [UInt8]) { self.bytes = bytes }
    init(_ text: String) { self.bytes = Array(text.utf8) }

    /// The name, escaped for a terminal or a log line.
    var display: String { TerminalText.escaping(bytes) }

    /// The name as a ``PathText`` string: its exact bytes reach the system through `SystemCall`.
    var text: String { PathText.text(bytes) }

    /// Whether the name is exactly `text`.
    func `is`(_ text: String) -> Bool { bytes.elementsEqual(text.utf8) }

    /// Whether the name starts with `prefix`.
    func hasPrefix(_ prefix: String) -> Bool { bytes.starts(with: prefix.utf8) }
}

/// The entries of the open folder `folder` (without `.` and `..`); `folder` stays open.
func entryNames(of folder: FileDescriptor, path: String) throws(VMImageError) -> [EntryName] {
    do throws(SystemCallError) {
        return try SystemCall.entryNames(of: folder, path: path).map(EntryName.init)
    } catch {
        throw fileSystemError(error)
    }
}

/// `fstatat` of `name` in `folder`, never following a link; `nil` when it does not exist.
func entryStatus(_ name: EntryName, in folder: FileDescriptor, path: String) throws(VMImageError) -> stat? {
    do throws(SystemCallError) {
        return try SystemCall.entryStatus(name.text, in: folder, path: path + "/" + name.display)
    } catch {
        throw fileSystemError(error)
    }
}

/// Opens the folder at `path`, refusing a link; the caller closes it.
func openFolder(_ path: FilePath) throws(VMImageError) -> FileDescriptor {
    do throws(SystemCallError) {
        return try SystemCall.openSubfolder(path.string, in: nil, path: path.string)
    } catch {
        throw fileSystemError(error)
    }
}

/// Opens the subfolder `name` of `folder`, refusing a link; the caller closes it.
func openSubfolder(_ name: EntryName, in folder: FileDescriptor, path: String) throws(VMImageError) -> FileDescriptor {
    do throws(SystemCallError) {
        return try SystemCall.openSubfolder(name.text, in: folder, path: path + "/" + name.display)
    } catch {
        throw fileSystemError(error)
    }
}

/// Deletes the entry `name` of the open folder `folder`: a file, link, FIFO or socket is
/// unlinked (a link is never followed), a folder is emptied the same way and removed. Works
/// only through `folder`'s handle, so nothing outside it is touched. Folders nested deeper
/// than `maxDepth` are refused (an image folder has none).
func removeEntry(_ name: EntryName, in folder: FileDescriptor, path: String, maxDepth: Int = 16) throws(VMImageError) {
    guard let status = try entryStatus(name, in: folder, path: path) else { return }
    let display = path + "/" + name.display
    if (status.st_mode & S_IFMT) == S_IFDIR {
        guard maxDepth > 0 else {
            throw .fileSystem(operation: "delete (folders nested too deep)", path: display, errno: ELOOP)
        }
        let child = try openSubfolder(name, in: folder, path: path)
        defer { SystemCall.closeIgnoringErrors(child) }
        var failure: VMImageError?
        for entry in try entryNames(of: child, path: display) {
            do {
                try removeEntry(entry, in: child, path: display, maxDepth: maxDepth - 1)
            } catch {
                failure = failure ?? error
            }
        }
        if let failure { throw failure }
        do throws(SystemCallError) {
            try SystemCall.removeFolder(name.text, in: folder, path: display)
        } catch where error.errno != .noSuchFileOrDirectory {
            throw fileSystemError(error)
        } catch {}
    } else {
        do throws(SystemCallError) {
            try SystemCall.unlink(name.text, in: folder, path: display)
        } catch where error.errno != .noSuchFileOrDirectory {
            throw fileSystemError(error)
        } catch {}
    }
}

/// Bytes allocated on disk by the entries of the open folder `folder` (not recursive:
/// subfolders count only for themselves).
func allocatedBytes(in folder: FileDescriptor, path: String) throws(VMImageError) -> UInt64 {
    var total: UInt64 = 0
    for name in try entryNames(of: folder, path: path) {
        guard let status = try entryStatus(name, in: folder, path: path) else { continue }
        total &+= UInt64(clamping: status.st_blocks) &* 512
    }
    return total
}
