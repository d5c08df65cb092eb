/// Image formats whose header can sit at the start of a file meant to be raw.
public enum ForeignFormat: String, Sendable, Hashable, CaseIterable {
    /// qcow2 (`QFI\xfb`, version 2 or 3).
    case qcow2
    /// qcow version 1 (`QFI\xfb`, version 1).
    case qcow
    /// VMDK: sparse extent (`KDMV`), ESX COWD, or a text descriptor.
    case vmdk
    /// VHD / VPC (`conectix`).
    case vhd
    /// VHDX (`vhdxfile`).
    case vhdx
    /// QED (`QED\0`).
    case qed
    /// LUKS (`LUKS\xba\xbe`).
    case luks
    /// VirtualBox VDI (signature `0xbeda107f` at byte 64).
    case vdi
    /// Parallels (`WithoutFreeSpace` / `WithouFreSpacExt`).
    case parallels

    /// Bytes needed from the start of a file to recognise any of these.
    public static let prefixLength = 512

    /// The format whose header starts `bytes` (the file's first bytes), if any.
    public static func detect(_ bytes: [UInt8]) -> ForeignFormat? {
        func starts(_ text: [UInt8]) -> Bool { bytes.count >= text.count && Array(bytes[..<text.count]) == text }
        let b = BigEndianBytes(bytes)
        if b.u32(0) == QCOW2Header.magic, bytes.count >= 8 {
            let version = b.u32(4)
            if version == 1 { return .qcow }
            if version >= 2 { return .qcow2 }
        }
        if starts(Array("KDMV".utf8)) || starts(Array("COWD".utf8)) || starts(Array("# Disk DescriptorFile".utf8)) { return .vmdk }
        if starts(Array("conectix".utf8)) { return .vhd }
        if starts(Array("vhdxfile".utf8)) { return .vhdx }
        if starts([0x51, 0x45, 0x44, 0x00]) { return .qed }
        if starts(LUKSHeader.magic) { return .luks }
        if bytes.count >= 68, bytes[64] == 0x7F, bytes[65] == 0x10, bytes[66] == 0xDA, bytes[67] == 0xBE { return .vdi }
        if starts(Array("WithoutFreeSpace".utf8)) || starts(Array("WithouFreSpacExt".utf8)) { return .parallels }
        return nil
    }
}

extension Audit {
    /// Audits a file meant to be a raw disk, from its first bytes (at least
    /// ``ForeignFormat/prefixLength``, or the whole file when shorter).
    ///
    /// A raw disk must not start with another format's header: a guest can write one into
    /// its own disk, and whoever later probes the file would follow it (format confusion).
    /// When the header is a qcow2 one that names a backing file, that is flagged too.
    public init(rawPrefix bytes: [UInt8], fileSize: UInt64) {
        findings = []
        guard let format = ForeignFormat.detect(bytes) else { return }
        error("format-confusion", "the raw file starts with a \(format.rawValue) header; anything probing its format would treat it as \(format.rawValue)")
        if format == .qcow2 {
            let b = BigEndianBytes(bytes)
            let offset = b.u64(8)
            let size = Int(min(b.u32(16), 1023))
            if offset != 0, size > 0 {
                let name = offset < UInt64(bytes.count) ? b.slice(Int(offset), count: size) : []
                let shown = name.isEmpty ? "beyond the bytes read" : Self.show(name)
                error("raw-backing-file", "the qcow2 header inside the raw file names a backing file (\(shown) at offset \(offset))")
            }
        }
    }
}
