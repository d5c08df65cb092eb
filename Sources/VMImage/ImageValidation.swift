import ByteStreams
import QCOW2
import SystemPackage

/// The content rules of an image archive, applied to members once they are read.
enum ImageValidation {
    /// `disk.img` must be raw: no header of a known image format at its start.
    static func checkDisk(prefix: [UInt8], size: UInt64) throws {
        let audit = Audit(rawPrefix: prefix, fileSize: size, fileName: ImageArchive.diskName)
        guard audit.isSafe else {
            let reasons = audit.errors.map(\.message).joined(separator: "; ")
            throw malformed(ImageArchive.diskName, .formatConfusion, "must be a raw disk, but \(reasons)")
        }
    }

    /// `layer.qcow2` must be a qcow2 overlay of `disk.img` (format raw) of the same size,
    /// passing the audit, with no data clusters and no snapshots.
    static func checkLayer(in folder: ImageFolder, diskSize: UInt64, limits: ImageLimits) throws {
        let name = ImageArchive.layerName
        let file = try folder.openForReading(name)
        defer { SystemCall.closeIgnoringErrors(file) }
        let image: QCOW2Image
        do {
            image = try QCOW2Image(descriptor: file, path: folder.file(name).string)
        } catch {
            throw malformed(name, .layerBacking, "is not a usable qcow2 image: \(error)")
        }
        let header = image.header
        guard let backing = header.backingFileName else {
            throw malformed(name, .layerBacking, "has no backing file; it must be backed by disk.img")
        }
        guard backing == ImageArchive.diskName else {
            throw malformed(name, .layerBacking, "names the backing file \(TerminalText.quoted(backing)); it must be exactly 'disk.img'")
        }
        guard let format = header.backingFormat else {
            throw malformed(name, .layerBacking, "names no backing format; it must be 'raw'")
        }
        guard format == "raw" else {
            throw malformed(name, .layerBacking, "names the backing format \(TerminalText.quoted(format)); it must be 'raw'")
        }
        // The library's one chain policy: a layer the manager adopts passes with no audit error.
        let refusals = ChainPolicy.untrusted.refusals(in: Audit(image: image), for: .adopt)
        guard refusals.isEmpty else {
            let reasons = refusals.map { "\($0.code): \($0.message)" }.joined(separator: "; ")
            throw malformed(name, .layerAudit, "fails the audit: \(reasons)")
        }
        guard header.virtualSize <= limits.maxImageSize else {
            throw malformed(name, .sizeLimit, "has a virtual size of \(header.virtualSize) bytes, more than the limit of \(limits.maxImageSize)")
        }
        guard header.virtualSize == diskSize else {
            throw malformed(name, .virtualSize, "has a virtual size of \(header.virtualSize) bytes but disk.img has \(diskSize)")
        }
        guard header.snapshotCount == 0 else {
            throw malformed(name, .layerData, "holds \(header.snapshotCount) internal snapshot(s); a layer holds none")
        }
        try checkNoData(image, name: name)
    }

    /// Every L1 entry must be unallocated: a fresh layer has no L2 tables, hence no data.
    private static func checkNoData(_ image: QCOW2Image, name: String) throws {
        if let index = try image.firstAllocatedL1Index() {
            throw malformed(name, .layerData, "has an allocated L2 table (L1 entry \(index)); a layer holds no data clusters")
        }
    }

    /// `machine.json`: valid JSON, migrated from version 0 when needed, valid version 1.
    static func loadMachine(in folder: ImageFolder, limits: ImageLimits) throws -> Machine {
        let bytes = try folder.readAll(ImageArchive.machineName, limit: limits.maxMachineSize)
        return try Machine(json: bytes, member: ImageArchive.machineName)
    }
}
