/// Every GNU sparse format the reader understands, in one file: old GNU (type `S`, map in the
/// header and in extension blocks), PAX 0.0 (repeated `GNU.sparse.offset`/`GNU.sparse.numbytes`),
/// PAX 0.1 (one `GNU.sparse.map`) and PAX 1.0 (decimal lines at the start of the data).
///
/// A tar sparse rule is changed here and nowhere else: every map entry is appended through
/// ``SparseExtentList`` (the one place the entry cap is enforced), every number goes through
/// ``TarNumber``, and the finished map is checked by ``SparseMap/init(realSize:extents:)``.
/// Reading blocks stays the reader's job: the functions that need more of the archive take a
/// ``NextSparseBlock`` that hands them the next 512-byte block.
enum TarSparseFormats {}

/// Hands out the archive's next 512-byte block (already consumed) and its archive offset, or
/// throws `truncated` saying the archive ends inside `what`. The view is valid until the next call.
typealias NextSparseBlock = (_ what: String) throws -> (block: UnsafeRawBufferPointer, offset: UInt64)

/// A sparse map's entries as they are read, with the one check of
/// ``TarReaderOptions/maximumSparseExtents``: no format can hold more entries than the cap.
struct SparseExtentList {
    private(set) var extents: [SparseExtent] = []
    let maximum: Int
    let member: String

    init(maximum: Int, member: String) {
        self.maximum = maximum
        self.member = member
    }

    /// Refuses a declared entry count over the cap before any entry is read, and reserves room
    /// for the entries otherwise (PAX 1.0 states its count first).
    mutating func expect(_ count: UInt64, offset: UInt64) throws {
        guard count <= UInt64(max(maximum, 0)) else {
            throw TarError(
                .limitExceeded, "sparse map declares \(count) entries, more than the limit \(maximum)", member: member, offset: offset)
        }
        extents.reserveCapacity(Int(count))
    }

    /// Appends one entry; refused (`limitExceeded`) when the map already holds the most allowed.
    mutating func append(_ extent: SparseExtent, offset: UInt64) throws {
        guard extents.count < maximum else {
            throw TarError(.limitExceeded, "sparse map has more than \(maximum) entries", member: member, offset: offset)
        }
        extents.append(extent)
    }

    /// The entries checked against `realSize` (sorted, disjoint, inside the file, the last
    /// one ending exactly at `realSize`).
    ///
    /// GNU tar sizes an extracted sparse file by its map alone (it writes each run and
    /// truncates at a zero-length entry, which it and bsdtar put at the real size when a file
    /// ends in a hole), bsdtar by the real size: a map that stops short of the real size makes
    /// two different files, so it is refused.
    func map(realSize: UInt64, offset: UInt64) throws -> SparseMap {
        let map: SparseMap
        do {
            map = try SparseMap(realSize: realSize, extents: extents)
        } catch {
            throw TarError(.badSparseMap, error.description, member: member, offset: offset)
        }
        // Cannot overflow: SparseMap checked every run's end.
        let mapEnd = map.extents.last.map { $0.offset + $0.length } ?? 0
        guard mapEnd == realSize else {
            throw TarError(
                .badSparseMap,
                "sparse map ends at \(mapEnd), short of the real size \(realSize), without the zero-length entry that closes a "
                    + "trailing hole: GNU tar would make the file \(mapEnd) bytes long, bsdtar \(realSize)",
                member: member, offset: offset)
        }
        return map
    }
}

// MARK: Old GNU

extension TarSparseFormats {
    /// One old-GNU sparse entry (12-byte offset, 12-byte length) at `at`, or `nil` when the
    /// entry is empty (its length field starts with NUL), which ends the list.
    ///
    /// An entry with only one of its two fields empty is refused: GNU tar ends the list at an
    /// empty length, bsdtar at an empty offset, so the two would read different maps.
    static func oldGNUEntry(_ block: UnsafeRawBufferPointer, at: Int, member: String, offset: UInt64) throws -> SparseExtent? {
        guard (block[at] == 0) == (block[at + 12] == 0) else {
            throw TarError(
                .badSparseMap,
                "GNU sparse entry at header byte \(at) has an empty \(block[at] == 0 ? "offset" : "length") but not an empty "
                    + "\(block[at] == 0 ? "length" : "offset") (GNU tar and bsdtar end the map at different entries)",
                member: member, offset: offset)
        }
        guard block[at + 12] != 0 else { return nil }
        guard let start = TarNumber.unsigned(block.field(at..<(at + 12))),
            let length = TarNumber.unsigned(block.field((at + 12)..<(at + 24)))
        else {
            throw TarError(.badSparseMap, "GNU sparse entry at header byte \(at) is not a valid number", member: member, offset: offset)
        }
        return SparseExtent(offset: start, length: length)
    }

