import ByteStreams
import SystemPackage
import VMImage

/// Where an ``ImageDownload`` puts the bytes it receives, in order.
protocol DownloadSink {
    /// Takes the next bytes. Errors thrown here end the download unchanged (never retried).
    mutating func append(_ bytes: [UInt8]) async throws
    /// Forgets everything appended so far, when the sink can; returns whether it did.
    mutating func restart() throws -> Bool
}

/// Writes to a file opened for the download, at increasing offsets.
struct FileSink: DownloadSink {
    let path: FilePath
    private let descriptor: SystemPackage.FileDescriptor
    private var offset: Int64 = 0

    /// Creates or truncates the file at `path` (never through a symlink), mode 0644.
    init(path: FilePath) throws(VMImageError) {
        self.path = path
        do throws(SystemCallError) {
            descriptor = try SystemCall.openForRewriting(PathText.text(path), mode: 0o644)
        } catch {
            throw fileSystemError(error)
        }
    }

    mutating func append(_ bytes: [UInt8]) throws {
        let at = UInt64(offset)
        let failure = bytes.withUnsafeBytes { buffer -> SystemCallError? in
            do throws(SystemCallError) { try SystemCall.writeAll(buffer, to: descriptor, at: at, path: PathText.text(path)) } catch { return error }
            return nil
        }
        if let failure { throw fileSystemError(failure) }
        offset += Int64(bytes.count)
    }

    mutating func restart() throws -> Bool {
        do throws(SystemCallError) {
            try SystemCall.setLength(descriptor, to: 0, path: PathText.text(path))
        } catch {
            throw fileSystemError(error)
        }
        offset = 0
        return true
    }

    /// Closes the file.
    func close() throws(VMImageError) {
        do throws(SystemCallError) {
            try SystemCall.close(descriptor, path: PathText.text(path))
        } catch {
            throw fileSystemError(error)
        }
    }

    /// Closes and deletes the file (after a failure; both best effort: the download's own
    /// error is the one reported).
    func closeAndRemove() {
        SystemCall.closeIgnoringErrors(descriptor)
        try? SystemCall.unlink(PathText.text(path), in: nil, path: PathText.text(path))
    }
}

/// Hands bytes to a consumer, which cannot take them back.
struct ConsumerSink: DownloadSink {
    let deliver: @Sendable ([UInt8]) async throws -> Void

    mutating func append(_ bytes: [UInt8]) async throws {
        try await deliver(bytes)
    }

    mutating func restart() throws -> Bool { false }
}
