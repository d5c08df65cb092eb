import ByteStreams
import SystemPackage

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `manifest.json` in an image folder: the mark that the image is complete.
///
/// It is written last, after the image was extracted, validated and synced, by
/// ``write(into:path:durable:)`` (temporary file, `fsync`, `rename`, `fsync` of the folder), so
/// a folder with a manifest that parses holds a whole image and a folder without one is a
/// partial extraction. Read with the strict ``JSONReader``: an unknown key, a missing key, a
/// wrong type or another ``formatVersion`` makes the manifest (and so the image) invalid.
struct ImageManifest: Sendable, Equatable {
    /// The file name inside the image folder.
    static let fileName = "manifest.json"
    /// The version of this layout, stored as `manifestVersion`.
    static let formatVersion: Int64 = 1
    /// The largest manifest read (image IDs are short; this is generous).
    static let maxSize = 64 << 10
    /// The longest image ID stored.
    static let maxImageIDLength = 16 << 10

    /// The image ID the caller gave.
    var imageID: String
    /// The size of `disk.img`.
    var virtualSize: UInt64
    /// Bytes of `disk.img` stored as data in the archive.
    var diskDataBytes: UInt64
    /// The size of `layer.qcow2`.
    var layerSize: UInt64
    /// The size of `machine.json`.
    var machineSize: UInt64
    /// Compressed bytes of the archive the image came from.
    var archiveBytes: UInt64
    /// The SHA-256 of the archive (64 lowercase hex digits), when the loader knew it.
    var archiveSHA256: String?
    /// Last use, in milliseconds since the Unix epoch (wall clock, so it survives a restart).
    var lastUsed: Int64

    /// Why a manifest is refused.
    struct Invalid: Error, CustomStringConvertible {
        var description: String
    }

    /// The JSON bytes of this manifest (keys sorted, compact).
    func bytes() -> [UInt8] {
        var object: [String: JSONValue] = [
            "manifestVersion": .integer(Self.formatVersion),
            "imageID": .string(imageID),
            "virtualSize": .integer(Int64(clamping: virtualSize)),
            "diskDataBytes": .integer(Int64(clamping: diskDataBytes)),
            "layerSize": .integer(Int64(clamping: layerSize)),
            "machineSize": .integer(Int64(clamping: machineSize)),
            "archiveBytes": .integer(Int64(clamping: archiveBytes)),
            "lastUsed": .integer(lastUsed),
        ]
        if let archiveSHA256 { object["archiveSHA256"] = .string(archiveSHA256) }
        return JSONWriter.bytes(.object(object), pretty: false) + [0x0A]
    }

