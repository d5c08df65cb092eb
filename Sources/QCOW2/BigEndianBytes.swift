/// Big-endian reads from the start of a file held in memory, with qemu's semantics for the
/// bytes past the end: they read as zeros (qemu's block layer zero-fills reads past EOF).
///
/// Every read is bounds-checked; nothing here traps on any offset.
struct BigEndianBytes {
    let bytes: [UInt8]

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    /// The byte at `offset`, or 0 past the end.
    func u8(_ offset: Int) -> UInt8 {
        offset >= 0 && offset < bytes.count ? bytes[offset] : 0
    }

    /// The big-endian 16-bit value at `offset`.
    func u16(_ offset: Int) -> UInt16 {
        UInt16(u8(offset)) << 8 | UInt16(u8(offset &+ 1))
    }

    /// The big-endian 32-bit value at `offset`.
    func u32(_ offset: Int) -> UInt32 {
        var value: UInt32 = 0
        for i in 0..<4 { value = value << 8 | UInt32(u8(offset &+ i)) }
        return value
    }

    /// The big-endian 64-bit value at `offset`.
    func u64(_ offset: Int) -> UInt64 {
        var value: UInt64 = 0
        for i in 0..<8 { value = value << 8 | UInt64(u8(offset &+ i)) }
        return value
    }

    /// `count` bytes from `offset` (zeros past the end). `count` must already be capped by
    /// the caller; a negative count gives an empty array.
    func slice(_ offset: Int, count: Int) -> [UInt8] {
        guard count > 0 else { return [] }
        var result = [UInt8](repeating: 0, count: count)
        guard offset >= 0, offset < bytes.count else { return result }
        let available = min(count, bytes.count - offset)
        for i in 0..<available { result[i] = bytes[offset + i] }
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
