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

/// Streams an image archive (zstd → tar) and applies every rule of the image format to it,
/// writing its members into an open folder as they arrive (or, when verifying, writing only
/// the small members and counting the disk's bytes).
struct ImageArchiveReader {
    let archiveName: String
    let limits: ImageLimits
    /// Whether `disk.img`'s data is written; when false it is read, checked and dropped.
    let writesDisk: Bool

    /// Facts gathered while streaming.
    private struct Scan {
        var sizes: [String: UInt64] = [:]
        var diskData: UInt64 = 0
        var diskPrefix: [UInt8] = []
    }

    /// Reads the whole archive from `source` into `folder` (an open directory). Files it
    /// created are left for the caller to remove on failure (see ``ImageFolder``).
    func read<Source: ByteSource>(from source: Source, into folder: ImageFolder) throws -> ImageContents {
        let counted = SharedSource(LimitedSource(source, limit: limits.maxImageSize, name: archiveName))
        // Frames are decoded on every core when the archive is made of independent frames
        // (ours); a one-frame archive from other tools is streamed exactly as before.
        let decompressor = try ZstdParallelDecompressor(
            readingFrom: counted, options: ZstdParallelOptions(workers: limits.maxDecodingThreads))
        let reader = TarReader(reading: decompressor)
        var scan = Scan()
        while let entry = try reader.next() {
            try take(entry, from: reader, into: folder, scan: &scan)
        }
        switch try reader.trailer(limit: 16 << 20) {
        case .zeroPadding:
            break
        case .garbage(let offset):
            throw malformed(archiveName, .trailingData, "non-zero bytes follow the end of the tar archive (at tar offset \(offset))")
        case .paddingBeyondLimit(let limit):
            throw malformed(archiveName, .trailingData, "more than \(limit) bytes of padding follow the end of the tar archive")
        }
        for name in ImageArchive.memberNames where scan.sizes[name] == nil {
            throw malformed(name, .missingMember, "the archive has no \(name)")
        }
        let virtualSize = scan.sizes[ImageArchive.diskName] ?? 0
        try ImageValidation.checkDisk(prefix: scan.diskPrefix, size: virtualSize)
        try ImageValidation.checkLayer(in: folder, diskSize: virtualSize, limits: limits)
        let machine = try ImageValidation.loadMachine(in: folder, limits: limits)
        return ImageContents(
            virtualSize: virtualSize, diskDataBytes: scan.diskData,
            layerSize: scan.sizes[ImageArchive.layerName] ?? 0, machine: machine,
            archiveBytes: counted.upstream.count)
    }

    private func take<Source: ByteSource>(
        _ entry: TarEntry, from reader: TarReader<Source>, into folder: ImageFolder, scan: inout Scan
    ) throws {
        // Only the exact names (or with one leading "./", which every reader drops) are
        // taken: GNU tar and bsdtar read "disk.img/" as a directory whatever its type flag,
        // and spellings such as ".//disk.img" or "disk.img/." are refused rather than guessed.
        let name = entry.name.hasPrefix("./") ? String(entry.name.dropFirst(2)) : entry.name
        if name.hasSuffix("/"), ImageArchive.memberNames.contains(String(name.dropLast())) {
            throw malformed(String(name.dropLast()), .memberType,
                            "must be a regular file, found \(TerminalText.quoted(entry.name)): a name ending in '/' is a directory to GNU tar and bsdtar")
        }
        guard ImageArchive.memberNames.contains(name) else {
            throw malformed(entry.name, .unexpectedMember,
                            "an image archive holds only disk.img, layer.qcow2 and machine.json, spelled exactly so")
        }
        guard entry.kind == .regular else {
            throw malformed(name, .memberType, "must be a regular file, found a \(entry.kind)")
        }
        guard scan.sizes[name] == nil else {
            throw malformed(name, .duplicateMember, "appears more than once in the archive")
        }
        let limit = name == ImageArchive.machineName ? limits.maxMachineSize : limits.maxImageSize
        guard entry.size <= limit else {
            throw malformed(name, .sizeLimit, "declares \(entry.size) bytes, more than the limit of \(limit)")
        }
        scan.sizes[name] = entry.size
        let isDisk = name == ImageArchive.diskName
        var prefix = [UInt8](repeating: 0, count: isDisk ? Int(min(entry.size, UInt64(ForeignFormat.prefixLength * 8))) : 0)
        let peek: (UInt64, UnsafeRawBufferPointer) throws -> Void = { offset, bytes in
            guard offset < UInt64(prefix.count) else { return }
            let n = min(bytes.count, prefix.count - Int(offset))
            prefix.withUnsafeMutableBytes { target in
                (target.baseAddress! + Int(offset)).copyMemory(from: bytes.baseAddress!, byteCount: n)
            }
        }
        if isDisk && !writesDisk {
            while try reader.withNextChunk({ offset, bytes in try peek(offset, bytes) }) != nil {}
            scan.diskData = entry.storedSize
        } else {
            let file = try folder.create(name)
            defer { SystemCall.closeIgnoringErrors(file) }
            try SparseFile.setSize(of: file, to: entry.size, path: name)
            try reader.writeData(to: file, path: name, peek: isDisk ? peek : nil)
            if isDisk { scan.diskData = entry.storedSize }
        }
        if isDisk { scan.diskPrefix = prefix }
    }
}

/// A `malformedPayload` error.
func malformed(_ member: String, _ rule: PayloadRule, _ message: String) -> VMImageError {
    .malformedPayload(member: member, rule: rule, message: message)
}
