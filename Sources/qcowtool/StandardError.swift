import ByteStreams
import SystemPackage

/// One line on standard error.
func printError(_ message: String) {
    writeStandardError("qcowtool: \(message)\n")
}

/// Writes `text` to standard error, unbuffered (`SystemCall.writeAll`: short writes and
/// `EINTR` are retried; a write error, such as a closed pipe, drops the text: there is nowhere
/// left to report it).
func writeStandardError(_ text: String) {
    var text = text
    text.withUTF8 { bytes in
        try? SystemCall.writeAll(UnsafeRawBufferPointer(bytes), to: .standardError, path: nil)
    }
}
