import ByteStreams
import FuzzSupport
import Tar

/// Reads arbitrary bytes as a tar archive, draining every member and the trailer.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTar(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let reader = TarReader(reading: BufferSource(fuzzInput(data, size), maximumChunk: 4096))
    do {
        var members = 0
        while try reader.next() != nil, members < 10_000 {
            members += 1
            _ = try reader.skipData()
        }
        _ = try reader.trailer(limit: 1 << 20)
    } catch {}
    return 0
}

@_cdecl("FuzzTar_main")
public func fuzzTarMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc: argc, argv: argv, fuzzTar)
}
