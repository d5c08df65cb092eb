import ByteStreams

/// Reads a tar archive from any ``ByteSource``, one member at a time, in bounded memory.
///
/// ```swift
/// let reader = TarReader(reading: source)
/// while let entry = try reader.next() {
///     while let chunk = try reader.readData(into: buffer) {
///         // chunk.count bytes at logical chunk.offset of entry
///     }
/// }
/// let trailer = try reader.trailer()
/// ```
/// Understands V7, ustar, GNU (`L`/`K`, base-256) and pax (`x`, `g`) headers, and the four GNU
/// sparse formats (old GNU `S`, PAX 0.0, 0.1, 1.0). Data not read is skipped by ``next()``.
/// Every header checksum is verified; malformed input throws a ``TarError``.
public final class TarReader<Source: ByteSource> {
    /// The underlying source (positioned after whatever the reader has buffered).
    public private(set) var source: Source
    /// The limits in force.
    public let options: TarReaderOptions
    /// The member returned by the last ``next()``, until the archive ends.
    public private(set) var currentEntry: TarEntry?
    /// Archive offset of the next byte the reader will consume.
    public private(set) var archiveOffset: UInt64 = 0
    /// Stored data bytes of the current member not read yet (for progress reports).
    public var remainingData: UInt64 { currentEntry == nil ? 0 : data.remaining }

    private let buffer: UnsafeMutableRawBufferPointer
    private var start = 0
    private var end = 0
    private var sourceEnded = false
    private var ended = false
    private var failure: Error?

    /// The current member's data: what is left, where in its runs, the padding after it.
    private var data = TarMemberData.none

    // Global pax records (`g`), in force until replaced.
    private var globalRecords: [String: [UInt8]] = [:]  // entry keys only
    private var globalRecordBytes = 0
    private var sawGlobalRecords = false

