import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// A request as the test server saw it.
struct RecordedRequest: Sendable {
    var method: String
    var uri: String
    var range: String?
    var ifRange: String?
}

/// What the test server does for one request.
enum Reply: Sendable {
    /// Answers `status` with a short text body.
    case status(Int)
    /// Serves `body` (honouring `Range: bytes=N-` with 206 when `honorRange`) in chunks of
    /// `chunkSize` bytes, waiting `chunkDelay` between chunks (a slow server); with
    /// `interruption`, declares the full length but stops early. With `etag`, sends it and
    /// answers a range request whose `If-Range` differs with the whole body (200).
    case serve(
        [UInt8], honorRange: Bool = true, chunkSize: Int = 64 * 1024, chunkDelay: Duration? = nil,
        interruption: Interruption? = nil, etag: String? = nil)
    /// Serves `size` bytes where byte `i` is `UInt8(truncatingIfNeeded: i)`, generated while
    /// sending (for big downloads without a big buffer), in 256 KiB chunks.
    case pattern(size: Int)
}

/// How a ``Reply/serve(_:honorRange:chunkSize:chunkDelay:interruption:etag:)`` answer stops early.
/// Both wait for events, never for a time: a loaded machine only makes them slower.
enum Interruption: Sendable {
    /// Sends `after` bytes of this answer's body, then closes the connection once `client` has
    /// taken in the image up to there (every byte before the cut flushed to the socket and
    /// received): the client then resumes exactly at the cut. Closing earlier would race the
    /// client, which may discard body bytes still buffered when it learns the connection is gone.
    case drop(after: Int, once: ClientBytes)
    /// Sends `after` bytes of this answer's body, then nothing more until the client closes the
    /// connection (or the server stops).
    case stall(after: Int)

    /// Body bytes of the answer sent before it stops.
    var after: Int {
        switch self {
        case .drop(let after, once: _): after
        case .stall(let after): after
        }
    }
}

/// A tiny HTTP/1.1 server on 127.0.0.1 (a port the kernel picks) built on SwiftNIO, answering
/// each request as the test's closure says and recording every request it saw.
final class TestHTTPServer: Sendable {
    let port: Int
    private let channel: NIOAsyncChannel<NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>, Never>
    private let recorded = Recorder()
    private let serving = Mutex<Task<Void, Never>?>(nil)

    /// Starts a server that answers request number `index` (from 0) with `reply(request, index)`.
    init(reply: @escaping @Sendable (RecordedRequest, Int) -> Reply) async throws {
        channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .bind(host: "127.0.0.1", port: 0) { child in
                child.eventLoop.makeCompletedFuture {
                    try child.pipeline.syncOperations.configureHTTPServerPipeline()
                    return try NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>(wrappingChannelSynchronously: child)
                }
            }
        port = channel.channel.localAddress?.port ?? 0
        let channel = self.channel
        let recorded = self.recorded
        let task = Task<Void, Never> {
            _ = try? await withThrowingDiscardingTaskGroup { group in
                try await channel.executeThenClose { connections in
                    for try await connection in connections {
                        group.addTask {
                            try? await Self.serve(connection, recorded: recorded, reply: reply)
                        }
                    }
                }
            }
        }
        serving.withLock { $0 = task }
    }

    /// `http://127.0.0.1:PORT/path`.
    func url(_ path: String = "/image.tar.zst") -> String {
        "http://127.0.0.1:\(port)\(path)"
    }

    /// Every request seen so far, in order.
    var requests: [RecordedRequest] { recorded.requests.withLock { $0 } }

    /// Closes the listening socket and stops serving.
    func stop() async {
        try? await channel.channel.close()
        let task = serving.withLock { $0 }
        task?.cancel()
        await task?.value
    }

