extension Audit {
    /// The stable code of a finding: its `rawValue` is what `inspect --json` prints as
    /// `code` (and the human output after the severity). Decisions on findings (the chain
    /// policy, the image manager's rules) match these cases, never the strings.
    public enum Code: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
        // MARK: Refusals: the header is one qemu 7.2 would not open (``QCOW2HeaderError``)
        /// `truncated-input`.
        case truncatedInput = "truncated-input"
        /// `not-qcow2`.
        case notQCOW2 = "not-qcow2"
        /// `unsupported-version`.
        case unsupportedVersion = "unsupported-version"
        /// `cluster-bits-out-of-range`.
        case clusterBitsOutOfRange = "cluster-bits-out-of-range"
        /// `header-length-invalid`.
        case headerLengthInvalid = "header-length-invalid"
        /// `backing-offset-invalid`.
        case backingOffsetInvalid = "backing-offset-invalid"
        /// `compression-type-invalid`.
        case compressionTypeInvalid = "compression-type-invalid"
        /// `unknown-incompatible-features`.
        case unknownIncompatibleFeatures = "unknown-incompatible-features"
        /// `subcluster-size-invalid`.
        case subclusterSizeInvalid = "subcluster-size-invalid"
        /// `refcount-order-too-large`.
        case refcountOrderTooLarge = "refcount-order-too-large"
        /// `encryption-method-invalid`.
        case encryptionMethodInvalid = "encryption-method-invalid"
        /// `no-refcount-table`.
        case noRefcountTable = "no-refcount-table"
        /// `table-too-large`.
        case tableTooLarge = "table-too-large"
        /// `table-offset-invalid`.
        case tableOffsetInvalid = "table-offset-invalid"
        /// `table-unreadable`.
        case tableUnreadable = "table-unreadable"
        /// `image-too-big`.
        case imageTooBig = "image-too-big"
        /// `l1-table-too-small`.
        case l1TableTooSmall = "l1-table-too-small"
        /// `extension-out-of-bounds`.
        case extensionOutOfBounds = "extension-out-of-bounds"
        /// `backing-format-too-long`.
        case backingFormatTooLong = "backing-format-too-long"
        /// `encryption-header-invalid`.
        case encryptionHeaderInvalid = "encryption-header-invalid"
        /// `bitmaps-extension-invalid`.
        case bitmapsExtensionInvalid = "bitmaps-extension-invalid"
        /// `backing-name-out-of-bounds`.
        case backingNameOutOfBounds = "backing-name-out-of-bounds"
        /// `snapshot-table-invalid`.
        case snapshotTableInvalid = "snapshot-table-invalid"
        /// `bitmap-directory-invalid`.
        case bitmapDirectoryInvalid = "bitmap-directory-invalid"
        /// `luks-header-invalid`.
        case luksHeaderInvalid = "luks-header-invalid"

        // MARK: A table qemu would refuse could not be read
        /// `read-error`.
        case readError = "read-error"

        // MARK: Backing file name (``BackingNameProblem``)
        /// `backing-name-empty`.
        case backingNameEmpty = "backing-name-empty"
        /// `backing-name-too-long`.
        case backingNameTooLong = "backing-name-too-long"
        /// `backing-absolute-path`.
        case backingAbsolutePath = "backing-absolute-path"
        /// `backing-contains-slash`.
        case backingContainsSlash = "backing-contains-slash"
        /// `backing-parent-reference`.
        case backingParentReference = "backing-parent-reference"
        /// `backing-json-pseudo-name`.
        case backingJsonPseudoName = "backing-json-pseudo-name"
        /// `backing-protocol`.
        case backingProtocol = "backing-protocol"
        /// `backing-invalid-characters`.
        case backingInvalidCharacters = "backing-invalid-characters"

        // MARK: External data file name (``BackingNameProblem``)
        /// `data-file-name-empty`.
        case dataFileNameEmpty = "data-file-name-empty"
        /// `data-file-name-too-long`.
        case dataFileNameTooLong = "data-file-name-too-long"
        /// `data-file-absolute-path`.
        case dataFileAbsolutePath = "data-file-absolute-path"
        /// `data-file-contains-slash`.
        case dataFileContainsSlash = "data-file-contains-slash"
        /// `data-file-parent-reference`.
        case dataFileParentReference = "data-file-parent-reference"
        /// `data-file-json-pseudo-name`.
        case dataFileJsonPseudoName = "data-file-json-pseudo-name"
        /// `data-file-protocol`.
        case dataFileProtocol = "data-file-protocol"
        /// `data-file-invalid-characters`.
        case dataFileInvalidCharacters = "data-file-invalid-characters"

