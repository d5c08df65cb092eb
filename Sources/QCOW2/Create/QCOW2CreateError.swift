import ByteStreams
import SystemPackage

/// Why ``QCOW2Creator`` refused to create an image, or failed while writing it.
///
/// Each case names the option or file at fault; ``description`` is a sentence a person can
/// act on. Nothing is left at the target when one of these is thrown.
public enum QCOW2CreateError: Error, Sendable, Hashable, CustomStringConvertible {
    /// `cluster_size` is not a power of two from 512 to 2 MiB.
    case invalidClusterSize(UInt64)
    /// `refcount_bits` is not a power of two from 1 to 64.
    case invalidRefcountBits(UInt64)
    /// An option needs compat 1.1 (`option` is qemu's option name).
    case requiresCompat11(option: String)
    /// Extended L2 entries need clusters of at least 16 KiB.
    case extendedL2NeedsLargerClusters(clusterSize: UInt64)
    /// Neither a size nor a backing file to take it from.
    case missingSize
    /// The virtual size needs an L1 table larger than qemu's 32 MiB limit.
    case imageTooLarge(virtualSize: UInt64, clusterSize: UInt64)
    /// A backing file was named without a backing format.
    case missingBackingFormat
    /// A backing format was given without a backing file.
    case backingFormatWithoutBackingFile
    /// The backing name is unsafe and ``QCOW2CreateOptions/allowUnsafeBackingName`` is off.
    case unsafeBackingName(name: String, problem: BackingNameProblem)
    /// The backing name does not fit in the first cluster next to the header and extensions.
    case backingNameTooLong(length: Int, room: Int)
    /// qemu refuses a backing file together with preallocation unless extended L2 is on.
    case preallocationWithBackingNeedsExtendedL2
    /// The backing file, read to learn the size, is not what `backingFormat` says.
    case invalidBackingFile(path: String, reason: String)
    /// Something already exists at the target and ``QCOW2CreateOptions/overwrite`` is off.
    case targetExists(path: String)
    /// The target is a symbolic link; it is neither followed nor replaced.
    case targetIsSymbolicLink(path: String)
    /// The target exists and is not a regular file (a folder, a device…).
    case targetNotRegularFile(path: String)
    /// The target path has no file name (empty, `/`, ends in `/`, `.` or `..`).
    case invalidTargetPath(path: String)
    /// Metadata preallocation this large would need more than `limit` bytes of refcount and
    /// L1 tables in memory while planning (qemu would spend hours writing it anyway).
    case preallocationTooLarge(virtualSize: UInt64, limit: UInt64)
    /// A qemu-img style option (`-o name=value`, a size) could not be understood.
    case invalidOption(name: String, value: String, reason: String)
    /// A system call failed.
    case system(operation: String, path: String, errno: Int32)

    /// A sentence a person can act on, on one line: names, paths and option values are shown
    /// through ``TerminalText``.
    public var description: String {
        switch self {
        case let .invalidClusterSize(size):
            return "cluster_size=\(size) is invalid: it must be a power of two between 512 and 2097152 (2M)"
        case let .invalidRefcountBits(bits):
            return "refcount_bits=\(bits) is invalid: it must be a power of two between 1 and 64"
        case let .requiresCompat11(option):
            return "\(option) needs compat=1.1 (qcow2 version 3); drop it or use compat=1.1"
        case let .extendedL2NeedsLargerClusters(size):
            return "extended_l2=on needs cluster_size of at least 16384, not \(size)"
        case .missingSize:
            return "no size given and no backing file to take it from; give a size such as 10G"
        case let .imageTooLarge(size, cluster):
            return "a \(size)-byte image with \(cluster)-byte clusters needs an L1 table over qemu's 32 MiB limit; use a larger cluster_size"
        case .missingBackingFormat:
            return "a backing file needs a backing format; add -F raw or -F qcow2 (backing_fmt=)"
        case .backingFormatWithoutBackingFile:
            return "a backing format was given without a backing file; add -b NAME or drop -F"
        case let .unsafeBackingName(name, problem):
            return "refusing backing file name \(TerminalText.quoted(name)): \(problem); name a file beside the image instead, or pass \(ChainPolicy.optInFlag) if the chain is yours"
        case let .backingNameTooLong(length, room):
            return "the backing file name is \(length) bytes but only \(room) fit in the first cluster; use a shorter name or a larger cluster_size"
        case .preallocationWithBackingNeedsExtendedL2:
            return "a backing file and preallocation=metadata can only be combined with extended_l2=on"
        case let .invalidBackingFile(path, reason):
            return "cannot take the size from backing file '\(TerminalText.escaping(path))': \(reason)"
        case let .targetExists(path):
            return "'\(TerminalText.escaping(path))' already exists; remove it first or ask to overwrite it (qcowtool create --overwrite)"
        case let .targetIsSymbolicLink(path):
            return "'\(TerminalText.escaping(path))' is a symbolic link; refusing to follow or replace it"
        case let .targetNotRegularFile(path):
            return "'\(TerminalText.escaping(path))' exists and is not a regular file; refusing to replace it"
        case let .invalidTargetPath(path):
            return "'\(TerminalText.escaping(path))' does not name a file"
        case let .preallocationTooLarge(size, limit):
            return "preallocation=metadata for \(size) bytes needs more than \(limit >> 20) MiB of tables in memory; use a larger cluster_size or preallocation=off"
        case let .invalidOption(name, value, reason):
            return "invalid \(TerminalText.escaping(name)) '\(TerminalText.escaping(value))': \(reason)"
        case let .system(operation, path, errno):
            return "\(operation) '\(TerminalText.escaping(path))' failed: \(Errno(rawValue: errno).description) (errno \(errno))"
        }
    }
}

extension QCOW2CreateError {
    /// The create error for a failure of the ``AtomicFile`` the image is written through.
    init(_ error: AtomicFileError) {
        switch error {
        case let .invalidTargetPath(path): self = .invalidTargetPath(path: path)
        case let .targetExists(path): self = .targetExists(path: path)
        case let .targetIsSymbolicLink(path): self = .targetIsSymbolicLink(path: path)
        case let .targetNotRegularFile(path): self = .targetNotRegularFile(path: path)
        case let .system(failure):
            self = .system(operation: failure.operation, path: failure.path ?? "", errno: failure.errno.rawValue)
        }
    }
}
