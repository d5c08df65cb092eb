import CSystemShim

#if canImport(Glibc)
import Glibc
#endif

/// An anonymous in-memory file (`memfd_create`) that holds one fuzz input at a time, so code
/// that reads through a file descriptor runs on the input's bytes without a file system:
/// no path, no scratch file to clean up, nothing left behind when the fuzzer is killed.
public final class MemoryFile {
    /// The descriptor; reads see exactly the bytes of the last ``load(_:)``.
    public let descriptor: CInt

    /// Creates an empty in-memory file, or `nil` when the system has none (not Linux).
    public init?(name: String) {
        let fd = vmimage_memfd_create(name)
        guard fd >= 0 else { return nil }
        descriptor = fd
    }

    deinit { close(descriptor) }

    /// A path that opens this same file again (`/proc/self/fd/N`), for APIs that take a path.
    public var path: String { "/proc/self/fd/\(descriptor)" }

    /// Replaces the file's contents with `bytes` (the file then has exactly their size).
    /// Returns `false` when the system refuses (out of memory).
    public func load(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var done = 0
        while done < bytes.count {
            let wrote = pwrite(descriptor, bytes.baseAddress! + done, bytes.count - done, off_t(done))
            if wrote < 0 && errno == EINTR { continue }
            guard wrote > 0 else { return false }
            done += wrote
        }
        return ftruncate(descriptor, off_t(bytes.count)) == 0
    }

    /// Replaces the file's contents with the fuzzer's input `data` of `size` bytes.
    public func load(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Bool {
        guard let data, size > 0 else { return ftruncate(descriptor, 0) == 0 }
        return load(UnsafeRawBufferPointer(start: data, count: size))
    }
}
