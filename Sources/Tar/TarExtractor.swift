import ByteStreams
import SystemPackage

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension Tar {
    /// Extracts every member `reader` yields into the existing folder `directory`, safely:
    ///
    /// - names are checked by ``TarMemberName/normalized(_:isDirectory:)`` and, when given,
    ///   against `options.allowedNames`; a name may appear only once;
    /// - only the kinds in `options.allowedKinds` are created (regular files by default);
    /// - declared sizes are checked against the limits before the member's file is created;
    /// - everything is created relative to an open handle on `directory` with `openat`,
    ///   `O_NOFOLLOW` on every component and `O_EXCL` on files, so nothing lands outside it
    ///   and nothing existing is overwritten;
    /// - a file is sized with `ftruncate` and only its data runs are written with `pwrite`
    ///   (zero runs too become holes unless `holesFromZeroRuns` is off);
    /// - if anything fails, everything this call created is removed before the error is thrown.
    ///
    /// After the end-of-archive marker, anything but zero padding fails the extraction
    /// unless `options.refusesTrailingData` is off.
    /// - Returns: the members created, in archive order.
    @discardableResult
    public static func extract<Source: ByteSource>(
        from reader: TarReader<Source>, into directory: FilePath, options: TarExtractionOptions = .init()
    ) throws -> [TarExtractedMember] {
        let root = try SystemCall.openFolder(PathText.text(directory))
        defer { SystemCall.closeIgnoringErrors(root) }
        var job = ExtractionJob(root: root, options: options)
        do {
            while let entry = try reader.next() {
                try job.extract(entry, from: reader)
            }
            if options.refusesTrailingData {
                switch try reader.trailer(limit: 16 << 20) {
                case .zeroPadding: break
                case .garbage(let offset):
                    throw TarError(.trailingData, "data follows the end-of-archive marker", offset: offset)
                case .paddingBeyondLimit(let limit):
                    throw TarError(.trailingData, "more than \(limit) bytes of padding follow the end-of-archive marker",
                                   offset: reader.archiveOffset)
                }
            }
            try job.finishDirectories()
            return job.extracted
        } catch {
            job.removeCreated()
            throw error
        }
    }

    /// Opens the archive file at `archive` and extracts it into `directory` (see
    /// ``extract(from:into:options:)``).
    @discardableResult
    public static func extract(
        archive: FilePath, into directory: FilePath, options: TarExtractionOptions = .init()
    ) throws -> [TarExtractedMember] {
        let descriptor = try SystemCall.openForReading(PathText.text(archive), nonBlocking: false)
        defer { SystemCall.closeIgnoringErrors(descriptor) }
        let reader = TarReader(reading: FileSource(descriptor, path: archive.string))
        return try extract(from: reader, into: directory, options: options)
    }
}


/// The state of one extraction: what exists, what was created, what to undo.
private struct ExtractionJob {
    let root: FileDescriptor
    let options: TarExtractionOptions
    var extracted: [TarExtractedMember] = []
    /// Paths created, in order, with whether each is a directory.
    var created: [(path: String, isDirectory: Bool)] = []
    var createdDirectories: Set<String> = []
    var names: Set<String> = []
    var regularFiles: Set<String> = []
    var directoryModes: [(path: String, mode: UInt32, mtime: Int64)] = []
    var totalSize: UInt64 = 0

    init(root: FileDescriptor, options: TarExtractionOptions) {
        self.root = root
        self.options = options
    }

    mutating func extract<Source: ByteSource>(_ entry: TarEntry, from reader: TarReader<Source>) throws {
        guard extracted.count < options.maximumMembers else {
            throw TarError(.limitExceeded, "more than \(options.maximumMembers) members", member: entry.name, offset: entry.headerOffset)
        }
        let name = try TarMemberName.normalized(entry.name, isDirectory: entry.kind == .directory).get()
        func fail(_ code: TarError.Code, _ detail: String) -> TarError {
            TarError(code, detail, member: entry.name, offset: entry.headerOffset)
        }
        switch entry.kind {
        case .regular, .directory, .symbolicLink, .hardLink:
            guard options.allowedKinds.contains(entry.kind) else {
                throw fail(.disallowedType, "a \(entry.kind) is not allowed here")
            }
        default:
            throw fail(.disallowedType, "a \(entry.kind) is never extracted")
        }
        if let allowed = options.allowedNames, !allowed.contains(name) {
            throw fail(.disallowedName, "member name is not one of the expected names")
        }
        guard names.insert(name).inserted else {
            throw fail(.duplicateMember, "member appears more than once")
        }
        guard entry.size <= options.maximumMemberSize else {
            throw fail(.limitExceeded, "declared size \(entry.size) exceeds the limit of \(options.maximumMemberSize) bytes")
        }
        let (sum, overflow) = totalSize.addingReportingOverflow(entry.size)
        guard !overflow, sum <= options.maximumTotalSize else {
            throw fail(.limitExceeded, "members declare more than the total limit of \(options.maximumTotalSize) bytes")
        }
        totalSize = sum

        var components = name.split(separator: "/").map(String.init)
        let last = components.removeLast()
        let parent = try openParent(components, entry: entry)
        defer { if parent != root { SystemCall.closeIgnoringErrors(parent) } }

        var written: UInt64 = 0
        switch entry.kind {
        case .regular:
            written = try writeFile(entry, name: name, in: parent, last: last, from: reader)
            regularFiles.insert(name)
        case .directory:
            if try succeeds({ () throws(SystemCallError) in try SystemCall.createFolder(last, in: parent, mode: 0o755, path: name) }, unless: .fileExists) != nil {
                noteCreated(name, isDirectory: true)
            } else if !createdDirectories.contains(name) {
                throw fail(.alreadyExists, "already exists in the target folder")
            }
            directoryModes.append((name, entry.mode, entry.modificationTime))
        case .symbolicLink:
            guard !entry.linkName.isEmpty, !entry.linkName.utf8.contains(0) else {
                throw fail(.unsafeName, "symbolic link with an empty target")
            }
            guard try succeeds({ () throws(SystemCallError) in
                try SystemCall.createSymbolicLink(last, in: parent, target: entry.linkName, path: name)
            }, unless: .fileExists) != nil else {
                throw fail(.alreadyExists, "already exists in the target folder")
            }
            noteCreated(name, isDirectory: false)
        case .hardLink:
            let target = try TarMemberName.normalized(entry.linkName).get()
            guard regularFiles.contains(target) else {
                throw fail(.unsafeName, "hard link to \(TerminalText.quoted(entry.linkName)), which is not a regular file extracted earlier")
            }
            guard try succeeds({ () throws(SystemCallError) in
                try SystemCall.link(target, in: root, as: last, in: parent, path: name)
            }, unless: .fileExists) != nil else {
                throw fail(.alreadyExists, "already exists in the target folder")
            }
            noteCreated(name, isDirectory: false)
        default:
            break
        }
        extracted.append(TarExtractedMember(name: name, kind: entry.kind, size: entry.size, bytesWritten: written))
    }

