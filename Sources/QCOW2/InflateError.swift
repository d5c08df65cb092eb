/// Why a raw DEFLATE (RFC 1951) stream could not be decoded.
///
/// Every case carries `offset`: the byte of the compressed input where the problem
/// was detected (the byte holding the bit the decoder was reading).
enum InflateError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The input ended before the final block ended and before the output was full.
    case truncated(offset: Int)
    /// A block header asks for block type 3, which does not exist.
    case invalidBlockType(offset: Int)
    /// A stored block's LEN and NLEN are not one's complements of each other.
    case storedLengthMismatch(offset: Int, length: Int, complement: Int)
    /// A dynamic block header declares more than 286 literal/length or 30 distance codes.
    case tooManyCodes(offset: Int, literalLength: Int, distance: Int)
    /// The code lengths of a dynamic block do not form a valid prefix code.
    case invalidCodeLengths(offset: Int, reason: String)
    /// A bit pattern that is no code of the current table, or a reserved symbol (286, 287, 30, 31).
    case invalidSymbol(offset: Int)
    /// A match reaches back before the start of the output.
    case distanceTooFar(offset: Int, distance: Int, available: Int)

    /// A sentence a person can act on.
    var description: String {
        switch self {
        case let .truncated(offset):
            return "deflate: the compressed data ends at byte \(offset), inside a block"
        case let .invalidBlockType(offset):
            return "deflate: invalid block type 3 at byte \(offset)"
        case let .storedLengthMismatch(offset, length, complement):
            return "deflate: stored block at byte \(offset) has LEN \(length) but NLEN \(complement) is not its complement"
        case let .tooManyCodes(offset, literalLength, distance):
            return "deflate: dynamic block at byte \(offset) declares \(literalLength) literal/length and \(distance) distance codes (at most 286 and 30)"
        case let .invalidCodeLengths(offset, reason):
            return "deflate: invalid code lengths in the block header at byte \(offset): \(reason)"
        case let .invalidSymbol(offset):
            return "deflate: invalid Huffman code at byte \(offset)"
        case let .distanceTooFar(offset, distance, available):
            return "deflate: match at byte \(offset) reaches back \(distance) bytes but only \(available) have been produced"
        }
    }
}
