import ByteStreams
import QCOW2
import Synchronization
import SystemPackage

/// Downloads, validates, caches and instantiates VM images: taskcluster-worker's
/// `image.Manager`.
///
/// ``instance(imageID:download:)`` returns a fresh ``Instance`` of the image `imageID`,
/// downloading and extracting it first when it is not cached. However many callers ask for
/// the same image at once, it is downloaded and extracted once; if that fails, every waiter
/// gets the same error and nothing is cached, so a later call tries again. Loaded images are
/// registered with the ``ResourceTracker`` and deleted by it only when no instance holds them.
///
/// The caller chooses image IDs that identify images uniquely (`"url:<url>"`,
/// `"taskId:<taskId>/<runId>/<artifact>"`…) and enforces any access control.
public actor ImageManager {
    /// Where images, downloads and instance disks live.
    public nonisolated let imageFolder: FilePath
    /// Limits applied to every archive.
    public nonisolated let limits: ImageLimits
    private let tracker: any ResourceTracker
    private let monitor: Monitor
    private var images: [String: Entry]
    /// The folder's lock, held for the manager's life (released when it goes away).
    private let lock: FolderLock
    /// Registers the adopted images with the tracker (started by `init`).
    private let registration: Task<Void, Never>
    private let adopted: [String]

    private struct Entry {
        let token: UInt64
        let task: Task<LoadedImage, any Error>
    }

    /// A manager keeping its images in `imageFolder` (created when missing), registering them
    /// with `gc`, reporting to `monitor`.
    ///
    /// The folder belongs to this manager for its whole life: it takes an exclusive `flock`
    /// on `.vmimage.lock` in it and throws ``VMImageError/imageFolderInUse(path:)`` at once
    /// when another manager (in this process or another) or a `qcowtool cache` command holds
    /// it. Sharing a folder safely would need every process to know every other's instances
    /// before deleting anything; a worker owns its folder instead.
    ///
    /// Then it adopts what an earlier manager left: every image whose manifest (written last,
    /// atomically, once the image was complete and synced) parses and whose files pass a cheap
    /// re-validation (sizes, `disk.img`'s first bytes, `layer.qcow2`'s header and audit,
    /// `machine.json`) is cached again, so the next ``instance(imageID:download:)`` of its ID
    /// downloads nothing, and registered with `gc` with its recorded last use. Everything else
    /// is deleted: partial downloads and extractions, instance disks of dead VMs, stray files;
    /// an image that fails re-validation is deleted and reported to `monitor` as a warning.
    public init(imageFolder: FilePath, gc: any ResourceTracker, monitor: Monitor = .silent, limits: ImageLimits = .init()) throws(VMImageError) {
        do throws(SystemCallError) {
            try SystemCall.createFolder(imageFolder.string, in: nil, mode: 0o755, path: imageFolder.string)
        } catch where error.errno == .fileExists {
            // Reused, or not a folder at all: the lock refuses anything but a real folder.
        } catch {
            throw fileSystemError(error)
        }
        let monitor = monitor.withPrefix("image-manager")
        let lock = try FolderLock(folder: imageFolder)
        let found = try CacheAdoption.adoptOrRemove(imageFolder, limits: limits, monitor: monitor)
        let owner = ManagerReference()
        let adopted = found.map { image in
            LoadedImage(folder: image.folder, contents: image.contents, manifest: image.manifest) { image in
                await owner.manager?.evict(image)
            }
        }
        let registration = Task { [gc] in
            for image in adopted { await gc.register(image) }
        }
        var generator = SystemRandomNumberGenerator()
        var entries: [String: Entry] = [:]
        for image in adopted {
            entries[image.imageID] = Entry(token: generator.next(), task: Task<LoadedImage, any Error> {
                await registration.value
                return image
            })
            monitor.info("adopted image \(TerminalText.quoted(image.imageID)) in \(image.folder.string)")
        }
        self.imageFolder = imageFolder
        self.tracker = gc
        self.monitor = monitor
        self.limits = limits
        self.lock = lock
        self.registration = registration
        self.adopted = adopted.map(\.imageID).sorted()
        self.images = entries
        owner.manager = self
    }

    /// A new instance of the image `imageID`, calling `download` to fetch the archive into a
    /// temporary file when the image is not cached.
    ///
    /// ```swift
    /// let instance = try await manager.instance(imageID: "url:\(url)", download: downloadImage(from: url))
    /// // or, with your own transport:
    /// let other = try await manager.instance(imageID: id) { archive in try await fetch(id, to: archive) }
    /// ```
    public func instance(imageID: String, download: @escaping Downloader) async throws -> Instance {
        try await makeInstance(imageID: imageID) { [imageFolder, limits, monitor] folder in
            let archive = imageFolder.appending(randomName(".download") + ".tar.zst")
            defer { _ = unlinkFile(archive) }
            monitor.info("downloading image into \(archive.string)")
            try await download(archive)
            monitor.info("extracting image into \(folder.string)")
            // Errors name the image ID (and the member), not the temporary file, gone by then.
            return try await runBlocking { try ImageArchive.extract(archive: archive, into: folder, archiveName: imageID, limits: limits) }
        }
    }

    /// A new instance of the image `imageID`, extracting the archive from `bytes` while they
    /// arrive when the image is not cached: no temporary archive is written, and download
    /// and extraction overlap. `bytes` is only iterated when the image must be loaded.
    ///
    /// The streaming forms have their own base name so that a trailing closure
    /// (`manager.instance(imageID: id) { path in … }`) always means ``instance(imageID:download:)``.
    public func streamingInstance<Bytes: AsyncSequence & Sendable>(
        imageID: String, bytes: Bytes
    ) async throws -> Instance where Bytes.Element == [UInt8] {
        try await makeInstance(imageID: imageID) { [limits] folder in
            try await StreamingExtraction.extract(bytes, into: folder, archiveName: imageID, limits: limits)
        }
    }

    /// A new instance of the image `imageID`, extracting the archive while `stream` delivers
    /// it when the image is not cached (`VMImageDownload.streamImage(from:)` makes such a
    /// streamer for HTTP). If the streamer fails, even after its last byte (a digest
    /// mismatch), nothing it delivered is kept.
    ///
    /// ```swift
    /// let instance = try await manager.streamingInstance(imageID: id, stream: streamImage(from: url))
    /// ```
    public func streamingInstance(imageID: String, stream: @escaping StreamingDownloader) async throws -> Instance {
        try await makeInstance(imageID: imageID) { [limits] folder in
            try await StreamingExtraction.extract(into: folder, archiveName: imageID, limits: limits, produce: stream)
        }
    }

    private func makeInstance(
        imageID: String, load: @escaping @Sendable (FilePath) async throws -> ImageContents
    ) async throws -> Instance {
        let image = try await loadedImage(imageID, load: load)
        let disk = image.folder.appending(randomName("instance") + ".qcow2")
        do {
            try OverlayCreation.create(at: disk, virtualSize: image.contents.virtualSize, replacing: false)
        } catch {
            await image.release()
            throw error
        }
        do {
            try await image.recordUse()
        } catch {
            monitor.warn("recording the last use of image \(TerminalText.quoted(imageID)) failed: \(error)")
        }
        return Instance(image: image, disk: disk)
    }

    /// The loaded image `imageID`, held once for the caller.
    private func loadedImage(
        _ imageID: String, load: @escaping @Sendable (FilePath) async throws -> ImageContents
    ) async throws -> LoadedImage {
        while true {
            let entry: Entry
            if let existing = images[imageID] {
                entry = existing
            } else {
                var generator = SystemRandomNumberGenerator()
                let token = generator.next()
                let folder = imageFolder.appending(randomName("image"))
                let task = Task { [tracker, monitor] in
                    let contents = try await load(folder)
                    let manifest: ImageManifest
                    do {
                        manifest = try await runBlocking {
                            try ImageManifest.markComplete(imageID: imageID, contents: contents, folder: folder)
                        }
                    } catch {
                        try? removeImageFolder(folder)
                        throw error
                    }
                    let image = LoadedImage(folder: folder, contents: contents, manifest: manifest) { [weak self] image in
                        await self?.evict(image)
                    }
                    await tracker.register(image)
                    monitor.info("image \(imageID) loaded into \(folder.string)")
                    return image
                }
                entry = Entry(token: token, task: task)
                images[imageID] = entry
            }
            do {
                let image = try await entry.task.value
                if await image.acquire() { return image }
                // Disposed between loading and now: forget it and load again.
                if images[imageID]?.token == entry.token { images[imageID] = nil }
            } catch {
                if images[imageID]?.token == entry.token {
                    images[imageID] = nil
                    monitor.warn("loading image \(imageID) failed: \(error)")
                }
                throw error
            }
        }
    }

    /// Forgets a disposed image so the next request loads it again.
    fileprivate func evict(_ image: LoadedImage) async {
        guard let entry = images[image.imageID], let cached = try? await entry.task.value, cached === image else { return }
        images[image.imageID] = nil
        await tracker.unregister(image)
    }

    /// The image IDs currently cached (loaded or loading).
    public var cachedImageIDs: [String] { images.keys.sorted() }

    /// The image IDs adopted from the folder when the manager started, once they are
    /// registered with the ``ResourceTracker`` (registration runs right after `init`).
    public var adoptedImageIDs: [String] {
        get async {
            await registration.value
            return adopted
        }
    }
}

/// A weak reference to a manager, for the images adopted before the manager exists.
final class ManagerReference: Sendable {
    private struct Weak: Sendable { weak var manager: ImageManager? }
    private let state = Mutex(Weak())

    var manager: ImageManager? {
        get { state.withLock { $0.manager } }
        set { state.withLock { $0.manager = newValue } }
    }
}
