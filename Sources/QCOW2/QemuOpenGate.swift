import ByteStreams
import SystemPackage

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What `qemu-img check`, `map` and `convert` refuse when they open an image, beyond the
/// header checks ``QCOW2Header`` already makes: an external data file qemu cannot open,
/// encryption without a key, and a backing chain qemu cannot open. `qemu-img info` does
/// none of this (it opens neither the backing file nor the data file).
///
/// Safety: nothing an image names is read unless the name is a plain file name beside the
/// image (``BackingNameProblem`` finds no problem) and the file is a regular file, not a
/// symlink. Other names are only looked up with `stat` (which reads no bytes of the file):
/// a missing file is refused as qemu refuses it, an existing one is assumed to open.
/// Network protocol names are refused without any network access (qemu-img fails on them
/// too unless the server answers).
public enum QemuOpenGate {
    /// The block drivers qemu-img 7.2 knows (`qemu-img --help`, "Supported formats"): a
    /// backing format outside this list fails with "Unknown driver". (An array, not a `Set`:
    /// a `Set<String>` is one more generic type for the runtime to instantiate at start-up.)
    static let knownDrivers: [String] = [
        "blkdebug", "blklogwrites", "blkverify", "bochs", "cloop", "compress", "copy-before-write",
        "copy-on-read", "dmg", "file", "ftp", "ftps", "gluster", "host_cdrom", "host_device", "http",
        "https", "iscsi", "iser", "luks", "nbd", "nfs", "null-aio", "null-co", "nvme", "parallels",
        "preallocate", "qcow", "qcow2", "qed", "quorum", "raw", "rbd", "replication", "snapshot-access",
        "ssh", "throttle", "vdi", "vhdx", "vmdk", "vpc", "vvfat",
    ]

    /// Backing formats whose qemu driver refuses, at open, any file its probe does not claim
    /// (the open checks the same magic and version): qcow, QED, VDI, VHDX, Parallels, Bochs
    /// and LUKS. Not VMDK (a text descriptor opens without the line the probe looks for),
    /// VHD (a fixed image's footer is at the end), cloop or DMG (their opens check no magic);
    /// VMDK has its own rule (`vmdkRefusal`). An array, as ``knownDrivers``.
    static let magicCheckedFormats: [String] = ["qcow", "qed", "vdi", "vhdx", "parallels", "bochs", "luks"]

    /// `nil` when qemu-img would open `image` (at `path`, as given on the command line),
    /// else qemu's reason, worded like qemu-img's message.
    /// Under `policy` (``ChainPolicy/trustsChain``) any backing name qemu would open is read,
    /// not only a plain name beside the image.
    public static func refusal(image: QCOW2Image, path: String, policy: ChainPolicy = .untrusted) -> String? {
        refusal(image: image, path: path, depth: 0, policy: policy)
    }

    /// The bytes of a stored name before its first NUL, as qemu uses it (a C string).
    public static func cName(_ bytes: [UInt8]) -> [UInt8] {
        Array(bytes.prefix { $0 != 0 })
    }

    /// The path qemu opens for a backing name stored in the image at `imagePath`:
    /// an absolute name as is, a relative one in the image's folder (qemu's `path_combine`).
    public static func backingPath(imagePath: String, name: [UInt8]) -> [UInt8] {
        if name.first == UInt8(ascii: "/") { return name }
        let base = PathText.bytes(imagePath)
        guard let slash = base.lastIndex(of: UInt8(ascii: "/")) else { return name }
        return Array(base[...slash]) + name
    }

    private static func refusal(image: QCOW2Image, path: String, depth: Int, policy: ChainPolicy) -> String? {
        let header = image.header
        // LUKS: qemu opens the crypto header while reading the extensions, and needs a key.
        if header.cryptMethod == 2, header.encryptionHeaderPointer != nil {
            return "Parameter 'encrypt.key-secret' is required for cipher"
        }
        // The external data file: its name is opened as given, relative to the working
        // directory (not to the image's folder), so it is looked up that way here.
        if header.hasExternalDataFile {
            guard let stored = header.dataFileNameBytes else { return "'data-file' is required for this image" }
            let name = cName(stored)
            guard !name.isEmpty else { return "'data-file' is required for this image" }
            if let problem = statProblem(name) { return "Could not open '\(TerminalText.escaping(name))': \(problem)" }
        } else if header.autoclearFeatures.contains(.rawExternalData) {
            return "data-file-raw requires a data file"
        }
        if header.cryptMethod == 1 { return "Parameter 'encrypt.key-secret' is required for cipher" }
        if header.cryptMethod == 2 { return "Missing CRYPTO header for crypt method 2" }
        // qcow2_do_open loads the persistent bitmaps (qcow2_load_dirty_bitmaps, bitmap_list_load
        // in block/qcow2-bitmap.c) before the backing file is opened: a directory past the end
        // of the file reads as zeros there and fails check_dir_entry.
        do {
            _ = try QCOW2BitmapDirectory.read(from: image)
        } catch {
            return "\(error)"
        }
        guard let stored = header.backingFileNameBytes else { return nil }
        let name = cName(stored)
        guard !name.isEmpty else { return nil }
        // An empty backing format means none: qemu probes.
        let format = header.backingFormat.flatMap { $0.isEmpty ? nil : $0 }
        if let format, !knownDrivers.contains(format) {
            return "Could not open backing file: Unknown driver '\(TerminalText.escaping(format))'"
        }
        if let problem = backingRefusal(name: name, format: format, imagePath: path, depth: depth, policy: policy) {
            return "Could not open backing file: \(problem)"
        }
        return nil
    }

