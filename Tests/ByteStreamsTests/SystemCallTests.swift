import ByteStreams
import Foundation
import SystemPackage
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// ``SystemCall``'s wrappers (folders, files, memory, clocks, signals, threads): what they do, and that each failure names its operation,
/// its path and the system's errno (the one error style callers map from).
@Suite struct SystemCallTests {
    @Test("entryNames lists raw names without . and .., and says which folder it could not read")
    func entryNames() throws {
        let folder = try TemporaryFolder("systemcall")
        defer { folder.remove() }
        try Data("a".utf8).write(to: URL(fileURLWithPath: folder.file("a")))
        let odd: [UInt8] = [0x6F, 0xFF, 0x64]  // not UTF-8
        let oddPath = PathText.text(Array(folder.path.utf8) + [0x2F] + odd)
        let created = try SystemCall.createExclusive(PathText.text(odd), in: SystemCall.openFolder(folder.path), mode: 0o644, path: oddPath)
        SystemCall.closeIgnoringErrors(created)

        let handle = try SystemCall.openFolder(folder.path)
        defer { SystemCall.closeIgnoringErrors(handle) }
        #expect(try SystemCall.entryNames(of: handle, path: folder.path).sorted { $0.lexicographicallyPrecedes($1) } == [Array("a".utf8), odd])
        // Read twice through the same handle: each call starts at the beginning.
        #expect(try SystemCall.entryNames(of: handle, path: folder.path).count == 2)

        let file = try SystemCall.openForReading(folder.file("a"), nonBlocking: false)
        defer { SystemCall.closeIgnoringErrors(file) }
        let error = SystemCallError(operation: "read folder", path: folder.file("a"), errno: .notDirectory)
        #expect(throws: error) { try SystemCall.entryNames(of: file, path: folder.file("a")) }
        #expect(error.description.contains("read folder '\(folder.file("a"))' failed"))
    }

    @Test("openSubfolder refuses a symbolic link, naming the link")
    func openSubfolderRefusesLink() throws {
        let folder = try TemporaryFolder("systemcall")
        defer { folder.remove() }
        try FileManager.default.createDirectory(atPath: folder.file("real"), withIntermediateDirectories: false)
        try FileManager.default.createSymbolicLink(atPath: folder.file("link"), withDestinationPath: "real")
        let handle = try SystemCall.openFolder(folder.path)
        defer { SystemCall.closeIgnoringErrors(handle) }
        SystemCall.closeIgnoringErrors(try SystemCall.openSubfolder("real", in: handle, path: folder.file("real")))
        do {
            _ = try SystemCall.openSubfolder("link", in: handle, path: folder.file("link"))
            Issue.record("a link was opened as a folder")
        } catch {
            #expect(error.operation == "open folder")
            #expect(error.path == folder.file("link"))
            #expect(error.errno == .tooManySymbolicLinkLevels || error.errno == .notDirectory)
        }
    }

