import Foundation
import Testing
import TestSupport

/// Issue 12 item 4: memory bounded by what we hold, not by the metadata's fan-out. The two
/// fan-out images of `TestImages/fanout/make-fanout.py` make a tool that keeps every check
/// message or every map record need hundreds of MiB from a file of a few MB; `check`,
/// `map --json` and `map --svg` must stay under 64 MiB of peak RSS on them (measured on the
/// child with `wait4`), and print what qemu-img prints.
@Suite(.serialized) struct FanOutTests {
    /// The bound of CONTRIBUTING.md's "stream, never slurp" rule.
    static let peakLimit = 64 << 20

    static let script = "\(Tool.repository)/TestImages/fanout/make-fanout.py"

    /// How a child process ended and the most memory it held.
    struct Usage {
        var status: Int32
        /// Peak resident set size in bytes (`ru_maxrss`).
        var peakRSS: Int
        var seconds: Double
    }

    /// Forks a child that runs `argv[3:]` with standard output and error going to `argv[1]` and
    /// `argv[2]`, and prints its exit status, `ru_maxrss` (bytes) and wall time. A real fork
    /// from this small process, because `posix_spawn` (what Foundation and a Swift test would
    /// use) shares the test process's memory until `exec`, and the kernel then counts the test
    /// process's own peak into the child's `ru_maxrss`. The python parent's few MiB, copied by
    /// `fork`, do count: the figure errs high, never low.
    static let measurer = """
        import os, sys, time
        start = time.monotonic()
        pid = os.fork()
        if pid == 0:
            try:
                os.dup2(os.open("/dev/null", os.O_RDONLY), 0)
                os.dup2(os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644), 1)
                os.dup2(os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644), 2)
                os.execv(sys.argv[3], sys.argv[3:])
            finally:
                os._exit(127)
        _, status, usage = os.wait4(pid, 0)
        print(os.waitstatus_to_exitcode(status), usage.ru_maxrss * 1024, time.monotonic() - start)
        """

    /// Runs `executable arguments…` with standard output and error going to files, and
    /// returns its exit status, peak RSS and wall time.
    static func measure(_ executable: String, _ arguments: [String], stdout: String, stderr: String) throws -> Usage {
        let run = try Oracle.run("python3", ["-c", measurer, stdout, stderr, executable] + arguments)
        let fields = run.text.split(separator: " ").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
        guard run.status == 0, fields.count == 3, let status = Int32(fields[0]), let peak = Int(fields[1]),
              let seconds = Double(fields[2]) else {
            throw TestFailure("cannot measure \(executable): \(run.text) \(run.stderr)")
        }
        return Usage(status: status, peakRSS: peak, seconds: seconds)
    }

    /// Makes a fan-out image with the script (`kind` is `check` or `map`).
    static func make(_ kind: String, _ path: String, _ options: [String]) throws {
        let made = try Oracle.run("python3", [script, kind, path] + options)
        guard made.status == 0 else { throw TestFailure("make-fanout.py \(kind) failed: \(made.stderr)") }
    }

    static func mib(_ bytes: Int) -> String { "\(bytes >> 20) MiB" }

