import CSystemShim
import SystemPackage

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Facts about sparse files: where the data is, how much disk it takes, and how to
/// punch holes. Uses `lseek(SEEK_DATA/SEEK_HOLE)` and `fallocate` through the C shim.
public enum SparseFile {
    /// Size and allocation of an open file, from `fstat`.
    public struct Status: Sendable, Equatable {
        /// Apparent size in bytes (`st_size`).
        public var size: UInt64
        /// Bytes of disk allocated (`st_blocks * 512`).
        public var allocatedBytes: UInt64
        /// Whether it is a regular file.
        public var isRegularFile: Bool
        /// Preferred I/O block size (`st_blksize`).
        public var blockSize: Int
    }

    /// `fstat` of `descriptor`.
    public static func status(of descriptor: FileDescriptor, path: String? = nil) throws(SystemCallError) -> Status {
        let st = try SystemCall.status(of: descriptor, path: path)
        return Status(
            size: UInt64(clamping: st.st_size),
            allocatedBytes: UInt64(clamping: st.st_blocks) &* 512,
            isRegularFile: (st.st_mode & S_IFMT) == S_IFREG,
            blockSize: Int(st.st_blksize))
    }

    /// The data extents of the first `size` bytes of a file, in order, as reported by
    /// `SEEK_DATA`/`SEEK_HOLE`. A file system without hole support reports one extent
    /// covering everything. Returns `nil` when the file system refuses these seeks.
    ///
    /// The file position of `descriptor` is left undefined.
    public static func dataExtents(of descriptor: FileDescriptor, size: UInt64, path: String? = nil) throws -> [Range<UInt64>]? {
        var extents: [Range<UInt64>] = []
        let walked = try forEachDataExtent(of: descriptor, size: size, path: path) { extents.append($0) }
        return walked ? extents : nil
    }

    /// Calls `body` with each data extent of the first `size` bytes, in order, one at a time,
    /// so that a file with millions of extents never needs a list of them.
    ///
    /// - Returns: `false` (without calling `body`) when the file system refuses these seeks.
    public static func forEachDataExtent(
        of descriptor: FileDescriptor, size: UInt64, path: String? = nil, _ body: (Range<UInt64>) throws -> Void
    ) throws -> Bool {
        var offset: UInt64 = 0
        var first = true
        while offset < size {
            let data: UInt64?
            do throws(SystemCallError) {
                data = try SystemCall.nextData(in: descriptor, from: offset, path: path)
            } catch {
                if first && (error.errno.rawValue == EINVAL || error.errno.rawValue == EOPNOTSUPP) { return false }
                throw error
            }
            first = false
            guard let dataStart = data, dataStart < size else { break }  // no data after offset
            let dataEnd = min(try SystemCall.nextHole(in: descriptor, from: dataStart, path: path), size)
            guard dataEnd > dataStart else { break }
            try body(dataStart..<dataEnd)
            offset = dataEnd
        }
        return true
    }

    /// Deallocates `length` bytes at `offset` without changing the file size.
    ///
    /// - Returns: `false` when the file system cannot punch holes.
    @discardableResult
    public static func punchHole(in descriptor: FileDescriptor, offset: UInt64, length: UInt64, path: String? = nil) throws(SystemCallError) -> Bool {
        try SystemCall.punchHole(in: descriptor, offset: offset, length: length, path: path)
    }

    /// Sets the file size with `ftruncate` (growing it leaves a hole).
    public static func setSize(of descriptor: FileDescriptor, to size: UInt64, path: String? = nil) throws(SystemCallError) {
        try SystemCall.setLength(descriptor, to: size, path: path)
    }

    /// Whether every byte of `bytes` is zero.
    ///
    /// Checks the first 16 bytes, then compares the buffer with itself shifted by 16 using
    /// the C library's vectorised `memcmp`: if the first 16 bytes are zero and every byte
    /// equals the one 16 before it, all are zero.
    @inline(__always)
    public static func isZero(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let count = bytes.count
        guard let base = bytes.baseAddress else { return true }
        if count < 32 {
            for index in 0..<count where bytes[index] != 0 { return false }
            return true
        }
        guard base.loadUnaligned(as: UInt64.self) == 0, base.loadUnaligned(fromByteOffset: 8, as: UInt64.self) == 0 else {
            return false
        }
        return memcmp(base, base + 16, count - 16) == 0
    }
}
