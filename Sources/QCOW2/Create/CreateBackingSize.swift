import ByteStreams
import SystemPackage

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The virtual size of a backing file, for `create` without a size: a raw file's length
/// (rounded up to 512 bytes, as qemu's `bdrv_getlength` reports it), or a qcow2 image's
/// `size` field. Reads at most the first 32 bytes; never the data.
enum CreateBackingSize {
    /// Reads the size of `name` (resolved against the folder descriptor `folder`).
    static func read(name: String, folder: Int32, format: QCOW2CreateOptions.BackingFormat, displayPath: String) throws(QCOW2CreateError) -> UInt64 {
        let descriptor: FileDescriptor
        do {
            descriptor = try NamedFile.open(name, relativeTo: folder)
        } catch {
            switch error.reason {
            case let .system(code): throw .invalidBackingFile(path: displayPath, reason: Errno(rawValue: code).description)
            case .symbolicLink: throw .invalidBackingFile(path: displayPath, reason: "it is a symbolic link, which is never followed")
            case let .notRegular(kind): throw .invalidBackingFile(path: displayPath, reason: "it is \(kind), not a regular file")
            }
        }
        defer { SystemCall.closeIgnoringErrors(descriptor) }
        let length: UInt64
        do throws(SystemCallError) {
            length = UInt64(clamping: try SystemCall.status(of: descriptor, path: displayPath).st_size)
        } catch {
            throw .invalidBackingFile(path: displayPath, reason: error.errno.description)
        }
        switch format {
        case .raw:
            return QCOW2Format.roundedUpToSectors(length) ?? length
        case .qcow2:
            var header = [UInt8](repeating: 0, count: 32)
            let read = header.withUnsafeMutableBytes { buffer -> Result<Int, SystemCallError> in
                do throws(SystemCallError) {
                    return .success(try SystemCall.readFully(descriptor, into: buffer, at: 0, path: displayPath))
                } catch {
                    return .failure(error)
                }
            }
            let got: Int
            switch read {
            case let .success(count): got = count
            case let .failure(error): throw .invalidBackingFile(path: displayPath, reason: error.errno.description)
            }
            guard got == header.count else {
                throw .invalidBackingFile(path: displayPath, reason: "only \(got) bytes long, too short for a qcow2 header (the size field ends at byte 32)")
            }
            return try size(fromQCOW2Header: header, path: displayPath)
        }
    }

    /// The `size` field (bytes 24..<32) of a qcow2 header, after checking magic and version.
    static func size(fromQCOW2Header header: [UInt8], path: String) throws(QCOW2CreateError) -> UInt64 {
        guard header.count >= 32 else {
            throw .invalidBackingFile(path: path, reason: "only \(header.count) bytes, too short for a qcow2 header")
        }
        let b = BigEndianBytes(header)
        guard b.u32(0) == QCOW2Format.magic else {
            throw .invalidBackingFile(path: path, reason: "no qcow2 magic 'QFI\\xfb' at offset 0; is the backing format really qcow2?")
        }
        let version = b.u32(4)
        guard version == 2 || version == 3 else {
            throw .invalidBackingFile(path: path, reason: "qcow2 version \(version) at offset 4 is not 2 or 3")
        }
        let size = b.u64(24)
        // qemu keeps sizes below 2^63 (int64_t) and a multiple of 512 is what it creates.
        guard size <= UInt64(Int64.max) - 511 else {
            throw .invalidBackingFile(path: path, reason: "virtual size \(size) at offset 24 is out of range")
        }
        return size
    }
}
