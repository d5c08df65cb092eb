import SystemPackage

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Deletes an image folder this library made: the regular files directly inside it (never
/// following a link), then the folder. A folder holding a subfolder is left in place and
/// reported, since image folders never have one.
func removeImageFolder(_ path: FilePath) throws(VMImageError) {
    let raw = open(path.string, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
    guard raw >= 0 else {
        if errno == ENOENT { return }
        throw .fileSystem(operation: "open folder", path: path.string, errno: errno)
    }
    guard let directory = fdopendir(raw) else {
        let code = errno
        close(raw)
        throw .fileSystem(operation: "read folder", path: path.string, errno: code)
    }
    var names: [String] = []
    while let entry = readdir(directory) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { bytes in
            String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
        }
        if name != "." && name != ".." { names.append(name) }
    }
    var failure: VMImageError?
    for name in names where unlinkat(raw, name, 0) != 0 && errno != ENOENT {
        failure = failure ?? .fileSystem(operation: "delete", path: path.appending(name).string, errno: errno)
    }
    closedir(directory)
    if let failure { throw failure }
    guard rmdir(path.string) == 0 || errno == ENOENT else {
        throw .fileSystem(operation: "delete folder", path: path.string, errno: errno)
    }
}

/// A new name `prefix-<random>` for a file or folder.
func randomName(_ prefix: String) -> String {
    var generator = SystemRandomNumberGenerator()
    return "\(prefix)-\(String(generator.next(), radix: 36))"
}
