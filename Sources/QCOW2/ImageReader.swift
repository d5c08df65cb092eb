import ByteStreams
import SystemPackage

/// What ``ImageReader/open(path:options:)`` may open besides the image itself.
public struct ChainOptions: Sendable, Equatable {
    /// Open the backing chain. Leave `false` until the image passed the audit: then
    /// nothing the image names is opened, and reading a range the image does not
    /// hold throws ``ImageAccessError/backingNotOpened(name:)``.
    public var followBacking: Bool
    /// Which backing names and formats are followed, and how deep (see ``ChainPolicy``).
    public var policy: ChainPolicy
    /// The most files below the image (``ChainPolicy/maximumDepth``).
    public var maximumDepth: Int {
        get { policy.maximumDepth }
        set { policy.maximumDepth = newValue }
    }
    /// Open an external data file named by the image (beside it, and only a name
    /// ``BackingNameProblem`` accepts). Off by default.
    public var allowExternalDataFile: Bool

    /// Options for a stranger's image; by default nothing but the image itself is opened.
    public init(followBacking: Bool = false, maximumDepth: Int = 16, allowExternalDataFile: Bool = false) {
        self.followBacking = followBacking
        self.policy = ChainPolicy(maximumDepth: maximumDepth)
        self.allowExternalDataFile = allowExternalDataFile
    }

    /// Options that follow the backing chain under `policy`.
    public init(policy: ChainPolicy, allowExternalDataFile: Bool = false) {
        self.followBacking = true
        self.policy = policy
        self.allowExternalDataFile = allowExternalDataFile
    }
}

/// The guest-visible bytes of a qcow2 image (and of its backing chain when opened):
/// data clusters, zlib- and zstd-compressed clusters, zero clusters and subclusters;
/// unallocated ranges come from the backing file, or read as zeros without one.
///
/// Owns the file descriptors it opens and closes them in `close()` or on deinit.
/// Memory: one L2 table, one L1 chunk and one decompressed cluster per layer, plus one
/// cluster decoder per core. A read that covers several whole compressed clusters decodes
/// them on every core at once, each straight into its place in the caller's buffer.
public final class ImageReader {
    enum Layer {
        case qcow2(QCOW2Layer)
        case raw(ImageFile)

        var virtualSize: UInt64 {
            switch self {
            case let .qcow2(layer): return layer.virtualSize
            case let .raw(file): return file.size
            }
        }
        var file: ImageFile {
            switch self {
            case let .qcow2(layer): return layer.file
            case let .raw(file): return file
            }
        }
    }

    /// Layers, the image first, then its backing file, and so on.
    let layers: [Layer]
    /// The backing name of the bottom qcow2 layer when the chain was not followed.
    let unopenedBacking: String?
    private var descriptors: [FileDescriptor]
    private var clusters = ParallelClusterDecoder()
    private var clusterCache: [Int: (host: UInt64, bytes: [UInt8])] = [:]

    /// The guest disk size in bytes. A raw image counts whole sectors, as qemu's block layer
    /// does: its last partial sector is padded with zeros.
    public var virtualSize: UInt64 {
        guard case let .raw(file) = layers[0] else { return layers[0].virtualSize }
        return QCOW2Format.roundedUpToSectors(file.size) ?? file.size
    }
    /// Threads that decode the compressed clusters of one read: one per core (at most 8) by
    /// default. `1` keeps all the work on the calling thread, and ``RawConversion`` then
    /// also reads ahead on it (for a caller that must not start threads, or a fuzzer).
    public var decodingThreads: Int {
        get { clusters.workerCount }
        set { clusters = ParallelClusterDecoder(workerCount: newValue) }
    }
    /// Files opened: 1 for the image alone, more with a backing chain.
    public var chainLength: Int { layers.count }
    /// The paths of the opened files, image first.
    public var paths: [String] { layers.map { $0.file.path } }

    /// Opens the qcow2 image at `path` and, when `options` allow, what it names.
    ///
    /// - Throws: ``ImageAccessError`` for an unusable header, encryption, a refused
    ///   backing or data-file name, a chain too deep, an unsupported backing format.
    public static func open(path: String, options: ChainOptions = ChainOptions()) throws -> ImageReader {
        let fd = try openFile(path)
        let image: QCOW2Image
        do {
            let file = try ImageFile(descriptor: fd, path: path)
            image = try QCOW2Image(descriptor: fd, path: path, fileSize: file.size)
        } catch {
            SystemCall.closeIgnoringErrors(fd)
            throw error
        }
        // From here the reader owns the descriptor (closed on failure too).
        return try open(image, path: path, ownsDescriptor: true, options: options)
    }

    /// Reads an image already opened and parsed, and, when `options` allow, what it names.
    /// The image's descriptor stays the caller's (``close()`` closes only what this opened);
    /// `path` is where it was opened, for backing names beside it and for messages.
    ///
    /// - Throws: as ``open(path:options:)``.
    public static func open(image: QCOW2Image, path: String, options: ChainOptions = ChainOptions()) throws -> ImageReader {
        try open(image, path: path, ownsDescriptor: false, options: options)
    }

