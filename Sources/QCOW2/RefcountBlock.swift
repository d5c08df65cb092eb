/// Reading refcount block entries of any width: `refcount_order` 0…6, that is 1, 2,
/// 4, 8, 16, 32 or 64 bits an entry. Entries of 8 bits or more are big-endian;
/// narrower ones are packed from the least significant bit of each byte up (as qemu
/// stores them).
public struct RefcountWidth: Sendable, Equatable {
    /// `refcount_order` from the header (0…6).
    public let order: Int

    /// A width for `order`, or `nil` when it is outside 0…6.
    public init?(order: Int) {
        guard (0...6).contains(order) else { return nil }
        self.order = order
    }

    /// Bits per entry.
    public var bits: Int { 1 << order }
    /// The largest refcount an entry can hold.
    public var maximum: UInt64 { order == 6 ? .max : (UInt64(1) << UInt64(bits)) - 1 }
    /// Entries in one refcount block of `clusterSize` bytes.
    public func entriesPerBlock(clusterSize: Int) -> Int { clusterSize * 8 / bits }

    /// Entry `index` of the refcount block held in `block`, or `nil` when outside it.
    public func entry(_ index: Int, in block: UnsafeRawBufferPointer) -> UInt64? {
        guard index >= 0, index < block.count * 8 / bits else { return nil }
        switch order {
        case 0, 1, 2:
            let perByte = 8 / bits
            let byte = block[index / perByte]
            let shift = (index % perByte) * bits
            return UInt64((byte >> UInt8(shift)) & UInt8((1 << bits) - 1))
        case 3: return UInt64(block[index])
        case 4: return UInt64(BigEndian.uint16(block, at: index * 2))
        case 5: return UInt64(BigEndian.uint32(block, at: index * 4))
        default: return BigEndian.uint64(block, at: index * 8)
        }
    }
}
