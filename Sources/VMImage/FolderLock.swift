import SystemPackage

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An exclusive `flock` on the lock file of an image folder, held until this object goes
/// away: one ``ImageManager`` (or one `qcowtool cache` command) per folder at a time.
///
/// Why not share a folder: a manager deletes what it does not know (partial downloads and
/// extractions, instance disks of dead VMs), and it may delete an image once no instance of
/// it is held. Sharing safely would need every process to know every other's instances
/// (cross-process reference counts that survive crashes). A worker owns its folder instead;
/// two workers on one host use two folders.
///
/// `flock` locks belong to the open file description, so a second manager in the same
/// process is refused as well, and the kernel drops the lock when the process dies (even by
/// `SIGKILL`): a crash never leaves a folder locked.
final class FolderLock: Sendable {
    /// The lock file's name inside the image folder. It is never deleted: deleting it while
    /// held would let a second process lock a new file of the same name.
    static let fileName = ".vmimage.lock"

    /// The open lock file.
    let descriptor: Int32

    /// Takes the lock of `folder`, or throws ``VMImageError/imageFolderInUse(path:)`` at once
    /// when another holder has it.
    init(folder: FilePath) throws(VMImageError) {
        let path = folder.appending(Self.fileName).string
        let raw = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o644)
        guard raw >= 0 else {
            throw .fileSystem(operation: "open lock file", path: path, errno: errno)
        }
        var status = stat()
        guard fstat(raw, &status) == 0, (status.st_mode & S_IFMT) == S_IFREG else {
            close(raw)
            throw .fileSystem(operation: "use as lock file (not a regular file)", path: path, errno: EINVAL)
        }
        while flock(raw, LOCK_EX | LOCK_NB) != 0 {
            let code = errno
            if code == EINTR { continue }
            close(raw)
            if code == EAGAIN {  // EWOULDBLOCK
                throw .imageFolderInUse(path: folder.string)
            }
            throw .fileSystem(operation: "lock", path: path, errno: code)
        }
        descriptor = raw
    }

    deinit {
        close(descriptor)  // releases the lock
    }
}
