/// Streaming SHA-256 (FIPS 180-4) in pure Swift, small enough to keep swift-crypto and its
/// BoringSSL build out of the package; used to check downloaded images while they stream in.
///
/// Feed bytes with `update` any number of times in chunks of any size, then read `digest()`
/// (32 bytes) or `hexDigest()`. Nothing is allocated per block: the partial block waits in a
/// fixed 64-byte field and the compression function keeps its state and message schedule in
/// local variables.
struct SHA256: Sendable {
    private static let roundConstants: [UInt32] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
        0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
        0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
        0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
        0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
        0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
        0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
    ]

    private typealias State = (UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32)

    private var state: State = (
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19
    )
    /// Bytes of an incomplete block (the first `pendingCount` of these 64 bytes).
    private var pending: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0)
    private var pendingCount = 0
    private var byteCount: UInt64 = 0

    /// A hasher that has seen no bytes.
    init() {}

    /// Feeds `bytes` into the hash.
    mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
        byteCount &+= UInt64(bytes.count)
        var offset = 0
        if pendingCount > 0 {
            let take = min(64 - pendingCount, bytes.count)
            let start = pendingCount
            withUnsafeMutableBytes(of: &pending) { block in
                block.baseAddress.unsafelyUnwrapped.advanced(by: start).copyMemory(from: base, byteCount: take)
            }
            pendingCount += take
            offset = take
            guard pendingCount == 64 else { return }
            let block = pending
            withUnsafeBytes(of: block) { Self.compress(&state, $0.baseAddress.unsafelyUnwrapped, blocks: 1) }
            pendingCount = 0
        }
        let blocks = (bytes.count - offset) / 64
        if blocks > 0 {
            Self.compress(&state, base.advanced(by: offset), blocks: blocks)
            offset += blocks * 64
        }
        let rest = bytes.count - offset
        if rest > 0 {
            withUnsafeMutableBytes(of: &pending) { block in
                block.baseAddress.unsafelyUnwrapped.copyMemory(from: base.advanced(by: offset), byteCount: rest)
            }
            pendingCount = rest
        }
    }

    /// Feeds `bytes` into the hash.
    mutating func update(_ bytes: some Collection<UInt8>) {
        let done: Void? = bytes.withContiguousStorageIfAvailable { update(UnsafeRawBufferPointer($0)) }
        if done == nil {
            Array(bytes).withUnsafeBytes { update($0) }
        }
    }

    /// The 32-byte digest of everything fed so far (the hasher is not changed and may be fed more).
    func digest() -> [UInt8] {
        var copy = self
        let bitLength = byteCount &* 8
        // 0x80, then zeros up to 56 mod 64, then the bit length as a big-endian UInt64.
        var tail = [UInt8](repeating: 0, count: pendingCount < 56 ? 64 - pendingCount : 128 - pendingCount)
        tail[0] = 0x80
        for index in 0..<8 {
            tail[tail.count - 1 - index] = UInt8(truncatingIfNeeded: bitLength >> UInt64(8 * index))
        }
        tail.withUnsafeBytes { copy.update($0) }
        let words = [copy.state.0, copy.state.1, copy.state.2, copy.state.3,
                     copy.state.4, copy.state.5, copy.state.6, copy.state.7]
        return words.flatMap { word in (0..<4).map { UInt8(truncatingIfNeeded: word >> UInt32(24 - 8 * $0)) } }
    }

    /// The digest of everything fed so far as 64 lowercase hex digits (the hasher is not changed).
    func hexDigest() -> String {
        let hex = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(64)
        for byte in digest() {
            text.append(hex[Int(byte >> 4)])
            text.append(hex[Int(byte & 0xF)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    /// Runs the compression function over `blocks` consecutive 64-byte blocks at `start`.
    ///
    /// The schedule lives in 16 rolling locals (`w0`...`w15`, each slot rewritten in place for
    /// rounds 16...63) and the rounds rotate the roles of `a`...`h` instead of moving values, so
    /// the whole loop stays in registers.
    private static func compress(_ state: inout State, _ start: UnsafeRawPointer, blocks: Int) {
        roundConstants.withUnsafeBufferPointer { constants in
            let allConstants = constants.baseAddress.unsafelyUnwrapped
            var (h0, h1, h2, h3, h4, h5, h6, h7) = state
            var block = start
            for _ in 0..<blocks {
                var w0 = word(block, 0)
                var w1 = word(block, 1)
                var w2 = word(block, 2)
                var w3 = word(block, 3)
                var w4 = word(block, 4)
                var w5 = word(block, 5)
                var w6 = word(block, 6)
                var w7 = word(block, 7)
                var w8 = word(block, 8)
                var w9 = word(block, 9)
                var w10 = word(block, 10)
                var w11 = word(block, 11)
                var w12 = word(block, 12)
                var w13 = word(block, 13)
                var w14 = word(block, 14)
                var w15 = word(block, 15)
                var (a, b, c, d, e, f, g, h) = (h0, h1, h2, h3, h4, h5, h6, h7)
                var k = allConstants
                for pass in 0..<4 {
                    if pass > 0 {
                        expand(&w0, w14, w9, w1)
                        expand(&w1, w15, w10, w2)
                        expand(&w2, w0, w11, w3)
                        expand(&w3, w1, w12, w4)
                        expand(&w4, w2, w13, w5)
                        expand(&w5, w3, w14, w6)
                        expand(&w6, w4, w15, w7)
                        expand(&w7, w5, w0, w8)
                        expand(&w8, w6, w1, w9)
                        expand(&w9, w7, w2, w10)
                        expand(&w10, w8, w3, w11)
                        expand(&w11, w9, w4, w12)
                        expand(&w12, w10, w5, w13)
                        expand(&w13, w11, w6, w14)
                        expand(&w14, w12, w7, w15)
                        expand(&w15, w13, w8, w0)
                    }
                    round(a, b, c, &d, e, f, g, &h, k[0] &+ w0)
                    round(h, a, b, &c, d, e, f, &g, k[1] &+ w1)
                    round(g, h, a, &b, c, d, e, &f, k[2] &+ w2)
                    round(f, g, h, &a, b, c, d, &e, k[3] &+ w3)
                    round(e, f, g, &h, a, b, c, &d, k[4] &+ w4)
                    round(d, e, f, &g, h, a, b, &c, k[5] &+ w5)
                    round(c, d, e, &f, g, h, a, &b, k[6] &+ w6)
                    round(b, c, d, &e, f, g, h, &a, k[7] &+ w7)
                    round(a, b, c, &d, e, f, g, &h, k[8] &+ w8)
                    round(h, a, b, &c, d, e, f, &g, k[9] &+ w9)
                    round(g, h, a, &b, c, d, e, &f, k[10] &+ w10)
                    round(f, g, h, &a, b, c, d, &e, k[11] &+ w11)
                    round(e, f, g, &h, a, b, c, &d, k[12] &+ w12)
                    round(d, e, f, &g, h, a, b, &c, k[13] &+ w13)
                    round(c, d, e, &f, g, h, a, &b, k[14] &+ w14)
                    round(b, c, d, &e, f, g, h, &a, k[15] &+ w15)
                    k += 16
                }
                h0 &+= a; h1 &+= b; h2 &+= c; h3 &+= d
                h4 &+= e; h5 &+= f; h6 &+= g; h7 &+= h
                block += 64
            }
            state = (h0, h1, h2, h3, h4, h5, h6, h7)
        }
    }
}

/// The big-endian 32-bit word `index` of the 64-byte block at `block`.
@inline(__always)
private func word(_ block: UnsafeRawPointer, _ index: Int) -> UInt32 {
    UInt32(bigEndian: block.loadUnaligned(fromByteOffset: index &* 4, as: UInt32.self))
}

/// Rotates `value` right by `count` bits (0 < count < 32).
@inline(__always)
private func rotr(_ value: UInt32, _ count: UInt32) -> UInt32 {
    (value &>> count) | (value &<< (32 &- count))
}

/// One SHA-256 round: `d` becomes the next `e` and `h` the next `a`; `kw` is K[t] + W[t].
@inline(__always)
private func round(
    _ a: UInt32, _ b: UInt32, _ c: UInt32, _ d: inout UInt32,
    _ e: UInt32, _ f: UInt32, _ g: UInt32, _ h: inout UInt32, _ kw: UInt32
) {
    let t1 = h &+ (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) &+ (g ^ (e & (f ^ g))) &+ kw
    let t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) &+ ((a & b) | (c & (a | b)))
    d &+= t1
    h = t1 &+ t2
}

/// One message-schedule step in place: W[t] = σ1(W[t-2]) + W[t-7] + σ0(W[t-15]) + W[t-16],
/// where `w` holds W[t-16] on entry.
@inline(__always)
private func expand(_ w: inout UInt32, _ w2: UInt32, _ w7: UInt32, _ w15: UInt32) {
    let s0 = rotr(w15, 7) ^ rotr(w15, 18) ^ (w15 &>> 3)
    let s1 = rotr(w2, 17) ^ rotr(w2, 19) ^ (w2 &>> 10)
    w = w &+ s1 &+ w7 &+ s0
}