    /// The entries of an old GNU list (`count` slots from `first`), appended to `list` until the
    /// first empty one; returns whether every slot was used.
    private static func appendOldGNUList(
        _ block: UnsafeRawBufferPointer, first: Int, count: Int, to list: inout SparseExtentList, offset: UInt64
    ) throws -> Bool {
        for index in 0..<count {
            let at = first + index * HeaderLayout.sparseEntrySize
            guard let extent = try oldGNUEntry(block, at: at, member: list.member, offset: offset) else { return false }
            try list.append(extent, offset: offset)
        }
        return true
    }

    /// The map of an old GNU sparse member: the header's four entries, then the extension
    /// blocks `nextBlock` hands out while the `isextended` flag is set.
    ///
    /// GNU tar reads an extension block only when the list before it is full (four entries in
    /// the header, 21 in a block) and bsdtar whenever the flag is set, so a flag after a short
    /// list, which includes an empty extension block, is refused: the two would disagree on
    /// where the data starts. So every block but the last holds 21 entries, each counted by
    /// ``SparseExtentList``: a chain of extension blocks (empty ones included) cannot run on.
    static func oldGNUMap(
        header: UnsafeRawBufferPointer, headerOffset: UInt64, maximumExtents: Int, member: String, nextBlock: NextSparseBlock
    ) throws -> SparseMap {
        var list = SparseExtentList(maximum: maximumExtents, member: member)
        var listIsFull = try appendOldGNUList(
            header, first: HeaderLayout.gnuSparse, count: HeaderLayout.gnuSparseEntries, to: &list, offset: headerOffset)
        var more = header[HeaderLayout.gnuIsExtended] != 0
        guard let realSize = TarNumber.unsigned(header.field(HeaderLayout.gnuRealSize)) else {
            throw TarError(.badHeaderField, "the GNU sparse realsize field is not a valid number", member: member, offset: headerOffset)
        }
        var listOffset = headerOffset
        while more {
            guard listIsFull else {
                throw TarError(
                    .badSparseMap,
                    "GNU sparse map is marked as continued after a list that ended early "
                        + "(GNU tar stops there, bsdtar reads on: they disagree on where the data starts)",
                    member: member, offset: listOffset)
            }
            let (block, blockOffset) = try nextBlock("a GNU sparse extension block")
            listIsFull = try appendOldGNUList(block, first: 0, count: HeaderLayout.extensionEntries, to: &list, offset: blockOffset)
            more = block[HeaderLayout.extensionIsExtended] != 0
            listOffset = blockOffset
        }
        return try list.map(realSize: realSize, offset: headerOffset)
    }
}

// MARK: PAX 0.0, 0.1 and 1.0

/// The GNU sparse records of one member's pax headers.
///
/// PAX 0.0's repeated `GNU.sparse.offset`/`GNU.sparse.numbytes` pairs are folded, as they are
/// read, into the text of a PAX 0.1 `GNU.sparse.map` (`offset,length,offset,length,…`), as Go's
/// `archive/tar` does, so one parser reads both maps.
struct PaxSparseRecords {
    /// Keys of the GNU sparse formats (other than the PAX 0.0 offset/numbytes pairs).
    static let keys: Set<String> = [
        "GNU.sparse.major", "GNU.sparse.minor", "GNU.sparse.name", "GNU.sparse.realsize", "GNU.sparse.size",
        "GNU.sparse.numblocks", "GNU.sparse.map",
    ]

    /// GNU sparse keys and their values.
    private(set) var values: [String: [UInt8]] = [:]
    /// The PAX 0.0 pairs read so far, as PAX 0.1 map text; empty when there were none.
    private(set) var folded00Map: [UInt8] = []
    /// Whether a `GNU.sparse.offset` is still waiting for its `GNU.sparse.numbytes`.
    private(set) var awaitsNumbytes = false
    /// Whether a PAX 0.0 pair or a PAX 0.1 map came before any `GNU.sparse.numblocks`
    /// (GNU tar sizes the map by that count as it reads the records, in order).
    private(set) var mapBeforeCount = false

    /// Whether no GNU sparse record was seen.
    var isEmpty: Bool { values.isEmpty && folded00Map.isEmpty }

