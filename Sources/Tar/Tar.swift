/// Streaming POSIX tar reading and writing that keeps sparse files sparse.
///
/// - ``TarReader`` reads any ``ByteStreams/ByteSource`` member by member (V7, ustar, GNU, pax,
///   and the GNU sparse formats old GNU, PAX 0.0, 0.1 and 1.0), handing out each member's
///   data in chunks with their logical offsets.
/// - ``TarWriter`` writes ustar/pax to any ``ByteStreams/ByteSink``, storing files with holes
///   in GNU PAX sparse format 1.0.
/// - ``Tar/extract(from:into:options:)`` extracts safely into a folder.
///
/// Failures of the format or of a policy are ``TarError``s; a failed system call is a
/// `SystemCallError`, a stream limit or short source a `ByteStreamError`.
public enum Tar {}