        // MARK: Names, formats and features
        /// `backing-format-unsafe`.
        case backingFormatUnsafe = "backing-format-unsafe"
        /// `backing-name-overlaps-header`.
        case backingNameOverlapsHeader = "backing-name-overlaps-header"
        /// `backing-without-format`.
        case backingWithoutFormat = "backing-without-format"
        /// `bitmaps`.
        case bitmaps = "bitmaps"
        /// `compressed-clusters`.
        case compressedClusters = "compressed-clusters"
        /// `corrupt`.
        case corrupt = "corrupt"
        /// `dirty`.
        case dirty = "dirty"
        /// `duplicate-header-extension`.
        case duplicateHeaderExtension = "duplicate-header-extension"
        /// `encrypted`.
        case encrypted = "encrypted"
        /// `external-data-file`.
        case externalDataFile = "external-data-file"
        /// `format-confusion`.
        case formatConfusion = "format-confusion"
        /// `internal-snapshots`.
        case internalSnapshots = "internal-snapshots"
        /// `raw-backing-file`.
        case rawBackingFile = "raw-backing-file"
        /// `trailing-garbage`.
        case trailingGarbage = "trailing-garbage"
        /// `unknown-autoclear-features`.
        case unknownAutoclearFeatures = "unknown-autoclear-features"
        /// `unknown-compatible-features`.
        case unknownCompatibleFeatures = "unknown-compatible-features"
        /// `unknown-header-extension`.
        case unknownHeaderExtension = "unknown-header-extension"
        /// `unknown-header-fields`.
        case unknownHeaderFields = "unknown-header-fields"

        // MARK: Regions: metadata outside the file, past 2^56 or overlapping
        /// `header-outside-file`.
        case headerOutsideFile = "header-outside-file"
        /// `header-extension-outside-file`.
        case headerExtensionOutsideFile = "header-extension-outside-file"
        /// `backing-name-outside-file`.
        case backingNameOutsideFile = "backing-name-outside-file"
        /// `l1-table-outside-file`.
        case l1TableOutsideFile = "l1-table-outside-file"
        /// `refcount-table-outside-file`.
        case refcountTableOutsideFile = "refcount-table-outside-file"
        /// `snapshot-table-outside-file`.
        case snapshotTableOutsideFile = "snapshot-table-outside-file"
        /// `snapshot-l1-table-outside-file`.
        case snapshotL1TableOutsideFile = "snapshot-l1-table-outside-file"
        /// `bitmap-directory-outside-file`.
        case bitmapDirectoryOutsideFile = "bitmap-directory-outside-file"
        /// `bitmap-table-outside-file`.
        case bitmapTableOutsideFile = "bitmap-table-outside-file"
        /// `encryption-header-outside-file`.
        case encryptionHeaderOutsideFile = "encryption-header-outside-file"
        /// `host-offset-out-of-range`.
        case hostOffsetOutOfRange = "host-offset-out-of-range"
        /// `metadata-overlap`.
        case metadataOverlap = "metadata-overlap"
        /// `snapshot-l1-table-too-large`.
        case snapshotL1TableTooLarge = "snapshot-l1-table-too-large"
        /// `snapshot-l1-table-unaligned`.
        case snapshotL1TableUnaligned = "snapshot-l1-table-unaligned"

        /// The code as printed (``rawValue``).
        public var description: String { rawValue }

        /// The code for a region of metadata (`header`, `l1-table`, …) lying past the end of
        /// the file.
        static func outsideFile(_ region: Region.Kind) -> Code {
            switch region {
            case .header: return .headerOutsideFile
            case .l1Table: return .l1TableOutsideFile
            case .refcountTable: return .refcountTableOutsideFile
            case .snapshotTable: return .snapshotTableOutsideFile
            case .snapshotL1Table: return .snapshotL1TableOutsideFile
            case .bitmapDirectory: return .bitmapDirectoryOutsideFile
            case .bitmapTable: return .bitmapTableOutsideFile
            case .encryptionHeader: return .encryptionHeaderOutsideFile
            }
        }

        /// `backing-absolute-path`, `data-file-protocol`, …: the code of a name problem of the
        /// backing file name, or (`dataFile`) of the external data file name.
        static func name(_ problem: BackingNameProblem, dataFile: Bool) -> Code {
            switch problem {
            case .empty: return dataFile ? .dataFileNameEmpty : .backingNameEmpty
            case .tooLong: return dataFile ? .dataFileNameTooLong : .backingNameTooLong
            case .absolutePath: return dataFile ? .dataFileAbsolutePath : .backingAbsolutePath
            case .containsSlash: return dataFile ? .dataFileContainsSlash : .backingContainsSlash
            case .parentReference: return dataFile ? .dataFileParentReference : .backingParentReference
            case let .protocolName(name) where name.lowercased() == "json":
                return dataFile ? .dataFileJsonPseudoName : .backingJsonPseudoName
            case .protocolName: return dataFile ? .dataFileProtocol : .backingProtocol
            case .invalidCharacters: return dataFile ? .dataFileInvalidCharacters : .backingInvalidCharacters
            }
        }
    }
}
