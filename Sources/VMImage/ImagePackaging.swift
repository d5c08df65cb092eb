import ByteStreams
import QCOW2
import SystemPackage
import Tar
import Zstd

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How ``ImageArchive/package(folder:to:options:)`` writes an archive.
public struct PackageOptions: Sendable {
    /// zstd level (3 by default, like `zstd -3`).
    public var level: Int
    /// zstd worker threads (one per core by default); `0` compresses on the calling thread.
    public var workers: Int
    /// Uncompressed bytes per zstd frame (`ZstdSeekableOptions.defaultFrameSize`, 4 MiB):
    /// the archive is independent frames and a seek table (zstd's seekable format), so that
    /// extraction decodes frames on every core.
    public var frameSize: Int
    /// Modification time stored for every member, so the same folder gives the same bytes.
    public var modificationTime: Int64
    /// Called now and then with (disk bytes read, disk bytes to read); may be `nil`.
    public var progress: (@Sendable (_ done: UInt64, _ total: UInt64) -> Void)?

    /// Level 3, every core, 4 MiB frames, members dated 0.
    public init(level: Int = 3, workers: Int = ZstdCompressionOptions.availableCores, modificationTime: Int64 = 0,
                progress: (@Sendable (UInt64, UInt64) -> Void)? = nil) {
        self.level = level
        self.workers = workers
        self.frameSize = ZstdSeekableOptions.defaultFrameSize
        self.modificationTime = modificationTime
        self.progress = progress
    }
}

/// What packaging wrote.
public struct PackageResult: Sendable, Equatable {
    /// The disk's size (the guest's virtual size).
    public var virtualSize: UInt64
    /// Bytes of the disk stored as data: its holes are left out, and so are its runs of zero
    /// blocks when it has no holes (a disk with holes is stored as its file system reports it).
    public var diskDataBytes: UInt64
    /// Size of the tar stream before compression.
    public var tarBytes: UInt64
    /// Size of the archive written.
    public var archiveBytes: UInt64
}

extension ImageArchive {
    /// Packages the image folder `folder` (holding `disk.img` and `machine.json`) into the
    /// archive `target`: writes a fresh `layer.qcow2` overlay into the folder, then streams a
    /// sparse tar of the three members into a temporary file next to `target` as independent
    /// zstd frames compressed in parallel, with a seek table at the end (zstd's seekable
    /// format: still one zstd stream for `zstd -d`, GNU tar and bsdtar), and renames it into place. Temporary files are removed whatever happens.
    ///
    /// The folder is checked first with the same rules extraction applies, so a package that
    /// succeeds always extracts: `machine.json` must be valid, `disk.img` must be raw.
    @discardableResult
    public static func package(folder: FilePath, to target: FilePath, options: PackageOptions = .init()) throws(VMImageError) -> PackageResult {
        do {
            return try packageThrowing(folder: folder, to: target, options: options)
        } catch {
            throw imageError(error, archiveName: target.string)
        }
    }

