import ByteStreams

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

    /// Whether the name is exactly `text`.
    func `is`(_ text: String) -> Bool { bytes.elementsEqual(text.utf8) }

    /// Whether the name starts with `prefix`.
    func hasPrefix(_ prefix: String) -> Bool { bytes.starts(with: prefix.utf8) }

    /// Calls `body` with the name as a C string.
    func withCString<T>(_ body: (UnsafePointer<CChar>) throws -> T) rethrows -> T {
        try (bytes + [0]).withUnsafeBufferPointer { buffer in
            try buffer.withMemoryRebound(to: CChar.self) { try body($0.baseAddress!) }
        }
    }
}

/// The entries of the open folder `folder` (without `.` and `..`); `folder` stays open.
func entryNames(of folder: Int32, path: String) throws(VMImageError) -> [EntryName] {
    let copy = dup(folder)
    guard copy >= 0 else { throw .fileSystem(operation: "read folder", path: path, errno: errno) }
    guard let directory = fdopendir(copy) else {
        let code = errno
        close(copy)
        throw .fileSystem(operation: "read folder", path: path, errno: code)
    }
    defer { closedir(directory) }
    rewinddir(directory)
    var names: [EntryName] = []
    while let entry = readdir(directory) {
        let bytes = withUnsafeBytes(of: entry.pointee.d_name) { raw in Array(raw.prefix { $0 != 0 }) }
        if bytes == [0x2E] || bytes == [0x2E, 0x2E] { continue }
        names.append(EntryName(bytes))
    }
    return names
}

/// `fstatat` of `name` in `folder`, never following a link; `nil` when it does not exist.
func entryStatus(_ name: EntryName, in folder: Int32, path: String) throws(VMImageError) -> stat? {
    var status = stat()
    guard name.withCString({ fstatat(folder, $0, &status, AT_SYMLINK_NOFOLLOW) }) == 0 else {
        if errno == ENOENT { return nil }
        throw .fileSystem(operation: "stat", path: path + "/" + name.display, errno: errno)
    }
    return status
}

/// Opens the subfolder `name` of `folder`, refusing a link.
func openSubfolder(_ name: EntryName, in folder: Int32, path: String) throws(VMImageError) -> Int32 {
    let raw = name.withCString { openat(folder, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
    guard raw >= 0 else { throw .fileSystem(operation: "open folder", path: path + "/" + name.display, errno: errno) }
    return raw
}

/// Deletes the entry `name` of the open folder `folder`: a file, link, FIFO or socket is
/// unlinked (a link is never followed), a folder is emptied the same way and removed. Works
/// only through `folder`'s handle, so nothing outside it is touched. Folders nested deeper
/// than `maxDepth` are refused (an image folder has none).
func removeEntry(_ name: EntryName, in folder: Int32, path: String, maxDepth: Int = 16) throws(VMImageError) {
    guard let status = try entryStatus(name, in: folder, path: path) else { return }
    let display = path + "/" + name.display
    if (status.st_mode & S_IFMT) == S_IFDIR {
        guard maxDepth > 0 else {
            throw .fileSystem(operation: "delete (folders nested too deep)", path: display, errno: ELOOP)
        }
        let child = try openSubfolder(name, in: folder, path: path)
        defer { close(child) }
        var failure: VMImageError?
        for entry in try entryNames(of: child, path: display) {
            do {
                try removeEntry(entry, in: child, path: display, maxDepth: maxDepth - 1)
            } catch {
                failure = failure ?? error
            }
        }
        if let failure { throw failure }
        guard name.withCString({ unlinkat(folder, $0, AT_REMOVEDIR) }) == 0 || errno == ENOENT else {
            throw .fileSystem(operation: "delete folder", path: display, errno: errno)
        }
    } else {
        guard name.withCString({ unlinkat(folder, $0, 0) }) == 0 || errno == ENOENT else {
            throw .fileSystem(operation: "delete", path: display, errno: errno)
        }
    }
}

/// Bytes allocated on disk by the entries of the open folder `folder` (not recursive:
/// subfolders count only for themselves).
func allocatedBytes(in folder: Int32, path: String) throws(VMImageError) -> UInt64 {
    var total: UInt64 = 0
    for name in try entryNames(of: folder, path: path) {
        guard let status = try entryStatus(name, in: folder, path: path) else { continue }
        total &+= UInt64(clamping: status.st_blocks) &* 512
    }
    return total
}
