import ByteStreams
import QCOW2
import SystemPackage

/// The input format of `check`, `map` and `convert`: forced with `-f`, else probed as
/// qemu-img probes it (the qcow2 magic makes qcow2; no known header at all makes raw).
enum FormatProbe {
    /// Whether the file at `path` is read as raw.
    static func isRaw(path: String, forced: ImageInspection.Format?) -> Bool {
        if let forced { return forced == .raw }
        guard let fd = try? FileDescriptor.open(PathText.filePath(path), .readOnly, options: [.closeOnExec, .nonBlocking]) else { return false }
        defer { try? fd.close() }
        guard let file = try? ImageFile(descriptor: fd, path: path) else { return false }
        return isRaw(file)
    }

    /// Whether qemu-img's format probe would call `file` raw: no qcow2 magic and no other
    /// known format's header at the start.
    static func isRaw(_ file: ImageFile) -> Bool {
        guard let prefix = try? file.read(count: Int(min(UInt64(ForeignFormat.prefixLength), file.size)), at: 0) else { return false }
        if prefix.count >= 4, prefix[0..<4] == [0x51, 0x46, 0x49, 0xFB] { return false }
        return ForeignFormat.detect(prefix) == nil
    }
}
