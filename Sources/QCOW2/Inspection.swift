import ByteStreams
import SystemPackage

/// Everything `qcowtool inspect` reports about one file: qemu-img's info plus the audit.
public struct ImageInspection: Sendable {
    /// The two formats this tool reads.
    public enum Format: String, Sendable, Hashable, CaseIterable {
        /// qcow2 (versions 2 and 3).
        case qcow2
        /// A raw disk.
        case raw
    }

    /// The format the file was inspected as.
    public var format: Format
    /// What `qemu-img info` would print.
    public var info: ImageInfo
    /// The audit's findings.
    public var audit: Audit
    /// The parsed header, for qcow2.
    public var header: QCOW2Header?

    /// The format qemu-img would probe for a file starting with `prefix` (at least
    /// ``ForeignFormat/prefixLength`` bytes, or the whole file) and named `fileName`, when
    /// it is one this tool reads.
    /// - Throws: ``UnreadFormatError`` when qemu-img would probe another format.
    public static func probe(_ prefix: [UInt8], fileName: String? = nil) throws -> Format {
        switch ForeignFormat.detect(prefix, fileName: fileName) {
        case nil: return .raw
        case .qcow2?: return .qcow2
        case let other?: throw UnreadFormatError(format: other)
        }
    }

    /// Inspects the file on `descriptor` (borrowed). `filename` is shown in the info and
    /// used to resolve the backing name; `format` forces a format instead of probing.
    ///
    /// One `fstat` and one 4 KiB `pread` (the whole first cluster only when the header
    /// needs it), plus the audit's few small reads.
    /// - Throws: ``QCOW2HeaderError`` when the file cannot be opened as qcow2 the way qemu
    ///   would refuse it; ``UnreadFormatError`` when, probed, it is neither qcow2 nor raw;
    ///   `SystemCallError` (ByteStreams) when it cannot be read.
    public init(descriptor: FileDescriptor, filename: String, format forced: Format? = nil) throws {
        let status = try SparseFile.status(of: descriptor, path: filename)
        let prefix = try QCOW2Image.readPrefix(descriptor, path: filename, fileSize: status.size, count: QCOW2Image.firstRead)
        format = try forced ?? Self.probe(prefix, fileName: filename)
        switch format {
        case .raw:
            info = ImageInfo(rawFilename: filename, fileSize: status.size, actualSize: status.allocatedBytes)
            audit = Audit(rawPrefix: prefix, fileSize: status.size, fileName: filename)
            header = nil
        case .qcow2:
            let image = try QCOW2Image(descriptor: descriptor, path: filename, fileSize: status.size, prefix: prefix)
            info = try ImageInfo(image: image, filename: filename, actualSize: status.allocatedBytes)
            audit = Audit(image: image)
            header = image.header
        }
    }

    /// Opens `path` read-only and non-blocking (so a FIFO fails instead of hanging),
    /// inspects it and closes it.
    public init(path: String, format: Format? = nil) throws {
        let fd = try ImageFile.openArgument(path)
        defer { SystemCall.closeIgnoringErrors(fd) }
        try self.init(descriptor: fd, filename: path, format: format)
    }

    /// The audit of `path`, also when qemu would refuse to open it: the refusal then is
    /// the one error finding (e.g. `unknown-incompatible-features`). Rethrows errors
    /// reading the file, and ``UnreadFormatError`` when probing finds neither qcow2 nor raw.
    public static func audit(path: String, format: Format? = nil) throws -> Audit {
        do {
            return try ImageInspection(path: path, format: format).audit
        } catch let refusal as QCOW2HeaderError {
            return Audit(refusal: refusal)
        }
    }

    /// qemu-img's JSON plus `"audit": {"safe", "findings"}` as the last member.
    public var json: String {
        let body = info.json.rendered()
        let audit = self.audit.json.rendered().split(separator: "\n", omittingEmptySubsequences: false)
            .enumerated().map { $0.offset == 0 ? String($0.element) : "    " + $0.element }.joined(separator: "\n")
        // Insert before the final "\n}" of the info object.
        guard body.hasSuffix("\n}") else { return body }
        return String(body.dropLast(2)) + ",\n    \"audit\": " + audit + "\n}"
    }
}
