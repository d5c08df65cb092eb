import ByteStreams
import SystemPackage
import Tar
import Zstd

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension ImageArchive {
    /// Extracts the image archive read from `source` into the new folder `folder`, streaming
    /// zstd → tar → disk in bounded memory and applying every rule of the image format
    /// (members, types, sizes, format confusion, the layer's audit, `machine.json`).
    ///
    /// `folder` must not exist: it is created, and on any failure it is removed with
    /// everything written into it. `disk.img` comes out sparse, even when it was stored dense.
    ///
    /// - Parameters:
    ///   - source: the archive's bytes, read once from start to end.
    ///   - folder: the folder to create and fill.
    ///   - archiveName: names the archive in error messages.
    ///   - limits: the size limits checked before a byte is written.
    /// - Throws: ``VMImageError``: `malformedPayload`/`invalidMachine` when the archive breaks
    ///   a rule, `fileSystem` when this host fails.
    @discardableResult
    public static func extract<Source: ByteSource>(
        from source: Source, into folder: FilePath, archiveName: String = "image.tar.zst",
        limits: ImageLimits = .init()
    ) throws(VMImageError) -> ImageContents {
        let target: ImageFolder
        do {
            target = try ImageFolder(creating: folder)
        } catch {
            throw imageError(error, archiveName: archiveName)
        }
        do {
            let reader = ImageArchiveReader(archiveName: archiveName, limits: limits, writesDisk: true)
            let contents = try reader.read(from: source, into: target)
            target.sync()
            target.close()
            return contents
        } catch {
            target.remove()
            throw imageError(error, archiveName: archiveName)
        }
    }

    /// Extracts the archive file `archive` into the new folder `folder` (see
    /// ``extract(from:into:archiveName:limits:)``).
    @discardableResult
    public static func extract(archive: FilePath, into folder: FilePath, limits: ImageLimits = .init()) throws(VMImageError) -> ImageContents {
        try extract(archive: archive, into: folder, archiveName: archive.lastComponent?.string ?? archive.string, limits: limits)
    }

    /// Extracts the archive file `archive`, naming it `archiveName` in errors (the image
    /// manager names the image ID, not its temporary download file).
    static func extract(archive: FilePath, into folder: FilePath, archiveName: String, limits: ImageLimits) throws(VMImageError) -> ImageContents {
        let descriptor = try openArchive(archive)
        defer { SystemCall.closeIgnoringErrors(descriptor) }
        return try extract(from: FileSource(descriptor, path: archive.string), into: folder, archiveName: archiveName, limits: limits)
    }

    /// Reads the image archive from `source` and applies every rule of ``extract(from:into:archiveName:limits:)``
    /// without writing the disk: only the small members go to a temporary folder, removed
    /// before returning.
    @discardableResult
    public static func verify<Source: ByteSource>(
        from source: Source, archiveName: String = "image.tar.zst", limits: ImageLimits = .init()
    ) throws(VMImageError) -> ImageContents {
        let scratch: ImageFolder
        do {
            scratch = try ImageFolder(creating: temporaryFolderPath(label: "verify"), mode: 0o700)
        } catch {
            throw imageError(error, archiveName: archiveName)
        }
        defer { scratch.remove() }
        do {
            let reader = ImageArchiveReader(archiveName: archiveName, limits: limits, writesDisk: false)
            return try reader.read(from: source, into: scratch)
        } catch {
            throw imageError(error, archiveName: archiveName)
        }
    }

    /// Verifies the archive file `archive` (see ``verify(from:archiveName:limits:)``).
    @discardableResult
    public static func verify(archive: FilePath, limits: ImageLimits = .init()) throws(VMImageError) -> ImageContents {
        let descriptor = try openArchive(archive)
        defer { SystemCall.closeIgnoringErrors(descriptor) }
        return try verify(from: FileSource(descriptor, path: archive.string),
                          archiveName: archive.lastComponent?.string ?? archive.string, limits: limits)
    }

    /// Opens the archive file for reading (a link is followed and a FIFO is waited on: the
    /// archive is a path the caller named, possibly a pipe it streams through).
    private static func openArchive(_ archive: FilePath) throws(VMImageError) -> FileDescriptor {
        do throws(SystemCallError) {
            return try SystemCall.openForReading(archive.string, nonBlocking: false)
        } catch {
            throw fileSystemError(error)
        }
    }
}

/// A fresh path under the temporary directory (`$TMPDIR` or `/tmp`) that does not exist yet.
func temporaryFolderPath(label: String) -> FilePath {
    let base = getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp"
    var generator = SystemRandomNumberGenerator()
    let suffix = String(generator.next() & 0xFFFF_FFFF_FFFF, radix: 36)
    return FilePath(base).appending("swift-vmimage-\(label)-\(getpid())-\(suffix)")
}

/// The ``VMImageError`` for a failed system call: the one place a ``SystemCallError`` becomes
/// `.fileSystem` (same operation and errno; `path` when the call named none). `package`, so
/// that `VMImageDownload`'s file sink maps its failures the same way.
package func fileSystemError(_ failure: SystemCallError, path: String = "") -> VMImageError {
    .fileSystem(operation: failure.operation, path: failure.path ?? path, errno: failure.errno.rawValue)
}

/// The ``VMImageError`` for a failure to write an output file through an ``AtomicFile``.
func fileSystemError(_ error: AtomicFileError) -> VMImageError {
    switch error {
    case let .system(failure):
        return fileSystemError(failure)
    case let .invalidTargetPath(path):
        return .fileSystem(operation: "write (no file name)", path: path, errno: EINVAL)
    case let .targetExists(path):
        return .fileSystem(operation: "create (it exists)", path: path, errno: EEXIST)
    case let .targetIsSymbolicLink(path):
        return .fileSystem(operation: "replace (a symbolic link: never followed nor replaced)", path: path, errno: ELOOP)
    case let .targetNotRegularFile(path):
        return .fileSystem(operation: "replace (not a regular file)", path: path, errno: EEXIST)
    }
}

/// Maps the errors of the lower layers to ``VMImageError``: format errors in the archive
/// are the payload's fault, system errors are the host's.
func imageError(_ error: any Error, archiveName: String) -> VMImageError {
    switch error {
    case let error as VMImageError:
        return error
    case let error as ZstdError:
        return .malformedPayload(member: archiveName, rule: .zstdStream, message: error.description)
    case let error as TarError:
        return .malformedPayload(member: error.member ?? archiveName, rule: .tarFormat, message: error.description)
    case let error as ByteStreamError:
        return .malformedPayload(member: archiveName, rule: .sizeLimit, message: error.description)
    case let error as SystemCallError:
        return fileSystemError(error, path: archiveName)
    case let error as AtomicFileError:
        return fileSystemError(error)
    case let error as Errno:
        return .fileSystem(operation: "I/O", path: archiveName, errno: error.rawValue)
    default:
        // Not a format error of ours: do not blame the payload for what may be the host's
        // or the network's failure.
        return .fileSystem(operation: "read (\(error))", path: archiveName, errno: EIO)
    }
}
