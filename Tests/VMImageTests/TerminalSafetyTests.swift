import ByteStreams
import Foundation
import QCOW2
import SystemPackage
import Tar
import TestSupport
import Testing
@testable import VMImage

/// Library-level half of "no terminal control bytes from input ever reach a terminal": every
/// error `description` and audit message that names something taken from input (a tar member,
/// a `machine.json` key or value, a backing, data-file, snapshot, bitmap or feature name, a
/// path) shows it escaped, on one line. `QcowToolTests.TerminalSafetyTests` checks the same
/// through the built `qcowtool`.
@Suite struct TerminalSafetyTests {
    /// A name holding ESC (a screen-clearing sequence), CR, LF, DEL, a C1 CSI (U+009B) and
    /// BS, between two markers that must end up on the same line.
    static let hostile = "evil\u{1B}[2J\r\nX\u{7F}\u{9B}31m\u{08}end"

    /// What is wrong with `text` as one line of terminal output: a control character (C0
    /// other than TAB, DEL, C1) or a missing marker.
    static func problems(_ text: String, markers: Bool = true) -> [String] {
        var found: [String] = []
        for scalar in text.unicodeScalars {
            let value = scalar.value
            if (value < 0x20 && value != 0x09) || value == 0x7F || (0x80...0x9F).contains(value) {
                found.append("holds U+\(String(value, radix: 16, uppercase: true))")
            }
        }
        if markers, let start = text.range(of: "evil"), !text[start.upperBound...].contains("end") {
            found.append("does not show the whole name")
        } else if markers, !text.contains("evil") {
            found.append("does not name the input")
        }
        return found
    }

    static func expectSafe(_ text: String, markers: Bool = true, sourceLocation: SourceLocation = #_sourceLocation) {
        let found = problems(text, markers: markers)
        #expect(found.isEmpty, "\(found): \(text.debugDescription)", sourceLocation: sourceLocation)
    }

    @Test("tar errors show member names, link targets and paths escaped")
    func tarErrors() {
        Self.expectSafe(TarError(.unsafeName, "unsafe member name: absolute path", member: Self.hostile, offset: 512).description)
        Self.expectSafe(TarError(.badExtendedHeader, "member name contains a NUL byte", member: Self.hostile + "\u{0}", offset: 0).description)
        Self.expectSafe(SystemCallError(operation: "open", path: Self.hostile, errno: .noSuchFileOrDirectory).description)
        if case .failure(let error) = TarMemberName.normalized("/" + Self.hostile) {
            Self.expectSafe(error.description)
        } else {
            Issue.record("an absolute member name was accepted")
        }
    }

    @Test("an archive whose fourth member has a hostile name is refused in one escaped line")
    func fourthMember() throws {
        let scratch = try TemporaryFolder("terminal-tar")
        defer { scratch.remove() }
        var members = try ArchiveBuilder.validMembers(in: scratch)
        members.append(.file(Self.hostile, Array("payload".utf8)))
        let bytes = try ArchiveBuilder.archive(members)
        do throws(VMImageError) {
            try ImageArchive.verify(from: BufferSource(bytes))
            Issue.record("verify accepted a fourth member")
        } catch {
            #expect(error.description.contains("unexpected-member"), "\(error)")
            Self.expectSafe(error.description)
        }
        let target = scratch.file("out")
        do throws(VMImageError) {
            try ImageArchive.extract(from: BufferSource(bytes), into: FilePath(target))
            Issue.record("extract accepted a fourth member")
        } catch {
            Self.expectSafe(error.description)
            #expect(!FileManager.default.fileExists(atPath: target))
        }
    }

    @Test("a layer naming a hostile backing file is refused in one escaped line (ImageValidation.checkLayer)")
    func layerBacking() throws {
        let scratch = try TemporaryFolder("terminal-layer")
        defer { scratch.remove() }
        var members = try ArchiveBuilder.validMembers(in: scratch)
        members[1] = .file("layer.qcow2", try ArchiveBuilder.layer(size: 16 << 20, backing: Self.hostile, in: scratch))
        let bytes = try ArchiveBuilder.archive(members)
        do throws(VMImageError) {
            try ImageArchive.verify(from: BufferSource(bytes))
            Issue.record("verify accepted a layer backed by a hostile name")
        } catch {
            #expect(error.description.contains("layer-backing"), "\(error)")
            Self.expectSafe(error.description)
        }
    }