    /// Takes `key` when it is a GNU sparse key and ignores any other key.
    /// A PAX 0.0 value must be one decimal number, an offset must not follow an offset, and a
    /// numbytes must follow one.
    mutating func take(_ key: String, _ value: ArraySlice<UInt8>, member: String, offset: UInt64) throws {
        if Self.keys.contains(key) {
            if key == "GNU.sparse.map", values["GNU.sparse.numblocks"] == nil { mapBeforeCount = true }
            values[key] = Array(value)
            return
        }
        let isOffset = key == "GNU.sparse.offset"
        guard isOffset || key == "GNU.sparse.numbytes" else { return }
        if values["GNU.sparse.numblocks"] == nil { mapBeforeCount = true }
        guard isOffset != awaitsNumbytes, TarNumber.decimal(value) != nil else {
            throw TarError(.badSparseMap, "bad or unpaired \(key)", member: member, offset: offset)
        }
        if !folded00Map.isEmpty { folded00Map.append(UInt8(ascii: ",")) }
        folded00Map.append(contentsOf: value)
        awaitsNumbytes = isOffset
    }
}

extension TarSparseFormats {
    /// Parses map text (`offset,length,offset,length,…`: a PAX 0.1 `GNU.sparse.map`, or PAX
    /// 0.0 pairs folded into one) into `list`, without splitting it first. `source` names the
    /// records in messages.
    static func appendMapText(_ map: [UInt8], source: String, to list: inout SparseExtentList, offset at: UInt64) throws {
        var pendingOffset: UInt64?
        var values = 0
        var fieldStart = 0
        var index = 0
        while index <= map.count {
            if index == map.count || map[index] == UInt8(ascii: ",") {
                guard let number = TarNumber.decimal(map[fieldStart..<index]) else {
                    throw TarError(.badSparseMap, "\(source) value \(values) is not a number", member: list.member, offset: at)
                }
                if let start = pendingOffset {
                    try list.append(SparseExtent(offset: start, length: number), offset: at)
                    pendingOffset = nil
                } else {
                    pendingOffset = number
                }
                values += 1
                fieldStart = index + 1
            }
            index += 1
        }
        guard pendingOffset == nil else {
            throw TarError(.badSparseMap, "\(source) has an odd number of values", member: list.member, offset: at)
        }
    }

    /// Reads a PAX 1.0 map from the start of the member's data (blocks from `nextBlock`): a
    /// count, then offset/length pairs, one decimal per line, padded to a block, never reading
    /// past the `archived` bytes the member holds.
    ///
    /// - Returns: how many archived bytes the map took (whole blocks).
    static func appendPax1Map(
        archived: UInt64, mapOffset: UInt64, to list: inout SparseExtentList, nextBlock: NextSparseBlock
    ) throws -> UInt64 {
        let member = list.member
        var used: UInt64 = 0
        var blockBytes = [UInt8](repeating: 0, count: HeaderLayout.blockSize)
        var position = HeaderLayout.blockSize
        func nextNumber() throws -> UInt64 {
            var digits = 0
            var value: UInt64 = 0
            while true {
                if position == HeaderLayout.blockSize {
                    guard used + 512 <= archived else {
                        throw TarError(.badSparseMap, "PAX 1.0 sparse map runs past the member's data", member: member, offset: mapOffset)
                    }
                    let (block, _) = try nextBlock("a PAX 1.0 sparse map")
                    blockBytes.withUnsafeMutableBytes { $0.copyMemory(from: block) }
                    used += 512
                    position = 0
                }
                let byte = blockBytes[position]
                position += 1
                if byte == 0x0A {
                    guard digits > 0 else { break }
                    return value
                }
                guard digits < 20, let next = TarNumber.appendingDecimalDigit(byte, to: value) else { break }
                value = next
                digits += 1
            }
            throw TarError(.badSparseMap, "PAX 1.0 sparse map holds a line that is not a decimal number", member: member, offset: mapOffset)
        }
        let count = try nextNumber()
        try list.expect(count, offset: mapOffset)
        for _ in 0..<count {
            let offset = try nextNumber()
            let length = try nextNumber()
            try list.append(SparseExtent(offset: offset, length: length), offset: mapOffset)
        }
        return used
    }

