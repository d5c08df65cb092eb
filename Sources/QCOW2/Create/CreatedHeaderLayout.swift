/// The first cluster of a new image exactly as `qcow2_update_header` in qemu 7.2 lays it out:
/// the header fields, then the header extensions in qemu's order (backing format, feature-name
/// table), the end marker, and the backing file name. Private to the create side on purpose:
/// the parser has its own reading of these bytes, and the two must agree only through qemu.
struct CreatedHeaderLayout: Sendable, Equatable {
    /// Header extension type of the backing format name.
    static let backingFormatExtension: UInt32 = 0xE279_2ACA
    /// Header extension type of the feature-name table.
    static let featureTableExtension: UInt32 = 0x6803_F857
    /// qemu writes `sizeof(QCowHeader)` (105 bytes) rounded up to 8 as `header_length` in v3.
    static let version3HeaderLength = 112
    /// The fixed part of a version 2 header.
    static let version2HeaderLength = 72
    /// qemu only adds the (purely informative) feature table when clusters are larger than this.
    static let featureTableMinimumClusterSize: UInt64 = 4096

    /// The entries of qemu 7.2's feature table, in its order: (type, bit, name).
    /// Types: 0 incompatible, 1 compatible, 2 autoclear.
    static let featureNames: [(UInt8, UInt8, String)] = [
        (0, 0, "dirty bit"),
        (0, 1, "corrupt bit"),
        (0, 2, "external data file"),
        (0, 3, "compression type"),
        (0, 4, "extended L2 entries"),
        (1, 0, "lazy refcounts"),
        (2, 0, "bitmaps"),
        (2, 1, "raw external data"),
    ]

    var version: UInt32
    var clusterBits: UInt32
    var virtualSize: UInt64
    var l1Size: UInt32
    var l1TableOffset: UInt64
    var refcountTableOffset: UInt64
    var refcountTableClusters: UInt32
    var incompatibleFeatures: UInt64
    var compatibleFeatures: UInt64
    var refcountOrder: UInt32
    var compressionType: UInt8
    var backingFormat: String?
    var backingFile: [UInt8]?

    /// Incompatible bit 3: a compression type other than zlib.
    static let incompatibleCompressionType: UInt64 = 1 << 3
    /// Incompatible bit 4: extended L2 entries.
    static let incompatibleExtendedL2: UInt64 = 1 << 4
    /// Compatible bit 0: lazy refcounts.
    static let compatibleLazyRefcounts: UInt64 = 1 << 0

    /// The bytes qemu writes before the backing file name (header and extensions, end marker
    /// included), for a version/cluster-size/backing-format combination.
    static func bytesBeforeBackingName(version: UInt32, clusterSize: UInt64, backingFormat: String?) -> Int {
        var length = version >= 3 ? version3HeaderLength : version2HeaderLength
        if let backingFormat { length += 8 + padded8(backingFormat.utf8.count) }
        if version >= 3 && clusterSize > featureTableMinimumClusterSize {
            length += 8 + padded8(featureNames.count * 48)
        }
        return length + 8
    }

    static func padded8(_ n: Int) -> Int { (n + 7) & ~7 }

    /// The header cluster's meaningful bytes (everything after them up to the cluster end is zero).
    func encode() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(640 + (backingFile?.count ?? 0))
        out.appendCreateBigEndian(QCOW2Format.magic)
        out.appendCreateBigEndian(version)
        let backingOffsetPosition = out.count
        out.appendCreateBigEndian(UInt64(0))  // backing_file_offset, patched below
        out.appendCreateBigEndian(UInt32(backingFile?.count ?? 0))
        out.appendCreateBigEndian(clusterBits)
        out.appendCreateBigEndian(virtualSize)
        out.appendCreateBigEndian(UInt32(0))  // crypt_method: none
        out.appendCreateBigEndian(l1Size)
        out.appendCreateBigEndian(l1TableOffset)
        out.appendCreateBigEndian(refcountTableOffset)
        out.appendCreateBigEndian(refcountTableClusters)
        out.appendCreateBigEndian(UInt32(0))  // nb_snapshots
        out.appendCreateBigEndian(UInt64(0))  // snapshots_offset
        if version >= 3 {
            out.appendCreateBigEndian(incompatibleFeatures)
            out.appendCreateBigEndian(compatibleFeatures)
            out.appendCreateBigEndian(UInt64(0))  // autoclear
            out.appendCreateBigEndian(refcountOrder)
            out.appendCreateBigEndian(UInt32(Self.version3HeaderLength))
            out.append(compressionType)
            out.append(contentsOf: repeatElement(0, count: Self.version3HeaderLength - out.count))
        }
        if let backingFormat {
            appendExtension(&out, type: Self.backingFormatExtension, data: Array(backingFormat.utf8))
        }
        if version >= 3 && (UInt64(1) << clusterBits) > Self.featureTableMinimumClusterSize {
            var table: [UInt8] = []
            table.reserveCapacity(Self.featureNames.count * 48)
            for (type, bit, name) in Self.featureNames {
                table.append(type)
                table.append(bit)
                let bytes = Array(name.utf8)
                table.append(contentsOf: bytes)
                table.append(contentsOf: repeatElement(0, count: 46 - bytes.count))
            }
            appendExtension(&out, type: Self.featureTableExtension, data: table)
        }
        out.append(contentsOf: repeatElement(0, count: 8))  // end of extensions
        if let backingFile {
            let offset = UInt64(out.count)
            for i in 0..<8 { out[backingOffsetPosition + i] = UInt8(truncatingIfNeeded: offset >> (56 - 8 * UInt64(i))) }
            out.append(contentsOf: backingFile)
        }
        return out
    }

    private func appendExtension(_ out: inout [UInt8], type: UInt32, data: [UInt8]) {
        out.appendCreateBigEndian(type)
        out.appendCreateBigEndian(UInt32(data.count))
        out.append(contentsOf: data)
        out.append(contentsOf: repeatElement(0, count: Self.padded8(data.count) - data.count))
    }
}

extension Array where Element == UInt8 {
    /// Appends `value` big-endian.
    mutating func appendCreateBigEndian<T: FixedWidthInteger>(_ value: T) {
        var big = value.bigEndian
        Swift.withUnsafeBytes(of: &big) { append(contentsOf: $0) }
    }
}
