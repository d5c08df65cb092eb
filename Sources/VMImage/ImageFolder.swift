import ByteStreams
import SystemPackage

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A folder this library created and fills, held open so that every file in it is made
/// relative to the open handle (`openat` with `O_EXCL|O_NOFOLLOW`): nothing lands outside
/// it, nothing existing is overwritten, and ``remove()`` undoes everything.
///
/// A folder this object creates is registered with ``InterruptCleanup`` from its `mkdir` until
/// ``close()`` or ``remove()``, so an interrupted command removes it; its files are created in
/// cleanup transactions, so none appears once that removal has begun.
final class ImageFolder {
    /// The folder's path.
    let path: FilePath
    /// The open directory.
    let descriptor: FileDescriptor
    private var created: [String] = []
    private var closed = false
    /// The folder's registration for removal on interruption, while it is incomplete.
    private var cleanupTicket: InterruptCleanup.Ticket?

    /// Creates the folder `path` (which must not exist) and opens it.
    init(creating path: FilePath, mode: mode_t = 0o755) throws {
        let (folder, ticket) = try InterruptCleanup.transaction { (registry) throws(VMImageError) in
            do throws(SystemCallError) {
                try SystemCall.createFolder(path.string, in: nil, mode: mode, path: path.string)
            } catch where error.errno == .fileExists {
                throw .fileSystem(operation: "create folder (it already exists)", path: path.string, errno: EEXIST)
            } catch {
                throw fileSystemError(error)
            }
            let folder: FileDescriptor
            do throws(SystemCallError) {
                folder = try SystemCall.openSubfolder(path.string, in: nil, path: path.string)
            } catch {
                _ = try? SystemCall.removeFolder(path.string, in: nil, path: path.string)
                throw fileSystemError(error)
            }
            return (folder, registry.add(path.string, kind: .folder))
        }
        self.path = path
        self.descriptor = folder
        self.cleanupTicket = ticket
    }

    /// Opens an existing folder (for adding files to it).
    init(existing path: FilePath) throws {
        do throws(SystemCallError) {
            self.descriptor = try SystemCall.openFolder(path.string)
        } catch {
            throw fileSystemError(error)
        }
        self.path = path
    }

    /// Wraps a copy of the open folder handle `folder` (for reading an existing image).
    init(opened folder: FileDescriptor, path: FilePath) throws {
        do throws(SystemCallError) {
            self.descriptor = try SystemCall.duplicate(folder, path: path.string)
        } catch {
            throw fileSystemError(error)
        }
        self.path = path
    }

    deinit {
        if !closed { SystemCall.closeIgnoringErrors(descriptor) }
        if let cleanupTicket { InterruptCleanup.remove(cleanupTicket) }
    }

    /// The path of `name` inside the folder.
    func file(_ name: String) -> FilePath { path.appending(name) }

    /// Creates the new file `name` for writing (never following a link, never replacing).
    func create(_ name: String, mode: mode_t = 0o644) throws -> FileDescriptor {
        let file = try InterruptCleanup.transaction { (_) throws(VMImageError) in
            do throws(SystemCallError) {
                return try SystemCall.createExclusive(name, in: descriptor, mode: mode, path: self.file(name).string)
            } catch {
                throw fileSystemError(error)
            }
        }
        created.append(name)
        return file
    }

    /// Opens `name` for reading, refusing a symbolic link (and never waiting on a FIFO).
    func openForReading(_ name: String) throws -> FileDescriptor {
        do throws(SystemCallError) {
            return try SystemCall.openForReading(name, in: descriptor, path: file(name).string)
        } catch {
            throw fileSystemError(error)
        }
    }

    /// Reads all of `name`, refusing more than `limit` bytes.
    func readAll(_ name: String, limit: UInt64) throws -> [UInt8] {
        let handle = try openForReading(name)
        defer { SystemCall.closeIgnoringErrors(handle) }
        let status = try SparseFile.status(of: handle, path: file(name).string)
        guard status.size <= limit else {
            throw malformed(name, .sizeLimit, "is \(status.size) bytes, more than the limit of \(limit)")
        }
        var bytes = [UInt8](repeating: 0, count: Int(status.size))
        let n = try bytes.withUnsafeMutableBytes { try handle.pread(into: $0, at: 0, path: file(name).string) }
        return Array(bytes.prefix(n))
    }

    /// Flushes the folder's entries to disk.
    func sync() {
        try? SystemCall.sync(descriptor, path: path.string)
    }

    /// Closes the handle; the folder and its files stay (and are no longer removed on
    /// interruption: the folder is complete).
    func close() {
        if let cleanupTicket {
            InterruptCleanup.remove(cleanupTicket)
            self.cleanupTicket = nil
        }
        guard !closed else { return }
        closed = true
        SystemCall.closeIgnoringErrors(descriptor)
    }

    /// Deletes every file this object created and then the folder itself (when this
    /// object created it, or it is left empty).
    func remove() {
        InterruptCleanup.transaction { registry in
            for name in created.reversed() {
                try? SystemCall.unlink(name, in: descriptor, path: file(name).string)
            }
            created.removeAll()
            try? SystemCall.removeFolder(path.string, in: nil, path: path.string)
            if let cleanupTicket { registry.remove(cleanupTicket) }
        }
        cleanupTicket = nil
        close()
    }
}
