#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The C library's text for `errno` (for error messages only).
func describeErrno(_ errno: Int32) -> String {
    guard let text = strerror(errno) else { return "unknown error" }
    return String(cString: text)
}
