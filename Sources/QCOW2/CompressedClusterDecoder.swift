import Zstd

/// Decodes compressed qcow2 clusters (zlib's raw deflate, or zstd), one thread's worth:
/// an ``Inflater``, a reusable zstd context (made on first use) and an input buffer of two
/// clusters (the most a compressed descriptor can cover).
///
/// Not safe to share between threads: ``ParallelClusterDecoder`` gives each worker its own.
final class CompressedClusterDecoder {
    private let inflater = Inflater()
    private var zstd: ZstdBufferDecompressor?
    private var input: UnsafeMutableRawBufferPointer

    init() {
        input = .allocate(byteCount: 0, alignment: 16)
    }

    deinit { input.deallocate() }

    /// Reads the compressed bytes of the cluster `descriptor` points to from `layer`'s file
    /// and decodes them into `output`, which must be exactly one cluster long.
    ///
    /// - Throws: ``ImageAccessError/corruptCompressedCluster(guestOffset:hostOffset:reason:)``
    ///   when the data is damaged or does not fill the cluster exactly; ``ImageAccessError/io(path:reason:)``
    ///   when it cannot be read.
    func decode(_ descriptor: CompressedClusterDescriptor, layer: QCOW2Layer, guest: UInt64,
                into output: UnsafeMutableRawBufferPointer) throws {
        let clusterSize = layer.layout.clusterSize
        precondition(output.count == clusterSize)
        // At most 2^(cluster_bits - 8) sectors: twice the cluster size.
        let count = Int(min(descriptor.byteCount, UInt64(2 * clusterSize)))
        if input.count < count {
            input.deallocate()
            input = .allocate(byteCount: 2 * clusterSize, alignment: 16)
        }
        let source = UnsafeMutableRawBufferPointer(rebasing: input[..<count])
        try layer.file.read(into: source, at: descriptor.hostOffset)
        let produced: Int
        do {
            if layer.layout.compressionType == 1 && layer.layout.incompatibleFeatures & (1 << 3) != 0 {
                let decompressor = try zstd ?? ZstdBufferDecompressor()
                zstd = decompressor
                produced = try decompressor.decompress(UnsafeRawBufferPointer(source), into: output)
            } else {
                produced = try inflater.inflate(UnsafeRawBufferPointer(source), into: output).bytesWritten
            }
        } catch {
            throw ImageAccessError.corruptCompressedCluster(guestOffset: guest, hostOffset: descriptor.hostOffset, reason: "\(error)")
        }
        guard produced == clusterSize else {
            throw ImageAccessError.corruptCompressedCluster(guestOffset: guest, hostOffset: descriptor.hostOffset,
                                                            reason: "it decompresses to \(produced) bytes, not \(clusterSize)")
        }
    }
}