    /// Why qemu could not open the backing file `name`, or `nil`.
    private static func backingRefusal(name: [UInt8], format: String?, imagePath: String, depth: Int, policy: ChainPolicy) -> String? {
        let text = TerminalText.escaping(QemuJSON.cString(name))
        // qemu's path_has_protocol: a ':' before any '/'.
        if let colon = name.firstIndex(of: UInt8(ascii: ":")), !name[..<colon].contains(UInt8(ascii: "/")) {
            let prefix = String(decoding: name[..<colon], as: UTF8.self)
            switch prefix {
            case "json":
                return nil  // a JSON description: not interpreted here, assumed to open
            case "file":
                return statProblem(Array(name[(colon + 1)...])).map { "Could not open '\(text)': \($0)" }
            case "null-co", "null-aio":
                return nil
            default:
                return "'\(text)': the '\(TerminalText.escaping(prefix))' protocol is not opened by qcowtool"
            }
        }
        let resolved = backingPath(imagePath: imagePath, name: name)
        let shown = TerminalText.escaping(resolved)
        if let problem = statProblem(resolved) { return "Could not open '\(shown)': \(problem)" }
        // qemu's host_device driver opens block and character devices only.
        if format == "host_device", let status = try? SystemCall.status(ofPath: PathText.text(cName(resolved)), followingLink: true),
           status.st_mode & S_IFMT != S_IFBLK, status.st_mode & S_IFMT != S_IFCHR {
            return "'host_device' driver requires '\(shown)' to be either a character or block device"
        }
        // Only a plain name beside the image is read (any name when the chain is trusted);
        // the rest is assumed to open.
        let magicFormat = format.flatMap { magicCheckedFormats.contains($0) ? ForeignFormat(rawValue: $0) : nil }
        guard policy.trustsChain || BackingNameProblem.check(name) == nil, depth < policy.maximumDepth,
              format == nil || format == "qcow2" || format == "vmdk" || magicFormat != nil else { return nil }
        let backingPath = PathText.text(resolved)
        guard let fd = try? NamedFile.open(backingPath) else {
            return nil  // a symlink, not a regular file, or unreadable: not examined
        }
        defer { SystemCall.closeIgnoringErrors(fd) }
        if format == "vmdk" {
            return vmdkRefusal(fd, shown: shown)
        }
        if let magicFormat {
            // The backing format names a driver whose open checks the magic its probe checks:
            // a file its probe does not claim fails to open ("Image not in qcow format" …).
            var prefix = [UInt8](repeating: 0, count: ForeignFormat.prefixLength)
            guard let got = try? prefix.withUnsafeMutableBytes({ try fd.pread(into: $0, at: 0, path: backingPath) }) else { return nil }
            prefix.removeLast(prefix.count - got)
            guard magicFormat.score(ProbeBuffer(prefix), fileName: nil) == 0 else { return nil }
            return "Could not open '\(shown)': the file is not in \(magicFormat.rawValue) format (backing format '\(magicFormat.rawValue)')"
        }
        if format == nil {
            // qemu probes the format: only a qcow2 magic makes it more than raw.
            var magic = [UInt8](repeating: 0, count: 4)
            let got = (try? magic.withUnsafeMutableBytes { try fd.pread(into: $0, at: 0, path: backingPath) }) ?? 0
            guard got == 4, BigEndianBytes(magic).u32(0) == QCOW2Format.magic else { return nil }
        }
        let image: QCOW2Image
        do {
            image = try QCOW2Image(descriptor: fd, path: backingPath)
        } catch {
            return "Could not open '\(shown)': \(error)"
        }
        return refusal(image: image, path: backingPath, depth: depth + 1, policy: policy)
    }

    /// Why qemu's vmdk driver cannot open the file `fd` (7.2's `vmdk_open`), or `nil` when it
    /// might: a file under 4 bytes is refused; one without a sparse-extent magic (`KDMV`,
    /// `COWD`) is read as a text descriptor, up to 1 MiB and only to its first NUL, and
    /// refused unless `createType` appears there ("invalid VMDK image descriptor").
    private static func vmdkRefusal(_ fd: FileDescriptor, shown: String) -> String? {
        var text = [UInt8](repeating: 0, count: (1 << 20) - 1)
        guard let got = try? text.withUnsafeMutableBytes({ try fd.pread(into: $0, at: 0) }) else { return nil }
        guard got >= 4 else { return "Could not open '\(shown)': File is too small, not a valid image" }
        if text.starts(with: Array("KDMV".utf8)) || text.starts(with: Array("COWD".utf8)) { return nil }
        let descriptor = text[..<got].prefix { $0 != 0 }
        let key = Array("createType".utf8)
        var at = descriptor.startIndex
        while at + key.count <= descriptor.endIndex {
            if descriptor[at..<(at + key.count)].elementsEqual(key) { return nil }
            at += 1
        }
        return "Could not open '\(shown)': invalid VMDK image descriptor"
    }

    /// `stat(path)`'s error as qemu prints it (`strerror`, which `Errno.description` is), or
    /// `nil` when the file exists. The name is used as a C string, as qemu does: it ends at
    /// its first NUL, and an empty one is missing.
    private static func statProblem(_ path: [UInt8]) -> String? {
        let name = path.prefix { $0 != 0 }
        guard !name.isEmpty else { return Errno.noSuchFileOrDirectory.description }
        do throws(SystemCallError) {
            _ = try SystemCall.status(ofPath: PathText.text(name), followingLink: true)
            return nil
        } catch {
            return error.errno.description
        }
    }
}
