import SystemPackage

/// Extraction of an archive while its bytes arrive: the async side feeds a ``ByteBridge``,
/// a Dispatch thread runs the blocking zstd → tar → disk pipeline on its other end.
enum StreamingExtraction {
    /// The producer failed (the download broke): the extraction sees this instead of a
    /// clean end, and the producer's own error is what the caller gets.
    struct ProducerFailed: Error {}

    /// Extracts what `produce` delivers into the new folder `folder`. When the producer
    /// throws — even after its last byte, as a digest mismatch does — whatever was
    /// extracted is removed and the producer's error is thrown.
    static func extract(
        into folder: FilePath, archiveName: String, limits: ImageLimits,
        produce: @escaping StreamingDownloader
    ) async throws -> ImageContents {
        let bridge = ByteBridge()
        async let extraction: ImageContents = runBlocking {
            defer { bridge.closeReading() }
            return try ImageArchive.extract(from: bridge.reader, into: folder, archiveName: archiveName, limits: limits)
        }
        var producerError: (any Error)?
        do {
            try await produce { chunk in try await bridge.send(chunk) }
            bridge.finish()
        } catch is ByteBridge.Closed {
            // The extraction stopped reading (it failed): its result says why.
            bridge.finish()
        } catch {
            producerError = error
            bridge.finish(throwing: ProducerFailed())
        }
        let result: Result<ImageContents, any Error>
        do {
            result = .success(try await extraction)
        } catch {
            result = .failure(error)
        }
        if let producerError {
            if case .success = result { try? removeImageFolder(folder) }
            throw producerError
        }
        return try result.get()
    }

    /// Extracts the bytes of `sequence` (see ``extract(into:archiveName:limits:produce:)``).
    static func extract<Bytes: AsyncSequence & Sendable>(
        _ sequence: Bytes, into folder: FilePath, archiveName: String, limits: ImageLimits
    ) async throws -> ImageContents where Bytes.Element == [UInt8] {
        try await extract(into: folder, archiveName: archiveName, limits: limits) { deliver in
            for try await chunk in sequence { try await deliver(chunk) }
        }
    }
}
