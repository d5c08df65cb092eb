import ByteStreams
import Testing

/// File names that are not valid UTF-8 survive the trip through a Swift `String`.
@Suite struct PathTextTests {
    @Test("bytes -> text -> bytes is the identity, for valid UTF-8, invalid bytes and the stand-in characters themselves")
    func roundTrip() {
        let names: [[UInt8]] = [
            Array("disk.img".utf8), Array("dïsk 🙂.qcow2".utf8),
            [0x64, 0xFF, 0x2E, 0x71], [0xC3], [0xE2, 0x82], [0xF0, 0x9F, 0x99], [0xED, 0xA0, 0x80],  // cut and surrogate sequences
            [0xC0, 0xAF], [0x80, 0x80, 0xFE, 0xFF],  // overlong, lone continuation bytes
            Array("\u{10FEFF}".utf8), Array("a\u{10FE80}b".utf8),  // a real stand-in character stays itself
        ]
        for name in names {
            let text = PathText.text(name)
            #expect(PathText.bytes(text) == name, "\(name)")
            let onDisk: [UInt8] = PathText.filePath(text).withPlatformString { pointer in
                var bytes: [UInt8] = []
                while pointer[bytes.count] != 0 { bytes.append(UInt8(bitPattern: pointer[bytes.count])) }
                return bytes
            }
            #expect(onDisk == name, "the file path of \(name)")
        }
        #expect(PathText.text(Array("plain".utf8)) == "plain")
        var every: [UInt8] = []
        for byte in 1...255 { every.append(UInt8(byte)) }
        #expect(PathText.bytes(PathText.text(every)) == every)
    }
}
