import FuzzSupport
import Zstd

/// Decompresses arbitrary bytes: any outcome but a crash, hang or leak is fine.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzZstd(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    _ = try? Zstd.decompress(fuzzInput(data, size), limit: 4 << 20, options: .init(windowLogMax: 23))
    return 0
}

@_cdecl("FuzzZstd_main")
public func fuzzZstdMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc: argc, argv: argv, fuzzZstd)
}
