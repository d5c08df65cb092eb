/// Limits and behaviour of a ``TarReader``. The defaults suit untrusted archives.
public struct TarReaderOptions: Sendable, Equatable {
    /// The most bytes one pax header or GNU long name may hold, and the most bytes of global
    /// pax records kept; larger ones are refused (`limitExceeded`). Default 8 MiB.
    public var maximumMetadataSize: Int = 8 << 20
    /// The most entries a sparse map may have; a longer map is refused before it is stored.
    /// Default 524,288 (8 MiB of map).
    public var maximumSparseExtents: Int = 1 << 19
    /// The most extended headers (pax `x` and `g`, GNU `L` and `K`, Solaris `X`) that may
    /// precede one member (or the end of the archive). Empty headers count too, so a chain of
    /// them cannot keep the reader busy while adding nothing to ``maximumMetadataSize``.
    /// Real archives use one to three. Default 64.
    public var maximumMetadataHeaders: Int = 64
    /// Size of the read buffer. Default 1 MiB; at least 4 KiB is used.
    public var bufferSize: Int = 1 << 20
    /// Whether an archive that stops at a header boundary without the two zero blocks is
    /// refused as truncated (default), or accepted as ended.
    public var requiresEndMarker: Bool = true

    /// The defaults.
    public init() {}
}

/// One piece of a member's data as delivered by ``TarReader``: `count` bytes that belong at
/// logical `offset` of the member (for a sparse member, holes lie between pieces).
public struct TarDataChunk: Sendable, Equatable {
    /// Logical offset in the member of the chunk's first byte.
    public var offset: UInt64
    /// Number of bytes.
    public var count: Int

    /// A chunk of `count` bytes at `offset`.
    public init(offset: UInt64, count: Int) {
        self.offset = offset
        self.count = count
    }
}

/// What follows the end-of-archive marker.
public enum TarTrailer: Sendable, Equatable {
    /// Nothing, or only zero bytes (record padding), up to the end of the source.
    case zeroPadding(bytes: UInt64)
    /// A non-zero byte at this archive offset: trailing garbage (or a member after a lone zero block).
    case garbage(offset: UInt64)
    /// More than the given number of zero bytes followed; reading stopped there.
    case paddingBeyondLimit(limit: UInt64)
}
