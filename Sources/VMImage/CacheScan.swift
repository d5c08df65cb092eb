import ByteStreams
import QCOW2
import SystemPackage

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What an image folder holds, as a manager finds it on start: complete images (a manifest
/// that parses and files that pass a cheap re-validation), image folders that are not
/// (partial extractions, damaged images) and every other entry (partial downloads, stray
/// files). Reads only; ``ImageManager`` and ``ImageCache`` decide what to delete.
struct CacheScan {
    /// The folder names of images (`image-<random>`); anything else at the top is a leftover.
    static let imagePrefix = "image-"
    /// The files of a complete image folder; any other entry in it (instance disks of dead
    /// VMs, a torn manifest update) is a stray.
    static let imageFiles = ImageArchive.memberNames + [ImageManifest.fileName]

    /// A complete image.
    struct Image {
        let name: EntryName
        let folder: FilePath
        let manifest: ImageManifest
        let contents: ImageContents
        /// Entries in the image folder that are not part of the image.
        let strays: [EntryName]
        /// Bytes allocated by the whole image folder, strays included.
        let allocated: UInt64
    }

    /// An image folder that is not a complete, valid image.
    struct Rejected {
        let name: EntryName
        let folder: FilePath
        /// The manifest, when one parsed (then the image was complete once and is damaged).
        let manifest: ImageManifest?
        /// Why it is refused.
        let reason: String
    }

    var images: [Image] = []
    var rejected: [Rejected] = []
    /// Top-level entries that are neither image folders nor the lock file.
    var leftovers: [EntryName] = []

    /// Scans the open folder `root` (at `path`).
    static func scan(root: FileDescriptor, path: FilePath, limits: ImageLimits) throws(VMImageError) -> CacheScan {
        var scan = CacheScan()
        for name in try entryNames(of: root, path: path.string).sorted(by: { $0.bytes.lexicographicallyPrecedes($1.bytes) }) {
            if name.is(FolderLock.fileName) { continue }
            guard let status = try entryStatus(name, in: root, path: path.string) else { continue }
            guard name.hasPrefix(imagePrefix), (status.st_mode & S_IFMT) == S_IFDIR,
                  let text = String(validating: name.bytes, as: UTF8.self) else {
                scan.leftovers.append(name)
                continue
            }
            let folder = path.appending(text)
            do {
                let child = try openSubfolder(name, in: root, path: path.string)
                defer { SystemCall.closeIgnoringErrors(child) }
                switch examine(child, path: folder, limits: limits) {
                case .success(let image):
                    scan.images.append(Image(
                        name: name, folder: folder, manifest: image.manifest, contents: image.contents,
                        strays: image.strays, allocated: (try? allocatedBytes(in: child, path: folder.string)) ?? 0))
                case .failure(let failure):
                    scan.rejected.append(Rejected(name: name, folder: folder, manifest: failure.manifest, reason: failure.reason))
                }
            } catch {
                scan.rejected.append(Rejected(name: name, folder: folder, manifest: nil, reason: error.description))
            }
        }
        return scan
    }

    private struct Examined {
        let manifest: ImageManifest
        let contents: ImageContents
        let strays: [EntryName]
    }

    private struct Refusal: Error {
        let manifest: ImageManifest?
        let reason: String
    }

    /// Reads the manifest of the open image folder `folder` and re-validates the image cheaply:
    /// file types and sizes against the manifest, `disk.img`'s first bytes, `layer.qcow2`'s
    /// header and audit as extraction applies them, `machine.json` parsed and checked.
    private static func examine(_ folder: FileDescriptor, path: FilePath, limits: ImageLimits) -> Result<Examined, Refusal> {
        let image: ImageFolder
        do {
            image = try ImageFolder(opened: folder, path: path)
        } catch {
            return .failure(Refusal(manifest: nil, reason: "\(error)"))
        }
        let manifest: ImageManifest
        do {
            let bytes = try image.readAll(ImageManifest.fileName, limit: UInt64(ImageManifest.maxSize))
            manifest = try ImageManifest(parsing: bytes)
        } catch let error as VMImageError {
            if case .fileSystem(_, _, ENOENT) = error {
                return .failure(Refusal(manifest: nil, reason: "no \(ImageManifest.fileName): an extraction that did not finish"))
            }
            return .failure(Refusal(manifest: nil, reason: "\(ImageManifest.fileName): \(error)"))
        } catch {
            return .failure(Refusal(manifest: nil, reason: "\(ImageManifest.fileName) \(error)"))
        }
        do {
            let names = try entryNames(of: folder, path: path.string)
            let expected: [(String, UInt64)] = [
                (ImageArchive.diskName, manifest.virtualSize), (ImageArchive.layerName, manifest.layerSize),
                (ImageArchive.machineName, manifest.machineSize),
            ]
            for (name, size) in expected {
                guard let status = try entryStatus(EntryName(name), in: folder, path: path.string) else {
                    throw Refusal(manifest: manifest, reason: "\(name) is missing")
                }
                guard (status.st_mode & S_IFMT) == S_IFREG else {
                    throw Refusal(manifest: manifest, reason: "\(name) is not a regular file")
                }
                guard UInt64(clamping: status.st_size) == size else {
                    throw Refusal(manifest: manifest, reason: "\(name) is \(status.st_size) bytes; the manifest says \(size)")
                }
            }
            let prefix = try readPrefix(of: image, size: manifest.virtualSize)
            try ImageValidation.checkDisk(prefix: prefix, size: manifest.virtualSize)
            try ImageValidation.checkLayer(in: image, diskSize: manifest.virtualSize, limits: limits)
            let machine = try ImageValidation.loadMachine(in: image, limits: limits)
            let strays = names.filter { name in !imageFiles.contains { name.is($0) } }
            let contents = ImageContents(
                virtualSize: manifest.virtualSize, diskDataBytes: manifest.diskDataBytes,
                layerSize: manifest.layerSize, machine: machine, archiveBytes: manifest.archiveBytes)
            return .success(Examined(manifest: manifest, contents: contents, strays: strays))
        } catch let refusal as Refusal {
            return .failure(refusal)
        } catch {
            return .failure(Refusal(manifest: manifest, reason: "\(imageError(error, archiveName: path.string))"))
        }
    }

    /// The first bytes of `disk.img`, as the format-confusion check reads them.
    private static func readPrefix(of image: ImageFolder, size: UInt64) throws -> [UInt8] {
        let file = try image.openForReading(ImageArchive.diskName)
        defer { SystemCall.closeIgnoringErrors(file) }
        var prefix = [UInt8](repeating: 0, count: Int(min(size, UInt64(ForeignFormat.prefixLength * 8))))
        let n = try prefix.withUnsafeMutableBytes { try file.pread(into: $0, at: 0, path: image.file(ImageArchive.diskName).string) }
        return Array(prefix.prefix(n))
    }
}
