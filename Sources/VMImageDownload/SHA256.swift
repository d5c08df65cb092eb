import Crypto

/// Streaming SHA-256, used to check downloaded images while they stream in: swift-crypto's
/// `SHA256` (BoringSSL's assembly on Linux, CryptoKit on Apple systems) behind the small
/// interface the download uses.
///
/// Feed bytes with `update` any number of times in chunks of any size, then read `digest()`
/// (32 bytes) or `hexDigest()`; reading the digest leaves the hasher as it was, so it may be fed
/// more.
struct SHA256: Sendable {
    private var hasher = Crypto.SHA256()

    /// A hasher that has seen no bytes.
    init() {}

    /// Feeds `bytes` into the hash.
    mutating func update(_ bytes: UnsafeRawBufferPointer) {
        hasher.update(bufferPointer: bytes)
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
        Array(hasher.finalize())
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
}
