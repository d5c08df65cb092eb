import ByteStreams
import SystemPackage

/// An image extracted into the manager's folder and shared by the instances made from it.
///
/// Tracked by the garbage collector: it is disposed (its folder deleted) only while no
/// instance holds it, and disposal evicts it from the manager's cache.
actor LoadedImage: Disposable {
    /// The image ID the caller gave.
    nonisolated let imageID: String
    /// The folder holding `disk.img`, `layer.qcow2`, `machine.json` and instance disks.
    nonisolated let folder: FilePath
    /// What the archive held.
    nonisolated let contents: ImageContents
    private var holders = 0
    private var disposed = false
    private var used: ContinuousClock.Instant
    /// The image's `manifest.json` as last written.
    private var manifest: ImageManifest
    private let onDispose: @Sendable (LoadedImage) async -> Void

    /// An image whose manifest is written: last used as the manifest says (now for a fresh
    /// image; earlier for one adopted on start, so the collector's order survives a restart).
    init(folder: FilePath, contents: ImageContents, manifest: ImageManifest, onDispose: @escaping @Sendable (LoadedImage) async -> Void) {
        self.imageID = manifest.imageID
        self.folder = folder
        self.contents = contents
        self.manifest = manifest
        self.used = continuousInstant(ofWallClockMilliseconds: manifest.lastUsed)
        self.onDispose = onDispose
    }

    /// Records in the manifest that the image is used now (cheaply: no `fsync`, see
    /// ``ImageManifest/write(into:path:durable:)``).
    func recordUse() throws(VMImageError) {
        guard !disposed else { return }
        manifest.lastUsed = wallClockMilliseconds()
        used = .now
        let handle = try openFolder(folder)
        defer { SystemCall.closeIgnoringErrors(handle) }
        try manifest.write(into: handle, path: folder.string, durable: false)
    }

    /// Takes a hold on the image; `false` when it was disposed meanwhile.
    func acquire() -> Bool {
        guard !disposed else { return false }
        holders += 1
        used = .now
        return true
    }

    /// Gives a hold back.
    func release() {
        holders = max(0, holders - 1)
        used = .now
    }

    var memoryUsage: UInt64? { 0 }
    var diskUsage: UInt64? { contents.diskDataBytes + contents.layerSize }
    var lastUsed: ContinuousClock.Instant { used }
    var isInUse: Bool { holders > 0 }

    func dispose() async throws {
        guard holders == 0 else { throw DisposableError.inUse }
        guard !disposed else { return }
        disposed = true
        await onDispose(self)
        // The manifest goes first: a crash in the middle leaves an incomplete folder, which the
        // next start removes, never a complete-looking one with files missing.
        if let failure = unlinkFile(folder.appending(ImageManifest.fileName)) { throw failure }
        try removeImageFolder(folder)
    }
}
