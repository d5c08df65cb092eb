import ByteStreams
import SystemPackage

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An ``ImageManager``'s image folder opened from outside a manager, to see and clean it
/// (what `qcowtool cache` does), holding the folder's lock for the object's life.
///
/// Holding the lock means that no manager has the folder, so no instance of any image in it
/// is in use: whatever is removed here is not in use.
public final class ImageCache: Sendable {
    /// The image folder.
    public let folder: FilePath
    /// The limits images are re-validated with.
    public let limits: ImageLimits
    private let lock: FolderLock

    /// Opens the existing image folder `folder`, taking its lock.
    ///
    /// - Throws: ``VMImageError/imageFolderInUse(path:)`` when a manager or another
    ///   `ImageCache` holds it; `fileSystem` when it is not a folder.
    public init(folder: FilePath, limits: ImageLimits = .init()) throws(VMImageError) {
        self.lock = try FolderLock(folder: folder)
        self.folder = folder
        self.limits = limits
    }

    /// What the folder holds.
    public func contents() throws(VMImageError) -> ImageCacheContents {
        let root = try openFolder(folder)
        defer { SystemCall.closeIgnoringErrors(root) }
        let scan = try CacheScan.scan(root: root, path: folder, limits: limits)
        var result = ImageCacheContents()
        result.images = scan.images.map { image in
            CachedImage(
                imageID: image.manifest.imageID, folder: image.folder, virtualSize: image.manifest.virtualSize,
                diskUsage: image.allocated, lastUsedMilliseconds: image.manifest.lastUsed)
        }.sorted { ($0.lastUsedMilliseconds, $0.imageID) > ($1.lastUsedMilliseconds, $1.imageID) }
        result.removable = scan.rejected.map { "\(TerminalText.escaping($0.folder.string)): \($0.reason)" }
            + scan.leftovers.map { "\(TerminalText.escaping(folder.string))/\($0.display): not part of any image" }
            + scan.images.flatMap { image in
                image.strays.map { "\(TerminalText.escaping(image.folder.string))/\($0.display): not part of the image (an instance disk or a leftover)" }
            }
        return result
    }

    /// Removes every copy of the image `imageID`; returns how many were removed (0 when the
    /// folder holds no image of that ID).
    @discardableResult
    public func remove(imageID: String) throws(VMImageError) -> Int {
        let root = try openFolder(folder)
        defer { SystemCall.closeIgnoringErrors(root) }
        let scan = try CacheScan.scan(root: root, path: folder, limits: limits)
        let names = scan.images.filter { $0.manifest.imageID == imageID }.map(\.name)
            + scan.rejected.filter { $0.manifest?.imageID == imageID }.map(\.name)
        for name in names {
            try removeImageFirstManifest(name, in: root)
        }
        return names.count
    }

    /// Removes everything in the folder but its lock file: every image (none is in use while
    /// this object holds the lock), partial downloads and extractions, stray files.
    ///
    /// - Returns: how many entries were removed.
    @discardableResult
    public func prune() throws(VMImageError) -> Int {
        let root = try openFolder(folder)
        defer { SystemCall.closeIgnoringErrors(root) }
        var removed = 0
        for name in try entryNames(of: root, path: folder.string) where !name.is(FolderLock.fileName) {
            try removeImageFirstManifest(name, in: root)
            removed += 1
        }
        return removed
    }

    /// Removes the entry `name`, deleting an image folder's manifest first so that an
    /// interrupted removal leaves an incomplete folder, never a damaged complete-looking one.
    private func removeImageFirstManifest(_ name: EntryName, in root: FileDescriptor) throws(VMImageError) {
        if name.hasPrefix(CacheScan.imagePrefix), let status = try entryStatus(name, in: root, path: folder.string),
           (status.st_mode & S_IFMT) == S_IFDIR {
            let child = try openSubfolder(name, in: root, path: folder.string)
            defer { SystemCall.closeIgnoringErrors(child) }
            try removeEntry(EntryName(ImageManifest.fileName), in: child, path: folder.string + "/" + name.display)
        }
        try removeEntry(name, in: root, path: folder.string)
    }
}

/// What an image folder holds (see ``ImageCache/contents()``).
public struct ImageCacheContents: Sendable, Hashable {
    /// The complete images a manager would adopt, most recently used first.
    public var images: [CachedImage] = []
    /// Everything a manager would remove on start, one line each (path and reason,
    /// terminal-safe).
    public var removable: [String] = []
}

/// A complete image in an image folder.
public struct CachedImage: Sendable, Hashable {
    /// The image ID its manager was given.
    public var imageID: String
    /// Its folder.
    public var folder: FilePath
    /// The size of its disk.
    public var virtualSize: UInt64
    /// Bytes its folder takes on disk.
    public var diskUsage: UInt64
    /// When it was last used (an instance made), in milliseconds since the Unix epoch.
    public var lastUsedMilliseconds: Int64
}
