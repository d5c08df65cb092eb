/// Whether `byte` is a lowercase hexadecimal digit (`0-9a-f`).
private func isLowerHex(_ byte: UInt8) -> Bool {
    (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "f"))
}

/// Whether `text` matches `^[0-9a-f]{8}-[0-9a-f]{4}-[1-5][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`.
func isUUID(_ text: String) -> Bool {
    let bytes = Array(text.utf8)
    guard bytes.count == 36 else { return false }
    for (index, byte) in bytes.enumerated() {
        switch index {
        case 8, 13, 18, 23:
            guard byte == UInt8(ascii: "-") else { return false }
        case 14:
            guard byte >= UInt8(ascii: "1") && byte <= UInt8(ascii: "5") else { return false }
        case 19:
            guard [UInt8(ascii: "8"), UInt8(ascii: "9"), UInt8(ascii: "a"), UInt8(ascii: "b")].contains(byte) else {
                return false
            }
        default:
            guard isLowerHex(byte) else { return false }
        }
    }
    return true
}

/// Whether `text` matches `^[0-9a-f][26ae](:[0-9a-f]{2}){5}$`: a lowercase MAC address whose
/// first octet has the locally-administered bit set and the multicast bit clear.
func isLocalUnicastMAC(_ text: String) -> Bool {
    let bytes = Array(text.utf8)
    guard bytes.count == 17 else { return false }
    for (index, byte) in bytes.enumerated() {
        if index % 3 == 2 {
            guard byte == UInt8(ascii: ":") else { return false }
        } else if index == 1 {
            guard [UInt8(ascii: "2"), UInt8(ascii: "6"), UInt8(ascii: "a"), UInt8(ascii: "e")].contains(byte) else {
                return false
            }
        } else {
            guard isLowerHex(byte) else { return false }
        }
    }
    return true
}
