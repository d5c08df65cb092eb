import Foundation
import Testing
import TestSupport

/// Help, usage errors and `mac`: what a user sees before any image is touched.
@Suite struct UsageTests {
    /// Each subcommand and words its help must show (its arguments and main options).
    static let helps: [(String, [String])] = [
        ("inspect", ["<files>", "--json", "--format", "--strict"]),
        ("info", ["<files>", "--json", "--strict"]),
        ("check", ["<file>", "--json"]),
        ("map", ["<file>", "--json", "--svg"]),
        ("convert", ["<source>", "<destination>", "-O", "-p"]),
        ("create", ["<file>", "<size>", "-b", "-F", "-o"]),
        ("package", ["<folder>", "<output>", "--level", "--threads"]),
        ("extract", ["<archive>", "<folder>", "--quiet"]),
        ("verify", ["<archive>", "--quiet"]),
        ("new-disk", ["<folder>", "--size", "--machine"]),
        ("cache", ["list", "remove", "prune"]),
        ("mac", ["USAGE: qcowtool mac"]),
    ]

    @Test("--help and 'help CMD' exit 0 and name the arguments", arguments: UsageTests.helps)
    func help(command: String, words: [String]) throws {
        for invocation in [[command, "--help"], ["help", command], [command, "-h"]] {
            let result = try Tool.run(invocation)
            #expect(result.status == 0, "\(invocation): \(result.stderr)")
            #expect(result.text.contains("USAGE: qcowtool "), "\(invocation)")
            for word in words {
                #expect(result.text.contains(word), "\(invocation): '\(word)' missing from\n\(result.text)")
            }
        }
    }

    @Test("the root help lists every subcommand")
    func rootHelp() throws {
        let result = try Tool.run(["--help"])
        #expect(result.status == 0)
        for command in Self.helps.map(\.0) {
            #expect(result.text.contains(command), "\(command) missing from root help")
        }
    }

    @Test("usage errors exit non-zero with a short message and no stack trace", arguments: [
        [], ["inspect"], ["check"], ["map"], ["convert", "-O", "raw", "a.qcow2"], ["convert", "a.qcow2", "b.raw"],
        ["convert", "-O", "qcow2", "a.qcow2", "b.raw"], ["create"], ["package", "img"], ["extract", "a.tar.zst"],
        ["verify"], ["new-disk", "img"], ["cache", "list"], ["cache", "remove", "images"], ["bogus"], ["inspect", "--format", "vmdk", "a"], ["check", "--frobnicate", "a"],
    ])
    func usageErrors(arguments: [String]) throws {
        let folder = try TemporaryFolder("qcowtool-usage")
        defer { folder.remove() }
        let result = try Tool.run(arguments, in: folder.path)
        if arguments.isEmpty {
            // No subcommand: the overview, like --help, and nothing on disk.
            #expect(result.text.contains("SUBCOMMANDS") || result.stderr.contains("SUBCOMMANDS"))
        } else {
            #expect(result.status != 0, "\(arguments): exit 0")
            #expect(result.stderr.contains("Error:") || result.stderr.hasPrefix("qcowtool:"), "\(arguments): \(result.stderr)")
            #expect(Tool.errorLines(result).count <= 6, "\(arguments): \(result.stderr)")
        }
        for marker in ["Fatal error", "Stack dump", "Current stack trace", "#0 "] {
            #expect(!result.stderr.contains(marker), "\(arguments): \(result.stderr)")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path).isEmpty, "\(arguments) wrote files")
    }

    @Test("mac prints random locally administered unicast addresses")
    func mac() throws {
        var seen: Set<String> = []
        for _ in 0..<4 {
            let result = try Tool.run(["mac"])
            #expect(result.status == 0)
            let text = result.text.trimmingCharacters(in: .newlines)
            let octets = text.split(separator: ":")
            #expect(octets.count == 6 && octets.allSatisfy { $0.count == 2 && UInt8($0, radix: 16) != nil }, "\(text)")
            let first = UInt8(octets.first ?? "", radix: 16) ?? 0
            #expect(first & 0b10 != 0 && first & 0b01 == 0, "\(text): not locally administered unicast")
            seen.insert(text)
        }
        #expect(seen.count > 1, "mac printed the same address four times")
    }
}
