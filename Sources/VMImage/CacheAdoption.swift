import ByteStreams
import SystemPackage

/// An image found on start whose re-validation failed (reported to the monitor, then removed).
struct CachedImageInvalid: Error, CustomStringConvertible {
    let imageID: String
    let folder: String
    let reason: String

    var description: String {
        "cached image \(TerminalText.quoted(imageID)) in \(folder) failed re-validation, removed: \(reason)"
    }
}

/// Adopt-or-remove: what a manager does to its folder on start.
enum CacheAdoption {
    /// Keeps the complete images of the folder `path` (whose lock the caller holds) and deletes
    /// everything else: partial downloads and extractions, stray files, instance disks of dead
    /// VMs, images that fail re-validation (reported to `monitor` as warnings), and the older
    /// copies of an image ID found twice. Deletion failures are reported, not thrown: the
    /// manager still works, with less space.
    ///
    /// - Returns: the images kept.
    static func adoptOrRemove(_ path: FilePath, limits: ImageLimits, monitor: Monitor) throws(VMImageError) -> [CacheScan.Image] {
        let root = try openFolder(path)
        defer { SystemCall.closeIgnoringErrors(root) }
        let scan = try CacheScan.scan(root: root, path: path, limits: limits)
        func remove(_ name: EntryName, in folder: FileDescriptor, at folderPath: String, what: String) {
            do {
                try removeEntry(name, in: folder, path: folderPath)
                monitor.info("removed \(what) \(folderPath)/\(name.display)")
            } catch {
                monitor.reportWarning(error, "could not remove \(what) \(folderPath)/\(name.display)")
            }
        }
        for name in scan.leftovers {
            remove(name, in: root, at: path.string, what: "leftover")
        }
        for rejected in scan.rejected {
            if let manifest = rejected.manifest {
                monitor.reportWarning(CachedImageInvalid(imageID: manifest.imageID, folder: rejected.folder.string, reason: rejected.reason))
                remove(rejected.name, in: root, at: path.string, what: "invalid image")
            } else {
                remove(rejected.name, in: root, at: path.string, what: "incomplete image (\(rejected.reason))")
            }
        }
        var kept: [CacheScan.Image] = []
        var seen: Set<String> = []
        for image in scan.images.sorted(by: { $0.manifest.lastUsed > $1.manifest.lastUsed }) {
            guard seen.insert(image.manifest.imageID).inserted else {
                remove(image.name, in: root, at: path.string, what: "older copy of \(TerminalText.quoted(image.manifest.imageID))")
                continue
            }
            if !image.strays.isEmpty {
                do {
                    let folder = try openSubfolder(image.name, in: root, path: path.string)
                    defer { SystemCall.closeIgnoringErrors(folder) }
                    for stray in image.strays {
                        remove(stray, in: folder, at: image.folder.string, what: "leftover")
                    }
                } catch {
                    monitor.reportWarning(error, "could not clean \(image.folder.string)")
                }
            }
            kept.append(image)
        }
        return kept
    }
}