    @Test("check on 65,535 snapshots sharing one damaged L2 table: under 64 MiB, qemu-img's messages and JSON",
          .enabled(if: Oracle.has("python3")))
    func checkFanOut() throws {
        let folder = try TemporaryFolder("fanout-check")
        defer { folder.remove() }
        let image = folder.file("check-fanout.qcow2")
        // 512-byte clusters keep the walk short (64 entries a table); the 16 bad entries per
        // walk still make 1,048,578 corruptions and as many lines (about 110 MiB if held).
        try Self.make("check", image, ["--snapshots", "65535", "--cluster-bits", "9", "--bad-entries", "16"])
        let ours = try Self.measure(Tool.binary, ["check", "--json", image],
                                    stdout: folder.file("ours.json"), stderr: folder.file("ours.err"))
        #expect(ours.status == 2)
        #expect(ours.peakRSS <= Self.peakLimit, "check peak RSS \(Self.mib(ours.peakRSS)) in \(ours.seconds) s")
        let ourJSON = try Data(contentsOf: URL(fileURLWithPath: folder.file("ours.json")))
        let summary = try #require(try JSON.parse(ourJSON, "check --json") as? [String: Any])
        #expect(summary["corruptions"] as? Int == 65536 * 16 + 2, "\(summary)")
        let ourErrors = try Data(contentsOf: URL(fileURLWithPath: folder.file("ours.err")))
        guard Tool.hasQemu else { return }

        let qemu = try Self.measure(try #require(Oracle.path(of: "qemu-img")), ["check", "--output=json", image],
                                    stdout: folder.file("qemu.json"), stderr: folder.file("qemu.err"))
        #expect(qemu.status == ours.status)
        let qemuJSON = try Data(contentsOf: URL(fileURLWithPath: folder.file("qemu.json")))
        let differences = JSON.differences(try JSON.parse(qemuJSON, "qemu-img check"), summary)
        #expect(differences.isEmpty, "\(differences.joined(separator: "; "))")
        // Every line qemu-img printed, in its order, with our prefix.
        var expected = Data()
        let qemuErrors = try Data(contentsOf: URL(fileURLWithPath: folder.file("qemu.err")))
        for line in qemuErrors.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).dropLast() {
            expected.append(contentsOf: Array("qcowtool: ".utf8))
            expected.append(contentsOf: line)
            expected.append(UInt8(ascii: "\n"))
        }
        let same = ourErrors == expected
        #expect(same, "stderr differs from qemu-img's: \(ourErrors.count) bytes vs \(expected.count)")
    }

    @Test("inspect --json on 65,535 snapshots: under 128 MiB and qemu-img's peak, qemu-img info's JSON member for member",
          .enabled(if: Oracle.has("python3")))
    func inspectFanOut() throws {
        let folder = try TemporaryFolder("fanout-inspect")
        defer { folder.remove() }
        let image = folder.file("snapshots.qcow2")
        try Self.make("check", image, ["--snapshots", "65535", "--cluster-bits", "9", "--bad-entries", "0"])
        let ours = try Self.measure(Tool.binary, ["inspect", "--json", image],
                                    stdout: folder.file("ours.json"), stderr: folder.file("ours.err"))
        #expect(ours.status == 0, "\((try? String(contentsOfFile: folder.file("ours.err"), encoding: .utf8)) ?? "")")
        // The whole report is one JSON document (qemu-img holds it too: 340 MiB here). The
        // format caps the count at 65,535, so this is the worst case: 90 MiB measured.
        #expect(ours.peakRSS <= 2 * Self.peakLimit, "inspect peak RSS \(Self.mib(ours.peakRSS)) in \(ours.seconds) s")
        let ourJSON = try JSON.parse(try Data(contentsOf: URL(fileURLWithPath: folder.file("ours.json"))), "inspect --json")
        let snapshots = (ourJSON as? [String: Any])?["snapshots"] as? [[String: Any]]
        #expect(snapshots?.count == 65535)
        guard Tool.hasQemu else { return }
        let qemu = try Self.measure(try #require(Oracle.path(of: "qemu-img")), ["info", "--output=json", image],
                                    stdout: folder.file("qemu.json"), stderr: folder.file("qemu.err"))
        #expect(qemu.status == 0)
        let qemuJSON = try JSON.parse(try Data(contentsOf: URL(fileURLWithPath: folder.file("qemu.json"))), "qemu-img info")
        let differences = JSON.differences(qemuJSON, ourJSON, ignoring: ["actual-size", "audit"])
        #expect(differences.isEmpty, "\(differences.prefix(5).joined(separator: "; "))")
        // (No time comparison here: the tests run a debug build beside other tests; the
        // release build's 0.6 s against qemu-img's 5-13 s is in Benchmarks/README.md.)
        #expect(ours.peakRSS <= qemu.peakRSS, "inspect \(Self.mib(ours.peakRSS)), qemu-img info \(Self.mib(qemu.peakRSS))")
    }

    @Test("map --json and --svg on 64 L1 entries sharing one alternating L2 table: under 64 MiB, qemu-img's records",
          .enabled(if: Oracle.has("python3")))
    func mapFanOut() throws {
        let folder = try TemporaryFolder("fanout-map")
        defer { folder.remove() }
        let image = folder.file("map-fanout.qcow2")
        // 64 × 8192 clusters that never merge: 524,288 records (about 230 MiB if held).
        let regions = 64 * 8192
        try Self.make("map", image, ["--l1-entries", "64"])
        let json = try Self.measure(Tool.binary, ["map", "--json", image],
                                    stdout: folder.file("ours.json"), stderr: folder.file("ours.err"))
        #expect(json.status == 0, "\((try? String(contentsOfFile: folder.file("ours.err"), encoding: .utf8)) ?? "")")
        #expect(json.peakRSS <= Self.peakLimit, "map --json peak RSS \(Self.mib(json.peakRSS)) in \(json.seconds) s")

        let svg = folder.file("map.svg")
        let drawn = try Self.measure(Tool.binary, ["map", "--svg", svg, image],
                                     stdout: folder.file("ours.txt"), stderr: folder.file("ours-svg.err"))
        #expect(drawn.status == 0)
        #expect(drawn.peakRSS <= Self.peakLimit, "map --svg peak RSS \(Self.mib(drawn.peakRSS)) in \(drawn.seconds) s")
        // The human table: a heading and one line per record.
        let table = try Data(contentsOf: URL(fileURLWithPath: folder.file("ours.txt")))
        #expect(table.count(where: { $0 == UInt8(ascii: "\n") }) == regions + 1)
        // The picture is a bounded summary: 32 strips of 1024 columns, far from one rectangle a record.
        let picture = try String(contentsOfFile: svg, encoding: .utf8)
        #expect(picture.hasPrefix("<svg") && picture.hasSuffix("</svg>\n"))
        #expect(picture.contains("each pixel column blends"))
        #expect(picture.utf8.count < 4 << 20, "\(picture.utf8.count) bytes of SVG")
        // Alternating data and unallocated clusters blend to one colour: one rectangle per strip.
        #expect(picture.components(separatedBy: "fill=\"#8fb7e8\"").count - 1 == 32, "\(picture.prefix(2000))")

        guard Tool.hasQemu else { return }
        let qemu = try Self.measure(try #require(Oracle.path(of: "qemu-img")), ["map", "--output=json", image],
                                    stdout: folder.file("qemu.json"), stderr: folder.file("qemu.err"))
        #expect(qemu.status == 0)
        #expect(try Tool.sha256(folder.file("ours.json")) == (try Tool.sha256(folder.file("qemu.json"))),
                "map --json differs from qemu-img's")
    }
}
