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
    private var used = ContinuousClock.now
    private let onDispose: @Sendable (LoadedImage) async -> Void

    init(imageID: String, folder: FilePath, contents: ImageContents, onDispose: @escaping @Sendable (LoadedImage) async -> Void) {
        self.imageID = imageID
        self.folder = folder
        self.contents = contents
        self.onDispose = onDispose
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
        try removeImageFolder(folder)
    }
}
