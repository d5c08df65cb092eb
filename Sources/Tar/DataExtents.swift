import ByteStreams
import CSystemShim
import SystemPackage

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Walks a file's data extents with `lseek(SEEK_DATA/SEEK_HOLE)` one at a time, so that a
/// file with millions of extents never needs a list of them (the writer's map has a cap;
/// this keeps the walk under it too). Same rules as `SparseFile.dataExtents`.
enum DataExtents {
    /// Calls `body` with each data extent of the first `size` bytes, in order.
    ///
    /// - Returns: `false` (without calling `body`) when the file system refuses these seeks.
    static func forEach(
        in descriptor: FileDescriptor, size: UInt64, path: String?, _ body: (Range<UInt64>) throws -> Void
    ) throws -> Bool {
        var offset: UInt64 = 0
        var first = true
        while offset < size {
            let data = vmimage_seek_data(descriptor.rawValue, Int64(clamping: offset))
            if data < 0 {
                let e = errno
                if e == ENXIO { break }  // no data after offset
                if first, e == EINVAL || e == EOPNOTSUPP { return false }
                throw ByteStreamError.system(operation: "lseek(SEEK_DATA)", path: path, errno: Errno(rawValue: e))
            }
            first = false
            let dataStart = UInt64(data)
            if dataStart >= size { break }
            let hole = vmimage_seek_hole(descriptor.rawValue, data)
            if hole < 0 {
                throw ByteStreamError.system(operation: "lseek(SEEK_HOLE)", path: path, errno: Errno(rawValue: errno))
            }
            let dataEnd = min(UInt64(hole), size)
            guard dataEnd > dataStart else { break }
            try body(dataStart..<dataEnd)
            offset = dataEnd
        }
        return true
    }
}
