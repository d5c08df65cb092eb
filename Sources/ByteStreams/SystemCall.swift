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
/// `path` arguments only name things in errors. The process-level calls (anonymous memory,
/// clocks, signals, threads) are in `SystemCall+Process.swift`.
public enum SystemCall {
    /// Opens the folder `path` for `*at` calls (`O_RDONLY | O_DIRECTORY | O_CLOEXEC`).
    public static func openFolder(_ path: String) throws(SystemCallError) -> FileDescriptor {
        let raw = PathText.withCString(path) { open($0, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        guard raw >= 0 else { throw SystemCallError(operation: "open folder", path: path, code: errno) }
        return FileDescriptor(rawValue: raw)
    }

    /// Opens the folder `name` (in `folder`, or relative to the working folder when `nil`) for
    /// `*at` calls, refusing a link (`O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC`; a link
    /// fails with `ELOOP` or `ENOTDIR`).
    public static func openSubfolder(_ name: String, in folder: FileDescriptor?, path: String?) throws(SystemCallError) -> FileDescriptor {
        try openRetrying(name, in: folder, flags: O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, mode: 0, reportedPath: path,
                         operation: "open folder")
    }

    /// The names in the open folder `folder`, as the kernel's raw bytes, without `.` and `..`
    /// (`dup`, `fdopendir`, `rewinddir`, `readdir`); `folder` stays open and is read from its start.
    public static func entryNames(of folder: FileDescriptor, path: String?) throws(SystemCallError) -> [[UInt8]] {
        let copy = dup(folder.rawValue)
        guard copy >= 0 else { throw SystemCallError(operation: "read folder", path: path, code: errno) }
        guard let directory = fdopendir(copy) else {
            let code = errno
            _ = closeDescriptor(copy)
            throw SystemCallError(operation: "read folder", path: path, code: code)
        }
        defer { closedir(directory) }
        rewinddir(directory)
        var names: [[UInt8]] = []
        while true {
            errno = 0
            guard let entry = readdir(directory) else {
                let code = errno
                if code != 0 { throw SystemCallError(operation: "read folder", path: path, code: code) }
                return names
            }
            let bytes = withUnsafeBytes(of: entry.pointee.d_name) { raw in Array(raw.prefix { $0 != 0 }) }
            if bytes == [0x2E] || bytes == [0x2E, 0x2E] { continue }
            names.append(bytes)
        }
    }

    /// Removes the empty folder `name` (in `folder`, or relative to the working folder when
    /// `nil`) (`unlinkat` with `AT_REMOVEDIR`; a link is never followed).
    public static func removeFolder(_ name: String, in folder: FileDescriptor?, path: String?) throws(SystemCallError) {
        guard PathText.withCString(name, { unlinkat(folder?.rawValue ?? AT_FDCWD, $0, AT_REMOVEDIR) }) == 0 else {
            throw SystemCallError(operation: "delete folder", path: path, code: errno)
        }
    }

    /// Creates the folder `name` (in `folder`, or relative to the working folder when `nil`)
    /// with permissions `mode` (less the umask); `EEXIST` when any entry of that name exists
    /// (`mkdirat`).
    public static func createFolder(_ name: String, in folder: FileDescriptor?, mode: mode_t, path: String?) throws(SystemCallError) {
        guard PathText.withCString(name, { mkdirat(folder?.rawValue ?? AT_FDCWD, $0, mode) }) == 0 else {
            throw SystemCallError(operation: "create folder", path: path, code: errno)
        }
    }

    /// Creates the symbolic link `name` in `folder` pointing at `target` (stored as given,
    /// never resolved); `EEXIST` when any entry of that name exists (`symlinkat`).
    public static func createSymbolicLink(_ name: String, in folder: FileDescriptor, target: String, path: String?) throws(SystemCallError) {
        let result = PathText.withCString(target) { to in PathText.withCString(name) { symlinkat(to, folder.rawValue, $0) } }
        guard result == 0 else { throw SystemCallError(operation: "create symbolic link", path: path, code: errno) }
    }

    /// Gives the file `existing` in `existingFolder` the second name `name` in `folder`, never
    /// replacing an entry and never following a link at `existing` (`linkat`, no flags).
    public static func link(
        _ existing: String, in existingFolder: FileDescriptor, as name: String, in folder: FileDescriptor, path: String?
    ) throws(SystemCallError) {
        let result = PathText.withCString(existing) { old in
            PathText.withCString(name) { new in linkat(existingFolder.rawValue, old, folder.rawValue, new, 0) }
        }
        guard result == 0 else { throw SystemCallError(operation: "create hard link", path: path, code: errno) }
    }

    /// Sets the permission bits of the open file `descriptor` (`fchmod`).
    public static func setPermissions(_ descriptor: FileDescriptor, to mode: mode_t, path: String?) throws(SystemCallError) {
        guard fchmod(descriptor.rawValue, mode) == 0 else { throw SystemCallError(operation: "set permissions of", path: path, code: errno) }
    }

    /// Sets the permission bits of the entry `name` in `folder` (`fchmodat`; Linux has no way
    /// not to follow a link here, so callers name only folders they created).
    public static func setPermissions(ofEntry name: String, in folder: FileDescriptor, to mode: mode_t, path: String?) throws(SystemCallError) {
        guard PathText.withCString(name, { fchmodat(folder.rawValue, $0, mode, 0) }) == 0 else {
            throw SystemCallError(operation: "set permissions of", path: path, code: errno)
        }
    }

    /// Sets the access and modification times of the open file `descriptor` to `seconds`
    /// since the epoch (`futimens`).
    public static func setTimes(_ descriptor: FileDescriptor, seconds: Int64, path: String?) throws(SystemCallError) {
        var times = [timespec(tv_sec: Int(seconds), tv_nsec: 0), timespec(tv_sec: Int(seconds), tv_nsec: 0)]
        guard futimens(descriptor.rawValue, &times) == 0 else { throw SystemCallError(operation: "set times of", path: path, code: errno) }
    }

    /// Sets the access and modification times of the entry `name` in `folder` to `seconds`
    /// since the epoch, not following a link (`utimensat` with `AT_SYMLINK_NOFOLLOW`).
    public static func setTimes(ofEntry name: String, in folder: FileDescriptor, seconds: Int64, path: String?) throws(SystemCallError) {
        var times = [timespec(tv_sec: Int(seconds), tv_nsec: 0), timespec(tv_sec: Int(seconds), tv_nsec: 0)]
        guard PathText.withCString(name, { utimensat(folder.rawValue, $0, &times, AT_SYMLINK_NOFOLLOW) }) == 0 else {
            throw SystemCallError(operation: "set times of", path: path, code: errno)
        }
    }

    /// A second descriptor for the file `descriptor` is open on, closed on exec
    /// (`fcntl(F_DUPFD_CLOEXEC)`).
    public static func duplicate(_ descriptor: FileDescriptor, path: String?) throws(SystemCallError) -> FileDescriptor {
        let raw = fcntl(descriptor.rawValue, F_DUPFD_CLOEXEC, 0)
        guard raw >= 0 else { throw SystemCallError(operation: "duplicate the handle of", path: path, code: errno) }
        return FileDescriptor(rawValue: raw)
    }

    /// Creates the file `name` in `folder` for writing, failing if any entry of that name exists
    /// (`O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC`), with permissions `mode`
    /// (less the umask).
    public static func createExclusive(
        _ name: String, in folder: FileDescriptor, mode: mode_t, path: String?
    ) throws(SystemCallError) -> FileDescriptor {
        let raw = PathText.withCString(name) {
            openat(folder.rawValue, $0, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
        }
        guard raw >= 0 else { throw SystemCallError(operation: "create", path: path, code: errno) }
        return FileDescriptor(rawValue: raw)
    }

    /// The status of the entry `name` in `folder`, not following a link (`fstatat` with
    /// `AT_SYMLINK_NOFOLLOW`); `nil` when there is no such entry.
    public static func entryStatus(_ name: String, in folder: FileDescriptor, path: String?) throws(SystemCallError) -> stat? {
        var st = stat()
        if PathText.withCString(name, { fstatat(folder.rawValue, $0, &st, AT_SYMLINK_NOFOLLOW) }) == 0 { return st }
        let code = errno
        if code == ENOENT { return nil }
        throw SystemCallError(operation: "stat", path: path, code: code)
    }

    /// The status of `path` (relative to the working folder unless absolute): of the file a
    /// link at `path` points to when `followingLink`, else of the link itself (`fstatat` at
    /// `AT_FDCWD`, with `AT_SYMLINK_NOFOLLOW` unless `followingLink`). A missing `path` throws
    /// `ENOENT` like any other failure; for paths a person or a file named.
    public static func status(ofPath path: String, followingLink: Bool) throws(SystemCallError) -> stat {
        var st = stat()
        let flags = followingLink ? 0 : AT_SYMLINK_NOFOLLOW
        guard PathText.withCString(path, { fstatat(AT_FDCWD, $0, &st, flags) }) == 0 else {
            throw SystemCallError(operation: "stat", path: path, code: errno)
        }
        return st
    }

    /// Flushes `descriptor`'s data and metadata to storage (`fsync`).
    public static func sync(_ descriptor: FileDescriptor, path: String?) throws(SystemCallError) {
        while fsync(descriptor.rawValue) != 0 {
            let code = errno
            if code != EINTR { throw SystemCallError(operation: "fsync", path: path, code: code) }
        }
    }

    /// Sets the length of `descriptor`'s file (`ftruncate`; growing leaves a hole).
    public static func setLength(_ descriptor: FileDescriptor, to length: UInt64, path: String?) throws(SystemCallError) {
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
        _ bytes: UnsafeRawBufferPointer, to descriptor: FileDescriptor, at offset: UInt64, path: String?
    ) throws(SystemCallError) {
        guard let start = Int64(exactly: offset), !start.addingReportingOverflow(Int64(bytes.count)).overflow else {
            throw SystemCallError(operation: "pwrite", path: path, errno: .fileTooLarge)
        }
        guard let base = bytes.baseAddress else { return }
        try writeLoop(bytes.count, operation: "pwrite", path: path) { done in
            pwrite(descriptor.rawValue, base + done, bytes.count - done, off_t(start) + off_t(done))
        }
    }

    /// Renames `from` to `to`, both in `folder`, replacing an existing `to` (`renameat`).
    public static func rename(_ from: String, to: String, in folder: FileDescriptor, path: String?) throws(SystemCallError) {
        let result = PathText.withCString(from) { old in
            PathText.withCString(to) { new in renameat(folder.rawValue, old, folder.rawValue, new) }
        }
        guard result == 0 else { throw SystemCallError(operation: "rename to", path: path, code: errno) }
    }

    /// Renames `from` to `to`, both in `folder`, only if `to` does not exist; throws `EEXIST`
    /// when it does. Uses `renameat2(RENAME_NOREPLACE)`, or where the file system or kernel
    /// lacks it, `linkat` (which never replaces a name) then `unlinkat` of `from`.
    public static func renameWithoutReplacing(
        _ from: String, to: String, in folder: FileDescriptor, path: String?
    ) throws(SystemCallError) {
        let renamed = PathText.withCString(from) { old in
            PathText.withCString(to) { new in vmimage_rename_noreplace(folder.rawValue, old, folder.rawValue, new) }
        }
        if renamed == 0 { return }
        let code = errno
        guard code == EINVAL || code == ENOSYS || code == ENOTSUP else {
            throw SystemCallError(operation: "rename to", path: path, code: code)
        }
        try renameByLinking(from, to: to, in: folder, path: path)
    }

    /// The fallback of ``renameWithoutReplacing(_:to:in:path:)`` where the file system or
    /// kernel lacks `RENAME_NOREPLACE`: `linkat` gives the file `from` the name `to` (never
    /// replacing an entry: `EEXIST`, both names left as they were), then `unlinkat` removes
    /// `from` (best effort: the file is already in place under `to`). Internal, not private,
    /// so that tests reach it on file systems that have `renameat2`.
    static func renameByLinking(_ from: String, to: String, in folder: FileDescriptor, path: String?) throws(SystemCallError) {
        let linked = PathText.withCString(from) { old in
            PathText.withCString(to) { new in linkat(folder.rawValue, old, folder.rawValue, new, 0) }
        }
        guard linked == 0 else { throw SystemCallError(operation: "link to", path: path, code: errno) }
        _ = try? unlink(from, in: folder, path: path)
    }

    /// Removes the file `name` from `folder`, or relative to the working folder when `nil`
    /// (`unlinkat`; a link is removed, not followed).
    public static func unlink(_ name: String, in folder: FileDescriptor?, path: String?) throws(SystemCallError) {
        guard PathText.withCString(name, { unlinkat(folder?.rawValue ?? AT_FDCWD, $0, 0) }) == 0 else {
            throw SystemCallError(operation: "remove", path: path, code: errno)
        }
    }

    /// Opens the file `path` read-only (`O_RDONLY | O_CLOEXEC`, plus `O_NONBLOCK` when
    /// `nonBlocking`, so that a FIFO fails instead of hanging). A link at `path` is followed:
    /// this is for paths a person named; names found in files go through `*at` calls.
    public static func openForReading(_ path: String, nonBlocking: Bool) throws(SystemCallError) -> FileDescriptor {
        try openRetrying(path, in: nil, flags: O_RDONLY | O_CLOEXEC | (nonBlocking ? O_NONBLOCK : 0), mode: 0, reportedPath: path)
    }

    /// Opens the entry `name` in `folder` read-only without blocking and without following a
    /// link (`O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC`; a link fails with `ELOOP`):
    /// for names found in files, which must never lead elsewhere or hang on a FIFO.
    public static func openForReading(_ name: String, in folder: FileDescriptor, path: String?) throws(SystemCallError) -> FileDescriptor {
        try openRetrying(name, in: folder, flags: O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC, mode: 0, reportedPath: path)
    }

    /// Opens (creating it with `mode` when missing, emptying it when present) the file `path`
    /// for writing, never through a symbolic link (`O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
    /// O_CLOEXEC`).
    public static func openForRewriting(_ path: String, mode: mode_t) throws(SystemCallError) -> FileDescriptor {
        try openRetrying(path, in: nil, flags: O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, mode: mode, reportedPath: path)
    }

    /// Opens (creating it with `mode` when missing, keeping its bytes) the file `path` for
    /// reading and writing, never through a symbolic link (`O_RDWR | O_CREAT | O_NOFOLLOW |
    /// O_CLOEXEC`): a lock file.
    public static func openForUpdate(_ path: String, mode: mode_t) throws(SystemCallError) -> FileDescriptor {
        try openRetrying(path, in: nil, flags: O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, mode: mode, reportedPath: path)
    }

    /// `open` (or `openat` in `folder`) of `name` with `flags` and `mode`, retrying `EINTR`.
    private static func openRetrying(
        _ name: String, in folder: FileDescriptor?, flags: Int32, mode: mode_t, reportedPath: String?,
        operation: String = "open"
    ) throws(SystemCallError) -> FileDescriptor {
        while true {
            let raw = PathText.withCString(name) { openat(folder?.rawValue ?? AT_FDCWD, $0, flags, mode) }
            if raw >= 0 { return FileDescriptor(rawValue: raw) }
            let code = errno
            if code != EINTR { throw SystemCallError(operation: operation, path: reportedPath, code: code) }
        }
    }

    /// Takes an exclusive `flock` on `descriptor` without waiting (`LOCK_EX | LOCK_NB`,
    /// retrying `EINTR`); `false` when another open file holds it.
    public static func lockExclusiveWithoutWaiting(_ descriptor: FileDescriptor, path: String?) throws(SystemCallError) -> Bool {
        while flock(descriptor.rawValue, LOCK_EX | LOCK_NB) != 0 {
            let code = errno
            if code == EINTR { continue }
            if code == EWOULDBLOCK { return false }
            throw SystemCallError(operation: "lock", path: path, code: code)
        }
        return true
    }

    /// The figures of the file system holding `path` (`statvfs`, retrying `EINTR`).
    public static func fileSystemStatus(_ path: String) throws(SystemCallError) -> statvfs {
        var info = statvfs()
        while PathText.withCString(path, { statvfs($0, &info) }) != 0 {
            let code = errno
            if code != EINTR { throw SystemCallError(operation: "statvfs", path: path, code: code) }
        }
        return info
    }

    /// The status of the open file `descriptor` (`fstat`).
    public static func status(of descriptor: FileDescriptor, path: String?) throws(SystemCallError) -> stat {
        var st = stat()
        guard fstat(descriptor.rawValue, &st) == 0 else { throw SystemCallError(operation: "fstat", path: path, code: errno) }
        return st
    }

    /// Reads the next bytes at the file position into `buffer` (`read`, retrying `EINTR`);
    /// 0 at the end of the file.
    public static func readAvailable(
        _ descriptor: FileDescriptor, into buffer: UnsafeMutableRawBufferPointer, path: String?
    ) throws(SystemCallError) -> Int {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return 0 }
        while true {
            let n = read(descriptor.rawValue, base, buffer.count)
            if n >= 0 { return n }
            let code = errno
            if code != EINTR { throw SystemCallError(operation: "read", path: path, code: code) }
        }
    }

    /// Writes all of `bytes` at the file position (`write`, looping over short writes and
    /// `EINTR`).
    public static func writeAll(_ bytes: UnsafeRawBufferPointer, to descriptor: FileDescriptor, path: String?) throws(SystemCallError) {
        guard let base = bytes.baseAddress else { return }
        try writeLoop(bytes.count, operation: "write", path: path) { done in
            write(descriptor.rawValue, base + done, bytes.count - done)
        }
    }

    /// Calls `attempt` with the bytes written so far until `count` are, looping over short
    /// writes and `EINTR`; `attempt` returns what one `write`/`pwrite` returned.
    private static func writeLoop(
        _ count: Int, operation: String, path: String?, _ attempt: (_ done: Int) -> Int
    ) throws(SystemCallError) {
        var done = 0
        while done < count {
            let n = attempt(done)
            if n < 0 {
                let code = errno
                if code == EINTR { continue }
                throw SystemCallError(operation: operation, path: path, code: code)
            }
            if n == 0 { throw SystemCallError(operation: operation, path: path, errno: .ioError) }
            done += n
        }
    }

    /// Reads `buffer.count` bytes at `offset` (`pread`, looping over short reads and `EINTR`),
    /// or fewer only at the end of the file; returns how many it read.
    public static func readFully(
        _ descriptor: FileDescriptor, into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64, path: String?
    ) throws(SystemCallError) -> Int {
        guard let start = Int64(exactly: offset), !start.addingReportingOverflow(Int64(buffer.count)).overflow else {
            throw SystemCallError(operation: "pread", path: path, errno: .invalidArgument)
        }
        guard let base = buffer.baseAddress else { return 0 }
        var filled = 0
        while filled < buffer.count {
            let n = pread(descriptor.rawValue, base + filled, buffer.count - filled, off_t(start) + off_t(filled))
            if n < 0 {
                let code = errno
                if code == EINTR { continue }
                throw SystemCallError(operation: "pread", path: path, code: code)
            }
            if n == 0 { break }
            filled += n
        }
        return filled
    }

    /// Where `lseek(SEEK_DATA)` finds the next data at or after `offset`: `nil` when there is
    /// none before the end. Throws `EINVAL`/`EOPNOTSUPP` where the file system cannot say.
    public static func nextData(in descriptor: FileDescriptor, from offset: UInt64, path: String?) throws(SystemCallError) -> UInt64? {
        let found = vmimage_seek_data(descriptor.rawValue, Int64(clamping: offset))
        if found >= 0 { return UInt64(found) }
        let code = errno
        if code == ENXIO { return nil }
        throw SystemCallError(operation: "lseek(SEEK_DATA)", path: path, code: code)
    }

    /// Where `lseek(SEEK_HOLE)` finds the next hole at or after `offset` (the end of the file
    /// counts as one).
    public static func nextHole(in descriptor: FileDescriptor, from offset: UInt64, path: String?) throws(SystemCallError) -> UInt64 {
        let found = vmimage_seek_hole(descriptor.rawValue, Int64(clamping: offset))
        guard found >= 0 else { throw SystemCallError(operation: "lseek(SEEK_HOLE)", path: path, code: errno) }
        return UInt64(found)
    }

    /// Deallocates `length` bytes at `offset`, keeping the size
    /// (`fallocate(PUNCH_HOLE | KEEP_SIZE)`); `false` when the file system cannot punch holes.
    public static func punchHole(in descriptor: FileDescriptor, offset: UInt64, length: UInt64, path: String?) throws(SystemCallError) -> Bool {
        guard length > 0 else { return true }
        if vmimage_punch_hole(descriptor.rawValue, Int64(clamping: offset), Int64(clamping: length)) == 0 { return true }
        let code = errno
        if code == EOPNOTSUPP || code == ENOSYS { return false }
        throw SystemCallError(operation: "fallocate(PUNCH_HOLE)", path: path, code: code)
    }

    /// Closes `descriptor`, reporting what `close` reports (a write-back error on some file
    /// systems). Never retried, `EINTR` included: Linux releases the descriptor even then, so a
    /// retry could close another file.
    public static func close(_ descriptor: FileDescriptor, path: String?) throws(SystemCallError) {
        guard closeDescriptor(descriptor.rawValue) == 0 else { throw SystemCallError(operation: "close", path: path, code: errno) }
    }

    /// Closes `descriptor`, ignoring the result (Linux releases the descriptor even when
    /// `close` reports an error, so retrying would close another file).
    public static func closeIgnoringErrors(_ descriptor: FileDescriptor) {
        _ = closeDescriptor(descriptor.rawValue)
    }

    /// Asks the kernel to start writing the dirty pages of `length` bytes at `offset` of
    /// `descriptor` to storage, without waiting (`sync_file_range(SYNC_FILE_RANGE_WRITE)` on
    /// Linux; elsewhere nothing, and no error). Only a hint that makes a later `fsync` shorter.
    /// A `length` of 0 means up to the end of the file, as for `sync_file_range`.
    public static func startWriteback(_ descriptor: FileDescriptor, offset: UInt64, length: UInt64, path: String?) throws(SystemCallError) {
        guard let start = Int64(exactly: offset), let count = Int64(exactly: length) else {
            throw SystemCallError(operation: "sync_file_range", path: path, errno: .invalidArgument)
        }
        while vmimage_start_writeback(descriptor.rawValue, start, count) != 0 {
            let code = errno
            if code != EINTR { throw SystemCallError(operation: "sync_file_range", path: path, code: code) }
        }
    }
}

/// The C library's `close`, under a name `SystemCall.close` does not shadow.
private func closeDescriptor(_ raw: Int32) -> Int32 { close(raw) }