    private static func packageThrowing(folder path: FilePath, to target: FilePath, options: PackageOptions) throws -> PackageResult {
        let folder = try ImageFolder(existing: path)
        defer { folder.close() }
        let machineBytes = try folder.readAll(machineName, limit: ImageLimits().maxMachineSize)
        _ = try Machine(json: machineBytes, member: folder.file(machineName).string)

        let disk = try folder.openForReading(diskName)
        defer { SystemCall.closeIgnoringErrors(disk) }
        let diskStatus = try SparseFile.status(of: disk, path: folder.file(diskName).string)
        guard diskStatus.isRegularFile else {
            throw malformed(folder.file(diskName).string, .memberType, "must be a regular file")
        }
        try checkSectorMultiple(size: diskStatus.size, path: folder.file(diskName).string)
        var prefix = [UInt8](repeating: 0, count: Int(min(diskStatus.size, UInt64(ForeignFormat.prefixLength * 8))))
        _ = try prefix.withUnsafeMutableBytes { try disk.pread(into: $0, at: 0, path: diskName) }
        try ImageValidation.checkDisk(prefix: prefix, size: diskStatus.size)

        // A fresh overlay: backing disk.img, raw, lazy refcounts, no data.
        try OverlayCreation.create(at: folder.file(layerName), virtualSize: diskStatus.size, replacing: true)
        let layer = try folder.openForReading(layerName)
        defer { SystemCall.closeIgnoringErrors(layer) }

        // The archive named on the command line replaces an older one, as any output file does.
        let output = try AtomicFile(target: PathText.text(target), purpose: "partial")
        do {
            var sink = FileSink(output.descriptor, path: output.temporaryPath)
            let progressTotal = diskStatus.allocatedBytes
            let progress = options.progress
            let compressor = try ZstdSeekableCompressor(
                writingTo: ProgressSink(downstream: FileSinkBox(sink), report: { done in progress?(done, progressTotal) }),
                options: ZstdSeekableOptions(level: options.level, workers: options.workers, frameSize: options.frameSize))
            let writer = TarWriter(writingTo: compressor)
            let attributes = TarMemberAttributes(mode: 0o644, modificationTime: options.modificationTime)
            let member = try writer.appendFile(named: diskName, contentsOf: disk, attributes: attributes,
                                               path: folder.file(diskName).string)
            try writer.appendFile(named: layerName, contentsOf: layer, attributes: attributes,
                                  path: folder.file(layerName).string)
            try writer.appendFile(named: machineName, contents: machineBytes, attributes: attributes)
            _ = try writer.finish()
            let downstream = try compressor.finish()
            sink = downstream.downstream.sink
            try output.publish(.replacingRegularFile, sync: true)
            return PackageResult(
                virtualSize: diskStatus.size, diskDataBytes: member.storedSize,
                tarBytes: compressor.bytesIn, archiveBytes: sink.bytesWritten)
        } catch {
            output.discard()
            throw error
        }
    }
}

extension ImageArchive {
    /// A disk whose size is not a whole number of 512-byte sectors cannot be packaged: its
    /// qcow2 layer's virtual size would be rounded up, and extraction refuses a layer larger
    /// than its disk (`virtual-size`). A tool must not write what it will not read.
    static func checkSectorMultiple(size: UInt64, path: String) throws(VMImageError) {
        guard size % 512 != 0 else { return }
        let rounded = size / 512 * 512 + 512
        throw malformed(
            path, .virtualSize,
            "is \(size) bytes, not a multiple of 512: a qcow2 layer would say \(rounded) and the archive would not extract; "
                + "make the disk a whole number of sectors first, e.g. truncate -s \(rounded) \(TerminalText.quoted(path))")
    }
}

/// A ``FileSink`` held by reference so its byte count survives being passed down a pipeline.
///
/// Every `writebackInterval` bytes it starts the kernel's writeback of what was written
/// since the last time, so that the archive's final `fsync` does not wait for all of it at
/// the end while the compressor sits idle.
final class FileSinkBox: ByteSink {
    var sink: FileSink
    let writebackInterval: UInt64
    private var writebackStart: UInt64 = 0

    init(_ sink: FileSink, writebackInterval: UInt64 = 8 << 20) {
        self.sink = sink
        self.writebackInterval = writebackInterval
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        try sink.write(bytes)
        let written = sink.bytesWritten
        if writebackInterval > 0, written - writebackStart >= writebackInterval {
            sink.descriptor.startWriteback(offset: writebackStart, length: written - writebackStart)
            writebackStart = written
        }
    }
}

/// Passes bytes on and reports the running total at most every 64 MiB.
struct ProgressSink<Downstream: ByteSink>: ByteSink {
    var downstream: Downstream
    let report: (UInt64) -> Void
    private var total: UInt64 = 0
    private var reported: UInt64 = 0

    init(downstream: Downstream, report: @escaping (UInt64) -> Void) {
        self.downstream = downstream
        self.report = report
    }

    mutating func write(_ bytes: UnsafeRawBufferPointer) throws {
        try downstream.write(bytes)
        total &+= UInt64(bytes.count)
        if total - reported >= 64 << 20 {
            reported = total
            report(total)
        }
    }
}
