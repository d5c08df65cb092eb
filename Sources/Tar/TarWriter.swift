import ByteStreams
import SystemPackage

/// Writes a POSIX tar archive to any ``ByteSink``, keeping sparse files sparse.
///
/// Headers are ustar; a pax `x` record is added only when a value does not fit (a name over
/// 100 bytes, a size of 8 GiB or more, large ids, a negative time). A file with holes is
/// stored in **GNU PAX sparse format 1.0** (`GNU.sparse.major=1`, `minor=0`, `name`,
/// `realsize`; the map as decimal lines at the start of the member's data; ustar name
/// `<dir>/GNUSparseFile.0/<base>`), which GNU tar (1.14+) and bsdtar (libarchive 2.x+)
/// both extract as sparse files.
///
/// The writer reads files with `pread` straight into its output buffer and hands the sink
/// whole `chunkSize` buffers (only the last write of the archive is shorter), so memory
/// stays at two buffers (output, zero-run scan) whatever the file size. A sink that lends
/// its own memory (``ByteSink/borrowWritableSpace(maxCount:)``, as the zstd seekable
/// compressor does) gets file data `pread` straight into it instead, without a copy. Output depends only on the names, attributes and file contents given.
public final class TarWriter<Sink: ByteSink> {
    /// The sink written to.
    public private(set) var sink: Sink
    /// How files are stored.
    public let options: TarWriterOptions
    /// Archive bytes produced so far (written to the sink or buffered).
    public private(set) var bytesWritten: UInt64 = 0
    /// File bytes read with `pread` so far (both the zero-run scan and the copy).
    public private(set) var bytesRead: UInt64 = 0

    private let buffer: UnsafeMutableRawBufferPointer
    /// Where the zero-run scan reads, allocated on first use.
    private var scanBuffer: UnsafeMutableRawBufferPointer?
    private var fill = 0
    private var finished = false
    private var failed = false

