/// One region of `qemu-img map --output=json`: a run of guest bytes with the same status.
public struct MapEntry: Sendable, Equatable {
    /// Guest offset of the region.
    public var start: UInt64
    /// Length in bytes.
    public var length: UInt64
    /// Which file of the chain answered: 0 the image, 1 its backing file, …
    public var depth: Int
    /// Whether that file allocates the region (data or zeros recorded in it).
    public var present: Bool
    /// Whether the region reads as zeros.
    public var zero: Bool
    /// Whether the region holds data.
    public var data: Bool
    /// Host offset in `file`, when there is one.
    public var offset: UInt64?
    /// Whether the data is a compressed cluster (not printed: qemu 7.2 has no such field).
    public var compressed: Bool
    /// Path of the file holding `offset` (used to merge like qemu; not printed).
    public var file: String?

    /// An entry with every field given.
    public init(start: UInt64, length: UInt64, depth: Int, present: Bool, zero: Bool, data: Bool,
                offset: UInt64?, compressed: Bool = false, file: String? = nil) {
        self.start = start
        self.length = length
        self.depth = depth
        self.present = present
        self.zero = zero
        self.data = data
        self.offset = offset
        self.compressed = compressed
        self.file = file
    }

    /// The record as `qemu-img map --output=json` prints it (qemu 7.2).
    public var json: String {
        var bytes: [UInt8] = []
        appendJSON(to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Appends ``json``'s UTF-8 bytes to `bytes`, without building a `String` (map prints
    /// millions of records on a fan-out image).
    public func appendJSON(to bytes: inout [UInt8]) {
        bytes.append(contentsOf: "{ \"start\": ".utf8)
        Self.appendDecimal(start, to: &bytes)
        bytes.append(contentsOf: ", \"length\": ".utf8)
        Self.appendDecimal(length, to: &bytes)
        bytes.append(contentsOf: ", \"depth\": ".utf8)
        if depth < 0 { bytes.append(UInt8(ascii: "-")) }
        Self.appendDecimal(UInt64(depth.magnitude), to: &bytes)
        bytes.append(contentsOf: (present ? ", \"present\": true" : ", \"present\": false").utf8)
        bytes.append(contentsOf: (zero ? ", \"zero\": true" : ", \"zero\": false").utf8)
        bytes.append(contentsOf: (data ? ", \"data\": true" : ", \"data\": false").utf8)
        if let offset {
            bytes.append(contentsOf: ", \"offset\": ".utf8)
            Self.appendDecimal(offset, to: &bytes)
        }
        bytes.append(UInt8(ascii: "}"))
    }

    private static func appendDecimal(_ value: UInt64, to bytes: inout [UInt8]) {
        var divisor: UInt64 = 1
        while divisor <= value / 10 { divisor *= 10 }
        repeat {
            bytes.append(UInt8(ascii: "0") + UInt8(value / divisor % 10))
            divisor /= 10
        } while divisor > 0
    }

    /// What a person calls this region: data, compressed, zero, backing or unallocated.
    public var kind: String {
        if !present { return "unallocated" }
        if depth > 0 { return "backing" }
        if compressed { return "compressed" }
        return data ? "data" : "zero"
    }

    /// qemu-img's `entry_mergeable`.
    func canAbsorb(_ next: MapEntry) -> Bool {
        guard length > 0, zero == next.zero, data == next.data, depth == next.depth, present == next.present,
              compressed == next.compressed, file == next.file, (offset == nil) == (next.offset == nil) else { return false }
        if let offset, let nextOffset = next.offset { return offset &+ length == nextOffset }
        return true
    }
}

/// A whole map as qemu-img prints it with `--output=json`.
public enum MapJSON {
    /// `[{…},\n{…}]` plus a newline, exactly like qemu-img 7.2.
    public static func render(_ entries: [MapEntry]) -> String {
        var text = entries.isEmpty ? "[" : ""
        for (index, entry) in entries.enumerated() { text += piece(entry, first: index == 0) }
        return text + closing
    }

    /// The text that puts `entry` into the JSON array: `[` before the first record, `,\n`
    /// before any other (qemu-img prints each record this way as it goes).
    static func piece(_ entry: MapEntry, first: Bool) -> String {
        (first ? "[" : ",\n") + entry.json
    }

    /// Appends the bytes of ``piece(_:first:)`` to `bytes`.
    public static func appendPiece(_ entry: MapEntry, first: Bool, to bytes: inout [UInt8]) {
        if first { bytes.append(UInt8(ascii: "[")) } else { bytes.append(contentsOf: ",\n".utf8) }
        entry.appendJSON(to: &bytes)
    }

    /// What ends the array, after the last record's ``piece(_:first:)``.
    public static let closing = "]\n"
}

extension ImageReader {
    /// The regions of the guest disk, merged like `qemu-img map`, all at once.
    ///
    /// The array grows with the number of regions (millions for a table that alternates
    /// data and holes and is shared by many L1 entries): use ``map(_:)`` for an image from
    /// a stranger.
    public func map() throws -> [MapEntry] {
        var entries: [MapEntry] = []
        try map { entries.append($0) }
        return entries
    }

    /// The regions of the guest disk, merged like `qemu-img map`, each handed to `body` as
    /// soon as it can no longer merge with the next (qemu-img prints them at that moment).
    ///
    /// Follows the opened chain; where the chain was not opened, ranges the image does
    /// not hold show as not present, not zero, no data at depth 0. Holds one region.
    public func map(_ body: (MapEntry) throws -> Void) throws {
        var current: MapEntry?
        var offset: UInt64 = 0
        let size = virtualSize
        // qemu-img map prints one empty record for an empty disk.
        guard size > 0 else {
            try body(MapEntry(start: 0, length: 0, depth: 0, present: false, zero: false, data: false, offset: nil))
            return
        }
        while offset < size {
            let next = try status(at: offset, length: size - offset)
            guard next.length > 0 else {
                throw ImageAccessError.corruptEntry(guestOffset: offset, reason: "no progress mapping this offset")
            }
            if let c = current, c.canAbsorb(next) {
                current?.length += next.length
            } else {
                if let c = current { try body(c) }
                current = next
            }
            offset += next.length
        }
        if let c = current { try body(c) }
    }

    /// qemu-img's `get_block_status`: the first layer that has data or zeros.
    func status(at guest: UInt64, length: UInt64) throws -> MapEntry {
        var depth = 0
        var limit = length
        while true {
            var entry = try layerStatus(depth, at: guest, length: limit)
            if entry.data || entry.zero || depth + 1 >= layers.count {
                entry.depth = depth
                return entry
            }
            limit = entry.length
            depth += 1
        }
    }

    /// One layer's status, with the generic block layer's additions (allocated flag,
    /// zeros past the backing file's end or at the end of the chain, host-file holes).
    private func layerStatus(_ index: Int, at guest: UInt64, length: UInt64) throws -> MapEntry {
        switch layers[index] {
        case let .raw(file):
            guard guest < file.size else {
                // The zeros padding a raw image's last partial sector.
                return MapEntry(start: guest, length: length, depth: index, present: true, zero: true, data: false,
                                offset: guest, file: file.path)
            }
            let available = min(length, file.size - guest)
            let extent = file.extent(at: guest, length: available)
            return MapEntry(start: guest, length: extent.length, depth: index, present: true, zero: extent.isHole,
                            data: !extent.isHole, offset: guest, file: file.path)
        case let .qcow2(layer):
            let (run, runLength) = try layer.run(at: guest, limit: length)
            switch run {
            case let .data(host):
                let hostFile = layer.dataFile ?? layer.file
                // qemu looks for holes in the host file only under metadata preallocation.
                let extent = layer.hasMetadataPreallocation()
                    ? hostFile.extent(at: host, length: runLength) : (isHole: false, length: runLength)
                return MapEntry(start: guest, length: extent.length, depth: index, present: true, zero: extent.isHole,
                                data: true, offset: host, file: hostFile.path)
            case let .zero(host):
                return MapEntry(start: guest, length: runLength, depth: index, present: true, zero: true, data: false,
                                offset: host, file: host == nil ? nil : (layer.dataFile ?? layer.file).path)
            case .compressed:
                return MapEntry(start: guest, length: runLength, depth: index, present: true, zero: false, data: true,
                                offset: nil, compressed: true)
            case let .unallocated(host):
                var zero = false
                if index + 1 < layers.count {
                    zero = guest >= layers[index + 1].virtualSize
                } else {
                    zero = unopenedBacking == nil
                }
                return MapEntry(start: guest, length: runLength, depth: index, present: false, zero: zero, data: false,
                                offset: host, file: host == nil ? nil : (layer.dataFile ?? layer.file).path)
            }
        }
    }
}
