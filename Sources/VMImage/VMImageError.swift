import ByteStreams
import QCOW2
import SystemPackage

/// An error from the VMImage modules: what failed, where, and whether the input is to blame.
///
/// ``malformedPayload(member:rule:message:)`` and ``invalidMachine(member:issues:)`` mean the
/// input (an image archive, a `machine.json`, an HTTP response) is bad: retrying will not help
/// and the task that named it should be resolved as malformed (``isMalformedPayload``).
/// The other cases are failures of this host or of the network.
public enum VMImageError: Error, Sendable, Hashable, CustomStringConvertible {
    /// `member` (an archive member, a file name or a URL) breaks `rule`; `message` says how.
    case malformedPayload(member: String, rule: PayloadRule, message: String)
    /// `machine.json` (or another member holding a machine definition) breaks the schema;
    /// `issues` lists every violated field, not only the first.
    case invalidMachine(member: String, issues: [MachineIssue])
    /// A download still failed after `attempts` attempts on errors worth retrying
    /// (connection errors, 5xx responses); `reason` is the last failure.
    case downloadFailed(url: String, attempts: Int, reason: String)
    /// A system call on `path` failed with `errno` while doing `operation`.
    case fileSystem(operation: String, path: String, errno: Int32)
    /// The API was used against its contract (an instance used after `release()`, a mutable
    /// image packaged while in use…); `message` says which call and why.
    case misuse(message: String)
    /// Another ``ImageManager`` or `qcowtool cache` command, in this process or another one,
    /// holds the lock of the image folder `path`: a worker owns its image folder (see
    /// ``ImageManager/init(imageFolder:gc:monitor:limits:)``), so give each manager its own.
    case imageFolderInUse(path: String)
    /// The qcow2 overlay `path` (an instance's disk, or the `layer.qcow2` written by packaging)
    /// could not be created; `underlying` is the creator's typed error (a system call's errno,
    /// an existing symbolic link at the path…), kept whole for the caller to inspect.
    case overlayCreation(path: String, underlying: QCOW2CreateError)

    /// Whether the input is to blame (the task's payload is malformed), not the host.
    public var isMalformedPayload: Bool {
        switch self {
        case .malformedPayload, .invalidMachine: true
        case .downloadFailed, .fileSystem, .misuse, .imageFolderInUse, .overlayCreation: false
        }
    }

    /// A one-line explanation naming the member, rule or path involved.
    ///
    /// `member`, `url` and `path` are shown through `TerminalText` here; `message` and
    /// `reason` are made with any input-derived text in them already escaped, so the whole
    /// description holds no terminal control character.
    public var description: String {
        switch self {
        case let .malformedPayload(member, rule, message):
            return "malformed payload: \(TerminalText.escaping(member)): \(rule): \(message)"
        case let .invalidMachine(member, issues):
            let list = issues.map(\.description).joined(separator: "; ")
            return "malformed payload: \(TerminalText.escaping(member)): \(PayloadRule.machineSchema): "
                + "\(issues.count) field(s) invalid: \(list)"
        case let .downloadFailed(url, attempts, reason):
            return "download of \(TerminalText.escaping(url)) failed after \(attempts) attempt(s): \(reason)"
        case let .misuse(message):
            return "misuse: \(message)"
        case let .imageFolderInUse(path):
            return "image folder \(path) is in use by another image manager (it holds "
                + "\(FolderLock.fileName)); each manager needs a folder of its own"
        case let .fileSystem(operation, path, errno):
            return "\(operation) \(TerminalText.escaping(path)) failed: errno \(errno) (\(Errno(rawValue: errno).description))"
        case let .overlayCreation(path, underlying):
            return "creating the qcow2 overlay \(TerminalText.escaping(path)) failed: \(underlying)"
        }
    }
}

/// The name of a rule that input must obey, as carried by ``VMImageError/malformedPayload(member:rule:message:)``.
///
/// A struct rather than an enum so that later stages (archive extraction, packaging) add their
/// own rules in an extension without changing this type.
public struct PayloadRule: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    /// The rule's stable, machine-readable name (kebab-case).
    public var rawValue: String

    /// A rule named `rawValue`.
    public init(rawValue: String) {
        self.rawValue = rawValue
    }

    /// The rule's name.
    public var description: String { rawValue }
}

extension PayloadRule {
    /// A size limit (of a file, a member, a response body) is exceeded.
    public static let sizeLimit = PayloadRule(rawValue: "size-limit")
    /// The bytes are not valid JSON, or not a JSON object where one is required.
    public static let jsonSyntax = PayloadRule(rawValue: "json-syntax")
    /// A machine definition breaks the `machine.json` schema (fields, enums, patterns, ranges).
    public static let machineSchema = PayloadRule(rawValue: "machine-schema")
    /// An HTTP server answered with a status that means the request itself is wrong (non-2xx, not 5xx).
    public static let httpStatus = PayloadRule(rawValue: "http-status")
    /// A URL is not one this library downloads from (only `http` and `https` with a host).
    public static let url = PayloadRule(rawValue: "url")
    /// Downloaded bytes do not have the expected SHA-256, or the expected digest is not 64 hex digits.
    public static let sha256 = PayloadRule(rawValue: "sha256")
}
