import ByteStreams
import SystemPackage

/// Creates qcow2 images the way `qemu-img create -f qcow2` 7.2 does, byte for byte where it
/// can (see ``create(at:options:)``), without running qemu.
///
/// ```swift
/// var options = QCOW2CreateOptions(backingFile: "disk.img", backingFormat: .raw)
/// options.lazyRefcounts = true
/// options.sync = false           // a scratch overlay: skip the fsyncs
/// try QCOW2Creator.create(at: FilePath("/vm/1/layer.qcow2"), options: options)
/// ```
public enum QCOW2Creator {
    /// The result of a successful ``create(at:options:)``.
    public struct Summary: Sendable, Equatable {
        /// The virtual size written (after rounding to 512, or as read from the backing file).
        public var virtualSize: UInt64
        /// The length of the new file (most of it is a hole).
        public var fileLength: UInt64
    }

    /// Creates a qcow2 image at `path`.
    ///
    /// The layout replays qemu 7.2's `qcow2_co_create`: header cluster, refcount table in
    /// cluster 1, refcount block in cluster 2, L1 table from cluster 3 (its zeros left as a
    /// hole, so a 16 TiB overlay costs what a 1 GiB one does), header extensions in qemu's
    /// order, and with `preallocation=metadata` every L2 table and data cluster where qemu
    /// puts them. The backing file is opened only when `virtualSize` is `nil` (to read its
    /// size: raw length or the qcow2 `size` field); its data is never read.
    ///
    /// The file is written to a temporary name in the same folder and moved into place at the
    /// end (see ``QCOW2CreateOptions/overwrite`` and ``QCOW2CreateOptions/sync``); on any
    /// error the temporary file is removed and the target is untouched.
    @discardableResult
    public static func create(at path: FilePath, options: QCOW2CreateOptions) throws(QCOW2CreateError) -> Summary {
        // Byte for byte: a name that is not valid UTF-8 keeps its bytes (see ``PathText``).
        let target = PathText.text(path)
        let partial = try validate(options)
        let file: AtomicFile
        do throws(AtomicFileError) { file = try AtomicFile(target: target, purpose: "create") } catch { throw QCOW2CreateError(error) }
        defer { file.discard() }
        var settings = partial
        if let size = options.virtualSize {
            settings.virtualSize = try roundedSize(size)
        } else {
            guard let name = options.backingFile, let format = options.backingFormat else { throw .missingSize }
            let display = name.hasPrefix("/") ? name : (file.folderPath == "." ? name : file.folderPath + "/" + name)
            settings.virtualSize = try roundedSize(CreateBackingSize.read(name: name, folder: file.folder.rawValue, format: format, displayPath: display))
        }
        func write(_ region: CreateImagePlan.Region) throws(QCOW2CreateError) {
            let failure = region.bytes.withUnsafeBytes { bytes -> AtomicFileError? in
                do throws(AtomicFileError) { try file.write(bytes, at: region.offset) } catch { return error }
                return nil
            }
            if let failure { throw QCOW2CreateError(failure) }
        }
        let plan = try CreateImagePlan(settings, emit: write)
        for region in plan.regions { try write(region) }
        do throws(AtomicFileError) {
            try file.setLength(plan.fileLength)
            try file.publish(options.overwrite ? .replacingRegularFile : .withoutReplacing, sync: options.sync)
        } catch {
            throw QCOW2CreateError(error)
        }
        return Summary(virtualSize: settings.virtualSize, fileLength: plan.fileLength)
    }

