import CSHA256

/// Streaming SHA-256 (FIPS 180-4) over the C compression function in `CSHA256` (x86 SHA
/// extensions when the CPU has them, portable C otherwise): small enough to keep swift-crypto
/// and its BoringSSL build out of the package; used to check downloaded images.
struct SHA256: Sendable {
    private var state: [UInt32] = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
    ]
    private var pending: [UInt8] = []
    private var byteCount: UInt64 = 0
    /// Whether to use the portable C path even when the CPU has SHA extensions (for tests).
    private let portable: Bool

    /// A hasher that has seen no bytes; `portable` forces the portable C path.
    init(portable: Bool = false) {
        self.portable = portable
        pending.reserveCapacity(64)
    }
    /// Feeds `bytes` into the hash.
    mutating func update(_ bytes: UnsafeRawBufferPointer) {
        byteCount &+= UInt64(bytes.count)
        var rest = bytes[...]
        if !pending.isEmpty {
            let take = min(64 - pending.count, rest.count)
            pending += rest.prefix(take)
            rest = rest.dropFirst(take)
            guard pending.count == 64 else { return }
            pending.withUnsafeBytes { compress(UnsafeRawBufferPointer($0)) }
            pending.removeAll(keepingCapacity: true)
        }
        let whole = rest.count - rest.count % 64
        if whole > 0 {
            compress(UnsafeRawBufferPointer(rebasing: rest.prefix(whole)))
        }
        pending += rest.dropFirst(whole)
    }

    /// Feeds `bytes` into the hash.
    mutating func update(_ bytes: some Collection<UInt8>) {
        let done: Void? = bytes.withContiguousStorageIfAvailable { update(UnsafeRawBufferPointer($0)) }
        if done == nil {
            Array(bytes).withUnsafeBytes { update($0) }
        }
    }

    /// The digest of everything fed so far as 64 lowercase hex digits (the hasher is not changed).
    func hexDigest() -> String {
        var copy = self
        let bitLength = byteCount &* 8
        var tail: [UInt8] = [0x80]
        tail += [UInt8](repeating: 0, count: (119 - pending.count) % 64)
        for shift in stride(from: 56, through: 0, by: -8) {
            tail.append(UInt8(truncatingIfNeeded: bitLength >> UInt64(shift)))
        }
        let savedCount = copy.byteCount
        tail.withUnsafeBytes { copy.update($0) }
        copy.byteCount = savedCount
        let words = copy.state
        let hex: [UInt8] = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(64)
        for word in words {
            for shift in stride(from: 28, through: 0, by: -4) {
                text.append(hex[Int((word >> UInt32(shift)) & 0xF)])
            }
        }
        return String(decoding: text, as: UTF8.self)
    }

    /// Runs the compression function over `blocks` (a multiple of 64 bytes).
    private mutating func compress(_ blocks: UnsafeRawBufferPointer) {
        guard let base = blocks.baseAddress?.assumingMemoryBound(to: UInt8.self), blocks.count >= 64 else { return }
        let portable = self.portable
        state.withUnsafeMutableBufferPointer { words in
            guard let words = words.baseAddress else { return }
            if portable {
                vmimage_sha256_blocks_portable(words, base, blocks.count / 64)
            } else {
                vmimage_sha256_blocks(words, base, blocks.count / 64)
            }
        }
    }

    /// Whether this CPU hashes with the x86 SHA extensions.
    static var usesHardware: Bool { vmimage_sha256_has_hardware() != 0 }
}
