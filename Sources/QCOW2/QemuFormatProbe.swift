/// The image formats other than raw that qemu-img 7.2 can pick when it probes a file's
/// format, named as `qemu-img info` names them (`file format:`, JSON `format`).
///
/// ``detect(_:fileName:)`` models qemu's `bdrv_probe_all` as `qemu-img` runs it: the first
/// ``prefixLength`` bytes of the file (zeros past its end), every format driver that has a
/// probe scores them, raw scores 1, and the highest score wins; on a tie the driver earlier
/// in qemu's driver list wins. An empty file is raw without probing.
public enum ForeignFormat: String, Sendable, Hashable, CaseIterable {
    /// qcow2: `QFI\xfb` with a big-endian version of at least 2.
    case qcow2
    /// qcow version 1: `QFI\xfb` with version 1.
    case qcow
    /// QED: `QED\0`.
    case qed
    /// VirtualBox VDI: the signature `0xbeda107f` (little-endian) at byte 64.
    case vdi
    /// VHDX: `vhdxfile`.
    case vhdx
    /// VHD (qemu's `vpc` driver): `conectix`.
    case vpc
    /// VMDK: a `KDMV` sparse extent, an ESX `COWD` extent, or a text descriptor whose first
    /// line, after `#` comment lines and lines of spaces, is `version=1|2|3` (LF or CRLF).
    case vmdk
    /// cloop: the V2.0 shell-script header (a weak score, 2).
    case cloop
    /// Bochs growing redolog: the magic, type and subtype strings and version 1 or 2.
    case bochs
    /// Apple DMG: any non-empty file whose *name* ends in `.dmg` (a weak score, 2).
    case dmg
    /// Parallels: `WithoutFreeSpace` or `WithouFreSpacExt`, version 2.
    case parallels
    /// LUKS version 1: `LUKS\xba\xbe` and a big-endian version of 1.
    case luks

    /// How many bytes from the start of a file qemu's probe looks at
    /// (`BLOCK_PROBE_BUF_SIZE`, 512 in qemu 7.2: a VMDK descriptor's version line that ends
    /// past byte 512 is not seen, measured with qemu-img).
    public static let prefixLength = 512

    /// The drivers in the order ties are settled (earlier wins). Only some can tie - the
    /// VDI signature at byte 64 can sit under any magic at byte 0, and cloop's header can
    /// sit in a file named `*.dmg` - and qemu-img 7.2 settles those as this order does:
    /// QED and Parallels beat VDI, VDI beats qcow, qcow2, VHDX, VHD, VMDK and LUKS, and DMG
    /// beats cloop. No other pair of drivers can claim the same bytes.
    static let tieOrder: [ForeignFormat] = [.qed, .parallels, .dmg, .cloop, .vdi, .bochs, .qcow, .qcow2, .vhdx, .vpc, .vmdk, .luks]

    /// The format qemu-img would probe for a file that starts with `bytes`, or `nil` when
    /// it would call the file raw.
    ///
    /// - Parameters:
    ///   - bytes: the file's first bytes: at least ``prefixLength`` of them, or the whole
    ///     file when it is shorter (an empty array is an empty file, which qemu calls raw).
    ///     Bytes past ``prefixLength`` are ignored.
    ///   - fileName: the name qemu would be given for the file, when known; only the DMG
    ///     probe looks at it.
    public static func detect(_ bytes: [UInt8], fileName: String? = nil) -> ForeignFormat? {
        guard !bytes.isEmpty else { return nil }
        let buffer = ProbeBuffer(bytes)
        var best: ForeignFormat?
        var bestScore = rawScore
        for format in tieOrder {
            let score = format.score(buffer, fileName: fileName)
            if score > bestScore {
                best = format
                bestScore = score
            }
        }
        return best
    }

    /// The score qemu's raw driver gives every file: the lowest that still claims it.
    static let rawScore = 1

    /// The score this format's qemu driver gives `buffer` (0 when it does not claim it).
    func score(_ buffer: ProbeBuffer, fileName: String?) -> Int {
        switch self {
        case .qcow2:
            return buffer.bigEndian32(0) == QCOW2Format.magic && buffer.bigEndian32(4) >= 2 ? 100 : 0
        case .qcow:
            return buffer.bigEndian32(0) == QCOW2Format.magic && buffer.bigEndian32(4) == 1 ? 100 : 0
        case .qed:
            return buffer.starts(with: [0x51, 0x45, 0x44, 0x00], at: 0) ? 100 : 0
        case .vdi:
            return buffer.littleEndian32(64) == 0xBEDA_107F ? 100 : 0
        case .vhdx:
            return buffer.starts(with: Array("vhdxfile".utf8), at: 0) ? 100 : 0
        case .vpc:
            return buffer.starts(with: Array("conectix".utf8), at: 0) ? 100 : 0
        case .vmdk:
            return VMDKProbe.claims(buffer) ? 100 : 0
        case .cloop:
            return buffer.starts(with: Self.cloopMagic, at: 0) ? 2 : 0
        case .bochs:
            let claimed = buffer.holdsCString("Bochs Virtual HD Image", at: 0)
                && buffer.holdsCString("Redolog", at: 32)
                && buffer.holdsCString("Growing", at: 48)
                && [0x0002_0000, 0x0001_0000].contains(buffer.littleEndian32(64))
            return claimed ? 100 : 0
        case .dmg:
            // qemu compares the C string: the name up to a NUL, more than 4 bytes long.
            guard let fileName else { return 0 }
            let name = Array(fileName.utf8.prefix { $0 != 0 })
            return name.count > 4 && name.suffix(4).elementsEqual(".dmg".utf8) ? 2 : 0
        case .parallels:
            let magic = buffer.starts(with: Array("WithoutFreeSpace".utf8), at: 0)
                || buffer.starts(with: Array("WithouFreSpacExt".utf8), at: 0)
            return magic && buffer.littleEndian32(16) == 2 ? 100 : 0
        case .luks:
            return buffer.starts(with: [0x4C, 0x55, 0x4B, 0x53, 0xBA, 0xBE], at: 0) && buffer.bigEndian16(6) == 1 ? 100 : 0
        }
    }

