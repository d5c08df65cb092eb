import ByteStreams
import SystemPackage

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What an image is opened for: the audit errors that stop it differ.
public enum ImageUse: Sendable, Equatable {
    /// Read through, as `map`, `convert` and `inspect --backing-chain` read a chain: errors
    /// about the image's own tables (``ChainGate/ownTableFindings``) do not stop it, since
    /// the reader treats such tables as qemu does.
    case readThrough
    /// Kept and handed out, as an image manager keeps a layer: every audit error stops it.
    case adopt
}

extension ChainPolicy {
    /// The audit errors that refuse an image under this policy for `use`, in the audit's
    /// order: none when the chain is trusted and only read (``trustsChain``: the user vouches
    /// for it); for a stranger's image, every error but those `use` lets through.
    public func refusals(in audit: Audit, for use: ImageUse) -> [Audit.Finding] {
        switch use {
        case .readThrough:
            guard !trustsChain else { return [] }
            return audit.errors.filter { !ChainGate.ownTableFindings.contains($0.code) }
        case .adopt:
            return audit.errors
        }
    }
}

/// Decides whether `inspect --backing-chain`, `map` and `convert` may open an image's
/// backing chain, under a ``ChainPolicy``.
///
/// For a stranger's image (``ChainPolicy/untrusted``) every image in the chain must pass the
/// ``Audit`` (no error finding but those ``ChainPolicy/refusals(in:for:)`` lets through for
/// ``ImageUse/readThrough``: safe backing names with an explicit format, not dirty or
/// corrupt, no encryption or external data file…) and a raw backing file must not pose as
/// another format. With `--trust-chain` (``ChainPolicy/trusted``) the chain is followed as
/// qemu-img follows it, without the audit. Either way each file is examined before the next
/// name is opened, and every backing file is opened through ``NamedFile`` (no symlink, FIFO,
/// device or folder; no loop; bounded depth).
public enum ChainGate {
    /// Audit errors about an image's own tables lying outside the file, past 2^56 or over
    /// each other: they do not change which file is opened next or how, and the reader treats
    /// such tables as qemu does (bytes past the end read as zeros), so they do not stop the chain.
    public static let ownTableFindings: Set<Audit.Code> = [
        .l1TableOutsideFile, .refcountTableOutsideFile, .snapshotTableOutsideFile, .hostOffsetOutOfRange, .metadataOverlap,
    ]

    /// `nil` when the chain below `image` (opened from `path`, as the user named it) may be
    /// followed (or there is none), else why not, in one line. `image` stays open.
    public static func refusal(for image: QCOW2Image, path: String, policy: ChainPolicy) -> String? {
        let hint = policy.trustsChain ? "" : "; pass \(ChainPolicy.optInFlag) to follow a chain you trust as qemu-img does"
        var visited: [NamedFile.Identity] = NamedFile.identity(of: image.descriptor).map { [$0] } ?? []
        var current = path
        var next: ChainPolicy.Link
        switch step(image, path: path, policy: policy, hint: hint, visited: &visited) {
        case .end: return nil
        case let .refused(reason): return reason
        case let .backing(link): next = link
        }
        while true {
            let here = next.descriptor
            defer { SystemCall.closeIgnoringErrors(here) }
            current = next.path
            if next.format == .raw {
                return policy.trustsChain ? nil : rawRefusal(here, path: current).map { $0 + hint }
            }
            let image: QCOW2Image
            do {
                image = try QCOW2Image(descriptor: here, path: current)
            } catch {
                return "\(TerminalText.quoted(current)): \(error)"
            }
            switch step(image, path: current, policy: policy, hint: hint, visited: &visited) {
            case .end: return nil
            case let .refused(reason): return reason
            case let .backing(link): next = link
            }
        }
    }

    private enum Step {
        case end
        case refused(String)
        case backing(ChainPolicy.Link)
    }

    /// Examines one qcow2 image of the chain and opens the file it names next.
    private static func step(_ image: QCOW2Image, path: String, policy: ChainPolicy, hint: String,
                             visited: inout [NamedFile.Identity]) -> Step {
        let header = image.header
        // qemu uses the name as a C string: an empty one (or one starting with NUL) means none.
        let stored = header.backingFileNameBytes
        let name = (stored?.first).map { $0 != 0 } ?? false ? stored : nil
        if !policy.trustsChain, let name {
            // The name and format rules first: their refusal names the flag that lifts them.
            do {
                _ = try policy.backingPath(name: name, imagePath: path)
                _ = try policy.backingFormat(header.backingFormat, name: name)
            } catch {
                return .refused("\(TerminalText.quoted(path)): \(error)")
            }
        }
        if !policy.trustsChain, let first = policy.refusals(in: Audit(image: image), for: .readThrough).first {
            return .refused("\(TerminalText.quoted(path)): \(first.message)\(hint)")
        }
        guard let name else { return .end }
        do {
            return .backing(try policy.openBacking(name: name, format: header.backingFormat, imagePath: path, visited: &visited))
        } catch {
            return .refused("\(TerminalText.quoted(path)): \(error)")
        }
    }

    /// A raw backing file (already opened through ``NamedFile``) must pass the raw audit.
    private static func rawRefusal(_ fd: FileDescriptor, path: String) -> String? {
        let st: stat
        do throws(SystemCallError) {
            st = try SystemCall.status(of: fd, path: path)
        } catch {
            return "cannot stat the raw backing file \(TerminalText.quoted(path)): \(error.errno.description)"
        }
        var prefix = [UInt8](repeating: 0, count: ForeignFormat.prefixLength)
        let got = (try? prefix.withUnsafeMutableBytes { try fd.pread(into: $0, at: 0, path: path) }) ?? 0
        let audit = Audit(rawPrefix: Array(prefix[..<got]), fileSize: UInt64(clamping: st.st_size), fileName: path)
        // Audit messages show the names they quote escaped already.
        if let first = audit.errors.first { return "\(TerminalText.quoted(path)): \(first.message)" }
        return nil
    }

    /// Whether map and convert may read the external data file of `image` (opened from
    /// `path`): qemu opens its name relative to the working directory, qcowtool reads only a
    /// plain name beside the image, so both must be the same file (a regular file, not a symlink).
    public static func mayReadDataFile(of image: QCOW2Image, path: String) -> Bool {
        let header = image.header
        guard header.hasExternalDataFile, let stored = header.dataFileNameBytes,
              BackingNameProblem.check(stored) == nil else { return false }
        let name = String(decoding: stored, as: UTF8.self)
        guard let here = try? SystemCall.status(ofPath: name, followingLink: false),
              let beside = try? SystemCall.status(ofPath: ImageReader.sibling(of: path, named: name), followingLink: false) else { return false }
        return (here.st_mode & S_IFMT) == S_IFREG && here.st_dev == beside.st_dev && here.st_ino == beside.st_ino
    }
}
