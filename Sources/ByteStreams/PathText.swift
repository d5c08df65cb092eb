import SystemPackage

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// File names as Swift strings without losing bytes.
///
/// A Linux file name is any bytes but `/` and NUL; a Swift `String` holds only valid UTF-8
/// (and `CommandLine.arguments` repairs invalid bytes to U+FFFD, so such a file could not be
/// opened). ``text(_:)`` keeps each byte that is not part of valid UTF-8 as one scalar of
/// the private-use range U+10FE80…U+10FEFF, and ``bytes(_:)`` / ``filePath(_:)`` turn those
/// back into the original byte: every `String` path in this package goes through them on its
/// way to the system. (A name that really contains one of those 128 private-use characters is
/// the one name this cannot tell apart.)
public enum PathText {
    /// The first scalar of the range that stands for the bytes 0x80…0xFF.
    static let base: UInt32 = 0x10FE00

    /// `bytes` as a string: valid UTF-8 as is, each other byte as its private-use stand-in.
    public static func text<Bytes: Collection>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        let bytes = Array(bytes)
        if let valid = String(validating: bytes, as: UTF8.self), !valid.unicodeScalars.contains(where: isStandIn) { return valid }
        var scalars = String.UnicodeScalarView()
        var index = 0
        while index < bytes.count {
            let lead = bytes[index]
            let length = lead < 0x80 ? 1 : lead >> 5 == 0b110 ? 2 : lead >> 4 == 0b1110 ? 3 : lead >> 3 == 0b11110 ? 4 : 0
            var escaped = 1
            if length > 0, index + length <= bytes.count,
               let piece = String(validating: bytes[index..<(index + length)], as: UTF8.self),
               let scalar = piece.unicodeScalars.first {
                guard isStandIn(scalar) else {
                    scalars.append(scalar)
                    index += length
                    continue
                }
                // A real stand-in character: kept byte by byte, so it reads back as itself.
                escaped = length
            }
            for byte in bytes[index..<(index + escaped)] {
                scalars.append(Unicode.Scalar(base + UInt32(byte)) ?? "?")
            }
            index += escaped
        }
        return String(scalars)
    }

    /// The bytes `text` stands for (the inverse of ``text(_:)``).
    public static func bytes(_ text: String) -> [UInt8] {
        guard text.unicodeScalars.contains(where: isStandIn) else { return Array(text.utf8) }
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            if isStandIn(scalar) {
                out.append(UInt8(truncatingIfNeeded: scalar.value - base))
            } else {
                out.append(contentsOf: Array(String(scalar).utf8))
            }
        }
        return out
    }

    /// `path` as a string, byte for byte (the inverse of ``filePath(_:)``).
    public static func text(_ path: FilePath) -> String {
        path.withPlatformString { text(UnsafeBufferPointer(start: UnsafeRawPointer($0).assumingMemoryBound(to: UInt8.self), count: strlen($0))) }
    }

    /// The file path `text` stands for, byte for byte.
    public static func filePath(_ text: String) -> FilePath {
        var bytes = bytes(text).map { CChar(bitPattern: $0) }
        bytes.append(0)
        return bytes.withUnsafeBufferPointer { FilePath(platformString: $0.baseAddress!) }
    }

    /// Calls `body` with the NUL-terminated bytes `text` stands for (for `open`, `stat`, `rename`…).
    public static func withCString<Result>(_ text: String, _ body: (UnsafePointer<CChar>) throws -> Result) rethrows -> Result {
        var bytes = bytes(text).map { CChar(bitPattern: $0) }
        bytes.append(0)
        return try bytes.withUnsafeBufferPointer { try body($0.baseAddress!) }
    }

    /// The command-line arguments, byte for byte (from `CommandLine.unsafeArgv`).
    public static var arguments: [String] {
        (0..<Int(CommandLine.argc)).map { index in
            guard let argument = CommandLine.unsafeArgv[index] else { return "" }
            return text(UnsafeBufferPointer(start: UnsafeRawPointer(argument).assumingMemoryBound(to: UInt8.self), count: strlen(argument)))
        }
    }

    private static func isStandIn(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value >= base + 0x80 && scalar.value <= base + 0xFF
    }

    /// Whether `scalar` is the stand-in of a file-name byte that is not UTF-8 (shown as that
    /// byte, `\xNN`, by ``TerminalText``).
    public static func standsForByte(_ scalar: Unicode.Scalar) -> Bool { isStandIn(scalar) }
}
