import ByteStreams

/// Why an image could not be checked, mapped, read or converted.
///
/// Offsets are byte offsets in the image file (`hostOffset`) or in the guest disk
/// (`guestOffset`), so a message points at the exact place.
public enum ImageAccessError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A header or table field holds a value this code refuses.
    case invalidField(field: String, value: UInt64, reason: String)
    /// A structure would need more memory than allowed.
    case tooLarge(what: String, size: UInt64, limit: UInt64)
    /// An image feature reading cannot honour (encryption, an external data file…).
    case unsupported(feature: String)
    /// An L2 entry is unusable for reading (bad subcluster bitmaps, unaligned offset…).
    case corruptEntry(guestOffset: UInt64, reason: String)
    /// A compressed cluster does not decompress to exactly one cluster.
    case corruptCompressedCluster(guestOffset: UInt64, hostOffset: UInt64, reason: String)
    /// A backing file name is refused by ``BackingNameProblem``.
    case unsafeBackingName(name: String, problem: BackingNameProblem)
    /// The backing chain is longer than the limit.
    case backingChainTooDeep(limit: Int)
    /// The backing format is neither `raw` nor `qcow2`.
    case unsupportedBackingFormat(name: String, format: String)
    /// A backing file the chain policy does not follow (see ``ChainPolicy``).
    case chainRefused(ChainRefusal)
    /// The image has a backing file but the caller did not ask to open it.
    case backingNotOpened(name: String)
    /// A read or write of the underlying files failed.
    case io(path: String, reason: String)

    /// A sentence a person can act on, on one line: names and paths are shown through
    /// ``TerminalText``; reasons are made with any input-derived text already escaped.
    public var description: String {
        switch self {
        case let .invalidField(field, value, reason):
            return "qcow2: \(field) = \(value): \(reason)"
        case let .tooLarge(what, size, limit):
            return "qcow2: \(what) needs \(size) bytes, more than the limit of \(limit)"
        case let .unsupported(feature):
            return "qcow2: \(feature) is not supported here"
        case let .corruptEntry(guestOffset, reason):
            return "qcow2: the L2 entry for guest offset \(guestOffset) is corrupt: \(reason)"
        case let .corruptCompressedCluster(guestOffset, hostOffset, reason):
            return "qcow2: the compressed cluster for guest offset \(guestOffset) (host offset \(hostOffset)) is corrupt: \(reason)"
        case let .unsafeBackingName(name, problem):
            return "qcow2: refusing backing file \(TerminalText.quoted(name)): \(problem)"
        case let .backingChainTooDeep(limit):
            return "qcow2: the backing chain is more than \(limit) files deep"
        case let .unsupportedBackingFormat(name, format):
            return "qcow2: backing file \(TerminalText.quoted(name)) has format \(TerminalText.quoted(format)); only raw and qcow2 are followed"
        case let .chainRefused(refusal):
            return "qcow2: \(refusal)"
        case let .backingNotOpened(name):
            return "qcow2: the image has backing file \(TerminalText.quoted(name)), which was not opened"
        case let .io(path, reason):
            return "\(TerminalText.escaping(path)): \(reason)"
        }
    }
}