    private static func open(_ top: QCOW2Image, path: String, ownsDescriptor: Bool, options: ChainOptions) throws -> ImageReader {
        var descriptors: [FileDescriptor] = []
        do {
            var layers: [Layer] = []
            var currentPath = path
            var unopened: String?
            var fd = top.descriptor
            var pending: QCOW2Image? = top
            var format = ImageInspection.Format.qcow2
            var visited: [NamedFile.Identity] = NamedFile.identity(of: fd).map { [$0] } ?? []
            if ownsDescriptor { descriptors.append(fd) }
            while true {
                let file = try pending.map { ImageFile(descriptor: fd, path: currentPath, size: $0.fileSize) }
                    ?? ImageFile(descriptor: fd, path: currentPath)
                if format == .raw {
                    layers.append(.raw(file))
                    break
                }
                let image = try pending ?? QCOW2Image(descriptor: fd, path: currentPath, fileSize: file.size)
                pending = nil
                let layout = try ImageLayout(image: image)
                guard layout.cryptMethod == 0 else { throw ImageAccessError.unsupported(feature: "encryption") }
                // qemu refuses to open such an image: "data-file-raw requires a data file".
                guard layout.autoclearFeatures & QCOW2AutoclearFeatures.rawExternalData.rawValue == 0 || layout.hasDataFile else {
                    throw ImageAccessError.invalidField(
                        field: "autoclear_features", value: layout.autoclearFeatures,
                        reason: "data-file-raw (autoclear bit 1) requires an external data file, and there is none")
                }
                var dataFile: ImageFile?
                if layout.hasDataFile {
                    guard options.allowExternalDataFile, let name = layout.dataFileName else {
                        throw ImageAccessError.unsupported(feature: "an external data file (not allowed by the caller)")
                    }
                    if let problem = BackingNameProblem.check(name) {
                        throw ImageAccessError.unsafeBackingName(name: name, problem: problem)
                    }
                    let dataPath = sibling(of: currentPath, named: name)
                    let dataFD: FileDescriptor
                    do {
                        dataFD = try NamedFile.open(dataPath)
                    } catch {
                        throw ImageAccessError.io(path: dataPath, reason: "\(error)")
                    }
                    descriptors.append(dataFD)
                    dataFile = try ImageFile(descriptor: dataFD, path: dataPath)
                }
                layers.append(.qcow2(try QCOW2Layer(file: file, layout: layout, dataFile: dataFile)))
                // qemu uses the name as a C string: an empty one (or one starting with NUL) means none.
                guard let nameBytes = layout.backingName, nameBytes.first.map({ $0 != 0 }) ?? false else { break }
                guard options.followBacking else {
                    unopened = String(decoding: QemuOpenGate.cName(nameBytes), as: UTF8.self)
                    break
                }
                let link: ChainPolicy.Link
                do {
                    link = try options.policy.openBacking(name: nameBytes, format: layout.backingFormat, imagePath: currentPath, visited: &visited)
                } catch let ChainRefusal.unsafeName(name, problem) {
                    throw ImageAccessError.unsafeBackingName(name: String(decoding: name, as: UTF8.self), problem: problem)
                } catch let ChainRefusal.tooDeep(limit) {
                    throw ImageAccessError.backingChainTooDeep(limit: limit)
                } catch {
                    throw ImageAccessError.chainRefused(error)
                }
                fd = link.descriptor
                descriptors.append(fd)
                format = link.format
                currentPath = link.path
            }
            return ImageReader(layers: layers, unopenedBacking: unopened, descriptors: descriptors)
        } catch {
            for fd in descriptors { SystemCall.closeIgnoringErrors(fd) }
            throw error
        }
    }

    /// Opens the file at `path` as a raw image (qemu's `raw` format): the file is the guest disk.
    ///
    /// - Throws: ``ImageAccessError/io(path:reason:)`` when it cannot be opened.
    public static func openRaw(path: String) throws -> ImageReader {
        let fd = try openFile(path)
        do {
            let file = try ImageFile(descriptor: fd, path: path)
            return ImageReader(layers: [.raw(file)], unopenedBacking: nil, descriptors: [fd])
        } catch {
            SystemCall.closeIgnoringErrors(fd)
            throw error
        }
    }

    /// Reads the already-open `file` as a raw image; its descriptor stays the caller's.
    public static func openRaw(file: ImageFile) -> ImageReader {
        ImageReader(layers: [.raw(file)], unopenedBacking: nil, descriptors: [])
    }

    private init(layers: [Layer], unopenedBacking: String?, descriptors: [FileDescriptor]) {
        self.layers = layers
        self.unopenedBacking = unopenedBacking
        self.descriptors = descriptors
    }

    deinit { close() }

    /// Closes every file this reader opened. Reading afterwards fails.
    public func close() {
        for fd in descriptors { SystemCall.closeIgnoringErrors(fd) }
        descriptors = []
    }