    /// The bytes of the image `options` describe, as a dense array, without touching the file
    /// system (the backing file is not consulted, so `virtualSize` is required). Meant for
    /// small images and tests; ``create(at:options:)`` writes the same bytes sparsely.
    public static func imageBytes(options: QCOW2CreateOptions) throws(QCOW2CreateError) -> [UInt8] {
        var settings = try validate(options)
        guard let size = options.virtualSize else { throw .missingSize }
        settings.virtualSize = try roundedSize(size)
        var extra: [CreateImagePlan.Region] = []
        let plan = try CreateImagePlan(settings) { (region) throws(QCOW2CreateError) in extra.append(region) }
        guard plan.fileLength <= 1 << 30 else { throw .imageTooLarge(virtualSize: size, clusterSize: settings.clusterSize) }
        var bytes = [UInt8](repeating: 0, count: Int(plan.fileLength))
        for region in extra + plan.regions {
            bytes.replaceSubrange(Int(region.offset)..<Int(region.offset) + region.bytes.count, with: region.bytes)
        }
        return bytes
    }

    private static func roundedSize(_ size: UInt64) throws(QCOW2CreateError) -> UInt64 {
        // qemu keeps sizes below 2^63 (int64_t).
        guard let rounded = QCOW2Format.roundedUpToSectors(size), rounded <= UInt64(Int64.max) else {
            throw .imageTooLarge(virtualSize: size, clusterSize: 0)
        }
        return rounded
    }

    /// Checks the options as qemu does (same refusals) plus our backing-name rule; the
    /// virtual size is filled in by the caller.
    static func validate(_ options: QCOW2CreateOptions) throws(QCOW2CreateError) -> CreateResolvedSettings {
        let cs = options.clusterSize
        guard QCOW2Format.clusterSizes.contains(cs), cs & (cs - 1) == 0 else { throw .invalidClusterSize(cs) }
        let bits = options.refcountBits
        guard bits >= 1, bits <= 64, bits & (bits - 1) == 0 else { throw .invalidRefcountBits(bits) }
        let v3 = options.compat == .v1_1
        if !v3 {
            if options.lazyRefcounts { throw .requiresCompat11(option: "lazy_refcounts=on") }
            if bits != 16 { throw .requiresCompat11(option: "refcount_bits=\(bits)") }
            if options.extendedL2 { throw .requiresCompat11(option: "extended_l2=on") }
            if options.compressionType != .zlib { throw .requiresCompat11(option: "compression_type=\(options.compressionType.rawValue)") }
        }
        if options.extendedL2 && cs < 16384 { throw .extendedL2NeedsLargerClusters(clusterSize: cs) }
        var backingBytes: [UInt8]? = nil
        if let name = options.backingFile {
            guard options.backingFormat != nil else { throw .missingBackingFormat }
            if let problem = BackingNameProblem.check(name) {
                // Even when allowed, an empty or over-long name cannot be stored.
                if !options.allowUnsafeBackingName || problem == .empty || problem == .tooLong(length: name.utf8.count) {
                    throw .unsafeBackingName(name: name, problem: problem)
                }
            }
            let bytes = Array(name.utf8)
            let room = Int(cs) - CreatedHeaderLayout.bytesBeforeBackingName(
                version: options.compat.version, clusterSize: cs, backingFormat: options.backingFormat?.rawValue)
            guard bytes.count <= room else { throw .backingNameTooLong(length: bytes.count, room: max(room, 0)) }
            backingBytes = bytes
        } else if options.backingFormat != nil {
            throw .backingFormatWithoutBackingFile
        }
        if options.preallocation == .metadata && options.backingFile != nil && !options.extendedL2 {
            throw .preallocationWithBackingNeedsExtendedL2
        }
        return CreateResolvedSettings(
            version: options.compat.version,
            clusterBits: UInt64(cs.trailingZeroBitCount),
            refcountOrder: UInt64(bits.trailingZeroBitCount),
            virtualSize: 0,
            lazyRefcounts: options.lazyRefcounts,
            extendedL2: options.extendedL2,
            zstd: options.compressionType == .zstd,
            backingFile: backingBytes,
            backingFormat: options.backingFormat?.rawValue,
            preallocateMetadata: options.preallocation == .metadata)
    }
}
