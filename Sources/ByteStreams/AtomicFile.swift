import SystemPackage

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A new file written under a temporary name beside its target and moved into place only
/// when complete: the one way the libraries write a file another program may read.
///
/// The target's folder is opened once and every step is relative to it. The temporary file,
/// `.<name>.<purpose>-<random>.tmp`, is created with `O_CREAT | O_EXCL | O_NOFOLLOW |
/// O_CLOEXEC` and registered with ``InterruptCleanup`` in the same transaction, so an
/// interrupted process removes it. ``publish(_:sync:)`` moves it onto the target by the rule
/// the caller states (``Publishing``); until then ``discard()``, or `deinit`, removes it.
/// Whatever the rule, a symbolic link at the target is never followed nor replaced, and only
/// a regular file is ever replaced.
///
/// Not `Sendable`: one writer owns it (the descriptor may be lent to a sink meanwhile).
public final class AtomicFile {
    /// What ``AtomicFile/publish(_:sync:)`` may do to an existing entry at the target.
    public enum Publishing: Sendable, Equatable {
        /// Replace an existing regular file (`renameat`); a link or any other kind of entry is
        /// refused. `qemu-img create`'s habit, and what an output file given on a command line
        /// expects.
        case replacingRegularFile
        /// Fail with ``AtomicFileError/targetExists(path:)`` if anything exists at the target
        /// (`renameat2(RENAME_NOREPLACE)`, or `linkat` + `unlinkat` where unsupported).
        case withoutReplacing
    }

    /// The target path, as given.
    public let targetPath: String
    /// The target's folder (`.` for a bare name).
    public let folderPath: String
    /// The target's file name.
    public let fileName: String
    /// The temporary file's path (folder plus temporary name), for messages.
    public let temporaryPath: String
    /// The open target folder (closed by ``publish(_:sync:)`` or ``discard()``).
    public let folder: FileDescriptor
    /// The temporary file, open for writing (closed by ``publish(_:sync:)`` or ``discard()``).
    public let descriptor: FileDescriptor
    private let temporaryName: String
    private var cleanupTicket: InterruptCleanup.Ticket?
    private var isOpen = true

    /// Opens the folder of `path` and creates a fresh temporary file in it.
    ///
    /// - Parameters:
    ///   - path: the file to write in the end; its folder must exist.
    ///   - purpose: a word in the temporary name that says who writes it (`create`, `partial`).
    ///   - mode: the permissions of the new file (less the umask).
    public convenience init(target path: String, purpose: String, mode: mode_t = 0o644) throws(AtomicFileError) {
        let (folderPath, fileName) = try Self.split(path)
        let folder: FileDescriptor
        do throws(SystemCallError) { folder = try SystemCall.openFolder(folderPath) } catch { throw .system(error) }
        try self.init(owning: folder, folderPath: folderPath, fileName: fileName, targetPath: path, purpose: purpose, mode: mode)
    }

    /// Creates a fresh temporary file for the file `name` in the already open folder `folder`,
    /// for a caller that holds its folder open (and so is sure of which folder it writes in).
    ///
    /// - Parameters:
    ///   - name: the file to write in the end: a plain name in `folder`, no `/`.
    ///   - folder: the open folder; it stays the caller's (the writer works on a copy).
    ///   - folderPath: the folder's path, for messages only.
    ///   - purpose: a word in the temporary name that says who writes it.
    ///   - mode: the permissions of the new file (less the umask).
    public convenience init(
        name: String, in folder: FileDescriptor, folderPath: String, purpose: String, mode: mode_t = 0o644
    ) throws(AtomicFileError) {
        let targetPath = folderPath == "/" ? "/" + name : folderPath + "/" + name
        guard !name.isEmpty, !name.contains("/"), name != ".", name != ".." else { throw .invalidTargetPath(path: targetPath) }
        let copy: FileDescriptor
        do throws(SystemCallError) { copy = try SystemCall.duplicate(folder, path: folderPath) } catch { throw .system(error) }
        try self.init(owning: copy, folderPath: folderPath, fileName: name, targetPath: targetPath, purpose: purpose, mode: mode)
    }

    /// Creates the temporary file in `folder`, which this writer then owns (and closes, also
    /// when this throws).
    private init(
        owning folder: FileDescriptor, folderPath: String, fileName: String, targetPath path: String, purpose: String, mode: mode_t
    ) throws(AtomicFileError) {
        var generator = SystemRandomNumberGenerator()
        var created: (name: String, display: String, descriptor: FileDescriptor, ticket: InterruptCleanup.Ticket)?
        var lastError = SystemCallError(operation: "create temporary file in", path: folderPath, errno: .fileExists)
        for _ in 0..<16 where created == nil {
            let name = ".\(fileName.prefix(200)).\(purpose)-\(String(generator.next() as UInt64, radix: 36)).tmp"
            let display = folderPath == "/" ? "/" + name : folderPath + "/" + name
            let attempt = InterruptCleanup.transaction { registry -> Result<(FileDescriptor, InterruptCleanup.Ticket), SystemCallError> in
                do throws(SystemCallError) {
                    let descriptor = try SystemCall.createExclusive(name, in: folder, mode: mode, path: display)
                    return .success((descriptor, registry.add(display, kind: .file)))
                } catch {
                    return .failure(error)
                }
            }
            switch attempt {
            case let .success((descriptor, ticket)):
                created = (name, display, descriptor, ticket)
            case let .failure(error):
                lastError = SystemCallError(operation: "create temporary file in", path: folderPath, errno: error.errno)
                if error.errno != .fileExists {
                    SystemCall.closeIgnoringErrors(folder)
                    throw .system(lastError)
                }
            }
        }
        guard let created else {
            SystemCall.closeIgnoringErrors(folder)
            throw .system(lastError)
        }
        targetPath = path
        self.folderPath = folderPath
        self.fileName = fileName
        self.folder = folder
        temporaryName = created.name
        temporaryPath = created.display
        descriptor = created.descriptor
        cleanupTicket = created.ticket
    }

