import ByteStreams

/// A tar format or policy failure: what went wrong, in which member, at which archive offset.
///
/// I/O failures of the underlying files and streams are not wrapped: a failed system call
/// arrives as `SystemCallError`, a stream limit or short source as `ByteStreamError`, both
/// from the `ByteStreams` module.
public struct TarError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The kind of failure, stable for callers to match on.
    public enum Code: String, Sendable, Equatable {
        /// The archive ended in the middle of a header, its data or before the end-of-archive marker.
        case truncated
        /// A header's checksum does not match its bytes.
        case badChecksum
        /// A header field (number, magic, type) cannot be decoded.
        case badHeaderField
        /// A pax or GNU long-name record is malformed.
        case badExtendedHeader
        /// A sparse map is malformed, unsorted, overlapping or outside the file.
        case badSparseMap
        /// The data stored for a member does not match its declared size.
        case sizeMismatch
        /// A configured limit (metadata size, map entries, member size) was exceeded.
        case limitExceeded
        /// A member name is unsafe to create (absolute, `..`, NUL, empty component, not UTF-8).
        case unsafeName
        /// A member's type (symlink, hardlink, device, …) is not allowed by the caller.
        case disallowedType
        /// A member name is not in the caller's allow-list.
        case disallowedName
        /// The same member name appears twice.
        case duplicateMember
        /// The file to create already exists in the target folder.
        case alreadyExists
        /// The writer cannot represent a value (name with NUL, negative size, …).
        case unrepresentable
        /// Something other than zero padding follows the end-of-archive marker.
        case trailingData
        /// The API was used out of order (reading data with no current entry, writing after finish).
        case invalidState
    }

    /// The kind of failure.
    public var code: Code
    /// The member's name, when the failure concerns one.
    public var member: String?
    /// The archive byte offset where the problem was found (usually the member's header).
    public var offset: UInt64?
    /// What exactly is wrong, in words.
    public var detail: String

    /// A failure of kind `code`; `detail` says what is wrong.
    public init(_ code: Code, _ detail: String, member: String? = nil, offset: UInt64? = nil) {
        self.code = code
        self.detail = detail
        self.member = member
        self.offset = offset
    }

    /// A sentence a person can act on, naming the member and offset, on one line: the
    /// member name is shown through ``TerminalText`` (input-derived text in `detail` is
    /// escaped where the error is made).
    public var description: String {
        var text = "tar: \(detail)"
        if let member { text += " (member \(TerminalText.quoted(member))" } else if offset != nil { text += " (" }
        if let offset { text += (member == nil ? "" : ", ") + "at archive offset \(offset)" }
        if member != nil || offset != nil { text += ")" }
        return text
    }
}
