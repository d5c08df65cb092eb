import SystemPackage

/// Extraction of an archive while its bytes arrive: the async side feeds a ``ByteBridge``,
/// a Dispatch thread runs the blocking zstd → tar → disk pipeline on its other end.
enum StreamingExtraction {
    /// The producer failed (the download broke): reported instead of the extraction's
    /// secondary error about a truncated stream.
    struct ProducerFailed: Error {
        let underlying: any Error
    }

    static func extract<Bytes: AsyncSequence & Sendable>(
        _ bytes: Bytes, into folder: FilePath, archiveName: String, limits: ImageLimits
    ) async throws -> ImageContents where Bytes.Element == [UInt8] {
        let bridge = ByteBridge()
        async let extraction: ImageContents = runBlocking {
            defer { bridge.closeReading() }
            return try ImageArchive.extract(from: bridge.reader, into: folder, archiveName: archiveName, limits: limits)
        }
        var producerError: (any Error)?
        do {
            for try await chunk in bytes {
                try await bridge.send(chunk)
            }
            bridge.finish()
        } catch is ByteBridge.Closed {
            // The extraction stopped reading (it failed or finished): its result says why.
            bridge.finish()
        } catch {
            producerError = error
            bridge.finish(throwing: ProducerFailed(underlying: error))
        }
        do {
            return try await extraction
        } catch {
            if let producerError { throw producerError }
            throw error
        }
    }
}