    /// Parses manifest bytes strictly.
    init(parsing bytes: [UInt8]) throws(Invalid) {
        guard bytes.count <= Self.maxSize else { throw Invalid(description: "is \(bytes.count) bytes, more than \(Self.maxSize)") }
        let value: JSONValue
        do {
            value = try JSONReader.parse(bytes)
        } catch {
            throw Invalid(description: "is not JSON: \(error)")
        }
        guard case .object(let object) = value else { throw Invalid(description: "is not a JSON object") }
        let known: Set<String> = [
            "manifestVersion", "imageID", "virtualSize", "diskDataBytes", "layerSize", "machineSize",
            "archiveBytes", "archiveSHA256", "lastUsed",
        ]
        if let unknown = object.keys.sorted().first(where: { !known.contains($0) }) {
            throw Invalid(description: "has the unknown key \(TerminalText.quoted(unknown))")
        }
        func integer(_ key: String) throws(Invalid) -> Int64 {
            guard let member = object[key] else { throw Invalid(description: "has no \(key)") }
            guard case .integer(let number) = member, number >= 0 else {
                throw Invalid(description: "\(key) must be a non-negative integer, found \(member.typeName)")
            }
            return number
        }
        let version = try integer("manifestVersion")
        guard version == Self.formatVersion else {
            throw Invalid(description: "has manifestVersion \(version); this library reads version \(Self.formatVersion)")
        }
        guard case .string(let imageID)? = object["imageID"] else { throw Invalid(description: "has no imageID string") }
        guard !imageID.isEmpty, imageID.utf8.count <= Self.maxImageIDLength else {
            throw Invalid(description: "has an imageID of \(imageID.utf8.count) bytes (1…\(Self.maxImageIDLength) allowed)")
        }
        var digest: String?
        if let member = object["archiveSHA256"] {
            guard case .string(let text) = member, text.utf8.count == 64,
                  text.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }) else {
                throw Invalid(description: "archiveSHA256 must be 64 lowercase hex digits")
            }
            digest = text
        }
        self.imageID = imageID
        self.virtualSize = try UInt64(integer("virtualSize"))
        self.diskDataBytes = try UInt64(integer("diskDataBytes"))
        self.layerSize = try UInt64(integer("layerSize"))
        self.machineSize = try UInt64(integer("machineSize"))
        self.archiveBytes = try UInt64(integer("archiveBytes"))
        self.archiveSHA256 = digest
        self.lastUsed = try integer("lastUsed")
    }

    /// A manifest for an image with the given facts, last used now.
    init(imageID: String, contents: ImageContents, machineSize: UInt64, archiveSHA256: String? = nil) {
        self.imageID = imageID
        self.virtualSize = contents.virtualSize
        self.diskDataBytes = contents.diskDataBytes
        self.layerSize = contents.layerSize
        self.machineSize = machineSize
        self.archiveBytes = contents.archiveBytes
        self.archiveSHA256 = archiveSHA256
        self.lastUsed = wallClockMilliseconds()
    }

    /// Writes the manifest into the open image folder `folder` (at `path`, for messages)
    /// through an ``AtomicFile``: a temporary file beside it, then `rename` over ``fileName``
    /// (a regular file only: a link or anything else there is refused).
    ///
    /// When `durable`, the image's files, the temporary file and the folder are `fsync`ed
    /// around the rename, so that after a power cut either the whole image and its manifest
    /// are on disk or there is no manifest. Updates of the last use pass `false`: a lost
    /// update costs only a slightly wrong collection order (a torn manifest makes the next
    /// start remove the image, never use a wrong one).
    func write(into folder: FileDescriptor, path: String, durable: Bool) throws(VMImageError) {
        if durable {
            for name in ImageArchive.memberNames {
                do throws(SystemCallError) {
                    let member = try SystemCall.openForReading(name, in: folder, path: path + "/" + name)
                    defer { SystemCall.closeIgnoringErrors(member) }
                    try SystemCall.sync(member, path: path + "/" + name)
                } catch {
                    throw fileSystemError(error)
                }
            }
        }
        let encoded = self.bytes()
        do throws(AtomicFileError) {
            let file = try AtomicFile(name: Self.fileName, in: folder, folderPath: path, purpose: "manifest")
            defer { file.discard() }
            let failure = encoded.withUnsafeBytes { bytes -> AtomicFileError? in
                do throws(AtomicFileError) { try file.write(bytes, at: 0) } catch { return error }
                return nil
            }
            if let failure { throw failure }
            try file.publish(.replacingRegularFile, sync: durable)
        } catch {
            throw fileSystemError(error)
        }
    }
}

/// The wall clock in milliseconds since the Unix epoch; 0 (the oldest time) if it cannot be read.
func wallClockMilliseconds() -> Int64 {
    guard let now = try? SystemCall.time(of: .realtime) else { return 0 }
    return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
}

/// The continuous-clock instant of a wall-clock time in milliseconds since the epoch (the
/// collector orders by `ContinuousClock`; a restart needs the wall clock to carry the order).
func continuousInstant(ofWallClockMilliseconds milliseconds: Int64) -> ContinuousClock.Instant {
    let age = wallClockMilliseconds() &- milliseconds
    return ContinuousClock.now.advanced(by: .milliseconds(-max(0, age)))
}

extension ImageManifest {
    /// Marks the freshly extracted and validated image in `folder` complete: syncs its files
    /// and writes its manifest durably (see ``write(into:path:durable:)``).
    static func markComplete(imageID: String, contents: ImageContents, folder: FilePath) throws(VMImageError) -> ImageManifest {
        let handle = try openFolder(folder)
        defer { SystemCall.closeIgnoringErrors(handle) }
        guard let machine = try entryStatus(EntryName(ImageArchive.machineName), in: handle, path: folder.string) else {
            throw .fileSystem(operation: "stat", path: folder.appending(ImageArchive.machineName).string, errno: ENOENT)
        }
        let manifest = ImageManifest(imageID: imageID, contents: contents, machineSize: UInt64(clamping: machine.st_size))
        try manifest.write(into: handle, path: folder.string, durable: true)
        return manifest
    }
}
