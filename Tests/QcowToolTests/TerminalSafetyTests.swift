import Foundation
import Testing
import TestSupport

/// "No terminal control bytes from input ever reach a terminal", through the built `qcowtool`:
/// each path that shows a name taken from a file or the command line is fed one holding ESC
/// (a screen-clearing sequence), CR, LF, DEL, a C1 CSI (bytes C2 9B) and an invalid UTF-8 byte
/// (FF). Standard output and standard error must hold none of them, must be valid UTF-8, must
/// still show the whole name on one line, and every error must be exactly one line.
@Suite struct TerminalSafetyTests {
    /// The hostile name: `evil…end`, the markers that must stay on one line.
    static let hostile: [UInt8] = Array("evil".utf8) + [0x1B] + Array("[2J".utf8) + [0x0D, 0x0A] + Array("X".utf8)
        + [0x7F, 0xC2, 0x9B] + Array("31m".utf8) + [0xFF] + Array("end".utf8)
    /// A plain name of the same length, written by the tools and then replaced by ``hostile``.
    static let placeholder: [UInt8] = Array("evil".utf8) + Array(repeating: UInt8(ascii: "P"), count: hostile.count - 7) + Array("end".utf8)
    /// The hostile name as a command-line argument (which must be valid UTF-8: no FF).
    static let hostileArgument = "evil\u{1B}[2J\r\nX\u{7F}\u{9B}31mend"

    static let hasQemu = Oracle.has("qemu-img")
    static let hasArchivers = Oracle.has("zstd") && Oracle.has("tar")

    /// A run of qcowtool with both streams captured as raw bytes.
    struct Run {
        var status: Int32
        var stdout: [UInt8]
        var stderr: [UInt8]
    }

