/// A new random MAC address, locally administered and unicast, as `aa:bb:cc:dd:ee:ff`.
///
/// The first octet has the locally-administered bit (0x02) set and the multicast bit
/// (0x01) clear, so the address never collides with a vendor-assigned one.
public func randomMAC() -> String {
    var generator = SystemRandomNumberGenerator()
    return randomMAC(using: &generator)
}

/// ``randomMAC()`` drawing from `generator` (for reproducible tests).
public func randomMAC<G: RandomNumberGenerator>(using generator: inout G) -> String {
    var octets = (0..<6).map { _ in UInt8.random(in: 0...255, using: &generator) }
    octets[0] = (octets[0] | 0x02) & 0xFE
    return octets.map { byte in
        let hex = String(byte, radix: 16)
        return hex.count == 1 ? "0" + hex : hex
    }.joined(separator: ":")
}