    /// The start of a cloop V2.0 image, compared in full.
    static let cloopMagic = Array("#!/bin/sh\n#V2.0 Format\nmodprobe cloop file=$0 && mount -r -t iso9660 /dev/cloop $1\n".utf8)
}

/// The bytes a probe sees: a file's first ``ForeignFormat/prefixLength`` bytes, zeros past
/// the end of the file (qemu's block layer pads a short read so).
struct ProbeBuffer {
    /// Exactly ``ForeignFormat/prefixLength`` bytes.
    let bytes: [UInt8]

    init(_ prefix: [UInt8]) {
        var bytes = Array(prefix.prefix(ForeignFormat.prefixLength))
        bytes.append(contentsOf: repeatElement(0, count: ForeignFormat.prefixLength - bytes.count))
        self.bytes = bytes
    }

    /// The byte at `offset`, or 0 outside the buffer.
    func byte(_ offset: Int) -> UInt8 {
        offset >= 0 && offset < bytes.count ? bytes[offset] : 0
    }

    /// Whether the buffer holds `text` at `offset`.
    func starts(with text: [UInt8], at offset: Int) -> Bool {
        offset >= 0 && offset <= bytes.count - text.count && bytes[offset..<(offset + text.count)].elementsEqual(text)
    }

    /// Whether C's `strcmp` would find the NUL-terminated string at `offset` equal to
    /// `text`: the text's bytes, then a NUL.
    func holdsCString(_ text: String, at offset: Int) -> Bool {
        let expected = Array(text.utf8) + [0]
        return starts(with: expected, at: offset)
    }

    /// The big-endian 16-bit value at `offset` (``BigEndianBytes``: zeros outside the buffer).
    func bigEndian16(_ offset: Int) -> UInt16 { BigEndianBytes(bytes).u16(offset) }

    /// The big-endian 32-bit value at `offset` (``BigEndianBytes``: zeros outside the buffer).
    func bigEndian32(_ offset: Int) -> UInt32 { BigEndianBytes(bytes).u32(offset) }

    /// The little-endian 32-bit value at `offset` (zeros outside the buffer).
    func littleEndian32(_ offset: Int) -> UInt32 {
        (0..<4).reversed().reduce(0) { $0 << 8 | UInt32(byte(offset + $1)) }
    }
}

/// qemu's VMDK probe: a binary extent magic, or a text descriptor.
enum VMDKProbe {
    /// Whether qemu's `vmdk_probe` claims `buffer`.
    ///
    /// Binary: `KDMV` or `COWD` at byte 0. Text: from the start, skip lines beginning `#`
    /// (up to and including their LF) and lines made of one or more spaces, an optional CR,
    /// then LF; the first other line must start `version=1`, `version=2` or `version=3`
    /// followed by LF or CRLF. Anything else (an empty line, a tab, a space line not ended
    /// by LF, the end of the buffer) is not VMDK.
    static func claims(_ buffer: ProbeBuffer) -> Bool {
        if buffer.starts(with: Array("KDMV".utf8), at: 0) || buffer.starts(with: Array("COWD".utf8), at: 0) { return true }
        let bytes = buffer.bytes
        let end = bytes.count
        var p = 0
        while p < end {
            switch bytes[p] {
            case UInt8(ascii: "#"):
                while p < end && bytes[p] != UInt8(ascii: "\n") { p += 1 }
                p += 1
            case UInt8(ascii: " "):
                while p < end && bytes[p] == UInt8(ascii: " ") { p += 1 }
                if p < end && bytes[p] == UInt8(ascii: "\r") { p += 1 }
                guard p < end, bytes[p] == UInt8(ascii: "\n") else { return false }
                p += 1
            default:
                return versionLines.contains { buffer.starts(with: $0, at: p) }
            }
        }
        return false
    }

    /// The version lines qemu accepts, LF and CRLF.
    static let versionLines: [[UInt8]] = ["1", "2", "3"].flatMap { digit in
        ["\n", "\r\n"].map { Array("version=\(digit)\($0)".utf8) }
    }
}
