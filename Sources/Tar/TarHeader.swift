/// The fields of one 512-byte header block, decoded but not yet combined with the pax
/// or GNU long-name records that precede it.
struct TarHeader {
    var name: [UInt8]
    var mode: UInt64
    var uid: UInt64
    var gid: UInt64
    var size: UInt64
    var mtime: Int64
    var typeFlag: UInt8
    var linkName: [UInt8]
    var userName: [UInt8]
    var groupName: [UInt8]
    var deviceMajor: UInt64
    var deviceMinor: UInt64
    var format: TarFormat
    /// Archive offset of this block.
    var offset: UInt64
    /// GNU type `S` only: a copy of the header block, whose map entries, `isextended` flag and
    /// real size ``TarSparseFormats/oldGNUMap(header:headerOffset:maximumExtents:member:nextBlock:)`` reads.
    var oldGNUSparseHeader: [UInt8]?

    /// Decodes `block` (512 bytes), verifying its checksum. `offset` and `member` only label errors.
    init(decoding block: UnsafeRawBufferPointer, offset: UInt64) throws {
        precondition(block.count == HeaderLayout.blockSize)
        self.offset = offset
        let rawName = block.text(HeaderLayout.name)
        let label = decodeName(rawName)

        guard let stored = TarNumber.unsigned(block.field(HeaderLayout.checksum)) else {
            throw TarError(.badChecksum, "the header checksum field is not a number", member: label, offset: offset)
        }
        let sums = HeaderLayout.checksums(block)
        guard stored == sums.unsigned || Int64(clamping: stored) == sums.signed else {
            throw TarError(
                .badChecksum, "header checksum is \(stored) but the header bytes sum to \(sums.unsigned)",
                member: label, offset: offset)
        }

        func number(_ range: Range<Int>, _ field: String) throws -> UInt64 {
            guard let value = TarNumber.unsigned(block.field(range)) else {
                throw TarError(.badHeaderField, "the \(field) field is not a valid number", member: label, offset: offset)
            }
            return value
        }

        let magic = Array(block.field(HeaderLayout.magic.lowerBound..<HeaderLayout.version.upperBound))
        if magic == HeaderLayout.gnuMagic {
            format = .gnu
        } else if Array(block.field(HeaderLayout.magic)) == HeaderLayout.ustarMagic {
            format = .ustar
        } else {
            format = .v7
            // GNU tar takes a header as ustar only when its magic is "ustar" and a NUL, bsdtar
            // whenever it starts with "ustar": they then disagree on whether the prefix field
            // is part of the name. Refuse the header rather than pick one reading.
            let start = HeaderLayout.magic.lowerBound
            if block.field(start..<(start + 5)).elementsEqual(HeaderLayout.ustarMagic.dropLast()),
                block[HeaderLayout.prefix.lowerBound] != 0
            {
                throw TarError(
                    .badHeaderField,
                    "the magic starts with 'ustar' but is neither ustar's nor GNU's, and the prefix field is set: "
                        + "GNU tar ignores the prefix, bsdtar puts it before the name",
                    member: label, offset: offset)
            }
        }
        typeFlag = block[HeaderLayout.typeFlag]
        mode = try number(HeaderLayout.mode, "mode")
        uid = try number(HeaderLayout.uid, "uid")
        gid = try number(HeaderLayout.gid, "gid")
        size = try number(HeaderLayout.size, "size")
        guard let time = TarNumber.signed(block.field(HeaderLayout.mtime)) else {
            throw TarError(.badHeaderField, "the mtime field is not a valid number", member: label, offset: offset)
        }
        mtime = time
        linkName = block.text(HeaderLayout.linkName)
        if format == .v7 {
            userName = []
            groupName = []
            deviceMajor = 0
            deviceMinor = 0
            name = rawName
        } else {
            userName = block.text(HeaderLayout.userName)
            groupName = block.text(HeaderLayout.groupName)
            let isDevice = typeFlag == UInt8(ascii: "3") || typeFlag == UInt8(ascii: "4")
            deviceMajor = isDevice ? try number(HeaderLayout.deviceMajor, "devmajor") : 0
            deviceMinor = isDevice ? try number(HeaderLayout.deviceMinor, "devminor") : 0
            let prefix = format == .ustar ? block.text(HeaderLayout.prefix) : []
            name = prefix.isEmpty ? rawName : prefix + [UInt8(ascii: "/")] + rawName
        }

        if typeFlag == UInt8(ascii: "S") {
            // The sparse fields overlap the ustar prefix: only the GNU layout is understood.
            guard format == .gnu else {
                throw TarError(.badHeaderField, "sparse member (type 'S') without the GNU magic", member: label, offset: offset)
            }
            oldGNUSparseHeader = Array(block)
        } else {
            oldGNUSparseHeader = nil
        }
    }
}
