/// What is risky or wrong about an image file: the findings `qcowtool inspect` lists.
///
/// Errors make an image unsafe to use as given (a backing name that leaves the folder,
/// an external data file, encryption, dirty/corrupt bits, metadata outside the file or
/// overlapping, a raw file that is really another format, …); warnings are features to
/// know about (internal snapshots, bitmaps, compressed clusters, unknown extensions,
/// trailing garbage). Each finding has a stable ``Finding/code``.
public struct Audit: Sendable, Hashable {
    /// How bad a finding is.
    public enum Severity: String, Sendable, Hashable {
        /// The image must not be used as given.
        case error
        /// Worth knowing; the image is still safe.
        case warning
    }

    /// One finding.
    public struct Finding: Sendable, Hashable, CustomStringConvertible {
        /// Stable identifier, e.g. `backing-absolute-path`.
        public var code: String
        /// Error or warning.
        public var severity: Severity
        /// One sentence naming the field, value or region concerned.
        public var message: String

        /// Creates a finding.
        public init(code: String, severity: Severity, message: String) {
            self.code = code
            self.severity = severity
            self.message = message
        }

        /// `error backing-absolute-path: …`.
        public var description: String { "\(severity.rawValue) \(code): \(message)" }
    }

    /// The findings, errors and warnings in the order they were found.
    public var findings: [Finding]

    /// Creates an audit from findings.
    public init(findings: [Finding] = []) { self.findings = findings }

    /// `true` when there is no error (warnings allowed).
    public var isSafe: Bool { !findings.contains { $0.severity == .error } }
    /// The error findings.
    public var errors: [Finding] { findings.filter { $0.severity == .error } }
    /// The warning findings.
    public var warnings: [Finding] { findings.filter { $0.severity == .warning } }
    /// Whether a finding with `code` is present.
    public func contains(_ code: String) -> Bool { findings.contains { $0.code == code } }

    /// The audit of a file qemu refuses to open: one error naming qemu's reason.
    public init(refusal: QCOW2HeaderError) {
        findings = [Finding(code: refusal.code, severity: .error, message: refusal.description)]
    }

    mutating func error(_ code: String, _ message: String) {
        findings.append(Finding(code: code, severity: .error, message: message))
    }

    mutating func warning(_ code: String, _ message: String) {
        findings.append(Finding(code: code, severity: .warning, message: message))
    }

    /// `{"safe": …, "findings": [{"code", "severity", "message"}…]}` for `--json`.
    public var json: QemuJSON {
        .orderedObject([
            ("safe", .bool(isSafe)),
            ("findings", .array(findings.map {
                .orderedObject([("code", .string($0.code)), ("severity", .string($0.severity.rawValue)), ("message", .string($0.message))])
            })),
        ])
    }
}

extension QCOW2HeaderError {
    /// The stable audit code for this refusal.
    public var code: String {
        switch self {
        case .insufficientInput: return "truncated-input"
        case .badMagic: return "not-qcow2"
        case .unsupportedVersion: return "unsupported-version"
        case .unsupportedClusterBits: return "cluster-bits-out-of-range"
        case .headerTooShort, .headerExceedsCluster: return "header-length-invalid"
        case .backingFileOffsetInvalid: return "backing-offset-invalid"
        case .unknownCompressionType, .compressionBitWithZlib, .compressionTypeWithoutBit: return "compression-type-invalid"
        case .unsupportedFeatures: return "unknown-incompatible-features"
        case .unsupportedSubclusterSize: return "subcluster-size-invalid"
        case .refcountOrderTooLarge: return "refcount-order-too-large"
        case .unsupportedEncryptionMethod: return "encryption-method-invalid"
        case .noRefcountTable: return "no-refcount-table"
        case .tableTooLarge: return "table-too-large"
        case .tableOffsetInvalid: return "table-offset-invalid"
        case .unreadable: return "table-unreadable"
        case .imageTooBig: return "image-too-big"
        case .l1TableTooSmall: return "l1-table-too-small"
        case .extensionTooLarge: return "extension-out-of-bounds"
        case .backingFormatTooLong: return "backing-format-too-long"
        case .cryptoHeaderWithoutLUKS, .cryptoHeaderSize, .cryptoHeaderOffsetUnaligned: return "encryption-header-invalid"
        case .bitmapsExtensionSize, .bitmapsReservedNotZero, .tooManyBitmaps, .zeroBitmaps,
             .bitmapDirectoryOffsetInvalid, .bitmapDirectoryTooLarge:
            return "bitmaps-extension-invalid"
        case .backingFileNameTooLong: return "backing-name-out-of-bounds"
        case .snapshotExtraDataTooLarge, .snapshotTableTooLarge: return "snapshot-table-invalid"
        case .bitmapDirectoryEntryInvalid: return "bitmap-directory-invalid"
        case .luksHeaderInvalid: return "luks-header-invalid"
        }
    }
}
