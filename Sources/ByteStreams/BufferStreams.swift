/// A ``ByteSource`` over bytes held in memory.
public struct BufferSource: ByteSource, Sendable {
    /// The bytes this source produces.
    public let bytes: [UInt8]
    /// How many bytes have been read so far.
    public private(set) var position: Int = 0
    /// The largest chunk one `read` call hands out (to exercise chunked consumers).
    public var maximumChunk: Int

    /// A source producing `bytes`, at most `maximumChunk` bytes per read.
    public init(_ bytes: [UInt8], maximumChunk: Int = .max) {
        self.bytes = bytes
        self.maximumChunk = max(1, maximumChunk)
    }

    /// Reads the next bytes.
    public mutating func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let n = min(buffer.count, bytes.count - position, maximumChunk)
        guard n > 0 else { return 0 }
        bytes.withUnsafeBytes { src in
            buffer.baseAddress!.copyMemory(from: src.baseAddress! + position, byteCount: n)
        }
        position += n
        return n
    }
}

/// A ``ByteSink`` that collects bytes in memory, refusing to grow past a limit.
public struct BufferSink: ByteSink, Sendable {
    /// The bytes written so far.
    public private(set) var bytes: [UInt8] = []
    /// The most bytes this sink accepts; writing more throws ``ByteStreamError/limitExceeded(limit:)``.
    public let limit: Int

    /// An empty sink accepting at most `limit` bytes.
    public init(limit: Int = .max) {
        self.limit = limit
    }

    /// Appends `bytes`, or throws when the limit would be passed.
    public mutating func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard bytes.count <= limit - self.bytes.count else {
            throw ByteStreamError.limitExceeded(limit: limit)
        }
        self.bytes.append(contentsOf: bytes)
    }
}

/// A ``ByteSink`` that discards what it is given and counts it.
public struct CountingSink: ByteSink, Sendable {
    /// Bytes written so far.
    public private(set) var count: UInt64 = 0
    /// A sink that has seen nothing yet.
    public init() {}
    /// Counts and drops `bytes`.
    public mutating func write(_ bytes: UnsafeRawBufferPointer) throws {
        count &+= UInt64(bytes.count)
    }
}
