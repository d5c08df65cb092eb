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
        /// Stable identifier, e.g. ``Code/backingAbsolutePath`` (printed `backing-absolute-path`).
        public var code: Code
        /// Error or warning.
        public var severity: Severity
        /// One sentence naming the field, value or region concerned.
        public var message: String

        /// Creates a finding.
        public init(code: Code, severity: Severity, message: String) {
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
    public func contains(_ code: Code) -> Bool { findings.contains { $0.code == code } }

    /// The audit of a file qemu refuses to open: one error naming qemu's reason.
    public init(refusal: QCOW2HeaderError) {
        findings = [Finding(code: refusal.code, severity: .error, message: refusal.description)]
    }

    mutating func error(_ code: Code, _ message: String) {
        findings.append(Finding(code: code, severity: .error, message: message))
    }

    mutating func warning(_ code: Code, _ message: String) {
        findings.append(Finding(code: code, severity: .warning, message: message))
    }

    /// `{"safe": …, "findings": [{"code", "severity", "message"}…]}` for `--json`.
    public var json: QemuJSON {
        .orderedObject([
            ("safe", .bool(isSafe)),
            ("findings", .array(findings.map {
                .orderedObject([("code", .string($0.code.rawValue)), ("severity", .string($0.severity.rawValue)), ("message", .string($0.message))])
            })),
        ])
    }
}

extension QCOW2HeaderError {
    /// The stable audit code for this refusal.
    public var code: Audit.Code {
        switch self {
        case .insufficientInput: return .truncatedInput
        case .badMagic: return .notQCOW2
        case .unsupportedVersion: return .unsupportedVersion
        case .unsupportedClusterBits: return .clusterBitsOutOfRange
        case .headerTooShort, .headerExceedsCluster: return .headerLengthInvalid
        case .backingFileOffsetInvalid: return .backingOffsetInvalid
        case .unknownCompressionType, .compressionBitWithZlib, .compressionTypeWithoutBit: return .compressionTypeInvalid
        case .unsupportedFeatures: return .unknownIncompatibleFeatures
        case .unsupportedSubclusterSize: return .subclusterSizeInvalid
        case .refcountOrderTooLarge: return .refcountOrderTooLarge
        case .unsupportedEncryptionMethod: return .encryptionMethodInvalid
        case .noRefcountTable: return .noRefcountTable
        case .tableTooLarge: return .tableTooLarge
        case .tableOffsetInvalid: return .tableOffsetInvalid
        case .unreadable: return .tableUnreadable
        case .imageTooBig: return .imageTooBig
        case .l1TableTooSmall: return .l1TableTooSmall
        case .extensionTooLarge: return .extensionOutOfBounds
        case .backingFormatTooLong: return .backingFormatTooLong
        case .cryptoHeaderWithoutLUKS, .cryptoHeaderSize, .cryptoHeaderOffsetUnaligned: return .encryptionHeaderInvalid
        case .bitmapsExtensionSize, .bitmapsReservedNotZero, .tooManyBitmaps, .zeroBitmaps,
             .bitmapDirectoryOffsetInvalid, .bitmapDirectoryTooLarge:
            return .bitmapsExtensionInvalid
        case .backingFileNameTooLong: return .backingNameOutOfBounds
        case .snapshotExtraDataTooLarge, .snapshotTableTooLarge: return .snapshotTableInvalid
        case .bitmapDirectoryEntryInvalid: return .bitmapDirectoryInvalid
        case .luksHeaderInvalid: return .luksHeaderInvalid
        }
    }
}
