import ByteStreams

/// A source that passes bytes through and fails once more than `limit` have been read.
struct LimitedSource<Upstream: ByteSource>: ByteSource {
    var upstream: Upstream
    let limit: UInt64
    let name: String
    private(set) var count: UInt64 = 0

    init(_ upstream: Upstream, limit: UInt64, name: String) {
        self.upstream = upstream
        self.limit = limit
        self.name = name
    }

    mutating func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let n = try upstream.read(into: buffer)
        count &+= UInt64(n)
        guard count <= limit else {
            throw VMImageError.malformedPayload(
                member: name, rule: .sizeLimit,
                message: "the compressed archive is larger than the limit of \(limit) bytes")
        }
        return n
    }
}

/// A source shared by reference, so a pipeline stage can read it while its owner keeps
/// count of what was read.
final class SharedSource<Upstream: ByteSource>: ByteSource {
    var upstream: Upstream
    init(_ upstream: Upstream) { self.upstream = upstream }
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        try upstream.read(into: buffer)
    }
}
