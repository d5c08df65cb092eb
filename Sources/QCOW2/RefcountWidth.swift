import ByteStreams

/// Reading refcount block entries of any width: `refcount_order` 0…6, that is 1, 2,
/// 4, 8, 16, 32 or 64 bits an entry. Entries of 8 bits or more are big-endian;
/// narrower ones are packed from the least significant bit of each byte up (as qemu
/// stores them). The one place that knows this packing (``CreateRefcountModel`` writes it).
struct RefcountWidth: Sendable, Equatable {
    /// `refcount_order` from the header (0…6).
    let order: Int

    /// A width for `order`, or `nil` when it is outside 0…6.
    init?(order: Int) {
        guard (0...QCOW2Format.maximumRefcountOrder).contains(order) else { return nil }
        self.order = order
    }

    /// A width for an order already validated (clamped into 0…6 for safety).
    init(clampedOrder order: Int) {
        self.order = min(max(order, 0), QCOW2Format.maximumRefcountOrder)
    }

    /// Bits per entry.
    var bits: Int { 1 << order }
    /// The largest refcount an entry can hold.
    var maximum: UInt64 { order == 6 ? .max : (UInt64(1) << UInt64(bits)) - 1 }
    /// Entries in one refcount block of `clusterSize` bytes.
    func entriesPerBlock(clusterSize: Int) -> Int { clusterSize * 8 / bits }

    /// Entry `index` of the refcount block held in `block`, or `nil` when outside it.
    func entry(_ index: Int, in block: BigEndianBytes) -> UInt64? {
        guard index >= 0, index < block.count * 8 / bits else { return nil }
        switch order {
        case 0, 1, 2:
            let perByte = 8 / bits
            let byte = block.u8(index / perByte)
            let shift = (index % perByte) * bits
            return UInt64((byte >> UInt8(shift)) & UInt8((1 << bits) - 1))
        case 3: return UInt64(block.u8(index))
        case 4: return UInt64(block.u16(index * 2))
        case 5: return UInt64(block.u32(index * 4))
        default: return block.u64(index * 8)
        }
    }

    /// Where entry `index` of a block lies: the first byte holding it, how many bytes to read
    /// (one for sub-byte entries), and the entry's index within those bytes.
    func location(ofEntry index: UInt64) -> (byteOffset: UInt64, byteCount: Int, indexInBytes: Int) {
        if bits >= 8 { return (index * UInt64(bits / 8), bits / 8, 0) }
        let perByte = UInt64(8 / bits)
        return (index / perByte, 1, Int(index % perByte))
    }

    /// Index of the last non-zero entry of `block`, or `nil` when every entry is zero.
    func lastNonZeroEntry(in block: [UInt8]) -> Int? {
        guard let byteIndex = block.withUnsafeBytes({ ZeroRuns.lastNonZeroByte(in: $0) }) else { return nil }
        if bits >= 8 { return byteIndex / (bits / 8) }
        let highestBit = 7 - block[byteIndex].leadingZeroBitCount
        return byteIndex * (8 / bits) + highestBit / bits
    }
}
