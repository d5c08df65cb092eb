import ByteStreams
import SystemPackage

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The one way to open a file that an image names (a backing file, an external data file):
/// it never blocks, never follows a symbolic link and never reads anything but a regular file.
///
/// The name is first looked up with `lstat` (so a device or FIFO is not even opened), then
/// opened `O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC` (so a FIFO swapped in meanwhile
/// cannot block the open, and a symlink swapped in fails with `ELOOP`), and the descriptor is
/// checked with `fstat` before a byte is read. Every command and library path that opens a
/// name found in an image goes through ``open(_:relativeTo:)``.
public enum NamedFile {
    /// A file's identity on this machine (device and inode), used to find loops in a chain.
    public struct Identity: Sendable, Hashable {
        /// `st_dev`.
        public var device: UInt64
        /// `st_ino`.
        public var inode: UInt64
    }

    /// Opens the regular file at `path` (relative to the folder descriptor `folder`, or to the
    /// working directory) read-only.
    ///
    /// - Throws: ``NamedFileError`` when `path` is a symlink, not a regular file, or cannot be opened.
    public static func open(_ path: String, relativeTo folder: Int32 = AT_FDCWD) throws(NamedFileError) -> FileDescriptor {
        let folder = FileDescriptor(rawValue: folder)
        let before: stat?
        do throws(SystemCallError) {
            before = try SystemCall.entryStatus(path, in: folder, path: path)
        } catch {
            throw NamedFileError(path: path, reason: .system(errno: error.errno.rawValue))
        }
        guard let before else { throw NamedFileError(path: path, reason: .system(errno: ENOENT)) }
        try requireRegular(before, path: path)
        let descriptor: FileDescriptor
        do throws(SystemCallError) {
            descriptor = try SystemCall.openForReading(path, in: folder, path: path)
        } catch {
            throw NamedFileError(path: path, reason: error.errno.rawValue == ELOOP ? .symbolicLink : .system(errno: error.errno.rawValue))
        }
        do throws(NamedFileError) {
            let after: stat
            do throws(SystemCallError) {
                after = try SystemCall.status(of: descriptor, path: path)
            } catch {
                throw NamedFileError(path: path, reason: .system(errno: error.errno.rawValue))
            }
            try requireRegular(after, path: path)
        } catch {
            SystemCall.closeIgnoringErrors(descriptor)
            throw error
        }
        return descriptor
    }

    /// The device and inode of the open file `descriptor`, or `nil` when `fstat` fails.
    public static func identity(of descriptor: FileDescriptor) -> Identity? {
        guard let st = try? SystemCall.status(of: descriptor, path: nil) else { return nil }
        return Identity(device: UInt64(st.st_dev), inode: UInt64(st.st_ino))
    }

    private static func requireRegular(_ st: stat, path: String) throws(NamedFileError) {
        switch st.st_mode & S_IFMT {
        case S_IFREG: return
        case S_IFLNK: throw NamedFileError(path: path, reason: .symbolicLink)
        case S_IFIFO: throw NamedFileError(path: path, reason: .notRegular(kind: "a FIFO"))
        case S_IFCHR: throw NamedFileError(path: path, reason: .notRegular(kind: "a character device"))
        case S_IFBLK: throw NamedFileError(path: path, reason: .notRegular(kind: "a block device"))
        case S_IFDIR: throw NamedFileError(path: path, reason: .notRegular(kind: "a directory"))
        case S_IFSOCK: throw NamedFileError(path: path, reason: .notRegular(kind: "a socket"))
        default: throw NamedFileError(path: path, reason: .notRegular(kind: "not a regular file"))
        }
    }
}

/// Why ``NamedFile/open(_:relativeTo:)`` refused a file an image names.
public struct NamedFileError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What was wrong with the file.
    public enum Reason: Sendable, Equatable {
        /// The name is a symbolic link; links are never followed for a name an image holds.
        case symbolicLink
        /// The file exists but is not a regular file (`kind` says what it is).
        case notRegular(kind: String)
        /// The system refused (`errno`), e.g. the file does not exist.
        case system(errno: Int32)
    }

    /// The path as it was opened.
    public var path: String
    /// Why it was refused.
    public var reason: Reason

    /// One line naming the file (escaped for a terminal) and the reason.
    public var description: String {
        let name = TerminalText.quoted(path)
        switch reason {
        case .symbolicLink: return "\(name) is a symbolic link, which is never followed for a name stored in an image"
        case let .notRegular(kind): return "\(name) is \(kind), not a regular file"
        case let .system(code): return "cannot open \(name): \(Errno(rawValue: code).description)"
        }
    }
}
