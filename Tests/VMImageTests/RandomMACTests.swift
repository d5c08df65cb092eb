import TestSupport
import Testing
@testable import VMImage

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
        var a = SplitMix64(seed: 42)
        var b = SplitMix64(seed: 42)
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