    static func sibling(of path: String, named name: String) -> String {
        var folder = FilePath(path)
        folder.removeLastComponent()
        return folder.appending(name).string
    }

    /// Opens the image the caller named (which may be a symlink the user made), without blocking.
    private static func openFile(_ path: String) throws -> FileDescriptor {
        do throws(SystemCallError) {
            return try ImageFile.openArgument(path)
        } catch {
            throw ImageAccessError.io(path: path, reason: "cannot open: \(error.errno)")
        }
    }

    // MARK: - Reading

    /// Fills `buffer` with the guest bytes at `offset`; bytes past the virtual size read as zeros.
    ///
    /// Whole compressed clusters inside the range are decoded in parallel (see
    /// ``ParallelClusterDecoder``); the first error in guest order is the one thrown.
    public func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws {
        var jobs: [ClusterJob] = []
        do {
            try read(into: buffer, at: offset, layer: 0, jobs: &jobs)
        } catch {
            // Clusters before the failure come first in guest order.
            try clusters.decode(jobs)
            throw error
        }
        try clusters.decode(jobs)
    }

    private func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64, layer index: Int,
                      jobs: inout [ClusterJob]) throws {
        var done = 0
        let size = layers[index].virtualSize
        while done < buffer.count {
            let guest = offset &+ UInt64(done)
            let remaining = buffer.count - done
            guard guest < size, offset <= offset &+ UInt64(done) else {
                UnsafeMutableRawBufferPointer(rebasing: buffer[done...]).initializeMemory(as: UInt8.self, repeating: 0)
                return
            }
            let target: UnsafeMutableRawBufferPointer
            switch layers[index] {
            case let .raw(file):
                let count = Int(min(UInt64(remaining), size - guest))
                target = UnsafeMutableRawBufferPointer(rebasing: buffer[done..<(done + count)])
                try file.read(into: target, at: guest)
                done += count
            case let .qcow2(layer):
                let (run, length) = try layer.run(at: guest, limit: UInt64(remaining))
                let count = Int(length)
                target = UnsafeMutableRawBufferPointer(rebasing: buffer[done..<(done + count)])
                switch run {
                case let .data(host):
                    try (layer.dataFile ?? layer.file).read(into: target, at: host)
                case .zero:
                    target.initializeMemory(as: UInt8.self, repeating: 0)
                case let .compressed(descriptor, clusterStart):
                    let start = Int(guest - clusterStart)
                    if start == 0 && count == layer.layout.clusterSize && clusterCache[index]?.host != descriptor.hostOffset {
                        jobs.append(ClusterJob(layer: layer, descriptor: descriptor, guest: clusterStart, target: target))
                    } else {
                        let cluster = try decompress(descriptor, layer: layer, index: index, guest: clusterStart)
                        cluster.withUnsafeBytes { target.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[start..<(start + count)])) }
                    }
                case .unallocated:
                    if index + 1 < layers.count {
                        try read(into: target, at: guest, layer: index + 1, jobs: &jobs)
                    } else if index == layers.count - 1, let name = unopenedBacking {
                        throw ImageAccessError.backingNotOpened(name: name)
                    } else {
                        target.initializeMemory(as: UInt8.self, repeating: 0)
                    }
                }
                done += count
            }
        }
    }

    /// How many bytes from `offset` (at most `limit`) are known to read as zeros without
    /// reading any data: zero clusters, unallocated ranges at the end of the chain or
    /// past a backing file's end, holes of a raw backing file. 0 when data may follow.
    public func knownZeroLength(at offset: UInt64, limit: UInt64) throws -> UInt64 {
        try knownZeroLength(at: offset, limit: limit, layer: 0)
    }

    private func knownZeroLength(at offset: UInt64, limit: UInt64, layer index: Int) throws -> UInt64 {
        let size = layers[index].virtualSize
        guard offset < size else { return limit }
        switch layers[index] {
        case let .raw(file):
            let extent = file.extent(at: offset, length: min(limit, size - offset))
            return extent.isHole ? extent.length : 0
        case let .qcow2(layer):
            let (run, length) = try layer.run(at: offset, limit: limit)
            switch run {
            case .zero: return length
            case .data, .compressed: return 0
            case .unallocated:
                if index + 1 < layers.count { return try knownZeroLength(at: offset, limit: length, layer: index + 1) }
                return unopenedBacking == nil ? length : 0
            }
        }
    }

    /// The decompressed bytes of one compressed cluster (cached: one per layer), for reads
    /// that cover only part of it.
    private func decompress(_ descriptor: CompressedClusterDescriptor, layer: QCOW2Layer, index: Int, guest: UInt64) throws -> [UInt8] {
        if let cached = clusterCache[index], cached.host == descriptor.hostOffset { return cached.bytes }
        var output = [UInt8](repeating: 0, count: layer.layout.clusterSize)
        try output.withUnsafeMutableBytes {
            try clusters.serialDecoder.decode(descriptor, layer: layer, guest: guest, into: $0)
        }
        clusterCache[index] = (descriptor.hostOffset, output)
        return output
    }
}
