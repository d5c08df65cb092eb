/// The seek table of zstd's seekable format (`contrib/seekable_format` in the zstd sources):
/// one entry per frame of the stream (compressed size, decompressed size, optionally the
/// low 32 bits of the XXH64 of the frame's content), stored in a skippable frame
/// (magic `0x184D2A5E`) at the very end, closed by a 9-byte footer (number of frames,
/// descriptor byte, magic `0x8F92EAB1`).
///
/// The table is advice for readers that seek: ``ZstdParallelDecompressor`` finds frame
/// boundaries from the frames themselves and never trusts it. Parsing checks the table's
/// own structure; ``check(compressedSize:)`` checks that its sizes add up to the stream.
public struct ZstdSeekTable: Sendable, Equatable {
    /// One frame of the stream, as the table describes it.
    public struct Entry: Sendable, Equatable {
        /// The frame's size in the compressed stream.
        public var compressedSize: UInt32
        /// The size of the frame's content (0 for a skippable frame).
        public var decompressedSize: UInt32
        /// The low 32 bits of XXH64 of the frame's content, when the table carries checksums.
        public var checksum: UInt32?

        /// An entry of the given sizes and optional checksum.
        public init(compressedSize: UInt32, decompressedSize: UInt32, checksum: UInt32? = nil) {
            self.compressedSize = compressedSize
            self.decompressedSize = decompressedSize
            self.checksum = checksum
        }
    }

    /// Magic number of the skippable frame that holds the table.
    public static let skippableMagic: UInt32 = 0x184D_2A5E
    /// The last four bytes of a stream that ends with a seek table.
    public static let seekableMagic: UInt32 = 0x8F92_EAB1
    /// Size of the footer: number of frames (4), descriptor (1), seekable magic (4).
    public static let footerSize = 9
    /// The most frames a table may describe (zstd's `ZSTD_SEEKABLE_MAXFRAMES`).
    public static let maxFrames = 0x800_0000

    /// The frames, in stream order.
    public var entries: [Entry]
    /// Whether every entry carries a checksum (descriptor bit 7).
    public var hasChecksums: Bool

    /// A table of `entries`; `hasChecksums` must agree with whether they carry checksums.
    public init(entries: [Entry] = [], hasChecksums: Bool) {
        self.entries = entries
        self.hasChecksums = hasChecksums
    }

    /// Bytes per entry: 8, or 12 with checksums.
    public var entrySize: Int { hasChecksums ? 12 : 8 }

    /// Size of the whole skippable frame this table encodes to.
    public var encodedSize: Int { 8 + entries.count * entrySize + Self.footerSize }

    /// The sum of the entries' compressed sizes: where the table frame starts in the stream.
    public var compressedSize: UInt64 { entries.reduce(0) { $0 + UInt64($1.compressedSize) } }

    /// The sum of the entries' decompressed sizes.
    public var decompressedSize: UInt64 { entries.reduce(0) { $0 + UInt64($1.decompressedSize) } }

