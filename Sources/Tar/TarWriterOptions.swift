/// How a ``TarWriter`` stores files.
public struct TarWriterOptions: Sendable, Equatable {
    /// Ask the file system where the holes are (`SEEK_DATA`/`SEEK_HOLE`) and store only data.
    /// Default on.
    public var findsHoles: Bool = true
    /// Also store runs of zero blocks inside data as holes (needs a first pass over the data).
    /// Default on. Applies to files without holes; a file the file system reports holes in
    /// is scanned only when ``scansFilesWithHoles`` is on.
    public var detectsZeroRuns: Bool = true
    /// Scan a file with holes for zero runs too. Default off: as GNU tar does, the data
    /// extents `SEEK_DATA`/`SEEK_HOLE` report for a file that has holes are stored as they
    /// are, so its data is read once, not twice. A file without holes (copied dense, or on a
    /// file system that keeps none) is still scanned, so it is stored sparse anyway.
    public var scansFilesWithHoles: Bool = false
    /// The block size zero runs are detected in, aligned to file offsets. Default 4 KiB.
    public var zeroBlockSize: Int = 4096
    /// Size of the buffer files are read into and the sink is written from. Default 1 MiB.
    public var chunkSize: Int = 1 << 20
    /// The most data runs one sparse member gets; beyond it, the smallest holes are filled
    /// with zeros so the map (and memory) stays bounded. Default 262,144.
    public var maximumSparseExtents: Int = 1 << 18

    /// The defaults.
    public init() {}
}
