import Testing
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
@testable import VMImage

@Suite("Machine input limits")
struct MachineInputTests {
    @Test func aDefinitionOfExactlyOneMiBIsRead() throws {
        var bytes = Array(#"{"version":1}"#.utf8)
        bytes += [UInt8](repeating: UInt8(ascii: " "), count: Machine.maxDefinitionSize - bytes.count)
        #expect(try Machine(json: bytes) == Machine())
    }

    @Test func oneByteMoreIsRejectedWithASizeError() {
        var bytes = Array(#"{"version":1}"#.utf8)
        bytes += [UInt8](repeating: UInt8(ascii: " "), count: Machine.maxDefinitionSize + 1 - bytes.count)
        #expect {
            try Machine(json: bytes, member: "images/a/machine.json")
        } throws: { error in
            guard case VMImageError.malformedPayload(let member, let rule, let message) = error else { return false }
            return member == "images/a/machine.json" && rule == .sizeLimit && message.contains("1048577 bytes")
        }
    }

    @Test(arguments: ["", "{", "{\"version\":1,}", "nul", "{\"version\":1} x", "\u{FF}"])
    func invalidJSONIsASyntaxError(text: String) {
        guard case .failure(.malformedPayload(_, let rule, _)) = machineResult(text) else {
            Issue.record("expected a JSON syntax error for \(text)")
            return
        }
        #expect(rule == .jsonSyntax)
    }

    @Test(arguments: ["[]", "1", "\"machine\"", "null", "true"])
    func aDocumentThatIsNotAnObjectIsRejected(text: String) {
        guard case .failure(.malformedPayload(_, let rule, let message)) = machineResult(text) else {
            Issue.record("expected a syntax error for \(text)")
            return
        }
        #expect(rule == .jsonSyntax)
        #expect(message.contains("must be a JSON object"))
    }

    @Test func deeplyNestedInputIsAnErrorNotACrash() {
        let depth = 200_000
        let text = String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
        guard case .failure(.malformedPayload(_, let rule, _)) = machineResult(text) else {
            Issue.record("expected an error")
            return
        }
        #expect(rule == .jsonSyntax)
        let nestedInField = #"{"version":1,"uuid":"# + String(repeating: "[", count: 600) + String(repeating: "]", count: 600) + "}"
        #expect(machineResult(nestedInField).isFailure)
    }

    @Test func thousandsOfUnknownKeysGiveABoundedError() throws {
        let members = (0..<50_000).map { #""k\#($0)":0"# }.joined(separator: ",")
        guard case .failure(.invalidMachine(_, let issues)) = machineResult(#"{"version":1,\#(members)}"#) else {
            Issue.record("expected invalidMachine")
            return
        }
        #expect(issues.count == MachineParser.maxListedIssues + 1)
        #expect(issues.last?.message == "and \(50_000 - MachineParser.maxListedIssues) more issue(s) not listed")
        #expect(VMImageError.invalidMachine(member: "m", issues: issues).description.utf8.count < 64 << 10)
    }

    @Test func decodableConformanceAppliesTheSameChecks() throws {
        let decoder = JSONDecoder()
        let good = try decoder.decode(Machine.self, from: Data(#"{"version":1,"memory":2048}"#.utf8))
        #expect(good.memory == 2048)
        #expect {
            try decoder.decode(Machine.self, from: Data(#"{"version":1,"memory":0,"mac":"x"}"#.utf8))
        } throws: { error in
            guard case VMImageError.invalidMachine(_, let issues) = error else { return false }
            return issues.map(\.field) == ["mac", "memory"]
        }
    }
}

extension Result {
    /// Whether this is a failure.
    var isFailure: Bool {
        if case .failure = self { return true }
        return false
    }
}
