#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import ByteStreams
import SystemPackage

/// How much disk and memory the host has free: what the ``GarbageCollector`` consults.
///
/// Replace the closures to test a collector or to use another measure.
public struct FreeSpaceReadings: Sendable {
    /// Bytes an unprivileged user can still write in the file system holding the folder.
    public var freeDiskSpace: @Sendable (_ folder: FilePath) throws -> UInt64
    /// Bytes of memory available to new work without swapping.
    public var freeMemory: @Sendable () throws -> UInt64

    /// Readings from the given closures.
    public init(
        freeDiskSpace: @escaping @Sendable (_ folder: FilePath) throws -> UInt64,
        freeMemory: @escaping @Sendable () throws -> UInt64
    ) {
        self.freeDiskSpace = freeDiskSpace
        self.freeMemory = freeMemory
    }

    /// The host's own figures: `statvfs` (`f_bavail * f_frsize`) and `MemAvailable` from `/proc/meminfo`.
    public static let system = FreeSpaceReadings(
        freeDiskSpace: { folder in try availableDiskSpace(in: folder) },
        freeMemory: { try availableMemory() }
    )
}

/// Bytes available to unprivileged users in the file system holding `folder` (`statvfs`).
public func availableDiskSpace(in folder: FilePath) throws(VMImageError) -> UInt64 {
    let info: statvfs
    do throws(SystemCallError) {
        info = try SystemCall.fileSystemStatus(folder.string)
    } catch {
        throw fileSystemError(error)
    }
    let (bytes, overflow) = UInt64(info.f_bavail).multipliedReportingOverflow(by: UInt64(info.f_frsize))
    return overflow ? .max : bytes
}

/// Bytes of memory available without swapping: `MemAvailable` in `/proc/meminfo`.
public func availableMemory() throws(VMImageError) -> UInt64 {
    let path = "/proc/meminfo"
    var buffer = [UInt8](repeating: 0, count: 64 * 1024)
    let descriptor: FileDescriptor
    do throws(SystemCallError) {
        descriptor = try SystemCall.openForReading(path, nonBlocking: false)
    } catch {
        throw fileSystemError(error)
    }
    defer { SystemCall.closeIgnoringErrors(descriptor) }
    let read = buffer.withUnsafeMutableBytes { raw -> Result<Int, SystemCallError> in
        var total = 0
        while total < raw.count {
            do throws(SystemCallError) {
                let count = try SystemCall.readAvailable(descriptor, into: UnsafeMutableRawBufferPointer(rebasing: raw[total...]), path: path)
                if count == 0 { break }
                total += count
            } catch {
                return .failure(error)
            }
        }
        return .success(total)
    }
    let count: Int
    switch read {
    case let .success(total): count = total
    case let .failure(error): throw fileSystemError(error)
    }
    guard let bytes = parseMemAvailable(buffer[..<count]) else {
        throw .fileSystem(operation: "find MemAvailable in", path: path, errno: ENOENT)
    }
    return bytes
}

/// The `MemAvailable:` figure of a `/proc/meminfo` text, in bytes (the file says kB).
func parseMemAvailable(_ text: ArraySlice<UInt8>) -> UInt64? {
    let key = Array("MemAvailable:".utf8)
    for line in text.split(separator: UInt8(ascii: "\n")) where line.starts(with: key) {
        let fields = line.dropFirst(key.count).split(separator: UInt8(ascii: " "))
        guard let number = fields.first, let kibibytes = UInt64(String(decoding: number, as: UTF8.self)) else {
            return nil
        }
        let unit = fields.dropFirst().first.map { String(decoding: $0, as: UTF8.self) }
        guard unit == "kB" else { return nil }
        let (bytes, overflow) = kibibytes.multipliedReportingOverflow(by: 1024)
        return overflow ? .max : bytes
    }
    return nil
}
