import Foundation
import Testing
import TestSupport

/// `qcowtool inspect` parses its documented command lines itself, before ArgumentParser (for
/// start-up time); these check that it does exactly what ArgumentParser's parse does. The
/// fast path refuses `--`, so `inspect OPTIONS -- FILES` always goes through ArgumentParser.
@Suite struct InspectFastPathTests {
    static let folder = Tool.fixtures("qcow2")

    /// The documented options, in every spelling ArgumentParser takes.
    static let optionSets: [[String]] = [
        [], ["--json"], ["--output=json"], ["--output", "json"], ["--output=human"], ["--output", "human"],
        ["-f", "qcow2"], ["--format=qcow2"], ["--format", "raw"], ["-f", "raw"], ["--strict"], ["--backing-chain"],
        ["--json", "--strict"], ["--strict", "--backing-chain", "--output=json"], ["-f", "qcow2", "--backing-chain", "--json"],
        ["--output", "human", "--json"],
    ]

    /// Files: a chain, an unsafe image, a missing one, a text file, several at once.
    static let fileSets: [[String]] = [
        ["chain-top.qcow2"], ["corrupt.qcow2", "dirty.qcow2"], ["/nonexistent/x.qcow2"], ["README.md"],
        ["backing-noformat.qcow2", "chain-base.qcow2"],
    ]

    @Test("the fast path prints and exits exactly as ArgumentParser's parse does", arguments: ["inspect", "info"])
    func agreesWithArgumentParser(command: String) throws {
        for options in Self.optionSets {
            for files in Self.fileSets {
                let fast = try Tool.run([command] + options + files, in: Self.folder)
                let parsed = try Tool.run([command] + options + ["--"] + files, in: Self.folder)
                let line = ([command] + options + files).joined(separator: " ")
                #expect(fast.status == parsed.status, "\(line)")
                #expect(fast.stdout == parsed.stdout, "\(line)")
                #expect(fast.stderr == parsed.stderr, "\(line)")
                // Options after the files mean the same.
                let after = try Tool.run([command] + files + options, in: Self.folder)
                #expect(after.status == fast.status && after.stdout == fast.stdout && after.stderr == fast.stderr, "\(line), options last")
            }
        }
    }

    @Test("command lines the fast path leaves alone still get ArgumentParser's messages", arguments: [
        (["inspect"], "Missing expected argument"),
        (["inspect", "--output=xml", "chain-top.qcow2"], "xml"),
        (["inspect", "-f", "vmdk", "chain-top.qcow2"], "vmdk"),
        (["info", "--bogus", "chain-top.qcow2"], "--bogus"),
        (["inspect", "--json=1", "chain-top.qcow2"], "--json"),
        (["inspect", "--format", "chain-top.qcow2"], "'chain-top.qcow2' is invalid"),
    ])
    func othersGoThroughArgumentParser(arguments: [String], mention: String) throws {
        let result = try Tool.run(arguments, in: Self.folder)
        #expect(result.status == 64, "\(arguments): \(result.stderr)")
        #expect(result.stderr.hasPrefix("Error: ") && result.stderr.contains(mention), "\(arguments): \(result.stderr)")
    }

    @Test("help is ArgumentParser's", arguments: [["inspect", "--help"], ["info", "-h"], ["inspect", "chain-top.qcow2", "--help"]])
    func helpIsArgumentParsers(arguments: [String]) throws {
        let result = try Tool.run(arguments, in: Self.folder)
        #expect(result.status == 0)
        #expect(result.text.contains("USAGE: qcowtool inspect"), "\(arguments): \(result.text)")
    }
}
