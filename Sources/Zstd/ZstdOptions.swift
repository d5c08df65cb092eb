#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Settings for ``ZstdCompressor``.
public struct ZstdCompressionOptions: Sendable, Equatable {
    /// Compression level, 1…19 (22 with `--ultra` semantics); negative levels are faster.
    public var level: Int
    /// Worker threads (`ZSTD_c_nbWorkers`). `0` compresses on the calling thread.
    public var workers: Int
    /// Whether each frame carries a content checksum (on by default).
    public var checksum: Bool
    /// Long-distance matching (`--long`): better ratios on large inputs, larger window.
    public var longDistanceMatching: Bool
    /// The exact number of bytes that will be compressed, when known. It is written in
    /// the frame header; compressing a different amount then fails.
    public var pledgedSourceSize: UInt64?
    /// Bytes each worker compresses at a time (`ZSTD_c_jobSize`) when `workers > 0`; `nil`
    /// lets libzstd choose (four windows, 8 MiB at level 3). Memory grows with
    /// `workers × jobSize`, so the default here is 2 MiB, which keeps a two-worker
    /// compressor well inside 64 MiB.
    public var jobSize: Int?

    /// Level 3, one worker per core, checksums on, no long-distance matching.
    public init(
        level: Int = 3,
        workers: Int = ZstdCompressionOptions.availableCores,
        checksum: Bool = true,
        longDistanceMatching: Bool = false,
        pledgedSourceSize: UInt64? = nil,
        jobSize: Int? = 2 << 20
    ) {
        self.level = level
        self.workers = workers
        self.checksum = checksum
        self.longDistanceMatching = longDistanceMatching
        self.pledgedSourceSize = pledgedSourceSize
        self.jobSize = jobSize
    }

    /// The number of cores online on this machine (at least 1).
    public static var availableCores: Int {
        max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    }
}

/// Settings for ``ZstdDecompressor``.
public struct ZstdDecompressionOptions: Sendable, Equatable {
    /// Largest window accepted, as a power of two (`ZSTD_d_windowLogMax`). The default,
    /// 27 (128 MiB), accepts anything `zstd --long` makes by default and refuses frames
    /// that would make the decoder allocate gigabytes.
    public var windowLogMax: Int

    /// Window cap 2^27 bytes.
    public init(windowLogMax: Int = 27) {
        self.windowLogMax = windowLogMax
    }
}