    private static func serve(
        _ connection: NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>,
        recorded: Recorder,
        reply: @Sendable (RecordedRequest, Int) -> Reply
    ) async throws {
        try await connection.executeThenClose { inbound, _ in
            var head: HTTPRequestHead?
            for try await part in inbound {
                switch part {
                case .head(let requestHead):
                    head = requestHead
                case .body:
                    break
                case .end:
                    guard let requestHead = head else { return }
                    let request = RecordedRequest(
                        method: "\(requestHead.method)", uri: requestHead.uri, range: requestHead.headers.first(name: "Range"),
                        ifRange: requestHead.headers.first(name: "If-Range"))
                    let index = recorded.requests.withLock { requests in
                        requests.append(request)
                        return requests.count - 1
                    }
                    let keepOpen = try await respond(reply(request, index), to: request, channel: connection.channel)
                    if !keepOpen { return }
                }
            }
        }
    }

    /// Writes the reply straight to the channel, each part awaited until it reached the socket
    /// (so an interruption cuts the body exactly where the test says); returns whether the
    /// connection may stay open.
    private static func respond(_ reply: Reply, to request: RecordedRequest, channel: any Channel) async throws -> Bool {
        let outbound = DirectWriter(channel: channel)
        switch reply {
        case .status(let code):
            let text = ByteBuffer(string: "status \(code)\n")
            var headers = HTTPHeaders()
            headers.add(name: "Content-Length", value: "\(text.readableBytes)")
            try await outbound.write(.head(HTTPResponseHead(version: .http1_1, status: .init(statusCode: code), headers: headers)))
            try await outbound.write(.body(.byteBuffer(text)))
            try await outbound.write(.end(nil))
            return true

        case .pattern(let size):
            var headers = HTTPHeaders()
            headers.add(name: "Content-Length", value: "\(size)")
            try await outbound.write(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers)))
            let chunk = ByteBuffer(bytes: (0..<(256 << 10)).map { UInt8(truncatingIfNeeded: $0) })
            var sent = 0
            while sent < size {
                let count = min(chunk.readableBytes, size - sent)
                try await outbound.write(.body(.byteBuffer(chunk.getSlice(at: 0, length: count) ?? chunk)))
                sent += count
            }
            try await outbound.write(.end(nil))
            return true

        case let .serve(body, honorRange, chunkSize, chunkDelay, interruption, etag):
            var start = 0
            var status = HTTPResponseStatus.ok
            var headers = HTTPHeaders()
            headers.add(name: "Accept-Ranges", value: honorRange ? "bytes" : "none")
            if let etag { headers.add(name: "ETag", value: etag) }
            let validatorHolds = request.ifRange == nil || request.ifRange == etag
            if honorRange, validatorHolds, let range = request.range, range.hasPrefix("bytes="), range.hasSuffix("-"),
               let from = Int(range.dropFirst("bytes=".count).dropLast()), from < body.count {
                start = from
                status = .partialContent
                headers.add(name: "Content-Range", value: "bytes \(from)-\(body.count - 1)/\(body.count)")
            }
            headers.add(name: "Content-Length", value: "\(body.count - start)")
            try await outbound.write(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers)))
            let limit = interruption.map { min(start + $0.after, body.count) } ?? body.count
            var offset = start
            while offset < limit {
                let end = min(offset + chunkSize, limit)
                try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: body[offset..<end]))))
                offset = end
                if let chunkDelay, offset < limit { try await Task.sleep(for: chunkDelay) }
            }
            switch interruption {
            case nil:
                try await outbound.write(.end(nil))
                return true
            case .drop(_, let client):
                await client.wait(for: limit)
                return false
            case .stall:
                await untilClosed(channel)
                return false
            }
        }
    }

    /// Returns once `channel` is closed (by the peer, or by the server stopping, which cancels).
    private static func untilClosed(_ channel: any Channel) async {
        await withTaskCancellationHandler {
            try? await channel.closeFuture.get()
        } onCancel: {
            channel.close(promise: nil)
        }
    }
}

/// The requests a server saw, shared between its connections.
final class Recorder: Sendable {
    let requests = Mutex([RecordedRequest]())
}

/// Writes response parts to a channel, returning once each is in the socket.
struct DirectWriter {
    let channel: any Channel

    func write(_ part: HTTPServerResponsePart) async throws {
        try await channel.writeAndFlush(part).get()
    }
}

/// Whether two byte arrays are equal, for `#expect(sameBytes(a, b))`: a failed `#expect(a == b)`
/// on megabytes makes Swift Testing diff the collections for minutes.
func sameBytes(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    a == b
}