    /// The sparse map of a PAX 0.0, 0.1 or 1.0 member, or `nil` when its records name no map
    /// (only `GNU.sparse.name`, say). A PAX 1.0 map is read from the data with `nextBlock`.
    ///
    /// - Parameters:
    ///   - archived: the bytes the member holds after its header (map and data).
    ///   - dataOffset: the archive offset of those bytes.
    /// - Returns: the map, its format, and how many archived bytes a PAX 1.0 map took (0 otherwise).
    static func paxMap(
        _ records: PaxSparseRecords, archived: UInt64, dataOffset: UInt64, maximumExtents: Int, member: String,
        headerOffset at: UInt64, nextBlock: NextSparseBlock
    ) throws -> (map: SparseMap, format: TarSparseFormat, mapBytes: UInt64)? {
        let values = records.values
        func number(_ key: String) throws -> UInt64? {
            guard let value = values[key] else { return nil }
            guard let number = TarNumber.decimal(value) else {
                throw TarError(.badSparseMap, "pax '\(key)' is not a number", member: member, offset: at)
            }
            return number
        }
        let major = try number("GNU.sparse.major")
        let minor = try number("GNU.sparse.minor")
        // bsdtar takes these records as "version 1.0 follows" and refuses any other version
        // (GNU tar writes them for 1.0 only), while GNU tar reads 0.x from the other records.
        if major != nil || minor != nil, major != 1 || minor != 0 {
            throw TarError(
                .badSparseMap,
                "unsupported GNU sparse version \(major.map(String.init) ?? "?").\(minor.map(String.init) ?? "?") "
                    + "(only 1.0 is stated in GNU.sparse.major/minor; bsdtar refuses any other)",
                member: member, offset: at)
        }
        // Complete PAX 0.0 pairs are read (numbers, cap) even when another map wins, so many
        // pairs are refused whichever version the member states.
        var pax00 = SparseExtentList(maximum: maximumExtents, member: member)
        if !records.folded00Map.isEmpty, !records.awaitsNumbytes {
            try appendMapText(records.folded00Map, source: "GNU.sparse.offset/numbytes", to: &pax00, offset: at)
        }
        var list = SparseExtentList(maximum: maximumExtents, member: member)
        var mapBytes: UInt64 = 0
        let format: TarSparseFormat
        if major == 1 {
            format = .pax1_0
            mapBytes = try appendPax1Map(archived: archived, mapOffset: dataOffset, to: &list, nextBlock: nextBlock)
        } else if let map = values["GNU.sparse.map"] {
            format = .pax0_1
            try appendMapText(map, source: "GNU.sparse.map", to: &list, offset: at)
        } else if !records.folded00Map.isEmpty {
            format = .pax0_0
            guard !records.awaitsNumbytes else {
                throw TarError(.badSparseMap, "GNU.sparse.offset without GNU.sparse.numbytes", member: member, offset: at)
            }
            list = pax00
        } else {
            // Only a name (or nothing sparse) is a plain member to every reader. A size or count
            // without a map is not: GNU tar fails on it, bsdtar makes a file of the stated size.
            let stated = ["GNU.sparse.realsize", "GNU.sparse.size", "GNU.sparse.numblocks"].filter { values[$0] != nil }
            guard stated.isEmpty else {
                throw TarError(
                    .badSparseMap,
                    "\(stated.joined(separator: ", ")) without a sparse map "
                        + "(GNU tar fails on the member, bsdtar makes a file of the stated size)",
                    member: member, offset: at)
            }
            return nil
        }
        if format != .pax1_0, records.mapBeforeCount || values["GNU.sparse.numblocks"] == nil {
            // GNU tar takes every entry past the count as excess, fails, and writes the member's
            // stored bytes as they are; bsdtar reads the map.
            throw TarError(
                .badSparseMap,
                "PAX \(format == .pax0_0 ? "0.0" : "0.1") sparse map without a GNU.sparse.numblocks record before it "
                    + "(GNU tar refuses the map and extracts the stored bytes as they are, bsdtar reads the map)",
                member: member, offset: at)
        }
        if format != .pax1_0, let count = try number("GNU.sparse.numblocks"), count != UInt64(list.extents.count) {
            throw TarError(
                .badSparseMap, "GNU.sparse.numblocks says \(count) but the map has \(list.extents.count) entries",
                member: member, offset: at)
        }
        guard let realSize = try number("GNU.sparse.realsize") ?? number("GNU.sparse.size") else {
            throw TarError(.badSparseMap, "sparse member without GNU.sparse.realsize or GNU.sparse.size", member: member, offset: at)
        }
        return (try list.map(realSize: realSize, offset: at), format, mapBytes)
    }
}