    deinit { discard() }

    /// Splits a target path into its folder and a plain file name; refuses a path that names
    /// no file (empty, ending in `/`, `.` or `..`).
    public static func split(_ path: String) throws(AtomicFileError) -> (folder: String, name: String) {
        guard !path.isEmpty, !path.hasSuffix("/") else { throw .invalidTargetPath(path: path) }
        let name: String
        let folder: String
        if let slash = path.lastIndex(of: "/") {
            name = String(path[path.index(after: slash)...])
            let head = String(path[..<slash])
            folder = head.isEmpty ? "/" : head
        } else {
            name = path
            folder = "."
        }
        guard !name.isEmpty, name != ".", name != ".." else { throw .invalidTargetPath(path: path) }
        return (folder, name)
    }

    /// Writes all of `bytes` at `offset` in the temporary file.
    public func write(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws(AtomicFileError) {
        do throws(SystemCallError) { try SystemCall.writeAll(bytes, to: descriptor, at: offset, path: temporaryPath) } catch { throw .system(error) }
    }

    /// Sets the temporary file's length (growing it leaves a hole).
    public func setLength(_ length: UInt64) throws(AtomicFileError) {
        do throws(SystemCallError) { try SystemCall.setLength(descriptor, to: length, path: temporaryPath) } catch { throw .system(error) }
    }

    /// Moves the temporary file onto the target by `rule`, then closes it and the folder.
    ///
    /// With `sync`, the file is flushed before the move and the folder after it, so the new
    /// name and its contents survive a crash together. If the move fails, the temporary file
    /// stays (and stays registered) for ``discard()``; a failure of the folder's flush is
    /// reported after the file is in place.
    public func publish(_ rule: Publishing, sync: Bool) throws(AtomicFileError) {
        guard isOpen, let cleanupTicket else { throw .system(SystemCallError(operation: "publish", path: targetPath, errno: .badFileDescriptor)) }
        if sync {
            do throws(SystemCallError) { try SystemCall.sync(descriptor, path: temporaryPath) } catch { throw .system(error) }
        }
        try InterruptCleanup.transaction { (registry) throws(AtomicFileError) in
            switch rule {
            case .replacingRegularFile:
                try refuseUnlessRegularFileOrAbsent()
                do throws(SystemCallError) { try SystemCall.rename(temporaryName, to: fileName, in: folder, path: targetPath) } catch { throw .system(error) }
            case .withoutReplacing:
                do throws(SystemCallError) {
                    try SystemCall.renameWithoutReplacing(temporaryName, to: fileName, in: folder, path: targetPath)
                } catch where error.errno == .fileExists {
                    // Say so when it is a link: "exists" would read as a file to remove.
                    let existing = (try? SystemCall.entryStatus(fileName, in: folder, path: targetPath)) ?? nil
                    if let existing, existing.st_mode & S_IFMT == S_IFLNK {
                        throw .targetIsSymbolicLink(path: targetPath)
                    }
                    throw .targetExists(path: targetPath)
                } catch {
                    throw .system(error)
                }
            }
            registry.remove(cleanupTicket)
        }
        self.cleanupTicket = nil
        defer { close() }
        if sync {
            do throws(SystemCallError) { try SystemCall.sync(folder, path: folderPath) } catch { throw .system(error) }
        }
    }

    /// Removes the temporary file (if not published) and closes everything; safe to call
    /// more than once.
    public func discard() {
        if let cleanupTicket {
            InterruptCleanup.transaction { registry in
                _ = try? SystemCall.unlink(temporaryName, in: folder, path: temporaryPath)
                registry.remove(cleanupTicket)
            }
            self.cleanupTicket = nil
        }
        close()
    }

    private func close() {
        guard isOpen else { return }
        isOpen = false
        SystemCall.closeIgnoringErrors(descriptor)
        SystemCall.closeIgnoringErrors(folder)
    }

    /// Throws when the target is a symbolic link or exists and is not a regular file.
    private func refuseUnlessRegularFileOrAbsent() throws(AtomicFileError) {
        let status: stat?
        do throws(SystemCallError) { status = try SystemCall.entryStatus(fileName, in: folder, path: targetPath) } catch { throw .system(error) }
        guard let status else { return }
        if (status.st_mode & S_IFMT) == S_IFLNK { throw .targetIsSymbolicLink(path: targetPath) }
        if (status.st_mode & S_IFMT) != S_IFREG { throw .targetNotRegularFile(path: targetPath) }
    }
}
