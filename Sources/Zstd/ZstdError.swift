import CZstd

/// What went wrong while compressing or decompressing zstd data.
///
/// Every decompression error carries `offset`: how many compressed bytes had been
/// consumed, counted from the start of the stream, when the problem was detected.
public enum ZstdError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The input holds no zstd frame at all (zero bytes).
    case emptyInput
    /// The input ended in the middle of a frame.
    case truncated(offset: UInt64)
    /// Bytes that are not a zstd frame (nor a skippable frame) where a frame must start.
    case notZstd(offset: UInt64)
    /// The compressed data is damaged.
    case corrupt(offset: UInt64, reason: String)
    /// The frame's content checksum does not match the decompressed bytes.
    case checksumMismatch(offset: UInt64)
    /// A frame asks for a larger window than allowed (a memory bomb, or a stream made
    /// with `--long` beyond the configured `windowLogMax`).
    case windowTooLarge(offset: UInt64, windowLogMax: Int)
    /// A frame uses a feature this libzstd cannot decode (for example a dictionary).
    case unsupported(offset: UInt64, reason: String)
    /// One-shot decompression produced more than the caller's limit.
    case outputLimitExceeded(limit: Int)
    /// A libzstd call failed for another reason (bad parameter, out of memory…).
    case library(operation: String, reason: String)
    /// A frame that declares a small content size takes more compressed bytes than any zstd
    /// encoder makes for that size, so it is refused rather than buffered
    /// (``ZstdParallelDecompressor``).
    case frameTooLarge(offset: UInt64, limit: Int)
    /// A frame decodes to more bytes than its header declares: the output buffer sized from
    /// the header is never grown (``ZstdParallelDecompressor``).
    case frameLargerThanDeclared(offset: UInt64, declared: UInt64)

    /// A sentence a person can act on.
    public var description: String {
        switch self {
        case .emptyInput:
            return "zstd: the input is empty, not a zstd stream"
        case let .truncated(offset):
            return "zstd: the stream is truncated: it ends inside a frame after \(offset) compressed bytes"
        case let .notZstd(offset):
            return "zstd: no zstd frame at byte \(offset) (wrong magic number: not zstd data, or garbage after the last frame)"
        case let .corrupt(offset, reason):
            return "zstd: corrupt data near byte \(offset): \(reason)"
        case let .checksumMismatch(offset):
            return "zstd: content checksum mismatch in the frame ending near byte \(offset): the data is damaged"
        case let .windowTooLarge(offset, windowLogMax):
            return "zstd: the frame at byte \(offset) needs a window larger than 2^\(windowLogMax) bytes, which is refused to bound memory"
        case let .unsupported(offset, reason):
            return "zstd: unsupported frame near byte \(offset): \(reason)"
        case let .outputLimitExceeded(limit):
            return "zstd: the decompressed data is larger than the limit of \(limit) bytes"
        case let .library(operation, reason):
            return "zstd: \(operation) failed: \(reason)"
        case let .frameTooLarge(offset, limit):
            return "zstd: the frame at byte \(offset) is larger than \(limit) compressed bytes although its header declares at most a few MiB of content: the data is damaged or hostile"
        case let .frameLargerThanDeclared(offset, declared):
            return "zstd: the frame at byte \(offset) decodes to more than the \(declared) bytes its header declares: the data is damaged"
        }
    }

    /// Maps a libzstd error code from a decompression call to a typed error.
    static func decompression(code: Int, offset: UInt64, windowLogMax: Int) -> ZstdError {
        let reason = String(cString: ZSTD_getErrorName(code))
        switch ZSTD_getErrorCode(code) {
        case ZSTD_error_prefix_unknown:
            return .notZstd(offset: offset)
        case ZSTD_error_frameParameter_windowTooLarge:
            return .windowTooLarge(offset: offset, windowLogMax: windowLogMax)
        case ZSTD_error_checksum_wrong:
            return .checksumMismatch(offset: offset)
        case ZSTD_error_version_unsupported, ZSTD_error_frameParameter_unsupported,
             ZSTD_error_dictionary_wrong, ZSTD_error_dictionary_corrupted:
            return .unsupported(offset: offset, reason: reason)
        case ZSTD_error_memory_allocation:
            return .library(operation: "ZSTD_decompressStream", reason: reason)
        default:
            return .corrupt(offset: offset, reason: reason)
        }
    }

    /// Throws a `.library` error when `code` is a libzstd error.
    @discardableResult
    static func check(_ code: Int, _ operation: @autoclosure () -> String) throws -> Int {
        if ZSTD_isError(code) != 0 {
            throw ZstdError.library(operation: operation(), reason: String(cString: ZSTD_getErrorName(code)))
        }
        return code
    }
}
