import ByteStreams
import FuzzSupport
import Zstd

/// The most decompressed bytes either decoder is asked for per input.
private let outputLimit = 4 << 20

/// Decompresses arbitrary bytes twice, with the one-thread streaming decoder and with the
/// parallel frame decoder that `extract` uses (small caps, so that buffered, in-place and
/// worker paths are all reached by small inputs). Any outcome but a crash, hang or leak is
/// fine for each; when both decode the whole input within the limit they must agree byte
/// for byte (the frames decide the bytes, whatever a seek table or the schedule says).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzZstd(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = fuzzInput(data, size)
    let sequential = try? Zstd.decompress(input, limit: outputLimit, options: .init(windowLogMax: 23))
    let parallel = decodeInParallel(input)
    if let sequential, let parallel, sequential != parallel {
        fatalError("parallel zstd decoding gave \(parallel.count) bytes, the streaming decoder \(sequential.count)")
    }
    return 0
}

/// Everything `ZstdParallelDecompressor` hands out, or nil on an error or past the limit.
private func decodeInParallel(_ input: [UInt8]) -> [UInt8]? {
    // On this thread (workers 0: the same planning, buffering and ordering code): libdispatch's
    // workers keep memory across inputs, which libFuzzer's leak check would scan for each time.
    let options = ZstdParallelOptions(workers: 0, frameCap: 256 << 10, inFlightBudget: 1 << 20, windowLogMax: 23)
    guard let decoder = try? ZstdParallelDecompressor(readingFrom: BufferSource(input, maximumChunk: 4096),
                                                      options: options) else { return nil }
    var output: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 64 << 10)
    while true {
        let count = (try? chunk.withUnsafeMutableBytes { try decoder.read(into: $0) }) ?? -1
        if count < 0 { return nil }
        if count == 0 { return output }
        output.append(contentsOf: chunk[..<count])
        if output.count > outputLimit { return nil }
    }
}

@_cdecl("FuzzZstd_main")
public func fuzzZstdMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc: argc, argv: argv, fuzzZstd)
}
