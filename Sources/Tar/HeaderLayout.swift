/// Byte offsets of the fields of a 512-byte tar header block (ustar, with the GNU
/// fields that share the prefix area).
enum HeaderLayout {
    static let blockSize = 512
    static let name = 0..<100
    static let mode = 100..<108
    static let uid = 108..<116
    static let gid = 116..<124
    static let size = 124..<136
    static let mtime = 136..<148
    static let checksum = 148..<156
    static let typeFlag = 156
    static let linkName = 157..<257
    static let magic = 257..<263
    static let version = 263..<265
    static let userName = 265..<297
    static let groupName = 297..<329
    static let deviceMajor = 329..<337
    static let deviceMinor = 337..<345
    /// ustar only: path prefix.
    static let prefix = 345..<500
    /// GNU only: four sparse entries (12-byte offset + 12-byte length each).
    static let gnuSparse = 386
    static let gnuSparseEntries = 4
    static let gnuIsExtended = 482
    static let gnuRealSize = 483..<495
    /// GNU sparse extension block: 21 entries then `isextended`.
    static let extensionEntries = 21
    static let extensionIsExtended = 504
    static let sparseEntrySize = 24

    static let ustarMagic: [UInt8] = Array("ustar\u{0}".utf8)
    static let ustarVersion: [UInt8] = [0x30, 0x30]
    static let gnuMagic: [UInt8] = Array("ustar  \u{0}".utf8)  // magic + version together

    /// Zero bytes that follow `size` bytes of member data up to the next block boundary.
    static func padding(after size: UInt64) -> UInt64 {
        (UInt64(blockSize) &- size % UInt64(blockSize)) % UInt64(blockSize)
    }

    /// Unsigned and signed sums of `block` with the checksum field counted as spaces.
    static func checksums(_ block: UnsafeRawBufferPointer) -> (unsigned: UInt64, signed: Int64) {
        var unsigned: UInt64 = 0
        var signed: Int64 = 0
        for index in 0..<blockSize {
            let byte = checksum.contains(index) ? 0x20 : block[index]
            unsigned &+= UInt64(byte)
            signed &+= Int64(Int8(bitPattern: byte))
        }
        return (unsigned, signed)
    }
}

extension UnsafeRawBufferPointer {
    /// The bytes of `range` (which must be inside the buffer).
    @inline(__always)
    func field(_ range: Range<Int>) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: self[range])
    }

    /// The bytes of a NUL-terminated text field (up to the first NUL).
    func text(_ range: Range<Int>) -> [UInt8] {
        let slice = self[range]
        if let nul = slice.firstIndex(of: 0) { return Array(self[range.lowerBound..<nul]) }
        return Array(slice)
    }
}

/// Decodes name bytes as UTF-8, replacing invalid sequences with U+FFFD.
@inline(__always)
func decodeName<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
    String(decoding: bytes, as: UTF8.self)
}
