/// A file that qemu-img, probing its format, would open as a format this tool does not
/// read (anything but qcow2 and raw).
public struct UnreadFormatError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The format qemu-img would probe, as `qemu-img info` names it.
    public var format: ForeignFormat

    /// An error for a file qemu-img would probe as `format`.
    public init(format: ForeignFormat) {
        self.format = format
    }

    /// One line: the probed format, that it is not read, and how to read the bytes anyway.
    public var description: String {
        "qemu-img probes this file as \(format.rawValue) (file format: \(format.rawValue)), a format qcowtool does not read; -f raw reads it as a raw disk"
    }
}
