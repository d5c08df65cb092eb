import ByteStreams

/// The LUKS1 header a qcow2 image's full-disk-encryption extension points at: what
/// `qemu-img info` shows under `format-specific.data.encrypt`. No key material is used.
public struct LUKSHeader: Sendable, Hashable {
    /// Bytes of a LUKS1 header (the 8 key slots included).
    public static let length = 592
    /// `LUKS\xba\xbe`.
    public static let magic: [UInt8] = [0x4C, 0x55, 0x4B, 0x53, 0xBA, 0xBE]

    /// One key slot.
    public struct KeySlot: Sendable, Hashable {
        /// Whether the slot holds a key (`0x00AC71F3`).
        public var isActive: Bool
        /// PBKDF2 iterations.
        public var iterations: UInt32
        /// Key material offset in bytes.
        public var keyOffset: UInt64
        /// Anti-forensic stripes (4000 in qemu's images).
        public var stripes: UInt32
    }

    /// qemu's cipher algorithm name, e.g. `aes-256`.
    public var cipherAlgorithm: String
    /// Cipher mode: `ecb`, `cbc`, `xts` or `ctr`.
    public var cipherMode: String
    /// IV generator: `plain`, `plain64` or `essiv`.
    public var ivGenerator: String
    /// The ESSIV hash, when the IV generator is `essiv`.
    public var ivGeneratorHash: String?
    /// Hash used for key derivation, e.g. `sha256`.
    public var hashAlgorithm: String
    /// Offset of the encrypted payload in bytes (relative to the LUKS header).
    public var payloadOffset: UInt64
    /// PBKDF2 iterations of the master key digest.
    public var masterKeyIterations: UInt32
    /// The UUID text.
    public var uuid: String
    /// The eight key slots.
    public var keySlots: [KeySlot]

    /// Parses a LUKS1 header from its first ``length`` bytes.
    public init(parsing bytes: [UInt8]) throws {
        let b = BigEndianBytes(bytes)
        guard bytes.count >= Self.length else { throw QCOW2HeaderError.luksHeaderInvalid(reason: "only \(bytes.count) of \(Self.length) bytes") }
        guard Array(bytes[0..<6]) == Self.magic else { throw QCOW2HeaderError.luksHeaderInvalid(reason: "Volume is not in LUKS format") }
        let version = b.u16(6)
        guard version == 1 else { throw QCOW2HeaderError.luksHeaderInvalid(reason: "LUKS version \(version) is not supported") }
        let text = { (at: Int, count: Int) in QemuJSON.cString(b.slice(at, count: count)) }
        let cipherName = text(8, 32)
        let modeSpec = text(40, 32)
        hashAlgorithm = text(72, 32)
        payloadOffset = UInt64(b.u32(104)) * 512
        let keyBytes = b.u32(108)
        masterKeyIterations = b.u32(164)
        uuid = text(168, 40)

        let modeParts = modeSpec.split(separator: "-", maxSplits: 1).map(String.init)
        guard modeParts.count == 2, ["ecb", "cbc", "xts", "ctr"].contains(modeParts[0]) else {
            throw QCOW2HeaderError.luksHeaderInvalid(reason: "Unexpected cipher mode \(TerminalText.quoted(modeSpec))")
        }
        cipherMode = modeParts[0]
        let ivParts = modeParts[1].split(separator: ":", maxSplits: 1).map(String.init)
        guard let generator = ivParts.first, ["plain", "plain64", "essiv"].contains(generator) else {
            throw QCOW2HeaderError.luksHeaderInvalid(reason: "Unexpected IV generator \(TerminalText.quoted(modeParts[1]))")
        }
        ivGenerator = generator
        ivGeneratorHash = generator == "essiv" && ivParts.count == 2 ? ivParts[1] : nil
        let hashes = ["md5", "sha1", "sha224", "sha256", "sha384", "sha512", "ripemd160"]
        guard hashes.contains(hashAlgorithm) else { throw QCOW2HeaderError.luksHeaderInvalid(reason: "Unexpected hash algorithm \(TerminalText.quoted(hashAlgorithm))") }
        if let ivHash = ivGeneratorHash, !hashes.contains(ivHash) {
            throw QCOW2HeaderError.luksHeaderInvalid(reason: "Unexpected IV generator hash \(TerminalText.quoted(ivHash))")
        }
        let bits = UInt64(cipherMode == "xts" ? keyBytes / 2 : keyBytes) * 8
        let known: [String: [UInt64]] = ["aes": [128, 192, 256], "cast5": [128], "serpent": [128, 192, 256], "twofish": [128, 192, 256], "sm4": [128]]
        guard let sizes = known[cipherName], sizes.contains(bits) else {
            throw QCOW2HeaderError.luksHeaderInvalid(reason: "Unsupported cipher \(TerminalText.quoted(cipherName)) with key size \(bits) bits")
        }
        cipherAlgorithm = "\(cipherName)-\(bits)"

        keySlots = (0..<8).map { slot in
            let at = 208 + slot * 48
            return KeySlot(isActive: b.u32(at) == 0x00AC_71F3, iterations: b.u32(at + 4),
                           keyOffset: UInt64(b.u32(at + 40)) * 512, stripes: b.u32(at + 44))
        }
        for (index, slot) in keySlots.enumerated() where slot.stripes != 4000 {
            throw QCOW2HeaderError.luksHeaderInvalid(reason: "Keyslot \(index) is corrupted (stripes \(slot.stripes) != 4000)")
        }
    }

    /// Reads the LUKS header the image's encryption extension points at; `nil` when the
    /// image has no such extension.
    static func read(from image: QCOW2Image) throws -> LUKSHeader? {
        guard image.header.cryptMethod == 2, let pointer = image.header.encryptionHeaderPointer else { return nil }
        try QCOW2Header.checkReadable("Could not read encryption header", offset: pointer.offset, length: UInt64(length))
        return try LUKSHeader(parsing: image.file.bytes(count: length, at: pointer.offset))
    }
}
