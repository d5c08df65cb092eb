#if canImport(Glibc)
import Glibc
#endif

/// A private folder on tmpfs (`/dev/shm`, else `$TMPDIR` or `/tmp`) for targets that must
/// write files, made once per fuzzer process and removed (with what is left in it) at exit.
public final class ScratchFolder {
    /// The folder's absolute path.
    public let path: String

    /// Creates `swift-vmimage-fuzz-LABEL-PID`, or returns `nil` when it cannot.
    public init?(label: String) {
        var st = stat()
        let base: String
        if stat("/dev/shm", &st) == 0, st.st_mode & S_IFMT == S_IFDIR, access("/dev/shm", W_OK) == 0 {
            base = "/dev/shm"
        } else {
            base = getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp"
        }
        path = "\(base)/swift-vmimage-fuzz-\(label)-\(getpid())"
        guard mkdir(path, 0o700) == 0 else { return nil }
        ScratchFolder.created.append(path)
        if ScratchFolder.created.count == 1 { atexit { ScratchFolder.removeAll() } }
    }

    nonisolated(unsafe) private static var created: [String] = []

    private static func removeAll() {
        for path in created { removeTree(path) }
    }

    /// The names in the folder at `path` (`nil` when it cannot be read).
    public static func names(in path: String) -> [String]? {
        guard let dir = opendir(path) else { return nil }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// Removes `path` and everything below it (never following a symbolic link).
    public static func removeTree(_ path: String) {
        var st = stat()
        guard lstat(path, &st) == 0 else { return }
        if st.st_mode & S_IFMT == S_IFDIR {
            for name in names(in: path) ?? [] { removeTree(path + "/" + name) }
            rmdir(path)
        } else {
            unlink(path)
        }
    }
}