    static func run(_ arguments: [String], in folder: TemporaryFolder) throws -> Run {
        let out = folder.file(".stdout"), err = folder.file(".stderr")
        _ = FileManager.default.createFile(atPath: out, contents: nil)
        _ = FileManager.default.createFile(atPath: err, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Tool.binary)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: folder.path)
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: out))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: err))
        try process.run()
        process.waitUntilExit()
        return Run(status: process.terminationStatus,
                   stdout: Array(try Data(contentsOf: URL(fileURLWithPath: out))),
                   stderr: Array(try Data(contentsOf: URL(fileURLWithPath: err))))
    }

    /// What is wrong with one output stream: not UTF-8, or holding a control character other
    /// than the LF ending each line (and TAB).
    static func problems(_ bytes: [UInt8]) -> [String] {
        guard let text = String(validating: bytes, as: UTF8.self) else { return ["not valid UTF-8"] }
        return text.unicodeScalars.compactMap { scalar in
            let value = scalar.value
            let bad = (value < 0x20 && value != 0x09 && value != 0x0A) || value == 0x7F || (0x80...0x9F).contains(value)
            return bad ? "holds U+\(String(value, radix: 16, uppercase: true))" : nil
        }
    }

    /// The lines of `bytes` that show the hostile name whole (both markers, escapes between).
    static func namingLines(_ bytes: [UInt8]) -> [Substring] {
        String(decoding: bytes, as: UTF8.self).split(separator: "\n").filter { line in
            guard let start = line.range(of: "evil") else { return false }
            return line[start.upperBound...].contains("end") && line.contains("\\")
        }
    }

    /// Both streams are clean and the name is shown whole on one line of `stream`.
    static func expectClean(_ run: Run, shownOn stream: KeyPath<Run, [UInt8]>, _ label: String,
                            sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(problems(run.stdout).isEmpty, "\(label): stdout \(problems(run.stdout)): \(String(decoding: run.stdout, as: UTF8.self).debugDescription)",
                sourceLocation: sourceLocation)
        #expect(problems(run.stderr).isEmpty, "\(label): stderr \(problems(run.stderr)): \(String(decoding: run.stderr, as: UTF8.self).debugDescription)",
                sourceLocation: sourceLocation)
        #expect(!namingLines(run[keyPath: stream]).isEmpty,
                "\(label): no line shows the name: \(String(decoding: run[keyPath: stream], as: UTF8.self).debugDescription)",
                sourceLocation: sourceLocation)
    }

    /// A failure: non-zero exit, clean streams, exactly one line on standard error naming the input.
    static func expectOneLineError(_ run: Run, _ label: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(run.status != 0, "\(label): exit 0", sourceLocation: sourceLocation)
        expectClean(run, shownOn: \.stderr, label, sourceLocation: sourceLocation)
        #expect(run.stderr.filter { $0 == 0x0A }.count == 1 && run.stderr.last == 0x0A,
                "\(label): not one line: \(String(decoding: run.stderr, as: UTF8.self).debugDescription)", sourceLocation: sourceLocation)
    }

    /// Replaces the one occurrence of ``placeholder`` in the file at `path` by ``hostile``.
    static func plantName(in path: String) throws {
        var bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        let n = placeholder.count
        let hits = (0...(bytes.count - n)).filter { bytes[$0] == placeholder[0] && Array(bytes[$0..<($0 + n)]) == placeholder }
        try #require(hits.count == 1, "\(path): placeholder found \(hits.count) times")
        bytes.replaceSubrange(hits[0]..<(hits[0] + n), with: hostile)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    static var placeholderText: String { String(decoding: placeholder, as: UTF8.self) }

    @Test("a path given on the command line is echoed escaped, in one line, by every command")
    func commandLinePaths() throws {
        let folder = try TemporaryFolder("terminal-args")
        defer { folder.remove() }
        let missing = Self.hostileArgument
        let commands: [[String]] = [
            ["inspect", missing], ["inspect", "--json", missing], ["check", missing], ["map", missing],
            ["convert", "-O", "raw", missing, "out.raw"], ["extract", missing, "out"], ["verify", missing],
            ["package", missing, "out.tar.zst"], ["new-disk", "disk", "--size", "1", "--machine", missing],
            ["create", "-f", "qcow2", "-b", missing, "-F", "raw", "x.qcow2", "1M"],
        ]
        for arguments in commands {
            Self.expectOneLineError(try Self.run(arguments, in: folder), arguments.joined(separator: " "))
        }
        // ArgumentParser echoes a bad option value (its message has usage lines after it): escaped too.
        for arguments in [["map", "-f", missing, "x"], ["convert", "-O", missing, "x", "y"], ["package", "--level", missing, "a", "b"]] {
            let run = try Self.run(arguments, in: folder)
            #expect(run.status != 0)
            Self.expectClean(run, shownOn: \.stderr, arguments.joined(separator: " "))
        }
    }

    @Test("tar member names in extract and verify errors: a fourth member, and one with a bad checksum",
          .enabled(if: TerminalSafetyTests.hasArchivers))
    func tarMemberNames() throws {
        let folder = try TemporaryFolder("terminal-tar")
        defer { folder.remove() }
        try #require(try Tool.run(["new-disk", "img", "--size", "1"], in: folder.path).status == 0)
        try #require(try Tool.run(["package", "-q", "img", "good.tar.zst"], in: folder.path).status == 0)
        let tar = try Oracle.shell("zstd -dc good.tar.zst > good.tar", currentDirectory: folder.path)
        try #require(tar.status == 0, "\(tar.stderr)")
        var base = Array(try Data(contentsOf: URL(fileURLWithPath: folder.file("good.tar"))))
        // Drop the end-of-archive blocks (machine.json, the last member, ends in a non-zero block).
        while base.count >= 512, base[(base.count - 512)...].allSatisfy({ $0 == 0 }) { base.removeLast(512) }

        for badChecksum in [false, true] {
            var header = Self.ustarHeader(name: Self.hostile, size: 7)
            if badChecksum { header[148] = UInt8(ascii: "7") }
            var archive = base + header + Array("payload".utf8)
            archive += [UInt8](repeating: 0, count: 512 - 7 + 1024)
            let label = badChecksum ? "bad-checksum" : "fourth-member"
            try Data(archive).write(to: URL(fileURLWithPath: folder.file("\(label).tar")))
            let zstd = try Oracle.shell("zstd -q -f \(label).tar -o \(label).tar.zst", currentDirectory: folder.path)
            try #require(zstd.status == 0, "\(zstd.stderr)")
            let verify = try Self.run(["verify", "-q", "\(label).tar.zst"], in: folder)
            Self.expectOneLineError(verify, "verify \(label)")
            #expect(verify.status == 2)
            let extract = try Self.run(["extract", "-q", "\(label).tar.zst", "out"], in: folder)
            Self.expectOneLineError(extract, "extract \(label)")
            #expect(extract.status == 2 && !Tool.exists(folder.file("out")))
        }
    }

    /// A ustar header for a regular file `name` (at most 100 bytes) of `size` bytes.
    static func ustarHeader(name: [UInt8], size: Int) -> [UInt8] {
        var block = [UInt8](repeating: 0, count: 512)
        func put(_ text: String, at offset: Int) { for (i, byte) in text.utf8.enumerated() { block[offset + i] = byte } }
        block.replaceSubrange(0..<name.count, with: name)
        put("0000644", at: 100)
        put("0000000", at: 108)
        put("0000000", at: 116)
        put(String(format: "%011o", size), at: 124)
        put("00000000000", at: 136)
        put("        ", at: 148)
        block[156] = UInt8(ascii: "0")
        put("ustar", at: 257)
        put("00", at: 263)
        let sum = block.reduce(0) { $0 + Int($1) }
        put(String(format: "%06o", sum), at: 148)
        block[154] = 0
        return block
    }

    @Test("machine.json keys and values in new-disk, package and extract errors",
          .enabled(if: TerminalSafetyTests.hasArchivers))
    func machineNames() throws {
        let folder = try TemporaryFolder("terminal-machine")
        defer { folder.remove() }
        // ESC, CR and LF come through JSON escapes, DEL and C2 9B stand raw; FF is invalid JSON.
        let name = Array(#"evil\u001b[2J\r\nX"#.utf8) + [0x7F, 0xC2, 0x9B] + Array("31mend".utf8)
        let documents: [(String, [UInt8])] = [
            ("key", Array(#"{"version": 1, ""#.utf8) + name + Array(#"": 1}"#.utf8)),
            ("value", Array(#"{"version": 1, "chipset": ""#.utf8) + name + Array(#""}"#.utf8)),
            ("invalid UTF-8", Array(#"{"version": 1, "chipset": "evil"#.utf8) + [0xFF] + Array(#"end"}"#.utf8)),
        ]
        try #require(try Tool.run(["new-disk", "img", "--size", "1"], in: folder.path).status == 0)
        let layer = try Tool.run(["create", "-q", "-f", "qcow2", "-b", "disk.img", "-F", "raw", "img/layer.qcow2", "1G"], in: folder.path)
        try #require(layer.status == 0, "\(layer.stderr)")
        for (label, bytes) in documents {
            try Data(bytes).write(to: URL(fileURLWithPath: folder.file("m.json")))
            let newDisk = try Self.run(["new-disk", "d", "--size", "1", "--machine", "m.json"], in: folder)
            #expect(newDisk.status == 2, "\(label)")
            if label == "invalid UTF-8" {
                // The syntax error names the offset, not the value: one clean line.
                #expect(Self.problems(newDisk.stderr).isEmpty && newDisk.stderr.filter { $0 == 0x0A }.count == 1, "\(newDisk.stderr)")
                continue
            }
            Self.expectOneLineError(newDisk, "new-disk \(label)")
            try Data(bytes).write(to: URL(fileURLWithPath: folder.file("img/machine.json")))
            Self.expectOneLineError(try Self.run(["package", "-q", "img", "bad.tar.zst"], in: folder), "package \(label)")
            // An archive carrying it (made by GNU tar: package refuses the folder).
            let made = try Oracle.shell("tar -C img -cSf - disk.img layer.qcow2 machine.json | zstd -q > bad.tar.zst", currentDirectory: folder.path)
            try #require(made.status == 0, "\(made.stderr)")
            Self.expectOneLineError(try Self.run(["verify", "-q", "bad.tar.zst"], in: folder), "verify \(label)")
            Self.expectOneLineError(try Self.run(["extract", "-q", "bad.tar.zst", "out"], in: folder), "extract \(label)")
        }
    }

    @Test("a hostile backing name: inspect's report, check, map, convert and an archive's layer")
    func backingName() throws {
        let folder = try TemporaryFolder("terminal-backing")
        defer { folder.remove() }
        let made = try Tool.run(["create", "-q", "-f", "qcow2", "--allow-unsafe-backing-name", "-b", Self.placeholderText, "-F", "raw",
                                 "b.qcow2", "16M"], in: folder.path)
        try #require(made.status == 0, "\(made.stderr)")
        try Self.plantName(in: folder.file("b.qcow2"))

        let human = try Self.run(["inspect", "b.qcow2"], in: folder)
        Self.expectClean(human, shownOn: \.stdout, "inspect")
        #expect(Self.namingLines(human.stdout).contains { $0.hasPrefix("backing file: ") }, "\(String(decoding: human.stdout, as: UTF8.self))")
        #expect(Self.namingLines(human.stdout).contains { $0.contains("backing-invalid-characters") })
        let json = try Self.run(["inspect", "--json", "b.qcow2"], in: folder)
        #expect(json.status == 0 && Self.problems(json.stdout).isEmpty && Self.problems(json.stderr).isEmpty)
        for arguments in [["check", "b.qcow2"], ["map", "b.qcow2"], ["convert", "-O", "raw", "b.qcow2", "out.raw"]] {
            Self.expectOneLineError(try Self.run(arguments, in: folder), arguments.joined(separator: " "))
        }
    }

    @Test("a layer.qcow2 in an archive naming a hostile backing file (ImageValidation.checkLayer)",
          .enabled(if: TerminalSafetyTests.hasArchivers))
    func archiveLayerBacking() throws {
        let folder = try TemporaryFolder("terminal-layer")
        defer { folder.remove() }
        try #require(try Tool.run(["new-disk", "img", "--size", "1"], in: folder.path).status == 0)
        let made = try Tool.run(["create", "-q", "-f", "qcow2", "--allow-unsafe-backing-name", "-b", Self.placeholderText, "-F", "raw",
                                 "img/layer.qcow2", "1G"], in: folder.path)
        try #require(made.status == 0, "\(made.stderr)")
        try Self.plantName(in: folder.file("img/layer.qcow2"))
        let tar = try Oracle.shell("tar -C img -cSf - disk.img layer.qcow2 machine.json | zstd -q > bad.tar.zst", currentDirectory: folder.path)
        try #require(tar.status == 0, "\(tar.stderr)")
        for arguments in [["verify", "-q", "bad.tar.zst"], ["extract", "-q", "bad.tar.zst", "out"]] {
            let run = try Self.run(arguments, in: folder)
            Self.expectOneLineError(run, arguments.joined(separator: " "))
            #expect(run.status == 2 && String(decoding: run.stderr, as: UTF8.self).contains("layer-backing"))
        }
    }

    @Test("data-file, snapshot and bitmap names in inspect's report; a snapshot name in check's ERROR line",
          .enabled(if: TerminalSafetyTests.hasQemu))
    func qemuMadeNames() throws {
        let folder = try TemporaryFolder("terminal-names")
        defer { folder.remove() }
        let name = Self.placeholderText
        let setup = try Oracle.shell("""
            qemu-img create -q -f qcow2 -o data_file=\(name) d.qcow2 16M && \
            qemu-img create -q -f qcow2 s.qcow2 16M && qemu-img snapshot -c \(name) s.qcow2 && \
            qemu-img create -q -f qcow2 m.qcow2 16M && qemu-img bitmap --add m.qcow2 \(name)
            """, currentDirectory: folder.path)
        try #require(setup.status == 0, "\(setup.stderr)")
        for file in ["d.qcow2", "s.qcow2", "m.qcow2"] { try Self.plantName(in: folder.file(file)) }

        let data = try Self.run(["inspect", "d.qcow2"], in: folder)
        Self.expectClean(data, shownOn: \.stdout, "inspect data file")
        #expect(Self.namingLines(data.stdout).contains { $0.hasPrefix("    data file: ") })
        for arguments in [["check", "d.qcow2"], ["map", "d.qcow2"], ["convert", "-O", "raw", "d.qcow2", "out.raw"]] {
            Self.expectOneLineError(try Self.run(arguments, in: folder), arguments.joined(separator: " "))
        }

        let snapshot = try Self.run(["inspect", "s.qcow2"], in: folder)
        Self.expectClean(snapshot, shownOn: \.stdout, "inspect snapshot")
        #expect(Self.namingLines(snapshot.stdout).contains { $0.hasPrefix("1 ") }, "\(String(decoding: snapshot.stdout, as: UTF8.self))")

        let bitmap = try Self.run(["inspect", "m.qcow2"], in: folder)
        Self.expectClean(bitmap, shownOn: \.stdout, "inspect bitmap")
        #expect(Self.namingLines(bitmap.stdout).contains { $0.hasPrefix("        [") })

        // The snapshot's L1 table moved off its cluster boundary: check reports it by name.
        var bytes = Array(try Data(contentsOf: URL(fileURLWithPath: folder.file("s.qcow2"))))
        let table = Int(bytes[64..<72].reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
        bytes[table + 6] |= 0x02  // l1_table_offset += 512
        try Data(bytes).write(to: URL(fileURLWithPath: folder.file("s-bad.qcow2")))
        let check = try Self.run(["check", "s-bad.qcow2"], in: folder)
        #expect(check.status != 0)
        Self.expectClean(check, shownOn: \.stderr, "check")
        #expect(Self.namingLines(check.stderr).contains { $0.contains("ERROR snapshot") }, "\(String(decoding: check.stderr, as: UTF8.self))")
        let audit = try Self.run(["inspect", "s-bad.qcow2"], in: folder)
        Self.expectClean(audit, shownOn: \.stdout, "inspect s-bad")
        #expect(Self.namingLines(audit.stdout).contains { $0.contains("snapshot-l1-table-unaligned") })
    }

    @Test("feature-name-table names: an unknown compatible bit in inspect's audit, an unknown incompatible bit in every command's error")
    func featureNames() throws {
        let folder = try TemporaryFolder("terminal-features")
        defer { folder.remove() }
        try #require(try Tool.run(["create", "-q", "-f", "qcow2", "f.qcow2", "16M"], in: folder.path).status == 0)
        let original = Array(try Data(contentsOf: URL(fileURLWithPath: folder.file("f.qcow2"))))

        /// The image with the table entry named `entry` renamed to the hostile name, moved to
        /// `bit`, and that bit set in the feature field at header byte `field`.
        func patched(entry: String, bit: UInt8, field: Int) throws -> [UInt8] {
            var bytes = original
            let needle = Array(entry.utf8)
            let at = try #require((0..<4096).first { Array(bytes[$0..<($0 + needle.count)]) == needle })
            bytes[at - 1] = bit
            bytes.replaceSubrange(at..<(at + 46), with: Self.hostile + [UInt8](repeating: 0, count: 46 - Self.hostile.count))
            bytes[field + 7 - Int(bit / 8)] |= 1 << (bit % 8)
            return bytes
        }
        try Data(try patched(entry: "lazy refcounts", bit: 5, field: 80)).write(to: URL(fileURLWithPath: folder.file("compat.qcow2")))
        let compat = try Self.run(["inspect", "compat.qcow2"], in: folder)
        Self.expectClean(compat, shownOn: \.stdout, "inspect compat")
        #expect(Self.namingLines(compat.stdout).contains { $0.contains("unknown-compatible-features") },
                "\(String(decoding: compat.stdout, as: UTF8.self))")

        try Data(try patched(entry: "dirty bit", bit: 20, field: 72)).write(to: URL(fileURLWithPath: folder.file("incompat.qcow2")))
        for arguments in [["inspect", "incompat.qcow2"], ["check", "incompat.qcow2"], ["map", "incompat.qcow2"],
                          ["convert", "-O", "raw", "incompat.qcow2", "out.raw"]] {
            Self.expectOneLineError(try Self.run(arguments, in: folder), arguments.joined(separator: " "))
        }
    }
}
