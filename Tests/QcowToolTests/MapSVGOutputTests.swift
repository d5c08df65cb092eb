import Foundation
import Testing
import TestSupport

/// `map --svg`: the picture is written to a temporary file beside its target and renamed into
/// place (`AtomicFile`), by the rule `convert` uses for its output: a regular file is replaced,
/// a symbolic link or anything else at the target is refused and left as it was, and nothing
/// is left behind on failure.
struct MapSVGOutputTests {
    /// A small qcow2 image with data and compressed clusters.
    static let image = "\(HeaderImages.folder)/compressed-zlib.qcow2"

    /// Runs `qcowtool map --svg svg image`.
    func draw(_ svg: String) throws -> Oracle.Output {
        try Tool.run(["map", "--svg", svg, Self.image])
    }

    /// The entries of `folder`, sorted (temporary files start with `.` and end in `.tmp`).
    func entries(_ folder: TemporaryFolder) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
    }

    /// Whether `path` is itself a symbolic link (not followed).
    func isSymbolicLink(_ path: String) throws -> Bool {
        try FileManager.default.attributesOfItem(atPath: path)[.type] as? FileAttributeType == .typeSymbolicLink
    }

    @Test func theSVGIsPublishedWholeAndReplacesARegularFile() throws {
        let folder = try TemporaryFolder("map-svg")
        defer { folder.remove() }
        let fresh = try draw(folder.file("fresh.svg"))
        #expect(fresh.status == 0, "\(fresh.stderr)")
        try "an older picture".write(toFile: folder.file("old.svg"), atomically: false, encoding: .utf8)
        let replaced = try draw(folder.file("old.svg"))
        #expect(replaced.status == 0 && replaced.stderr.isEmpty, "\(replaced.stderr)")
        let picture = try String(contentsOfFile: folder.file("old.svg"), encoding: .utf8)
        #expect(picture.hasPrefix("<svg") && picture.hasSuffix("</svg>\n") && picture.contains("compressed-zlib.qcow2"))
        #expect(picture == (try String(contentsOfFile: folder.file("fresh.svg"), encoding: .utf8)))
        #expect(try entries(folder) == ["fresh.svg", "old.svg"])
    }

    @Test func aSymbolicLinkAtTheOutputIsRefusedAndItsTargetUntouched() throws {
        let folder = try TemporaryFolder("map-svg-link")
        defer { folder.remove() }
        try "keep me".write(toFile: folder.file("victim"), atomically: false, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: folder.file("out.svg"), withDestinationPath: "victim")
        // A dangling link: following it would create the file it names.
        try FileManager.default.createSymbolicLink(atPath: folder.file("dangling.svg"), withDestinationPath: "created-through-link")
        for name in ["out.svg", "dangling.svg"] {
            let result = try draw(folder.file(name))
            #expect(result.status == 1)
            let lines = Tool.errorLines(result)
            #expect(lines.count == 1 && lines[0].contains("'\(folder.file(name))' is a symbolic link"), "\(result.stderr)")
            #expect(try isSymbolicLink(folder.file(name)))
        }
        #expect(try String(contentsOfFile: folder.file("victim"), encoding: .utf8) == "keep me")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: folder.file("out.svg")) == "victim")
        #expect(try entries(folder) == ["dangling.svg", "out.svg", "victim"])
    }

    @Test func aFailureLeavesNoTemporaryFile() throws {
        let folder = try TemporaryFolder("map-svg-fail")
        defer { folder.remove() }
        // A folder at the output: the picture is written in full, then refused at the rename.
        try FileManager.default.createDirectory(atPath: folder.file("out.svg"), withIntermediateDirectories: false)
        let refused = try draw(folder.file("out.svg"))
        #expect(refused.status == 1)
        let lines = Tool.errorLines(refused)
        #expect(lines.count == 1 && lines[0].contains("exists and is not a regular file"), "\(refused.stderr)")
        #expect(try entries(folder) == ["out.svg"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.file("out.svg")).isEmpty)
        // A missing folder: nothing can be created, one line.
        let missing = try draw(folder.file("nowhere/out.svg"))
        #expect(missing.status == 1 && Tool.errorLines(missing).count == 1, "\(missing.stderr)")
        #expect(try entries(folder) == ["out.svg"])
    }
}
