import ByteStreams

/// Why a backing-file (or external data-file) name stored in an image is unsafe to follow.
///
/// An image may only name a file that sits beside it in the same folder: a plain file
/// name, resolved relative to the image's own folder. Anything else lets a stranger's
/// image read (or, for data files, write) host files, or reach the network.
public enum BackingNameProblem: Sendable, Hashable, CustomStringConvertible {
    /// The name is empty.
    case empty
    /// Longer than qemu's limit of 1023 bytes.
    case tooLong(length: Int)
    /// An absolute path such as `/etc/shadow`.
    case absolutePath
    /// Contains a `/`: it names a file in another folder.
    case containsSlash
    /// Is `.` or `..`, or has such a path component.
    case parentReference
    /// A protocol or pseudo-protocol name (`nbd:`, `http://`, `file:`, `json:{…}`).
    case protocolName(prefix: String)
    /// Contains a NUL or another control character, or is not valid UTF-8.
    case invalidCharacters

    /// A sentence a person can act on.
    public var description: String {
        switch self {
        case .empty: return "the name is empty"
        case let .tooLong(length): return "the name is \(length) bytes long, more than qemu's \(QCOW2Format.maximumBackingNameLength)"
        case .absolutePath: return "the name is an absolute path"
        case .containsSlash: return "the name contains '/', so it points outside the image's folder"
        case .parentReference: return "the name refers to a parent folder ('..')"
        case let .protocolName(prefix): return "the name is a \(TerminalText.quoted(prefix)) protocol name, not a file beside the image"
        case .invalidCharacters: return "the name contains NUL, control characters or invalid UTF-8"
        }
    }

    /// The first problem with `name` as raw bytes, or `nil` when it is a plain file name.
    public static func check(_ name: [UInt8]) -> BackingNameProblem? {
        guard !name.isEmpty else { return .empty }
        guard name.count <= QCOW2Format.maximumBackingNameLength else { return .tooLong(length: name.count) }
        if name.contains(where: { $0 < 0x20 || $0 == 0x7F }) { return .invalidCharacters }
        guard let text = String(validating: name, as: UTF8.self) else { return .invalidCharacters }
        if name.first == UInt8(ascii: "/") { return .absolutePath }
        if text.split(separator: "/", omittingEmptySubsequences: false).contains(where: { $0 == ".." || $0 == "." }) {
            return .parentReference
        }
        if let colon = text.firstIndex(of: ":") {
            // qemu treats "proto:..." as a protocol when the prefix is a protocol name;
            // refuse every such prefix rather than keep a list that can fall behind.
            let prefix = String(text[..<colon])
            if !prefix.isEmpty, prefix.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "+" || $0 == "-" || $0 == "." || $0 == "_" }) {
                return .protocolName(prefix: prefix)
            }
        }
        if name.contains(UInt8(ascii: "/")) { return .containsSlash }
        if name.contains(UInt8(ascii: "\\")) { return .containsSlash }
        return nil
    }

    /// The first problem with `name`, or `nil` when it is a plain file name.
    public static func check(_ name: String) -> BackingNameProblem? {
        check(Array(name.utf8))
    }
}
