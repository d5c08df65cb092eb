/// Builds the 512-byte ustar header blocks and pax records the writer emits.
enum HeaderEncoder {
    /// Largest value of an 11-digit octal field (size, mtime): 8 GiB - 1.
    static let maxOctal11: UInt64 = 0o77777777777
    /// Largest value of a 7-digit octal field (mode, uid, gid).
    static let maxOctal7: UInt64 = 0o7777777

    /// Fields of one header; numbers that do not fit are written base-256 (and the caller
    /// adds pax records for them).
    struct Fields {
        var name: [UInt8]
        var typeFlag: UInt8
        var size: UInt64
        var attributes: TarMemberAttributes
        var linkName: [UInt8] = []
        /// Whether a name over 100 bytes gets a pax `path` record (not for a sparse member's
        /// stand-in name, whose real name travels in `GNU.sparse.name`).
        var recordsLongName = true
    }

    /// The pax records `fields` need because ustar cannot hold them, in a fixed order.
    static func overflowRecords(_ fields: Fields) -> [(String, [UInt8])] {
        var records: [(String, [UInt8])] = []
        let a = fields.attributes
        if fields.recordsLongName, fields.name.count > 100 { records.append(("path", fields.name)) }
        if fields.linkName.count > 100 { records.append(("linkpath", fields.linkName)) }
        if fields.size > maxOctal11 { records.append(("size", TarNumber.decimalBytes(fields.size))) }
        if a.uid > maxOctal7 { records.append(("uid", TarNumber.decimalBytes(a.uid))) }
        if a.gid > maxOctal7 { records.append(("gid", TarNumber.decimalBytes(a.gid))) }
        if a.modificationTime < 0 || UInt64(a.modificationTime) > maxOctal11 {
            let magnitude = TarNumber.decimalBytes(a.modificationTime.magnitude)
            records.append(("mtime", a.modificationTime < 0 ? [UInt8(ascii: "-")] + magnitude : magnitude))
        }
        if a.userName.utf8.count > 31 { records.append(("uname", Array(a.userName.utf8))) }
        if a.groupName.utf8.count > 31 { records.append(("gname", Array(a.groupName.utf8))) }
        return records
    }

    /// A complete header block for `fields` (checksum included).
    static func block(_ fields: Fields) -> [UInt8] {
        var block = [UInt8](repeating: 0, count: HeaderLayout.blockSize)
        block.withUnsafeMutableBytes { raw in
            func put(_ bytes: [UInt8], _ range: Range<Int>) {
                let count = min(bytes.count, range.count)
                for index in 0..<count { raw[range.lowerBound + index] = bytes[index] }
            }
            func number(_ value: Int64, _ range: Range<Int>) {
                TarNumber.write(value, into: UnsafeMutableRawBufferPointer(rebasing: raw[range]))
            }
            let (prefix, name) = split(fields.name)
            put(name, HeaderLayout.name)
            put(prefix, HeaderLayout.prefix)
            let a = fields.attributes
            number(Int64(a.mode & 0o7777), HeaderLayout.mode)
            number(Int64(clamping: a.uid), HeaderLayout.uid)
            number(Int64(clamping: a.gid), HeaderLayout.gid)
            number(Int64(clamping: fields.size), HeaderLayout.size)
            number(a.modificationTime, HeaderLayout.mtime)
            raw[HeaderLayout.typeFlag] = fields.typeFlag
            put(fields.linkName, HeaderLayout.linkName)
            put(HeaderLayout.ustarMagic, HeaderLayout.magic)
            put(HeaderLayout.ustarVersion, HeaderLayout.version)
            put(Array(a.userName.utf8.prefix(31)), HeaderLayout.userName)
            put(Array(a.groupName.utf8.prefix(31)), HeaderLayout.groupName)
            number(0, HeaderLayout.deviceMajor)
            number(0, HeaderLayout.deviceMinor)
            // Checksum: six octal digits, NUL, space.
            let sum = HeaderLayout.checksums(UnsafeRawBufferPointer(raw)).unsigned
            _ = TarNumber.writeOctal(sum, into: UnsafeMutableRawBufferPointer(rebasing: raw[148..<155]))
            raw[155] = 0x20
        }
        return block
    }

    /// Splits a name into ustar prefix and name at a `/` when it is too long for the name
    /// field alone; a name that cannot be split is truncated (pax `path` carries it whole).
    static func split(_ name: [UInt8]) -> (prefix: [UInt8], name: [UInt8]) {
        if name.count <= 100 { return ([], name) }
        let slash = UInt8(ascii: "/")
        var index = name.count - 1
        while index > 0 {
            if name[index] == slash, index <= 155, name.count - index - 1 <= 100, name.count - index - 1 > 0 {
                return (Array(name[..<index]), Array(name[(index + 1)...]))
            }
            index -= 1
        }
        return ([], Array(name.prefix(100)))
    }

    /// `dir/<marker>/base` for the ustar name of a pax or sparse member's helper header, as GNU tar
    /// does (`./PaxHeaders/x`, `./GNUSparseFile.0/x`).
    static func helperName(for name: [UInt8], marker: String) -> [UInt8] {
        var trimmed = name
        while trimmed.last == UInt8(ascii: "/") { trimmed.removeLast() }
        let slash = trimmed.lastIndex(of: UInt8(ascii: "/"))
        let directory = slash.map { Array(trimmed[..<$0]) } ?? [UInt8(ascii: ".")]
        let base = slash.map { Array(trimmed[($0 + 1)...]) } ?? trimmed
        return directory + Array("/\(marker)/".utf8) + base
    }

    /// The encoded pax records for an `x` header.
    static func paxData(_ records: [(String, [UInt8])]) -> [UInt8] {
        var data: [UInt8] = []
        for (key, value) in records { data += PaxRecords.record(key, value) }
        return data
    }
}
