/// The module's one big-endian reader: loads from bytes held in memory (a header, an L1
/// or L2 table, a refcount block), with qemu's semantics for the bytes past the end: they
/// read as zeros (qemu's block layer zero-fills reads past EOF).
///
/// Every read is bounds-checked and nothing here traps on any offset; a load wholly inside
/// the bytes is one unaligned load (the hot path of table walks), one that crosses the end
/// is assembled byte by byte.
struct BigEndianBytes {
    let bytes: [UInt8]
    /// Where offset 0 is in `bytes` (a view of a part of them without copying it).
    let start: Int
    /// Bytes past this many read as zeros even when the array holds more (a view of a
    /// prefix without copying it).
    let count: Int

    init(_ bytes: [UInt8], count: Int? = nil) {
        self.bytes = bytes
        self.start = 0
        self.count = max(0, min(count ?? bytes.count, bytes.count))
    }

    /// A view of `count` bytes of `bytes` from `start`, without copying them; what lies
    /// outside `bytes` reads as zeros.
    init(_ bytes: [UInt8], start: Int, count: Int) {
        self.bytes = bytes
        self.start = min(max(0, start), bytes.count)
        self.count = start < 0 ? 0 : max(0, min(count, bytes.count - self.start))
    }

    /// The byte at `offset`, or 0 past the end.
    func u8(_ offset: Int) -> UInt8 {
        offset >= 0 && offset < count ? bytes[start &+ offset] : 0
    }

    /// The big-endian 16-bit value at `offset`.
    func u16(_ offset: Int) -> UInt16 { load(offset, as: UInt16.self) }

    /// The big-endian 32-bit value at `offset`.
    func u32(_ offset: Int) -> UInt32 { load(offset, as: UInt32.self) }

    /// The big-endian 64-bit value at `offset`.
    func u64(_ offset: Int) -> UInt64 { load(offset, as: UInt64.self) }

    @inline(__always)
    private func load<T: FixedWidthInteger>(_ offset: Int, as type: T.Type) -> T {
        let size = MemoryLayout<T>.size
        if offset >= 0, offset <= count &- size {
            return T(bigEndian: bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: start &+ offset, as: T.self) })
        }
        var value: T = 0
        for i in 0..<size { value = value << 8 | T(u8(offset &+ i)) }
        return value
    }

    /// `count` bytes from `offset` (zeros past the end). `count` must already be capped by
    /// the caller; a negative count gives an empty array.
    func slice(_ offset: Int, count: Int) -> [UInt8] {
        guard count > 0 else { return [] }
        var result = [UInt8](repeating: 0, count: count)
        guard offset >= 0, offset < self.count else { return result }
        let available = min(count, self.count - offset)
        for i in 0..<available { result[i] = bytes[start + offset + i] }
        return result
    }
}

extension Array where Element == UInt8 {
    /// The bytes before the first NUL (how qemu sees a stored C string).
    var untilNUL: [UInt8] {
        if let nul = firstIndex(of: 0) { return Array(self[..<nul]) }
        return self
    }
}
