import Testing
@testable import VMImage

@Suite("Strict JSON reader")
struct JSONReaderTests {
    private func parse(_ text: String) -> JSONValue? {
        try? JSONReader.parse(Array(text.utf8))
    }

    @Test func readsEveryKindOfValue() throws {
        let value = try JSONReader.parse(Array(#" {"a": [1, -2.5, 1e2, true, false, null, "x\"\u00e9\ud83d\ude00\n"], "b": {}} "#.utf8))
        #expect(value == .object([
            "a": .array([.integer(1), .number(-2.5), .integer(100), .bool(true), .bool(false), .null, .string("x\"é😀\n")]),
            "b": .object([:]),
        ]))
        #expect(parse("-0") == .integer(0))
        #expect(parse("9223372036854775807") == .integer(.max))
        #expect(parse("9223372036854775808") == .number(9223372036854775808))
        #expect(parse("\"caf\u{e9}\"") == .string("café"))
    }

    @Test(arguments: [
        "{\"a\":1,}", "[1,]", "[01]", "[1.]", "[.5]", "[1e]", "[+1]", "{a:1}", "['x']", "[1 2]",
        "\"\u{01}\"", "\"\\x\"", "\"\\ud800\"", "\"\\udc00\"", "\"\\ud800\\u0041\"", "[1] [2]",
        "/* c */ 1", "NaN", "[1e999]", "{\"a\":1,\"a\":2}", "", " ", "\"abc", "[", "{\"a\"", "tru", "nul",
    ])
    func rejectsWhatRFC8259Rejects(text: String) {
        #expect(throws: JSONReader.SyntaxError.self) { try JSONReader.parse(Array(text.utf8)) }
    }

    @Test func rejectsInvalidUTF8InStrings() {
        #expect(throws: JSONReader.SyntaxError.self) { try JSONReader.parse([0x22, 0xC3, 0x28, 0x22]) }
    }

    @Test func capsNestingAndReportsTheOffset() throws {
        let ok = String(repeating: "[", count: JSONReader.maxDepth) + String(repeating: "]", count: JSONReader.maxDepth)
        #expect(parse(ok) != nil)
        let deep = String(repeating: "[", count: JSONReader.maxDepth + 1) + String(repeating: "]", count: JSONReader.maxDepth + 1)
        #expect {
            try JSONReader.parse(Array(deep.utf8))
        } throws: { error in
            (error as? JSONReader.SyntaxError)?.offset == JSONReader.maxDepth
        }
    }

    @Test func duplicateKeysNameTheKeyAndItsOffset() {
        #expect {
            try JSONReader.parse(Array(#"{"mac":"a","mac":"b"}"#.utf8))
        } throws: { error in
            let syntax = error as? JSONReader.SyntaxError
            return syntax?.offset == 11 && syntax?.reason == "duplicate key mac"
        }
    }
}
