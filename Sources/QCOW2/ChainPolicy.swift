import ByteStreams
import SystemPackage

/// Which backing files may be opened, and how their names and formats are read: the one
/// chain policy of `inspect --backing-chain`, `check`, `map`, `convert`, ``QemuOpenGate``
/// and ``ImageReader`` (through ``ChainOptions``).
///
/// By default (a stranger's image) only a plain file name beside the image, with an explicit
/// `raw` or `qcow2` backing format, is followed (``BackingNameProblem``). With
/// ``trustsChain`` (the user's `--trust-chain`) the chain is followed as qemu-img follows
/// it: an absolute name as is, a relative one in the folder of the image that names it
/// (qemu's `path_combine`), and a missing backing format probed as qemu probes it. Either way
/// a file is opened only through ``NamedFile`` (never a symlink, FIFO, device or folder), and
/// a `json:` or protocol name, a loop, and a chain deeper than ``maximumDepth`` are refused.
public struct ChainPolicy: Sendable, Equatable {
    /// Follow the chain as qemu-img does (the user vouches for every file in it).
    public var trustsChain: Bool
    /// The most backing files below the image. qemu 7.2's block layer has no limit of its own
    /// (it opens a chain of hundreds of files, and recurses without end on a loop); this
    /// bound keeps memory (one L2 table and one cluster per layer) and descriptors bounded.
    public var maximumDepth: Int

    /// A policy; by default the one for a stranger's image.
    public init(trustsChain: Bool = false, maximumDepth: Int = 16) {
        self.trustsChain = trustsChain
        self.maximumDepth = maximumDepth
    }

    /// For a stranger's image: plain names beside the image, explicit formats.
    public static let untrusted = ChainPolicy()
    /// For the user's own chain (`--trust-chain`).
    public static let trusted = ChainPolicy(trustsChain: true)
    /// The command-line flag that turns on ``trustsChain``, named in every refusal it would lift.
    public static let optInFlag = "--trust-chain"

    /// One opened backing file: its descriptor (the caller closes it), the path it was opened
    /// at and the format it is read as.
    public struct Link {
        /// The open file (regular, not reached through a symlink).
        public var descriptor: FileDescriptor
        /// The path it was opened at.
        public var path: String
        /// `raw` or `qcow2`, given by the image or probed.
        public var format: ImageInspection.Format
    }

    /// The path the backing name `stored` (as the image holds it) of the image at
    /// `imagePath` leads to under this policy.
    ///
    /// - Throws: ``ChainRefusal`` for a name this policy does not follow.
    public func backingPath(name stored: [UInt8], imagePath: String) throws(ChainRefusal) -> String {
        let name = QemuOpenGate.cName(stored)
        if !trustsChain, let problem = BackingNameProblem.check(name) {
            throw .unsafeName(name: name, problem: problem)
        }
        // qemu's path_has_protocol: a ':' before any '/' makes a protocol (or json:) name.
        if let colon = name.firstIndex(of: UInt8(ascii: ":")), !name[..<colon].contains(UInt8(ascii: "/")) {
            throw .protocolName(name: name)
        }
        guard !name.isEmpty, String(validating: name, as: UTF8.self) != nil else {
            throw .unsafeName(name: name, problem: name.isEmpty ? .empty : .invalidCharacters)
        }
        // Beside the image (a plain name), or as qemu's path_combine puts it (trusted), byte for byte.
        return PathText.text(QemuOpenGate.backingPath(imagePath: imagePath, name: name))
    }

    /// The backing format to open `name` as: `raw` or `qcow2` as stored, or `nil` when this
    /// policy probes it (no format stored, chain trusted).
    ///
    /// - Throws: ``ChainRefusal`` for a format qcowtool does not read, or a missing one
    ///   without ``trustsChain``.
    public func backingFormat(_ stored: String?, name: [UInt8]) throws(ChainRefusal) -> ImageInspection.Format? {
        switch stored {
        case "raw": return .raw
        case "qcow2": return .qcow2
        case nil, "":
            guard trustsChain else { throw .missingFormat(name: QemuOpenGate.cName(name)) }
            return nil
        case let other?:
            throw .unsupportedFormat(name: QemuOpenGate.cName(name), format: other)
        }
    }

