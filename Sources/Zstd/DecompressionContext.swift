import CZstd

/// The one way this module makes a libzstd decompression context: created, with its window
/// capped at `2^windowLogMax` bytes (a frame asking for more is refused by libzstd, so a
/// hostile header cannot make it allocate a bigger window). The caller owns the context and
/// frees it with `ZSTD_freeDCtx`.
///
/// - Throws: ``ZstdError/library(operation:reason:)`` when libzstd cannot create the context
///   or refuses the cap (it accepts 10…31).
func makeDecompressionContext(windowLogMax: Int) throws(ZstdError) -> OpaquePointer {
    guard let context = ZSTD_createDCtx() else {
        throw ZstdError.library(operation: "ZSTD_createDCtx", reason: "out of memory")
    }
    if ZSTD_isError(ZSTD_DCtx_setParameter(context, ZSTD_d_windowLogMax, Int32(clamping: windowLogMax))) != 0 {
        ZSTD_freeDCtx(context)
        throw ZstdError.library(operation: "setting windowLogMax",
                                reason: "\(windowLogMax) is outside what libzstd accepts (10…31)")
    }
    return context
}
