import Testing
@testable import VMImage

/// A deterministic generator (SplitMix64) so a test can replay the same addresses.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite("randomMAC")
struct RandomMACTests {
    /// The six octets of `mac`, or `nil` when it is not six two-digit lowercase hex groups.
    private func octets(_ mac: String) -> [UInt8]? {
        let groups = mac.split(separator: ":", omittingEmptySubsequences: false)
        guard groups.count == 6 else { return nil }
        var result: [UInt8] = []
        for group in groups {
            guard group.count == 2, group == group.lowercased(), let value = UInt8(group, radix: 16) else { return nil }
            result.append(value)
        }
        return result
    }

    @Test func isSixLowercaseHexOctetsLocallyAdministeredAndUnicast() throws {
        for _ in 0..<1000 {
            let mac = randomMAC()
            let bytes = try #require(octets(mac), "format of \(mac)")
            #expect(bytes[0] & 0x02 == 0x02, "locally administered: \(mac)")
            #expect(bytes[0] & 0x01 == 0, "unicast: \(mac)")
            #expect(Machine(mac: mac).validationIssues.isEmpty, "passes the machine.json pattern: \(mac)")
        }
    }

    @Test func coversTheWholeSpaceOfTheOtherBits() {
        var seenFirst = Set<UInt8>()
        var seenLast = Set<UInt8>()
        for _ in 0..<4000 {
            guard let bytes = octets(randomMAC()) else { continue }
            seenFirst.insert(bytes[0])
            seenLast.insert(bytes[5])
        }
        #expect(seenFirst.count == 64, "all 64 first octets with bits 0b10 are reachable")
        #expect(seenLast.count > 250)
    }

    @Test func isReproducibleWithAGivenGenerator() {
        var a = SplitMix64(state: 42)
        var b = SplitMix64(state: 42)
        let first = (0..<5).map { _ in randomMAC(using: &a) }
        #expect(first == (0..<5).map { _ in randomMAC(using: &b) })
        #expect(Set(first).count == 5)
    }

    @Test func forcesTheBitsEvenWhenTheGeneratorGivesAllOnesOrZeros() {
        struct Constant: RandomNumberGenerator {
            let value: UInt64
            mutating func next() -> UInt64 { value }
        }
        var ones = Constant(value: .max)
        var zeros = Constant(value: 0)
        #expect(randomMAC(using: &ones) == "fe:ff:ff:ff:ff:ff")
        #expect(randomMAC(using: &zeros) == "02:00:00:00:00:00")
    }
}
