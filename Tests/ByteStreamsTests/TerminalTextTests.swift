import ByteStreams
import Testing

@Suite struct TerminalTextTests {
    /// Every byte a terminal acts on, in one name.
    static let hostile: [UInt8] = Array("a".utf8) + [0x1B] + Array("[2J".utf8) + [0x0D, 0x0A, 0x7F, 0xC2, 0x9B, 0x00, 0x08] + Array("b".utf8)

    @Test func controlBytesAreEscaped() {
        let shown = TerminalText.escaping(Self.hostile)
        #expect(shown == #"a\x1b[2J\r\n\x7f\u{9b}\x00\x08b"#)
        #expect(!shown.unicodeScalars.contains { TerminalText.mustEscape($0) && $0 != "\\" })
    }

    @Test func validTextPassesUnchanged() {
        for text in ["disk.img", "Grüße/日本語 – ok", "tab\tkept", "emoji 🙂", ""] {
            #expect(TerminalText.escaping(Array(text.utf8)) == text)
            #expect(TerminalText.escaping(text) == text)
        }
    }

    @Test func invalidUTF8IsShownByteByByte() {
        // Stray continuation, overlong '/', a surrogate, past U+10FFFF, a cut-short sequence.
        #expect(TerminalText.escaping([0x80]) == #"\x80"#)
        #expect(TerminalText.escaping([0xC0, 0xAF]) == #"\xc0\xaf"#)
        #expect(TerminalText.escaping([0xED, 0xA0, 0x80]) == #"\xed\xa0\x80"#)
        #expect(TerminalText.escaping([0xF4, 0x90, 0x80, 0x80]) == #"\xf4\x90\x80\x80"#)
        #expect(TerminalText.escaping([0x41, 0xE2, 0x82]) == #"A\xe2\x82"#)
        // A C1 byte on its own is invalid UTF-8, shown as a byte.
        #expect(TerminalText.escaping([0x9B]) == #"\x9b"#)
    }

    @Test func fileNameBytesKeptByPathTextShowAsBytes() {
        // A command-line file name with the byte 0xff, as qcowtool holds it.
        let name = PathText.text([0x61, 0xFF, 0x2E, 0x69, 0x6D, 0x67])
        #expect(TerminalText.escaping(name) == #"a\xff.img"#)
        #expect(TerminalText.quoted(name) == #"'a\xff.img'"#)
    }

    @Test func backslashIsDoubledSoEscapesAreUnambiguous() {
        #expect(TerminalText.escaping(Array(#"a\x1b"#.utf8)) == #"a\\x1b"#)
    }

    @Test func stringsAreEscapedLikeTheirBytes() {
        let text = "x\u{1B}]0;title\u{07}\r\ny\u{85}"
        #expect(TerminalText.escaping(text) == TerminalText.escaping(Array(text.utf8)))
        #expect(TerminalText.escaping(text) == #"x\x1b]0;title\x07\r\ny\u{85}"#)
    }

    @Test func quotedNamesAreCutAndQuoteSafe() {
        #expect(TerminalText.quoted("it's") == #"'it\'s'"#)
        #expect(TerminalText.quoted(Array(repeating: UInt8(ascii: "a"), count: 10), limit: 4) == "'aaaa…'")
        #expect(TerminalText.quoted("a\nb") == #"'a\nb'"#)
    }
}
