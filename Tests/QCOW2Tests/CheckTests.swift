import Foundation
import Testing
@testable import QCOW2

@Suite struct CheckTests {
    @Test(arguments: QemuImages.names)
    func agreesWithQemuImgCheck(name: String) throws {
        let result = try QemuImages.withFile(QemuImages.path(name)) { try ImageCheck.run($0) }
        let expected = try QemuImages.oracle(name, "check.json")
        #expect(result.json(filename: "\(name).qcow2") + "\n" == expected, "\(result.messages)")
        let rc = try QemuImages.oracle(name, "check.rc").trimmingCharacters(in: .whitespacesAndNewlines)
        #expect("\(result.exitCode)" == rc)
    }

    @Test func leakAndCorruptionAreNamed() throws {
        let leak = try QemuImages.withFile(QemuImages.path("leak")) { try ImageCheck.run($0) }
        #expect(leak.leaks == 1 && leak.corruptions == 0 && leak.exitCode == 3)
        #expect(leak.messages.contains { $0.hasPrefix("Leaked cluster") })
        let bad = try QemuImages.withFile(QemuImages.path("badref")) { try ImageCheck.run($0) }
        #expect(bad.corruptions == 2 && bad.exitCode == 2)
        #expect(bad.messages.contains("ERROR cluster 5 refcount=0 reference=1"))
        #expect(bad.messages.contains("ERROR OFLAG_COPIED data cluster: l2_entry=8000000000050000 refcount=0"))
    }

    @Test func jsonEscapesLikeQemu() {
        var result = CheckResult()
        result.totalClusters = 3
        #expect(result.json(filename: "a\"b\u{1}é") == "{\n    \"total-clusters\": 3,\n    \"check-errors\": 0,\n    \"filename\": \"a\\\"b\\u0001\\u00E9\",\n    \"format\": \"qcow2\"\n}")
        #expect(CheckResult.percent(18.75) == "18.75" && CheckResult.percent(6.0) == "6.00")
    }
}