    @Test("machine.json keys and values are escaped in schema and syntax errors")
    func machineErrors() {
        // JSON escapes put ESC, CR, LF into the key and value; DEL and U+009B stand raw (JSON allows them).
        let name = #"evil\u001b[2J\r\nX"# + "\u{7F}\u{9B}" + #"31m\u0000end"#
        let documents = [
            #"{"version": 1, "\#(name)": 1}"#,
            #"{"version": 1, "chipset": "\#(name)"}"#,
            #"{"version": 1, "mac": "\#(name)"}"#,
            #"{"version": 1, "flags": ["\#(name)"]}"#,
            #"{"version": "\#(name)"}"#,
            #"{"version": 1, "\#(name)": 1, "\#(name)": 2}"#,
            #"{"memory": "\#(name)"}"#,
            #"{"sound": {"device": "\#(name)", "controller": "pci"}}"#,
        ]
        for document in documents {
            do throws(VMImageError) {
                _ = try Machine(json: Array(document.utf8), member: "machine.json")
                Issue.record("accepted \(document)")
            } catch {
                Self.expectSafe(error.description)
            }
        }
        // A bad escape whose byte is ESC, and a raw C1 byte: syntax errors stay one clean line.
        for bytes in [Array(#"{"a": "\"#.utf8) + [0x1B] + Array(#""}"#.utf8), Array(#"{"a": "x"#.utf8) + [0xC2, 0x9B, 0xFF] + Array(#""}"#.utf8)] {
            do throws(VMImageError) {
                _ = try Machine(json: bytes)
                Issue.record("accepted \(bytes)")
            } catch {
                Self.expectSafe(error.description, markers: false)
            }
        }
    }

    @Test("VMImageError shows members, paths and URLs escaped")
    func imageErrors() {
        let errors: [VMImageError] = [
            .malformedPayload(member: Self.hostile, rule: .unexpectedMember, message: "an image archive holds only three members"),
            .invalidMachine(member: Self.hostile, issues: [MachineIssue(field: "memory", message: "expected an integer")]),
            .downloadFailed(url: "http://x/" + Self.hostile, attempts: 3, reason: "connection refused"),
            .fileSystem(operation: "open", path: Self.hostile, errno: ENOENT),
            .overlayCreation(path: Self.hostile, underlying: .targetIsSymbolicLink(path: Self.hostile)),
            .overlayCreation(path: Self.hostile, underlying: .system(operation: "create", path: Self.hostile, errno: EACCES)),
        ]
        for error in errors { Self.expectSafe(error.description) }
    }

    @Test("qcow2 audit messages and errors show backing, data-file, snapshot, bitmap and feature names escaped")
    func qcow2Messages() throws {
        let scratch = try TemporaryFolder("terminal-qcow2")
        defer { scratch.remove() }
        var layer = try ArchiveBuilder.layer(size: 1 << 20, backing: Self.hostile, in: scratch)
        // Make the stored name hold an invalid UTF-8 byte too (in place of its "X").
        let marker = Array("\nX".utf8)
        let at = try #require((0..<(layer.count - 1)).first { Array(layer[$0..<($0 + 2)]) == marker })
        layer[at + 1] = 0xFF
        let header = try QCOW2Header(parsing: layer, fileSize: UInt64(layer.count))
        let audit = Audit(header: header, fileSize: UInt64(layer.count))
        let named = audit.findings.filter { $0.message.contains("evil") }
        #expect(!named.isEmpty, "\(audit.findings)")
        for finding in named { Self.expectSafe(finding.description) }

        let errors: [any Error & CustomStringConvertible] = [
            ImageAccessError.unsafeBackingName(name: Self.hostile, problem: .invalidCharacters),
            ImageAccessError.unsupportedBackingFormat(name: Self.hostile, format: Self.hostile),
            ImageAccessError.backingNotOpened(name: Self.hostile),
            ImageAccessError.io(path: Self.hostile, reason: "cannot open"),
            QCOW2HeaderError.unsupportedFeatures(mask: 1 << 20, names: [Self.hostile]),
            QCOW2CreateError.unsafeBackingName(name: Self.hostile, problem: .protocolName(prefix: Self.hostile)),
            QCOW2CreateError.targetExists(path: Self.hostile),
            QCOW2CreateError.invalidOption(name: Self.hostile, value: Self.hostile, reason: "unknown option"),
            AtomicFileError.targetExists(path: Self.hostile),
            AtomicFileError.system(SystemCallError(operation: "rename to", path: Self.hostile, errno: .permissionDenied)),
        ]
        for error in errors { Self.expectSafe(error.description) }
        Self.expectSafe(BackingNameProblem.protocolName(prefix: Self.hostile).description)
    }
}
