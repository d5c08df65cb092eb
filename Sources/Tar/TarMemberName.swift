/// The rule for member names that may be created on disk.
public enum TarMemberName {
    /// The normalized form of `name` (leading `./` removed, a directory's trailing `/`
    /// removed), or why it is unsafe: absolute, a `..` or `.` component, an empty component,
    /// a NUL byte, bytes that were not UTF-8, or a component longer than 255 bytes.
    public static func normalized(_ name: String, isDirectory: Bool = false) -> Result<String, TarError> {
        func unsafe(_ why: String) -> Result<String, TarError> {
            .failure(TarError(.unsafeName, "unsafe member name: \(why)", member: name))
        }
        var rest = Substring(name)
        if rest.hasPrefix("/") { return unsafe("absolute path") }
        while rest.hasPrefix("./") { rest = rest.dropFirst(2) }
        if isDirectory, rest.hasSuffix("/") { rest = rest.dropLast() }
        if rest.isEmpty { return unsafe("empty name") }
        if rest.utf8.contains(0) { return unsafe("contains a NUL byte") }
        if rest.contains("\u{FFFD}") { return unsafe("not valid UTF-8") }
        for component in rest.split(separator: "/", omittingEmptySubsequences: false) {
            if component.isEmpty { return unsafe("empty path component") }
            if component == ".." { return unsafe("'..' component") }
            if component == "." { return unsafe("'.' component") }
            if component.utf8.count > 255 { return unsafe("component longer than 255 bytes") }
        }
        return .success(String(rest))
    }
}