    /// A reader of `source`.
    public init(reading source: Source, options: TarReaderOptions = .init()) {
        self.source = source
        self.options = options
        let size = max(options.bufferSize, 4096) & ~511
        buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 64)
    }

    deinit {
        buffer.deallocate()
    }

    // MARK: Buffer

    private var available: Int { end - start }

    /// Makes at least `count` (≤ buffer size) bytes available; `false` if the source ends first.
    private func ensure(_ count: Int) throws -> Bool {
        while available < count {
            if sourceEnded { return false }
            if buffer.count - start < count {
                if available > 0 {
                    (buffer.baseAddress! + 0).copyMemory(from: buffer.baseAddress! + start, byteCount: available)
                }
                end = available
                start = 0
            }
            let n = try source.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[end...]))
            if n == 0 { sourceEnded = true } else { end += n }
        }
        return true
    }

    /// Refills an empty buffer with whatever the source gives; `false` at its end.
    private func refill() throws -> Bool {
        if available > 0 { return true }
        start = 0
        end = 0
        if sourceEnded { return false }
        let n = try source.read(into: buffer)
        if n == 0 {
            sourceEnded = true
            return false
        }
        end = n
        return true
    }

    private func consume(_ count: Int) {
        start += count
        archiveOffset &+= UInt64(count)
    }

    private func block() -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: buffer[start..<(start + HeaderLayout.blockSize)])
    }

    /// Skips `count` bytes, throwing `truncated` (naming `member`) if the source ends first.
    private func skip(_ count: UInt64, member: String?) throws {
        var left = count
        while left > 0 {
            guard try refill() else {
                throw TarError(.truncated, "archive ends \(left) bytes short of the member's data", member: member, offset: archiveOffset)
            }
            let take = Int(min(UInt64(available), left))
            consume(take)
            left -= UInt64(take)
        }
    }

    /// Reads `count` (already capped) bytes plus padding to 512 into an array.
    private func readPadded(_ count: Int, member: String?) throws -> [UInt8] {
        var bytes = [UInt8]()
        bytes.reserveCapacity(count)
        var left = count
        while left > 0 {
            guard try refill() else {
                throw TarError(.truncated, "archive ends \(left) bytes short of an extended header", member: member, offset: archiveOffset)
            }
            let take = min(available, left)
            bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[start..<(start + take)]))
            consume(take)
            left -= take
        }
        try skip(HeaderLayout.padding(after: UInt64(count)), member: member)
        return bytes
    }

    /// The next 512-byte block, consumed, for the sparse map readers (see ``NextSparseBlock``).
    private func nextSparseBlock(member: String) -> NextSparseBlock {
        { what in
            let offset = self.archiveOffset
            guard try self.ensure(HeaderLayout.blockSize) else {
                throw TarError(.truncated, "archive ends inside \(what)", member: member, offset: offset)
            }
            let block = self.block()
            self.consume(HeaderLayout.blockSize)
            return (block, offset)
        }
    }

    // MARK: Entries

    /// The next member, or `nil` after the end-of-archive marker. Unread data of the
    /// previous member is skipped first.
    public func next() throws -> TarEntry? {
        try failingOnce { try nextEntry() }
    }

    /// Runs `body`; after a failure, the reader's position is unknown, so every later call
    /// throws the same error again.
    private func failingOnce<R>(_ body: () throws -> R) throws -> R {
        if let failure { throw failure }
        do {
            return try body()
        } catch {
            failure = error
            currentEntry = nil
            throw error
        }
    }

    private func nextEntry() throws -> TarEntry? {
        if ended { return nil }
        if let entry = currentEntry {
            try skip(data.remaining, member: entry.name)
            try skip(data.padding, member: entry.name)
            data = .none
            currentEntry = nil
        }
        var pending = PendingMetadata()
        var firstHeader: UInt64?
        while true {
            let headerOffset = archiveOffset
            guard try ensure(HeaderLayout.blockSize) else {
                if available == 0, firstHeader == nil, !options.requiresEndMarker {
                    ended = true
                    return nil
                }
                let what = available == 0 ? "archive ends without the end-of-archive marker" : "archive ends inside a header block"
                throw TarError(.truncated, what, offset: headerOffset)
            }
            if SparseFile.isZero(block()) {
                guard firstHeader == nil else {
                    throw TarError(.truncated, "end-of-archive marker right after an extended header", offset: headerOffset)
                }
                consume(HeaderLayout.blockSize)
                // The second zero block completes the marker; anything else is left for `trailer()`.
                if try ensure(HeaderLayout.blockSize), SparseFile.isZero(block()) {
                    consume(HeaderLayout.blockSize)
                }
                ended = true
                return nil
            }
            let header = try TarHeader(decoding: block(), offset: headerOffset)
            consume(HeaderLayout.blockSize)
            // A global header belongs to no member; anything else starts this member's headers.
            if firstHeader == nil, header.typeFlag != UInt8(ascii: "g") { firstHeader = headerOffset }
            let label = decodeName(header.name)

            switch header.typeFlag {
            case UInt8(ascii: "x"), UInt8(ascii: "g"), UInt8(ascii: "L"), UInt8(ascii: "K"), UInt8(ascii: "X"):
                pending.headers += 1
                guard pending.headers <= options.maximumMetadataHeaders else {
                    throw TarError(
                        .limitExceeded,
                        "more than \(options.maximumMetadataHeaders) extended headers (pax x/g, GNU L/K) in a row, "
                            + "the limit before one member",
                        member: label, offset: headerOffset)
                }
                guard header.size <= UInt64(options.maximumMetadataSize) else {
                    throw TarError(
                        .limitExceeded, "extended header of \(header.size) bytes exceeds the \(options.maximumMetadataSize)-byte limit",
                        member: label, offset: headerOffset)
                }
                pending.bytes += Int(header.size)
                guard pending.bytes <= options.maximumMetadataSize else {
                    throw TarError(
                        .limitExceeded, "extended headers of one member exceed the \(options.maximumMetadataSize)-byte limit",
                        member: label, offset: headerOffset)
                }
                let data = try readPadded(Int(header.size), member: label)
                switch header.typeFlag {
                case UInt8(ascii: "L"): pending.longName = Self.trimNUL(data)
                case UInt8(ascii: "K"): pending.longLink = Self.trimNUL(data)
                case UInt8(ascii: "g"):
                    try PaxRecords.forEach(in: data, member: label, offset: headerOffset) { key, value in
                        try applyGlobal(key, value)
                    }
                default:
                    try PaxRecords.forEach(in: data, member: label, offset: headerOffset) { key, value in
                        try pending.pax.add(key, value, member: label, offset: headerOffset)
                    }
                }
            default:
                let entry = try makeEntry(header, pending: pending, headerOffset: firstHeader ?? headerOffset)
                currentEntry = entry
                return entry
            }
        }
    }

    /// Refuses a member whose name, link or size GNU tar and bsdtar would read differently.
    ///
    /// - A GNU long name (`L`) before a pax `x` header: GNU tar takes the pax `path`,
    ///   bsdtar the long name (the reverse order both read as the pax `path`). Same for `K`
    ///   and `linkpath`. So both present is refused unless they agree.
    /// - An empty pax `path`, `linkpath` or `size`: GNU tar takes the empty value, bsdtar
    ///   falls back to the header's field.
    private static func checkAgreement(_ pending: PendingMetadata, header: TarHeader, offset: UInt64) throws {
        let values = pending.pax.values
        let label = decodeName(values["path"] ?? pending.longName ?? header.name)
        for key in PaxMetadata.layoutKeys {
            if let value = values[key], value.isEmpty {
                throw TarError(
                    .badExtendedHeader, "pax '\(key)' record is empty: GNU tar takes it as empty, bsdtar uses the header's field",
                    member: label, offset: offset)
            }
        }
        if let path = values["path"], let long = pending.longName, path != long {
            throw TarError(
                .badExtendedHeader, "a GNU long name and a pax 'path' name the member differently (GNU tar and bsdtar pick different ones)",
                member: label, offset: offset)
        }
        if let link = values["linkpath"], let long = pending.longLink, link != long {
            throw TarError(
                .badExtendedHeader,
                "a GNU long link name and a pax 'linkpath' name the target differently (GNU tar and bsdtar pick different ones)",
                member: label, offset: offset)
        }
    }

    private static func trimNUL(_ bytes: [UInt8]) -> [UInt8] {
        var end = bytes.count
        while end > 0, bytes[end - 1] == 0 { end -= 1 }
        return Array(bytes[..<end])
    }

    /// Applies one global record (only the keys that change member fields are kept).
    private func applyGlobal(_ key: String, _ value: ArraySlice<UInt8>) throws {
        sawGlobalRecords = true
        // GNU tar applies these to every later member; bsdtar ignores global headers. The two
        // would read different names or data, so neither reading is taken.
        if PaxMetadata.layoutKeys.contains(key) {
            throw TarError(
                .badExtendedHeader,
                "global pax record '\(key)': GNU tar applies it to every later member, bsdtar ignores it",
                offset: archiveOffset)
        }
        guard PaxMetadata.entryKeys.contains(key) else { return }
        if let old = globalRecords[key] { globalRecordBytes -= key.utf8.count + old.count }
        if value.isEmpty {
            globalRecords[key] = nil
        } else {
            globalRecords[key] = Array(value)
            globalRecordBytes += key.utf8.count + value.count
        }
        guard globalRecordBytes <= options.maximumMetadataSize else {
            throw TarError(.limitExceeded, "global pax records exceed \(options.maximumMetadataSize) bytes", offset: archiveOffset)
        }
    }

    // MARK: Data

    /// Copies the current member's next piece of data into `destination`.
    ///
    /// - Returns: where the bytes belong in the member, or `nil` when its data is exhausted
    ///   (or `destination` is empty). A piece never spans a hole, so `offset..<offset+count`
    ///   is contiguous in the member. A short read of a truncated archive throws `truncated`.
    public func readData(into destination: UnsafeMutableRawBufferPointer) throws -> TarDataChunk? {
        try failingOnce { try readChunk(into: destination) }
    }

    private func readChunk(into destination: UnsafeMutableRawBufferPointer) throws -> TarDataChunk? {
        guard destination.count > 0 else { return nil }
        guard currentEntry != nil, let (offset, runLeft) = data.currentRun() else { return nil }
        let want = Int(min(UInt64(destination.count), runLeft))
        let count: Int
        if available == 0, want >= 64 << 10 {
            // Large request on an empty buffer: read straight into the caller's memory.
            if sourceEnded { throw truncatedData() }
            count = try source.read(into: UnsafeMutableRawBufferPointer(rebasing: destination[..<want]))
            if count == 0 {
                sourceEnded = true
                throw truncatedData()
            }
            archiveOffset &+= UInt64(count)
        } else {
            guard try refill() else { throw truncatedData() }
            count = min(want, available)
            destination.baseAddress!.copyMemory(from: buffer.baseAddress! + start, byteCount: count)
            consume(count)
        }
        data.advance(by: count)
        return TarDataChunk(offset: offset, count: count)
    }

    /// Hands the current member's next piece of data to `body` without copying it.
    ///
    /// The bytes are only valid during `body`. Returns `nil` (and does not call `body`)
    /// when the member's data is exhausted.
    public func withNextChunk<R>(_ body: (_ offset: UInt64, _ bytes: UnsafeRawBufferPointer) throws -> R) throws -> R? {
        guard let (offset, bytes) = try failingOnce({ try nextSlice() }) else { return nil }
        return try body(offset, bytes)
    }

    /// The next piece of the current member's data as a view of the buffer, consumed.
    private func nextSlice() throws -> (UInt64, UnsafeRawBufferPointer)? {
        guard currentEntry != nil, let (offset, runLeft) = data.currentRun() else { return nil }
        // Pieces no larger than our own buffer: lending whole 4 MiB frames made single
        // `pwrite`s of 4 MiB, and one extract in three took twice as long (measured: 15 runs).
        let maxCount = Int(min(runLeft, UInt64(buffer.count)))
        if available == 0, !sourceEnded, let lent = try source.borrowNextBytes(maxCount: maxCount) {
            // The source's own buffer (a decoded zstd frame): no copy into ours.
            precondition(lent.count > 0 && lent.count <= maxCount, "ByteSource.borrowNextBytes broke its contract")
            archiveOffset &+= UInt64(lent.count)
            data.advance(by: lent.count)
            return (offset, lent)
        }
        guard try refill() else { throw truncatedData() }
        let count = Int(min(UInt64(available), runLeft))
        let bytes = UnsafeRawBufferPointer(rebasing: buffer[start..<(start + count)])
        consume(count)
        data.advance(by: count)
        return (offset, bytes)
    }

    /// Reads and discards the rest of the current member's data (checking it is all there).
    ///
    /// - Returns: how many data bytes were skipped.
    @discardableResult
    public func skipData() throws -> UInt64 {
        var total: UInt64 = 0
        while let count = try withNextChunk({ _, bytes in bytes.count }) { total += UInt64(count) }
        return total
    }

    private func truncatedData() -> TarError {
        TarError(
            .truncated, "archive ends \(data.remaining) bytes short of the member's data",
            member: currentEntry?.name, offset: archiveOffset)
    }

    // MARK: End

    /// After ``next()`` returned `nil`: whether anything other than zero bytes follows the
    /// end-of-archive marker. Reads at most `limit` bytes of the source.
    public func trailer(limit: UInt64 = 1 << 20) throws -> TarTrailer {
        try failingOnce { try trailingBytes(limit: limit) }
    }

    private func trailingBytes(limit: UInt64) throws -> TarTrailer {
        guard ended else {
            throw TarError(.invalidState, "trailer() called before the end of the archive", offset: archiveOffset)
        }
        var zeros: UInt64 = 0
        while try refill() {
            let bytes = UnsafeRawBufferPointer(rebasing: buffer[start..<end])
            if let index = bytes.firstIndex(where: { $0 != 0 }) {
                return .garbage(offset: archiveOffset + UInt64(index))
            }
            zeros += UInt64(bytes.count)
            consume(bytes.count)
            if zeros > limit { return .paddingBeyondLimit(limit: limit) }
        }
        return .zeroPadding(bytes: zeros)
    }

    // MARK: Building an entry

    private struct PendingMetadata {
        var pax = PaxMetadata()
        var longName: [UInt8]?
        var longLink: [UInt8]?
        /// Bytes of extended-header data read for this member so far.
        var bytes = 0
        /// Extended headers read for this member so far (empty ones included).
        var headers = 0
    }

    private func makeEntry(_ header: TarHeader, pending: PendingMetadata, headerOffset: UInt64) throws -> TarEntry {
        var records = globalRecords
        for (key, value) in pending.pax.values {
            records[key] = value.isEmpty ? nil : value
        }

        try Self.checkAgreement(pending, header: header, offset: headerOffset)
        var nameBytes = records["path"] ?? pending.longName ?? header.name
        if let sparseName = pending.pax.sparse.values["GNU.sparse.name"] { nameBytes = sparseName }
        let name = decodeName(nameBytes)
        guard !nameBytes.contains(0) else {
            throw TarError(.badExtendedHeader, "member name contains a NUL byte", member: name, offset: headerOffset)
        }

        func number(_ key: String) throws -> UInt64? {
            guard let value = records[key] else { return nil }
            guard let number = TarNumber.decimal(value) else {
                throw TarError(.badExtendedHeader, "pax '\(key)' is not a number", member: name, offset: headerOffset)
            }
            return number
        }
        let size = try number("size") ?? header.size
        var mtime = header.mtime
        if let value = records["mtime"] {
            guard let seconds = PaxRecords.seconds(value) else {
                throw TarError(.badExtendedHeader, "pax 'mtime' is not a time", member: name, offset: headerOffset)
            }
            mtime = seconds
        }

        let kind: TarEntryKind
        var hasData = true
        switch header.typeFlag {
        case 0, UInt8(ascii: "0"), UInt8(ascii: "7"):
            // A regular-file header whose name ends in a slash is a directory to GNU tar and
            // bsdtar alike (old archives marked directories so). Its data is skipped.
            kind = nameBytes.last == UInt8(ascii: "/") ? .directory : .regular
        case UInt8(ascii: "S"): kind = .regular
        case UInt8(ascii: "1"): kind = .hardLink; hasData = false
        case UInt8(ascii: "2"): kind = .symbolicLink; hasData = false
        case UInt8(ascii: "3"): kind = .characterDevice; hasData = false
        case UInt8(ascii: "4"): kind = .blockDevice; hasData = false
        case UInt8(ascii: "5"): kind = .directory; hasData = false
        case UInt8(ascii: "6"): kind = .fifo; hasData = false
        case UInt8(ascii: "D"): kind = .directory
        default: kind = .other(header.typeFlag)
        }
        if kind == .directory, hasData, header.typeFlag != UInt8(ascii: "D"), size > 0 {
            // GNU tar skips the data of such a "directory", bsdtar reads it as the next header.
            throw TarError(
                .badHeaderField,
                "a regular-file header whose name ends in '/' (a directory to GNU tar and bsdtar) declares \(size) bytes of data: "
                    + "GNU tar skips them, bsdtar reads them as the next header",
                member: name, offset: headerOffset)
        }
        let isPax = pending.pax.hasRecords || sawGlobalRecords

        var entry = TarEntry(
            name: name, kind: kind, typeFlag: header.typeFlag,
            attributes: TarMemberAttributes(
                mode: UInt32(truncatingIfNeeded: header.mode), uid: try number("uid") ?? header.uid,
                gid: try number("gid") ?? header.gid, userName: decodeName(records["uname"] ?? header.userName),
                groupName: decodeName(records["gname"] ?? header.groupName), modificationTime: mtime),
            linkName: decodeName(records["linkpath"] ?? pending.longLink ?? header.linkName),
            size: hasData ? size : 0, storedSize: hasData ? size : 0, sparseMap: nil, sparseFormat: nil,
            format: isPax ? .pax : header.format,
            deviceMajor: UInt32(truncatingIfNeeded: header.deviceMajor),
            deviceMinor: UInt32(truncatingIfNeeded: header.deviceMinor),
            headerOffset: headerOffset, dataOffset: archiveOffset)
        // The archive holds `size` bytes (plus padding) after the header whatever the map says.
        let archived = hasData ? size : 0

        var mapBytes: UInt64 = 0
        if kind == .regular {
            let maximum = options.maximumSparseExtents
            if let sparseHeader = header.oldGNUSparseHeader {
                entry.sparseMap = try sparseHeader.withUnsafeBytes {
                    try TarSparseFormats.oldGNUMap(
                        header: $0, headerOffset: header.offset, maximumExtents: maximum, member: name,
                        nextBlock: nextSparseBlock(member: name))
                }
                entry.sparseFormat = .oldGNU
            } else if !pending.pax.sparse.isEmpty, let pax = try TarSparseFormats.paxMap(
                pending.pax.sparse, archived: archived, dataOffset: archiveOffset, maximumExtents: maximum, member: name,
                headerOffset: headerOffset, nextBlock: nextSparseBlock(member: name))
            {
                entry.sparseMap = pax.map
                entry.sparseFormat = pax.format
                mapBytes = pax.mapBytes
            }
            entry.dataOffset = archiveOffset
        }
        if let map = entry.sparseMap {
            // What remains of the archived bytes after a PAX 1.0 map must be exactly the data runs.
            let stored = archived - mapBytes  // appendPax1Map never reads past `archived`
            guard map.dataSize == stored else {
                throw TarError(
                    .sizeMismatch, "sparse map holds \(map.dataSize) bytes of data but the member stores \(stored)",
                    member: name, offset: headerOffset)
            }
            entry.size = map.realSize
            entry.storedSize = stored
            data = TarMemberData(runs: map.extents, stored: stored, archived: archived)
        } else {
            data = TarMemberData(runs: [SparseExtent(offset: 0, length: entry.storedSize)], stored: entry.storedSize, archived: archived)
        }
        currentEntry = entry
        return entry
    }
}
