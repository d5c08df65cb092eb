#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Fast all-zero test, used to find holes in dense data and the end-of-archive marker.
enum ZeroBytes {
    /// Whether every byte of `bytes` is zero.
    ///
    /// Checks the first 16 bytes, then compares the buffer with itself shifted by 16 using
    /// the C library's vectorised `memcmp`: if the first 16 bytes are zero and every byte
    /// equals the one 16 before it, all are zero.
    @inline(__always)
    static func isZero(_ bytes: UnsafeRawBufferPointer) -> Bool {
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
