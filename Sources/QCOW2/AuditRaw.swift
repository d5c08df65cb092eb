extension Audit {
    /// Audits a file meant to be a raw disk, from its first bytes (at least
    /// ``ForeignFormat/prefixLength``, or the whole file when shorter).
    ///
    /// A raw disk must be one qemu-img probes as raw: a guest can write another format's
    /// header into its own disk, and whoever later probes the file would follow it (format
    /// confusion; a VMDK text descriptor can name a host file as its extent). The probe is
    /// qemu's (``ForeignFormat/detect(_:fileName:)``); `fileName`, when known, is the name
    /// qemu would be given (its DMG probe goes by name). When the header is a qcow2 one that
    /// names a backing file, that is flagged too.
    public init(rawPrefix bytes: [UInt8], fileSize: UInt64, fileName: String? = nil) {
        findings = []
        guard fileSize > 0, let format = ForeignFormat.detect(bytes, fileName: fileName) else { return }
        let what = format == .dmg ? "its name ends in .dmg" : "it starts with a \(format.rawValue) header"
        error(.formatConfusion, "the raw file is not probed as raw: \(what), so qemu-img without -f would open it as \(format.rawValue)")
        if format == .qcow2 {
            let b = BigEndianBytes(bytes)
            let offset = b.u64(8)
            let size = Int(min(b.u32(16), UInt32(QCOW2Format.maximumBackingNameLength)))
            if offset != 0, size > 0 {
                let name = offset < UInt64(bytes.count) ? b.slice(Int(offset), count: size) : []
                let shown = name.isEmpty ? "beyond the bytes read" : Self.show(name)
                error(.rawBackingFile, "the qcow2 header inside the raw file names a backing file (\(shown) at offset \(offset))")
            }
        }
    }
}
