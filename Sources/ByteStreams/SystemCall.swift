import CSystemShim
import SystemPackage

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Thin wrappers over the file system calls the libraries make, in the spirit of
/// swift-system: each takes and returns `FileDescriptor`s, retries `EINTR` where the call can
/// be interrupted, reads `errno` right after the call and throws one error type,
/// ``SystemCallError`` (the operation, the path for the message, the typed errno).
///
/// Names are relative to an open folder (`*at` calls), never followed when they are links
/// (`O_NOFOLLOW`, `AT_SYMLINK_NOFOLLOW`), and passed as their exact bytes (``PathText``).
/// `path` arguments only name things in errors.
public enum SystemCall {
    /// Opens the folder `path` for `*at` calls (`O_RDONLY | O_DIRECTORY | O_CLOEXEC`).
    public static func openFolder(_ path: String) throws(SystemCallError) -> FileDescriptor {
        let raw = PathText.withCString(path) { open($0, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        guard raw >= 0 else { throw SystemCallError(operation: "open folder", path: path, code: errno) }
        return FileDescriptor(rawValue: raw)
    }

    /// Creates the file `name` in `folder` for writing, failing if any entry of that name exists
    /// (`O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC`), with permissions `mode`
    /// (less the umask).
    public static func createExclusive(
        _ name: String, in folder: FileDescriptor, mode: mode_t, path: String
    ) throws(SystemCallError) -> FileDescriptor {
        let raw = PathText.withCString(name) {
            openat(folder.rawValue, $0, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
        }
        guard raw >= 0 else { throw SystemCallError(operation: "create", path: path, code: errno) }
        return FileDescriptor(rawValue: raw)
    }

    /// The status of the entry `name` in `folder`, not following a link (`fstatat` with
    /// `AT_SYMLINK_NOFOLLOW`); `nil` when there is no such entry.
    public static func entryStatus(_ name: String, in folder: FileDescriptor, path: String) throws(SystemCallError) -> stat? {
        var st = stat()
        if PathText.withCString(name, { fstatat(folder.rawValue, $0, &st, AT_SYMLINK_NOFOLLOW) }) == 0 { return st }
        let code = errno
        if code == ENOENT { return nil }
        throw SystemCallError(operation: "stat", path: path, code: code)
    }

    /// Flushes `descriptor`'s data and metadata to storage (`fsync`).
    public static func sync(_ descriptor: FileDescriptor, path: String) throws(SystemCallError) {
        while fsync(descriptor.rawValue) != 0 {
            let code = errno
            if code != EINTR { throw SystemCallError(operation: "fsync", path: path, code: code) }
        }
    }

    /// Sets the length of `descriptor`'s file (`ftruncate`; growing leaves a hole).
    public static func setLength(_ descriptor: FileDescriptor, to length: UInt64, path: String) throws(SystemCallError) {
        guard let size = off_t(exactly: length) else {
            throw SystemCallError(operation: "ftruncate", path: path, errno: .fileTooLarge)
        }
        while ftruncate(descriptor.rawValue, size) != 0 {
            let code = errno
            if code != EINTR { throw SystemCallError(operation: "ftruncate", path: path, code: code) }
        }
    }

    /// Writes all of `bytes` at `offset`, looping over short writes and `EINTR` (`pwrite`).
    public static func writeAll(
        _ bytes: UnsafeRawBufferPointer, to descriptor: FileDescriptor, at offset: UInt64, path: String
    ) throws(SystemCallError) {
        guard let start = Int64(exactly: offset), !start.addingReportingOverflow(Int64(bytes.count)).overflow else {
            throw SystemCallError(operation: "pwrite", path: path, errno: .fileTooLarge)
        }
        var done = 0
        while done < bytes.count {
            let n = pwrite(descriptor.rawValue, bytes.baseAddress.map { $0 + done }, bytes.count - done, off_t(start) + off_t(done))
            if n < 0 {
                let code = errno
                if code == EINTR { continue }
                throw SystemCallError(operation: "pwrite", path: path, code: code)
            }
            if n == 0 { throw SystemCallError(operation: "pwrite", path: path, errno: .ioError) }
            done += n
        }
    }

    /// Renames `from` to `to`, both in `folder`, replacing an existing `to` (`renameat`).
    public static func rename(_ from: String, to: String, in folder: FileDescriptor, path: String) throws(SystemCallError) {
        let result = PathText.withCString(from) { old in
            PathText.withCString(to) { new in renameat(folder.rawValue, old, folder.rawValue, new) }
        }
        guard result == 0 else { throw SystemCallError(operation: "rename to", path: path, code: errno) }
    }

    /// Renames `from` to `to`, both in `folder`, only if `to` does not exist; throws `EEXIST`
    /// when it does. Uses `renameat2(RENAME_NOREPLACE)`, or where the file system or kernel
    /// lacks it, `linkat` (which never replaces a name) then `unlinkat` of `from`.
    public static func renameWithoutReplacing(
        _ from: String, to: String, in folder: FileDescriptor, path: String
    ) throws(SystemCallError) {
        let renamed = PathText.withCString(from) { old in
            PathText.withCString(to) { new in vmimage_rename_noreplace(folder.rawValue, old, folder.rawValue, new) }
        }
        if renamed == 0 { return }
        let code = errno
        guard code == EINVAL || code == ENOSYS || code == ENOTSUP else {
            throw SystemCallError(operation: "rename to", path: path, code: code)
        }
        let linked = PathText.withCString(from) { old in
            PathText.withCString(to) { new in linkat(folder.rawValue, old, folder.rawValue, new, 0) }
        }
        guard linked == 0 else { throw SystemCallError(operation: "link to", path: path, code: errno) }
        _ = try? unlink(from, in: folder, path: path)
    }

    /// Removes the file `name` from `folder` (`unlinkat`; a link is removed, not followed).
    public static func unlink(_ name: String, in folder: FileDescriptor, path: String) throws(SystemCallError) {
        guard PathText.withCString(name, { unlinkat(folder.rawValue, $0, 0) }) == 0 else {
            throw SystemCallError(operation: "remove", path: path, code: errno)
        }
    }

    /// Closes `descriptor`, ignoring the result (Linux releases the descriptor even when
    /// `close` reports an error, so retrying would close another file).
    public static func closeIgnoringErrors(_ descriptor: FileDescriptor) {
        try? descriptor.close()
    }
}