    /// The skippable frame holding this table, to append after the last frame.
    ///
    /// - Precondition: at most ``maxFrames`` entries.
    public func encoded() -> [UInt8] {
        precondition(entries.count <= Self.maxFrames, "a seek table holds at most \(Self.maxFrames) frames")
        var bytes: [UInt8] = []
        bytes.reserveCapacity(encodedSize)
        func append(_ value: UInt32) {
            for shift in stride(from: 0, to: 32, by: 8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt32(shift))) }
        }
        append(Self.skippableMagic)
        append(UInt32(encodedSize - 8))
        for entry in entries {
            append(entry.compressedSize)
            append(entry.decompressedSize)
            if hasChecksums { append(entry.checksum ?? 0) }
        }
        append(UInt32(entries.count))
        bytes.append(hasChecksums ? 0x80 : 0)
        append(Self.seekableMagic)
        return bytes
    }

    /// The length of the seek-table frame that ends with `footer` (the stream's last
    /// ``footerSize`` bytes), so a reader knows how many bytes to read from the end.
    ///
    /// - Throws: ``ZstdSeekTableError`` when the footer has no seekable magic, sets reserved
    ///   bits or declares more than ``maxFrames`` frames.
    public static func frameLength(footer: [UInt8]) throws(ZstdSeekTableError) -> Int {
        guard footer.count == footerSize else { throw .truncated(have: footer.count, need: footerSize) }
        guard readLE(footer, 5) == seekableMagic else { throw .noSeekTable }
        let descriptor = footer[4]
        guard descriptor & 0x7C == 0 else { throw .reservedBits(descriptor: descriptor) }
        let count = Int(readLE(footer, 0))
        guard count <= maxFrames else { throw .tooManyFrames(count) }
        return 8 + count * (descriptor & 0x80 != 0 ? 12 : 8) + footerSize
    }

    /// Parses a whole seek-table frame (from its skippable magic to the seekable magic).
    ///
    /// - Throws: ``ZstdSeekTableError`` when the frame is not a seek table or is inconsistent:
    ///   wrong magic, a frame size that disagrees with its length, reserved bits set, or a
    ///   number of frames that does not fill the frame exactly.
    public init(parsing frame: [UInt8]) throws(ZstdSeekTableError) {
        guard frame.count >= 8 + Self.footerSize else { throw .truncated(have: frame.count, need: 8 + Self.footerSize) }
        guard Self.readLE(frame, 0) == Self.skippableMagic else { throw .notSkippableFrame }
        let declared = UInt64(Self.readLE(frame, 4))
        guard declared == UInt64(frame.count - 8) else {
            throw .frameSizeMismatch(declared: declared, actual: UInt64(frame.count - 8))
        }
        let footer = Array(frame[(frame.count - Self.footerSize)...])
        let expected = try Self.frameLength(footer: footer)
        guard expected == frame.count else {
            throw .countMismatch(frames: Int(Self.readLE(footer, 0)), frameBytes: frame.count)
        }
        let checksums = footer[4] & 0x80 != 0
        let size = checksums ? 12 : 8
        let count = Int(Self.readLE(footer, 0))
        var entries: [Entry] = []
        entries.reserveCapacity(count)
        for index in 0..<count {
            let at = 8 + index * size
            entries.append(Entry(compressedSize: Self.readLE(frame, at), decompressedSize: Self.readLE(frame, at + 4),
                                 checksum: checksums ? Self.readLE(frame, at + 8) : nil))
        }
        self.init(entries: entries, hasChecksums: checksums)
    }

    /// Checks that the frames the table lists, followed by the table itself, make up exactly
    /// `compressedSize` bytes (the stream's length).
    ///
    /// - Throws: ``ZstdSeekTableError/sizesDisagree(tableSays:streamHas:)`` otherwise.
    public func check(compressedSize streamSize: UInt64) throws(ZstdSeekTableError) {
        let total = compressedSize + UInt64(encodedSize)
        guard total == streamSize else { throw .sizesDisagree(tableSays: total, streamHas: streamSize) }
    }

    static func readLE(_ bytes: [UInt8], _ at: Int) -> UInt32 {
        UInt32(bytes[at]) | UInt32(bytes[at + 1]) << 8 | UInt32(bytes[at + 2]) << 16 | UInt32(bytes[at + 3]) << 24
    }
}

/// Why bytes are not a usable seek table.
public enum ZstdSeekTableError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The stream does not end with the seekable magic `0x8F92EAB1`: it has no seek table.
    case noSeekTable
    /// Fewer bytes than a seek table needs.
    case truncated(have: Int, need: Int)
    /// The table's frame does not start with the skippable magic `0x184D2A5E`.
    case notSkippableFrame
    /// The skippable frame's size field disagrees with its length.
    case frameSizeMismatch(declared: UInt64, actual: UInt64)
    /// The descriptor sets bits the format reserves (a later, incompatible version).
    case reservedBits(descriptor: UInt8)
    /// More frames than the format allows.
    case tooManyFrames(Int)
    /// The number of frames does not fill the table's frame exactly.
    case countMismatch(frames: Int, frameBytes: Int)
    /// The entries' compressed sizes plus the table do not add up to the stream's length.
    case sizesDisagree(tableSays: UInt64, streamHas: UInt64)

    /// A sentence a person can act on.
    public var description: String {
        switch self {
        case .noSeekTable:
            return "zstd seek table: the stream does not end with the seekable magic 0x8F92EAB1 (no seek table)"
        case let .truncated(have, need):
            return "zstd seek table: \(have) bytes, fewer than the \(need) a seek table needs"
        case .notSkippableFrame:
            return "zstd seek table: the table's frame does not start with the skippable magic 0x184D2A5E"
        case let .frameSizeMismatch(declared, actual):
            return "zstd seek table: the skippable frame declares \(declared) bytes but holds \(actual)"
        case let .reservedBits(descriptor):
            return "zstd seek table: descriptor 0x\(String(descriptor, radix: 16)) sets reserved bits (an unknown format version)"
        case let .tooManyFrames(count):
            return "zstd seek table: \(count) frames, more than the format's limit of \(ZstdSeekTable.maxFrames)"
        case let .countMismatch(frames, frameBytes):
            return "zstd seek table: \(frames) frames do not fill the table's \(frameBytes) bytes exactly"
        case let .sizesDisagree(tableSays, streamHas):
            return "zstd seek table: its frames add up to \(tableSays) bytes but the stream has \(streamHas)"
        }
    }
}
