/// Everything `qemu-img create -f qcow2` can be told, in the shape ``QCOW2Creator`` takes.
///
/// Defaults match `qemu-img create` 7.2: compat 1.1, 64 KiB clusters, 16-bit refcounts,
/// zlib compression, no lazy refcounts, no extended L2 entries, no preallocation.
/// On top of qemu's options there are three about the write itself: ``allowUnsafeBackingName``,
/// ``overwrite`` and ``sync``.
public struct QCOW2CreateOptions: Sendable, Equatable {
    /// The qcow2 version to write.
    public enum Compat: String, Sendable, Equatable, CaseIterable {
        /// Version 2 (`compat=0.10`): 72-byte header, no feature bits, no feature table.
        case v0_10 = "0.10"
        /// Version 3 (`compat=1.1`), qemu's default.
        case v1_1 = "1.1"

        /// The header's `version` field.
        public var version: UInt32 { self == .v0_10 ? 2 : 3 }
    }

    /// How compressed clusters are compressed (header byte 104 and incompatible bit 3).
    public enum CompressionType: String, Sendable, Equatable, CaseIterable {
        /// Raw deflate, qemu's default (no incompatible bit).
        case zlib
        /// zstd; needs compat 1.1.
        case zstd
    }

    /// The format of the backing file, written as the backing-format header extension.
    public enum BackingFormat: String, Sendable, Equatable, CaseIterable {
        /// A raw disk.
        case raw
        /// Another qcow2 image.
        case qcow2
    }

    /// What to allocate at creation time.
    public enum Preallocation: String, Sendable, Equatable, CaseIterable {
        /// Nothing: header, refcount table, one refcount block and an empty (sparse) L1.
        case off
        /// Every L2 table and a host cluster for every guest cluster (the data stays a hole).
        case metadata
    }

    /// The guest-visible size in bytes; `nil` takes it from the backing file (then required).
    /// Rounded up to a multiple of 512 as qemu does.
    public var virtualSize: UInt64?
    /// `compat=`: the qcow2 version.
    public var compat: Compat
    /// `cluster_size=`: a power of two from 512 bytes to 2 MiB.
    public var clusterSize: UInt64
    /// `refcount_bits=`: a power of two from 1 to 64 (compat 0.10 allows only 16).
    public var refcountBits: UInt64
    /// `lazy_refcounts=`: compatible bit 0 (compat 1.1 only).
    public var lazyRefcounts: Bool
    /// `extended_l2=`: 128-bit L2 entries with subclusters (compat 1.1, clusters of 16 KiB or more).
    public var extendedL2: Bool
    /// `compression_type=`.
    public var compressionType: CompressionType
    /// `backing_file=` / `-b`: the name stored in the image, resolved against the image's folder.
    public var backingFile: String?
    /// `backing_fmt=` / `-F`: required whenever ``backingFile`` is set.
    public var backingFormat: BackingFormat?
    /// `preallocation=`: `off` or `metadata`.
    public var preallocation: Preallocation
    /// Store a backing name that ``BackingNameProblem/check(_:)-(String)`` flags (absolute,
    /// with `/`, `..`, a protocol prefix…). Off by default: such names let an image reach
    /// files outside its folder.
    public var allowUnsafeBackingName: Bool
    /// Replace an existing regular file at the target. Off by default. A symbolic link at the
    /// target is refused either way (it is never followed, and never silently replaced).
    public var overwrite: Bool
    /// `fsync` the new file and its folder before returning (default on). Turn it off for
    /// scratch overlays that need not survive a power cut: creation then costs a few
    /// system calls instead of a journal commit (tens of microseconds instead of milliseconds).
    public var sync: Bool

    /// Options with qemu-img's defaults; `virtualSize` and the backing fields as given.
    public init(
        virtualSize: UInt64? = nil,
        compat: Compat = .v1_1,
        clusterSize: UInt64 = 65536,
        refcountBits: UInt64 = 16,
        lazyRefcounts: Bool = false,
        extendedL2: Bool = false,
        compressionType: CompressionType = .zlib,
        backingFile: String? = nil,
        backingFormat: BackingFormat? = nil,
        preallocation: Preallocation = .off,
        allowUnsafeBackingName: Bool = false,
        overwrite: Bool = false,
        sync: Bool = true
    ) {
        self.virtualSize = virtualSize
        self.compat = compat
        self.clusterSize = clusterSize
        self.refcountBits = refcountBits
        self.lazyRefcounts = lazyRefcounts
        self.extendedL2 = extendedL2
        self.compressionType = compressionType
        self.backingFile = backingFile
        self.backingFormat = backingFormat
        self.preallocation = preallocation
        self.allowUnsafeBackingName = allowUnsafeBackingName
        self.overwrite = overwrite
        self.sync = sync
    }
}
