import ByteStreams

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Human text for an errno value.
enum CreateSystemError {
    static func message(_ code: Int32) -> String {
        guard let text = strerror(code) else { return "error \(code)" }
        return String(cString: text)
    }
}

/// A new file written beside its final name and moved into place only when complete.
///
/// The folder is opened once and every step is relative to it: the temporary file is created
/// with `O_CREAT | O_EXCL | O_NOFOLLOW`; publishing uses `renameat2(RENAME_NOREPLACE)` (or
/// `linkat` + `unlinkat` where that is unsupported) so an existing name, symbolic links
/// included, is never replaced unless overwriting was asked for, and then only a regular file
/// is replaced (by `renameat`, which replaces the name and never follows a link). Until
/// ``publish(sync:)`` succeeds, ``discard()`` (or `deinit`) removes the temporary file, and
/// ``InterruptCleanup`` has it registered (created, renamed and removed in its transactions),
/// so an interrupted process removes it too.
final class CreateSafeFile {
    let targetPath: String
    let folderPath: String
    let fileName: String
    private(set) var folder: Int32 = -1
    private(set) var descriptor: Int32 = -1
    private var temporaryName: String?
    private var cleanupTicket: InterruptCleanup.Ticket?

    /// Opens the folder of `path` and creates a fresh temporary file in it.
    init(targetPath path: String) throws(QCOW2CreateError) {
        targetPath = path
        let (folderPath, fileName) = try Self.split(path)
        self.folderPath = folderPath
        self.fileName = fileName
        folder = PathText.withCString(folderPath) { open($0, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        guard folder >= 0 else { throw .system(operation: "open folder", path: folderPath, errno: errno) }
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<16 {
            let suffix = String(generator.next() as UInt64, radix: 36)
            let name = ".\(fileName.prefix(200)).create-\(suffix).tmp"
            let displayPath = folderPath == "/" ? "/" + name : folderPath + "/" + name
            let directory = folder
            let (fd, code, ticket) = InterruptCleanup.transaction { registry in
                let fd = PathText.withCString(name) { openat(directory, $0, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644) }
                let code = errno
                return (fd, code, fd >= 0 ? registry.add(displayPath, kind: .file) : nil)
            }
            if fd >= 0 {
                descriptor = fd
                temporaryName = name
                cleanupTicket = ticket
                return
            }
            if code != EEXIST {
                close(folder)
                folder = -1
                throw .system(operation: "create temporary file in", path: folderPath, errno: code)
            }
        }
        close(folder)
        folder = -1
        throw .system(operation: "create temporary file in", path: folderPath, errno: EEXIST)
    }

    deinit { discard() }

    /// Splits a target path into its folder and a plain file name.
    static func split(_ path: String) throws(QCOW2CreateError) -> (String, String) {
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

    /// Writes `bytes` at `offset` in the temporary file.
    func write(_ bytes: [UInt8], at offset: UInt64) throws(QCOW2CreateError) {
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { buffer in
                pwrite(descriptor, buffer.baseAddress! + done, buffer.count - done, off_t(offset) + off_t(done))
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw .system(operation: "write", path: targetPath, errno: errno)
            }
            done += n
        }
    }

    /// Sets the temporary file's length (growing leaves a hole).
    func setLength(_ length: UInt64) throws(QCOW2CreateError) {
        guard let size = off_t(exactly: length), ftruncate(descriptor, size) == 0 else {
            throw .system(operation: "ftruncate", path: targetPath, errno: errno)
        }
    }

    /// Moves the temporary file to the target name. With `sync`, the data is flushed before
    /// and the folder after, so the new name and its contents survive a crash together.
    func publish(overwrite: Bool, sync: Bool) throws(QCOW2CreateError) {
        guard let temporaryName else { return }
        if sync && fsync(descriptor) != 0 { throw .system(operation: "fsync", path: targetPath, errno: errno) }
        try InterruptCleanup.transaction { (registry) throws(QCOW2CreateError) in
            if overwrite {
                var st = stat()
                if PathText.withCString(fileName, { fstatat(folder, $0, &st, AT_SYMLINK_NOFOLLOW) }) == 0 {
                    if (st.st_mode & S_IFMT) == S_IFLNK { throw .targetIsSymbolicLink(path: targetPath) }
                    if (st.st_mode & S_IFMT) != S_IFREG { throw .targetNotRegularFile(path: targetPath) }
                }
                guard PathText.withCString(temporaryName, { from in PathText.withCString(fileName) { renameat(folder, from, folder, $0) } }) == 0 else {
                    throw .system(operation: "rename to", path: targetPath, errno: errno)
                }
            } else {
                try publishWithoutReplacing(temporaryName)
            }
            if let cleanupTicket { registry.remove(cleanupTicket) }
        }
        cleanupTicket = nil
        self.temporaryName = nil
        if sync && fsync(folder) != 0 { throw .system(operation: "fsync folder", path: folderPath, errno: errno) }
        close(descriptor)
        descriptor = -1
        close(folder)
        folder = -1
    }

    private func publishWithoutReplacing(_ temporaryName: String) throws(QCOW2CreateError) {
        if let renameNoReplace = Self.renameat2 {
            if PathText.withCString(temporaryName, { from in PathText.withCString(fileName) { renameNoReplace(folder, from, folder, $0, 1 /* RENAME_NOREPLACE */) } }) == 0 { return }
            let code = errno
            if code == EEXIST { throw existingTargetError() }
            if code != EINVAL && code != ENOSYS && code != ENOTSUP {
                throw .system(operation: "rename to", path: targetPath, errno: code)
            }
        }
        // File systems without RENAME_NOREPLACE: a hard link fails on any existing name.
        guard PathText.withCString(temporaryName, { from in PathText.withCString(fileName) { linkat(folder, from, folder, $0, 0) } }) == 0 else {
            let code = errno
            if code == EEXIST { throw existingTargetError() }
            throw .system(operation: "link to", path: targetPath, errno: code)
        }
        _ = PathText.withCString(temporaryName) { unlinkat(folder, $0, 0) }
    }

    private func existingTargetError() -> QCOW2CreateError {
        var st = stat()
        if PathText.withCString(fileName, { fstatat(folder, $0, &st, AT_SYMLINK_NOFOLLOW) }) == 0, (st.st_mode & S_IFMT) == S_IFLNK {
            return .targetIsSymbolicLink(path: targetPath)
        }
        return .targetExists(path: targetPath)
    }

    /// Removes the temporary file (if still there) and closes everything.
    func discard() {
        InterruptCleanup.transaction { registry in
            if let temporaryName, folder >= 0 { _ = PathText.withCString(temporaryName) { unlinkat(folder, $0, 0) } }
            if let cleanupTicket { registry.remove(cleanupTicket) }
        }
        cleanupTicket = nil
        temporaryName = nil
        if descriptor >= 0 { close(descriptor); descriptor = -1 }
        if folder >= 0 { close(folder); folder = -1 }
    }

    typealias RenameAt2 = @convention(c) (Int32, UnsafePointer<CChar>?, Int32, UnsafePointer<CChar>?, UInt32) -> Int32

    /// glibc's `renameat2`, looked up at run time (Swift's Glibc module hides it behind
    /// `_GNU_SOURCE`); `nil` on systems without it.
    static let renameat2: RenameAt2? = {
        #if os(Linux)
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "renameat2") else { return nil }
        return unsafeBitCast(symbol, to: RenameAt2.self)
        #else
        return nil
        #endif
    }()
}