    @Test("folder creation, links and removal fail with the operation and path")
    func creationAndRemovalErrors() throws {
        let folder = try TemporaryFolder("systemcall")
        defer { folder.remove() }
        let handle = try SystemCall.openFolder(folder.path)
        defer { SystemCall.closeIgnoringErrors(handle) }
        try SystemCall.createFolder("sub", in: handle, mode: 0o755, path: folder.file("sub"))
        #expect(throws: SystemCallError(operation: "create folder", path: folder.file("sub"), errno: .fileExists)) {
            try SystemCall.createFolder("sub", in: handle, mode: 0o755, path: folder.file("sub"))
        }
        try Data("x".utf8).write(to: URL(fileURLWithPath: folder.file("sub/x")))
        #expect(throws: SystemCallError(operation: "delete folder", path: folder.file("sub"), errno: .directoryNotEmpty)) {
            try SystemCall.removeFolder("sub", in: handle, path: folder.file("sub"))
        }
        #expect(throws: SystemCallError(operation: "create hard link", path: folder.file("sub/x"), errno: .fileExists)) {
            try SystemCall.link("sub/x", in: handle, as: "sub/x", in: handle, path: folder.file("sub/x"))
        }
        #expect(throws: SystemCallError(operation: "create symbolic link", path: folder.file("sub/x"), errno: .fileExists)) {
            try SystemCall.createSymbolicLink("sub/x", in: handle, target: "elsewhere", path: folder.file("sub/x"))
        }
        try SystemCall.unlink("sub/x", in: handle, path: folder.file("sub/x"))
        try SystemCall.removeFolder("sub", in: handle, path: folder.file("sub"))
        #expect(!FileManager.default.fileExists(atPath: folder.file("sub")))
        #expect(throws: SystemCallError(operation: "statvfs", path: folder.file("sub"), errno: .noSuchFileOrDirectory)) {
            try SystemCall.fileSystemStatus(folder.file("sub"))
        }
    }

    @Test("status(ofPath:) follows a link only when asked, and names stat and the path when it fails")
    func statusOfPath() throws {
        let folder = try TemporaryFolder("systemcall")
        defer { folder.remove() }
        try Data("abc".utf8).write(to: URL(fileURLWithPath: folder.file("file")))
        try FileManager.default.createSymbolicLink(atPath: folder.file("link"), withDestinationPath: "file")
        let file = try SystemCall.status(ofPath: folder.file("file"), followingLink: false)
        #expect(file.st_mode & S_IFMT == S_IFREG && file.st_size == 3)
        let followed = try SystemCall.status(ofPath: folder.file("link"), followingLink: true)
        #expect(followed.st_mode & S_IFMT == S_IFREG && followed.st_ino == file.st_ino)
        let link = try SystemCall.status(ofPath: folder.file("link"), followingLink: false)
        #expect(link.st_mode & S_IFMT == S_IFLNK)

        try FileManager.default.createSymbolicLink(atPath: folder.file("dangling"), withDestinationPath: "missing")
        #expect(try SystemCall.status(ofPath: folder.file("dangling"), followingLink: false).st_mode & S_IFMT == S_IFLNK)
        #expect(throws: SystemCallError(operation: "stat", path: folder.file("dangling"), errno: .noSuchFileOrDirectory)) {
            try SystemCall.status(ofPath: folder.file("dangling"), followingLink: true)
        }
        #expect(throws: SystemCallError(operation: "stat", path: folder.file("file/x"), errno: .notDirectory)) {
            try SystemCall.status(ofPath: folder.file("file/x"), followingLink: false)
        }
    }

    @Test("writeAll at the file position writes every byte, and names write and the path when it fails")
    func writeAllAtPosition() throws {
        let folder = try TemporaryFolder("systemcall")
        defer { folder.remove() }
        let bytes = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        let out = try SystemCall.openForRewriting(folder.file("out"), mode: 0o644)
        try bytes.withUnsafeBytes { try SystemCall.writeAll($0, to: out, path: folder.file("out")) }
        try bytes.prefix(5).withUnsafeBytes { try SystemCall.writeAll($0, to: out, path: folder.file("out")) }
        try [UInt8]().withUnsafeBytes { try SystemCall.writeAll($0, to: out, path: folder.file("out")) }
        try SystemCall.close(out, path: folder.file("out"))
        #expect(Array(try Data(contentsOf: URL(fileURLWithPath: folder.file("out")))) == bytes + bytes.prefix(5))

        let readOnly = try SystemCall.openForReading(folder.file("out"), nonBlocking: false)
        defer { SystemCall.closeIgnoringErrors(readOnly) }
        #expect(throws: SystemCallError(operation: "write", path: folder.file("out"), errno: .badFileDescriptor)) {
            try bytes.withUnsafeBytes { try SystemCall.writeAll($0, to: readOnly, path: folder.file("out")) }
        }
    }

    @Test("close reports what close reports")
    func closeReportsErrors() throws {
        let folder = try TemporaryFolder("systemcall")
        defer { folder.remove() }
        let handle = try SystemCall.openFolder(folder.path)
        try SystemCall.close(handle, path: folder.path)
        // Not `handle` a second time: tests run in parallel, and another one may have been
        // given that number meanwhile. -1 is never a descriptor.
        #expect(throws: SystemCallError(operation: "close", path: folder.path, errno: .badFileDescriptor)) {
            try SystemCall.close(FileDescriptor(rawValue: -1), path: folder.path)
        }
    }

    @Test("mapAnonymous gives writable zeroed memory of the size asked; unmap gives it back; both name the call when they fail")
    func mapAnonymousAndUnmap() throws {
        let count = 3 * 4096 + 5
        let memory = try SystemCall.mapAnonymous(count: count)
        #expect(memory.count == count)
        #expect(memory.allSatisfy { $0 == 0 })
        for index in memory.indices { memory[index] = UInt8(truncatingIfNeeded: index &* 13) }
        #expect(memory.indices.allSatisfy { memory[$0] == UInt8(truncatingIfNeeded: $0 &* 13) })
        // An address inside the mapping but not at a page boundary is refused, and the mapping stays.
        let unaligned = UnsafeMutableRawBufferPointer(start: memory.baseAddress! + 1, count: 10)
        #expect(throws: SystemCallError(operation: "munmap of 10 bytes", path: nil, errno: .invalidArgument)) {
            try SystemCall.unmap(unaligned)
        }
        #expect(memory[1] == 13)
        try SystemCall.unmap(memory)
        #expect(throws: SystemCallError(operation: "mmap of 0 bytes", path: nil, errno: .invalidArgument)) {
            try SystemCall.mapAnonymous(count: 0)
        }
    }

    @Test("time(of:) reads a monotonic clock that advances and a wall clock that agrees with Foundation's")
    func clocks() throws {
        let before = try SystemCall.time(of: .monotonic)
        usleep(20_000)
        let after = try SystemCall.time(of: .monotonic)
        let elapsed = Double(after.tv_sec - before.tv_sec) + Double(after.tv_nsec - before.tv_nsec) / 1e9
        #expect(elapsed >= 0.019 && elapsed < 60)
        #expect((0..<1_000_000_000).contains(after.tv_nsec))

        let wall = try SystemCall.time(of: .realtime)
        let seconds = Double(wall.tv_sec) + Double(wall.tv_nsec) / 1e9
        #expect(abs(seconds - Date().timeIntervalSince1970) < 5)
    }

    @Test("startDetachedThread runs the body with its argument on another thread")
    func startDetachedThread() throws {
        let ran = DispatchSemaphore(value: 0)
        try SystemCall.startDetachedThread({ argument in
            Unmanaged<DispatchSemaphore>.fromOpaque(argument!).takeRetainedValue().signal()
            return nil
        }, argument: Unmanaged.passRetained(ran).toOpaque())
        #expect(ran.wait(timeout: .now() + 30) == .success)
    }

    @Test("startWriteback accepts a written range and names sync_file_range when it fails")
    func startWriteback() throws {
        let folder = try TemporaryFolder("systemcall")
        defer { folder.remove() }
        let out = try SystemCall.openForRewriting(folder.file("out"), mode: 0o644)
        defer { SystemCall.closeIgnoringErrors(out) }
        try [UInt8](repeating: 7, count: 8192).withUnsafeBytes { try SystemCall.writeAll($0, to: out, path: folder.file("out")) }
        try SystemCall.startWriteback(out, offset: 0, length: 8192, path: folder.file("out"))
        #expect(throws: SystemCallError(operation: "sync_file_range", path: folder.file("out"), errno: .invalidArgument)) {
            try SystemCall.startWriteback(out, offset: UInt64(Int64.max) + 1, length: 1, path: folder.file("out"))
        }
        #if os(Linux)
        #expect(throws: SystemCallError(operation: "sync_file_range", path: "none", errno: .badFileDescriptor)) {
            try SystemCall.startWriteback(FileDescriptor(rawValue: -1), offset: 0, length: 1, path: "none")
        }
        #endif
    }
}