    /// The format qemu's probe gives the file on `descriptor`: qcow2 for the qcow2 magic, raw
    /// for no known header (``ForeignFormat/detect(_:)``).
    ///
    /// - Throws: ``ChainRefusal/probedFormat(name:format:)`` for a format qcowtool does not read.
    public static func probe(_ descriptor: FileDescriptor, name: [UInt8]) throws(ChainRefusal) -> ImageInspection.Format {
        var prefix = [UInt8](repeating: 0, count: ForeignFormat.prefixLength)
        let got = (try? prefix.withUnsafeMutableBytes { try descriptor.pread(into: $0, at: 0) }) ?? 0
        switch ForeignFormat.detect(Array(prefix[..<got])) {
        case nil: return .raw
        case .qcow2?: return .qcow2
        case let other?: throw .probedFormat(name: QemuOpenGate.cName(name), format: other.rawValue)
        }
    }

    /// Opens the backing file of the image at `imagePath` (stored name `name` and format
    /// `format`), after the chain so far (`visited`, the identities of the files above it,
    /// the image first) passed.
    ///
    /// - Throws: ``ChainRefusal`` when the name, the format, the file, a loop or the depth is refused.
    public func openBacking(name: [UInt8], format: String?, imagePath: String, visited: inout [NamedFile.Identity]) throws(ChainRefusal) -> Link {
        let path = try backingPath(name: name, imagePath: imagePath)
        let known = try backingFormat(format, name: name)
        guard visited.count <= maximumDepth else { throw .tooDeep(limit: maximumDepth) }
        let descriptor: FileDescriptor
        do {
            descriptor = try NamedFile.open(path)
        } catch {
            throw .file(error)
        }
        do throws(ChainRefusal) {
            if let identity = NamedFile.identity(of: descriptor) {
                guard !visited.contains(identity) else { throw ChainRefusal.loop(name: QemuOpenGate.cName(name)) }
                visited.append(identity)
            }
            if let known { return Link(descriptor: descriptor, path: path, format: known) }
            return Link(descriptor: descriptor, path: path, format: try Self.probe(descriptor, name: name))
        } catch {
            SystemCall.closeIgnoringErrors(descriptor)
            throw error
        }
    }
}

/// Why a backing file is not followed (see ``ChainPolicy``). Each message is one line; those
/// that ``ChainPolicy/trustsChain`` would lift name ``ChainPolicy/optInFlag``.
public enum ChainRefusal: Error, Sendable, Equatable, CustomStringConvertible {
    /// A name that is not a plain file name beside the image (without `--trust-chain`).
    case unsafeName(name: [UInt8], problem: BackingNameProblem)
    /// A `json:` or protocol name (`nbd:`, `http:`, `file:`…): never followed.
    case protocolName(name: [UInt8])
    /// No backing format stored (without `--trust-chain`, nothing is probed).
    case missingFormat(name: [UInt8])
    /// A stored backing format other than raw and qcow2.
    case unsupportedFormat(name: [UInt8], format: String)
    /// No format stored, and qemu's probe names a format qcowtool does not read.
    case probedFormat(name: [UInt8], format: String)
    /// The file is refused by ``NamedFile`` (a symlink, not a regular file, missing).
    case file(NamedFileError)
    /// The file is already in the chain above it.
    case loop(name: [UInt8])
    /// More backing files than ``ChainPolicy/maximumDepth``.
    case tooDeep(limit: Int)

    /// One line a person can act on.
    public var description: String {
        let flag = ChainPolicy.optInFlag
        switch self {
        case let .unsafeName(name, problem):
            return "backing file \(TerminalText.quoted(name)): \(problem); pass \(flag) to follow a chain you trust as qemu-img does"
        case let .protocolName(name):
            return "backing file \(TerminalText.quoted(name)) is a json: or protocol name, which qcowtool never opens (not even with \(flag))"
        case let .missingFormat(name):
            return "backing file \(TerminalText.quoted(name)) has no backing format; pass \(flag) to probe it as qemu-img does"
        case let .unsupportedFormat(name, format):
            return "backing file \(TerminalText.quoted(name)) has format \(TerminalText.quoted(format)); qcowtool reads only raw and qcow2"
        case let .probedFormat(name, format):
            return "backing file \(TerminalText.quoted(name)) has no backing format and probes as \(format); qcowtool reads only raw and qcow2"
        case let .file(error):
            return "backing file: \(error)"
        case let .loop(name):
            return "backing file \(TerminalText.quoted(name)) is already in the chain above it (a loop)"
        case let .tooDeep(limit):
            return "the backing chain is more than \(limit) files deep"
        }
    }
}