    /// A writer appending to `sink`.
    public init(writingTo sink: Sink, options: TarWriterOptions = .init()) {
        self.sink = sink
        self.options = options
        let size = max(options.chunkSize, 64 << 10)
        buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 4096)
    }

    deinit {
        buffer.deallocate()
        scanBuffer?.deallocate()
    }

    // MARK: Output buffer

    private func flush() throws {
        guard fill > 0 else { return }
        try sink.write(UnsafeRawBufferPointer(rebasing: buffer[..<fill]))
        fill = 0
    }

    private func emit(_ bytes: UnsafeRawBufferPointer) throws {
        var rest = bytes
        while !rest.isEmpty {
            if fill == buffer.count { try flush() }
            let n = min(rest.count, buffer.count - fill)
            (buffer.baseAddress! + fill).copyMemory(from: rest.baseAddress!, byteCount: n)
            fill += n
            bytesWritten &+= UInt64(n)
            rest = UnsafeRawBufferPointer(rebasing: rest[n...])
        }
    }

    private func emit(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try emit($0) }
    }

    private func emitZeros(_ count: Int) throws {
        var left = count
        while left > 0 {
            if fill == buffer.count { try flush() }
            let n = min(left, buffer.count - fill)
            (buffer.baseAddress! + fill).initializeMemory(as: UInt8.self, repeating: 0, count: n)
            fill += n
            bytesWritten &+= UInt64(n)
            left -= n
        }
    }

    private func padToBlock(_ size: UInt64) throws {
        try emitZeros(Int(HeaderLayout.padding(after: size)))
    }

    /// Runs `body` unless the writer is finished or broken; a throw breaks the writer,
    /// since the sink may hold half a member.
    private func guarded<R>(_ body: () throws -> R) throws -> R {
        guard !finished else { throw TarError(.invalidState, "the archive is already finished") }
        guard !failed else { throw TarError(.invalidState, "an earlier append failed; the archive is incomplete") }
        do {
            return try body()
        } catch {
            failed = true
            throw error
        }
    }

    // MARK: Headers

    private func checkedName(_ name: String) throws -> [UInt8] {
        let bytes = Array(name.utf8)
        guard !bytes.isEmpty else { throw TarError(.unrepresentable, "a member name cannot be empty") }
        guard !bytes.contains(0) else { throw TarError(.unrepresentable, "a member name cannot contain NUL", member: name) }
        return bytes
    }

    /// Emits an optional pax header (for `extra` records and whatever ustar cannot hold),
    /// then the ustar header of `fields`.
    private func emitHeaders(_ fields: HeaderEncoder.Fields, extra: [(String, [UInt8])] = [], paxName: [UInt8]) throws {
        let records = extra + HeaderEncoder.overflowRecords(fields)
        if !records.isEmpty {
            let data = HeaderEncoder.paxData(records)
            var paxAttributes = fields.attributes
            paxAttributes.modificationTime = min(max(paxAttributes.modificationTime, 0), Int64(HeaderEncoder.maxOctal11))
            paxAttributes.uid = min(paxAttributes.uid, HeaderEncoder.maxOctal7)
            paxAttributes.gid = min(paxAttributes.gid, HeaderEncoder.maxOctal7)
            paxAttributes.userName = ""
            paxAttributes.groupName = ""
            let paxFields = HeaderEncoder.Fields(
                name: HeaderEncoder.helperName(for: paxName, marker: "PaxHeaders"), typeFlag: UInt8(ascii: "x"),
                size: UInt64(data.count), attributes: paxAttributes)
            try emit(HeaderEncoder.block(paxFields))
            try emit(data)
            try padToBlock(UInt64(data.count))
        }
        try emit(HeaderEncoder.block(fields))
    }

    // MARK: Members

    /// Appends a directory entry (`name` gets a trailing `/`).
    public func appendDirectory(named name: String, attributes: TarMemberAttributes = .init(mode: 0o755)) throws {
        try guarded {
            var bytes = try checkedName(name)
            if bytes.last != UInt8(ascii: "/") { bytes.append(UInt8(ascii: "/")) }
            let fields = HeaderEncoder.Fields(name: bytes, typeFlag: UInt8(ascii: "5"), size: 0, attributes: attributes)
            try emitHeaders(fields, paxName: bytes)
        }
    }

    /// Appends a symbolic link `name` pointing at `target`.
    public func appendSymbolicLink(named name: String, target: String, attributes: TarMemberAttributes = .init(mode: 0o777)) throws {
        try guarded {
            let bytes = try checkedName(name)
            let link = Array(target.utf8)
            guard !link.contains(0) else { throw TarError(.unrepresentable, "a link target cannot contain NUL", member: name) }
            let fields = HeaderEncoder.Fields(
                name: bytes, typeFlag: UInt8(ascii: "2"), size: 0, attributes: attributes, linkName: link)
            try emitHeaders(fields, paxName: bytes)
        }
    }

    /// Appends a regular file holding `contents` (for small files such as metadata).
    public func appendFile(named name: String, contents: UnsafeRawBufferPointer, attributes: TarMemberAttributes = .init()) throws {
        try guarded {
            let bytes = try checkedName(name)
            let fields = HeaderEncoder.Fields(
                name: bytes, typeFlag: UInt8(ascii: "0"), size: UInt64(contents.count), attributes: attributes)
            try emitHeaders(fields, paxName: bytes)
            try emit(contents)
            try padToBlock(UInt64(contents.count))
        }
    }

    /// Appends a regular file holding `contents`.
    public func appendFile(named name: String, contents: [UInt8], attributes: TarMemberAttributes = .init()) throws {
        try contents.withUnsafeBytes { try appendFile(named: name, contents: $0, attributes: attributes) }
    }

    /// Appends the regular file open as `descriptor`, storing only its data: holes the file
    /// system reports are left out and recorded in a PAX 1.0 sparse map. A file without holes
    /// is (by default) scanned for runs of zero blocks, which are left out the same way, so
    /// a disk copied dense is still stored sparse; a file with holes is read once and its
    /// data extents stored as they are (as GNU tar does), unless
    /// ``TarWriterOptions/scansFilesWithHoles`` asks for the scan. A file that ends up with
    /// one run covering everything is stored as a plain member.
    ///
    /// The file must not change while it is archived; if it shrinks, this throws.
    /// - Returns: what was recorded (size, stored bytes, sparse map).
    @discardableResult
    public func appendFile(
        named name: String, contentsOf descriptor: FileDescriptor, attributes: TarMemberAttributes, path: String? = nil
    ) throws -> TarWrittenMember {
        try guarded {
            let bytes = try checkedName(name)
            let status = try SparseFile.status(of: descriptor, path: path)
            guard status.isRegularFile else {
                throw TarError(.unrepresentable, "only regular files can be archived from a descriptor", member: name)
            }
            let size = status.size
            var collector = ExtentCollector(cap: options.maximumSparseExtents)
            var hasHoles = false
            if options.findsHoles, size > 0 {
                // First the file system's extents; the zero-run scan is then run over them only
                // when the file has no holes (or when asked to scan files with holes too).
                var extents = ExtentCollector(cap: options.maximumSparseExtents)
                var end: UInt64 = 0
                let walked = try SparseFile.forEachDataExtent(of: descriptor, size: size, path: path) { range in
                    if range.lowerBound > end { hasHoles = true }
                    end = range.upperBound
                    extents.add(offset: range.lowerBound, length: range.upperBound - range.lowerBound)
                }
                if walked, end < size { hasHoles = true }
                if !walked {
                    extents.add(offset: 0, length: size)
                }
                if options.detectsZeroRuns, !hasHoles || options.scansFilesWithHoles {
                    for run in extents.extents {
                        try scanForData(descriptor, run.offset..<(run.offset + run.length), into: &collector, path: path, member: name)
                    }
                } else {
                    collector = extents
                }
            } else if size > 0 {
                if options.detectsZeroRuns {
                    try scanForData(descriptor, 0..<size, into: &collector, path: path, member: name)
                } else {
                    collector.add(offset: 0, length: size)
                }
            }
            let extents = collector.extents
            let dense = size == 0 || (extents.count == 1 && extents[0].offset == 0 && extents[0].length == size)
            if dense {
                let fields = HeaderEncoder.Fields(name: bytes, typeFlag: UInt8(ascii: "0"), size: size, attributes: attributes)
                try emitHeaders(fields, paxName: bytes)
                try copy(descriptor, SparseExtent(offset: 0, length: size), path: path, member: name)
                try padToBlock(size)
                return TarWrittenMember(name: name, size: size, storedSize: size, sparseMap: nil)
            }
            return try appendSparse(name: bytes, label: name, size: size, extents: extents, descriptor: descriptor,
                                    attributes: attributes, path: path)
        }
    }

    private func appendSparse(
        name: [UInt8], label: String, size: UInt64, extents: [SparseExtent], descriptor: FileDescriptor,
        attributes: TarMemberAttributes, path: String?
    ) throws -> TarWrittenMember {
        // GNU tar and bsdtar end the map with an empty run at the real size when the file
        // ends in a hole, so even a reader that ignores `realsize` gets the length right.
        var map = extents
        if (map.last.map { $0.offset + $0.length } ?? 0) < size { map.append(SparseExtent(offset: size, length: 0)) }
        let sparseMap = try SparseMap(realSize: size, extents: map)

        var mapText = UInt64(TarNumber.decimalDigitCount(UInt64(map.count)) + 1)
        for run in map {
            mapText += UInt64(TarNumber.decimalDigitCount(run.offset) + TarNumber.decimalDigitCount(run.length) + 2)
        }
        let mapBlocks = (mapText + 511) / 512 * 512
        let archived = mapBlocks + sparseMap.dataSize

        let records: [(String, [UInt8])] = [
            ("GNU.sparse.major", [UInt8(ascii: "1")]),
            ("GNU.sparse.minor", [UInt8(ascii: "0")]),
            ("GNU.sparse.name", name),
            ("GNU.sparse.realsize", TarNumber.decimalBytes(size)),
        ]
        // The ustar header names the stand-in path; `size` is what the archive holds (map + data).
        let fields = HeaderEncoder.Fields(
            name: HeaderEncoder.helperName(for: name, marker: "GNUSparseFile.0"), typeFlag: UInt8(ascii: "0"),
            size: archived, attributes: attributes)
        var headerFields = fields
        headerFields.recordsLongName = false
        try emitHeaders(headerFields, extra: records, paxName: name)

        try emit(TarNumber.decimalBytes(UInt64(map.count)) + [0x0A])
        var line: [UInt8] = []
        line.reserveCapacity(48)
        for run in map {
            line.removeAll(keepingCapacity: true)
            line += TarNumber.decimalBytes(run.offset)
            line.append(0x0A)
            line += TarNumber.decimalBytes(run.length)
            line.append(0x0A)
            try emit(line)
        }
        try emitZeros(Int(mapBlocks - mapText))
        for run in map where run.length > 0 { try copy(descriptor, run, path: path, member: label) }
        try padToBlock(archived)
        return TarWrittenMember(name: label, size: size, storedSize: sparseMap.dataSize, sparseMap: sparseMap)
    }

    /// Reads `range` in chunks and records which zero-block-aligned blocks hold data.
    private func scanForData(
        _ descriptor: FileDescriptor, _ range: Range<UInt64>, into collector: inout ExtentCollector, path: String?, member: String
    ) throws {
        let block = UInt64(max(options.zeroBlockSize, 512))
        let buffer: UnsafeMutableRawBufferPointer
        if let scanBuffer {
            buffer = scanBuffer
        } else {
            buffer = .allocate(byteCount: max(self.buffer.count, Int(block)), alignment: 4096)
            scanBuffer = buffer
        }
        var position = range.lowerBound
        // Chunks end on block boundaries so blocks are never split between reads.
        let chunk = max(UInt64(buffer.count) / block * block, block)
        while position < range.upperBound {
            let chunkEnd = min((position / block) * block + chunk, range.upperBound)
            let count = Int(chunkEnd - position)
            let scratch = UnsafeMutableRawBufferPointer(rebasing: buffer[..<count])
            let got = try descriptor.pread(into: scratch, at: position, path: path)
            bytesRead &+= UInt64(got)
            guard got == count else { throw shrank(member) }
            let start = position
            ZeroRuns.forEachDataRun(in: UnsafeRawBufferPointer(scratch), at: start, blockSize: block) { run in
                collector.add(offset: start + UInt64(run.lowerBound), length: UInt64(run.count))
            }
            position = chunkEnd
        }
    }

    /// Copies `run` of the file into the archive, `pread`ing straight into the output buffer.
    private func copy(_ descriptor: FileDescriptor, _ run: SparseExtent, path: String?, member: String) throws {
        var position = run.offset
        var left = run.length
        while left > 0 {
            if let space = try sink.borrowWritableSpace(maxCount: Int(min(left, UInt64(Int.max)))) {
                // A sink that lends (a zstd frame being filled): read straight into it, after
                // whatever this writer still holds, so the bytes stay in order.
                if fill > 0 {
                    try sink.commitBorrowedSpace(0)
                    try flush()
                    continue
                }
                let got = try descriptor.pread(into: space, at: position, path: path)
                bytesRead &+= UInt64(got)
                guard got == space.count else {
                    try sink.commitBorrowedSpace(0)
                    throw shrank(member)
                }
                try sink.commitBorrowedSpace(got)
                bytesWritten &+= UInt64(got)
                position += UInt64(got)
                left -= UInt64(got)
                continue
            }
            if fill == buffer.count { try flush() }
            let count = Int(min(UInt64(buffer.count - fill), left))
            let got = try descriptor.pread(
                into: UnsafeMutableRawBufferPointer(rebasing: buffer[fill..<(fill + count)]), at: position, path: path)
            bytesRead &+= UInt64(got)
            guard got == count else { throw shrank(member) }
            fill += count
            bytesWritten &+= UInt64(count)
            position += UInt64(count)
            left -= UInt64(count)
        }
    }

    private func shrank(_ member: String) -> TarError {
        TarError(.sizeMismatch, "the file became shorter while it was being archived", member: member, offset: bytesWritten)
    }

    /// Writes the end-of-archive marker (two zero blocks), flushes, and returns the sink.
    /// Nothing can be appended afterwards.
    @discardableResult
    public func finish() throws -> Sink {
        try guarded {
            try emitZeros(2 * HeaderLayout.blockSize)
            try flush()
            finished = true
            return sink
        }
    }
}

/// What ``TarWriter/appendFile(named:contentsOf:attributes:path:)`` recorded.
public struct TarWrittenMember: Sendable, Equatable {
    /// The member name.
    public var name: String
    /// The file's logical size.
    public var size: UInt64
    /// Data bytes stored (excluding headers, map and padding).
    public var storedSize: UInt64
    /// The sparse map written, or `nil` when the file was stored dense.
    public var sparseMap: SparseMap?
}