    private mutating func noteCreated(_ path: String, isDirectory: Bool) {
        created.append((path, isDirectory))
        if isDirectory { createdDirectories.insert(path) }
    }

    /// Opens (creating when missing) the directories `components` below the root, refusing
    /// to pass through a symbolic link or anything that is not a directory.
    private mutating func openParent(_ components: [String], entry: TarEntry) throws -> FileDescriptor {
        var current = root
        var path = ""
        do {
            for component in components {
                path = path.isEmpty ? component : path + "/" + component
                if try succeeds({ () throws(SystemCallError) in
                    try SystemCall.createFolder(component, in: current, mode: 0o755, path: path)
                }, unless: .fileExists) != nil {
                    noteCreated(path, isDirectory: true)
                }
                guard let next = try succeeds({ () throws(SystemCallError) in
                    try SystemCall.openSubfolder(component, in: current, path: path)
                }, unless: .tooManySymbolicLinkLevels, .notDirectory) else {
                    throw TarError(
                        .unsafeName, "\(TerminalText.quoted(path)) is a symbolic link or not a directory", member: entry.name, offset: entry.headerOffset)
                }
                if current != root { SystemCall.closeIgnoringErrors(current) }
                current = next
            }
        } catch {
            if current != root { SystemCall.closeIgnoringErrors(current) }
            throw error
        }
        return current
    }

    private mutating func writeFile<Source: ByteSource>(
        _ entry: TarEntry, name: String, in parent: FileDescriptor, last: String, from reader: TarReader<Source>
    ) throws -> UInt64 {
        guard let file = try succeeds({ () throws(SystemCallError) in
            try SystemCall.createExclusive(last, in: parent, mode: 0o600, path: name)
        }, unless: .fileExists) else {
            throw TarError(.alreadyExists, "already exists in the target folder", member: entry.name, offset: entry.headerOffset)
        }
        noteCreated(name, isDirectory: false)
        defer { SystemCall.closeIgnoringErrors(file) }
        try SparseFile.setSize(of: file, to: entry.size, path: name)
        let written = try reader.writeData(
            to: file, path: name, holesFromZeroRuns: options.holesFromZeroRuns, zeroBlockSize: options.zeroBlockSize)
        let mode = options.restoresPermissions ? mode_t(entry.mode & 0o777) : 0o644
        try SystemCall.setPermissions(file, to: mode, path: name)
        if options.restoresModificationTime {
            try SystemCall.setTimes(file, seconds: entry.modificationTime, path: name)
        }
        return written
    }

    /// Applies directory permissions and times last (deepest first), so a read-only
    /// directory does not block its own members.
    func finishDirectories() throws {
        for (path, mode, mtime) in directoryModes.reversed() {
            let bits = options.restoresPermissions ? mode_t(mode & 0o777) : 0o755
            try SystemCall.setPermissions(ofEntry: path, in: root, to: bits, path: path)
            if options.restoresModificationTime {
                try SystemCall.setTimes(ofEntry: path, in: root, seconds: mtime, path: path)
            }
        }
    }

    /// Removes everything this extraction created, newest first.
    func removeCreated() {
        for (path, isDirectory) in created.reversed() {
            if isDirectory {
                try? SystemCall.removeFolder(path, in: root, path: path)
            } else {
                try? SystemCall.unlink(path, in: root, path: path)
            }
        }
    }
}

/// What `call` returns, or `nil` when it failed with one of `expected` (an outcome the caller
/// handles, such as `EEXIST`); any other failure is thrown.
private func succeeds<Value>(
    _ call: () throws(SystemCallError) -> Value, unless expected: Errno...
) throws(SystemCallError) -> Value? {
    do {
        return try call()
    } catch {
        if expected.contains(error.errno) { return nil }
        throw error
    }
}
