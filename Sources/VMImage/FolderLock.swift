import ByteStreams
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
    let descriptor: FileDescriptor

    /// Takes the lock of `folder`, or throws ``VMImageError/imageFolderInUse(path:)`` at once
    /// when another holder has it; `fileSystem` when `folder` is not a folder (a symbolic link
    /// to one included: the lock file would land in the link's target) or the lock file is
    /// not a regular file.
    init(folder: FilePath) throws(VMImageError) {
        let status: stat
        do throws(SystemCallError) {
            status = try SystemCall.status(ofPath: folder.string, followingLink: false)
        } catch {
            throw fileSystemError(error)
        }
        guard (status.st_mode & S_IFMT) == S_IFDIR else {
            throw .fileSystem(operation: "use as image folder (not a folder, or a symbolic link)", path: folder.string, errno: ENOTDIR)
        }
        let path = folder.appending(Self.fileName).string
        let descriptor: FileDescriptor
        do throws(SystemCallError) {
            descriptor = try SystemCall.openForUpdate(path, mode: 0o644)
        } catch {
            throw fileSystemError(SystemCallError(operation: "open lock file", path: error.path, errno: error.errno))
        }
        let isRegular: Bool
        let locked: Bool
        do throws(SystemCallError) {
            isRegular = (try SystemCall.status(of: descriptor, path: path).st_mode & S_IFMT) == S_IFREG
            locked = isRegular ? try SystemCall.lockExclusiveWithoutWaiting(descriptor, path: path) : false
        } catch {
            SystemCall.closeIgnoringErrors(descriptor)
            throw fileSystemError(error)
        }
        guard isRegular else {
            SystemCall.closeIgnoringErrors(descriptor)
            throw .fileSystem(operation: "use as lock file (not a regular file)", path: path, errno: EINVAL)
        }
        guard locked else {
            SystemCall.closeIgnoringErrors(descriptor)
            throw .imageFolderInUse(path: folder.string)
        }
        self.descriptor = descriptor
    }

    deinit {
        SystemCall.closeIgnoringErrors(descriptor)  // releases the lock
    }
}