/// ``SystemCall``'s signal wrappers, one test at a time: setting SIGUSR2 to "ignore" discards
/// a SIGUSR2 pending for any thread, so the two tests must not overlap.
@Suite(.serialized) struct SystemCallSignalTests {
    @Test("signalAction reads, installs and restores the action for SIGUSR2, and names the signal it cannot change")
    func signalAction() throws {
        let original = try SystemCall.signalAction(SIGUSR2)
        #expect(Self.handlerValue(original) != Self.ignored)
        var ignore = sigaction()
        #if os(Linux)
        ignore.__sigaction_handler.sa_handler = SIG_IGN
        #else
        ignore.__sigaction_u.__sa_handler = SIG_IGN
        #endif
        let replaced = try SystemCall.signalAction(SIGUSR2, replacingWith: ignore)
        #expect(Self.handlerValue(replaced) == Self.handlerValue(original))
        #expect(Self.handlerValue(try SystemCall.signalAction(SIGUSR2)) == Self.ignored)
        let restored = try SystemCall.signalAction(SIGUSR2, replacingWith: original)
        #expect(Self.handlerValue(restored) == Self.ignored)
        #expect(Self.handlerValue(try SystemCall.signalAction(SIGUSR2)) == Self.handlerValue(original))

        #expect(throws: SystemCallError(operation: "sigaction for signal \(SIGKILL)", path: nil, errno: .invalidArgument)) {
            try SystemCall.signalAction(SIGKILL, replacingWith: ignore)
        }
    }

    /// `SIG_IGN`'s value on Linux and Darwin.
    private static let ignored = 1

    /// The handler of `action` as a number (0 for `SIG_DFL`, 1 for `SIG_IGN`).
    private static func handlerValue(_ action: sigaction) -> Int {
        #if os(Linux)
        let handler = action.__sigaction_handler.sa_handler
        #else
        let handler = action.__sigaction_u.__sa_handler
        #endif
        return handler.map { unsafeBitCast($0, to: Int.self) } ?? 0
    }

    @Test("setSignals blocks and unblocks SIGUSR2 in the calling thread; waitForSignal takes it while blocked")
    func setSignalsAndWait() throws {
        var usr2 = sigset_t()
        sigemptyset(&usr2)
        sigaddset(&usr2, SIGUSR2)
        func isBlocked() -> Bool {
            var current = sigset_t()
            pthread_sigmask(SIG_BLOCK, nil, &current)
            return sigismember(&current, SIGUSR2) == 1
        }
        let wasBlocked = isBlocked()
        try SystemCall.setSignals(usr2, blocked: true)
        #expect(isBlocked())
        // Pending for this thread only, where it is blocked: waitForSignal takes it at once.
        #expect(pthread_kill(pthread_self(), SIGUSR2) == 0)
        #expect(try SystemCall.waitForSignal(in: usr2) == SIGUSR2)
        try SystemCall.setSignals(usr2, blocked: false)
        #expect(!isBlocked())
        if wasBlocked { try SystemCall.setSignals(usr2, blocked: true) }
    }
}
