@testable import ByteStreams
import Foundation
import SystemPackage
import TestSupport
import Testing

/// ``SystemCall/renameWithoutReplacing(_:to:in:path:)`` and its `linkat` + `unlinkat` fallback
/// for file systems without `RENAME_NOREPLACE`. The test machine's file systems have
/// `renameat2`, so the fallback is called directly: it must keep the same promise (publish,
/// never replace, leave nothing behind).
@Suite struct RenameWithoutReplacingTests {
    /// A folder holding the files `contents` names (name → text), and its open handle.
    private func folder(with contents: [String: String]) throws -> (TemporaryFolder, FileDescriptor) {
        let folder = try TemporaryFolder("rename")
        for (name, text) in contents {
            try Data(text.utf8).write(to: URL(fileURLWithPath: folder.file(name)))
        }
        return (folder, try SystemCall.openFolder(folder.path))
    }

    private func names(in folder: TemporaryFolder) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
    }

    private func text(_ folder: TemporaryFolder, _ name: String) throws -> String {
        String(decoding: try Data(contentsOf: URL(fileURLWithPath: folder.file(name))), as: UTF8.self)
    }

    @Test("the link fallback publishes the file under the new name and removes the temporary name")
    func fallbackPublishes() throws {
        let (folder, handle) = try folder(with: ["tmp.1": "new"])
        defer { folder.remove(); SystemCall.closeIgnoringErrors(handle) }
        try SystemCall.renameByLinking("tmp.1", to: "target", in: handle, path: folder.file("target"))
        #expect(try names(in: folder) == ["target"], "the temporary name is gone")
        #expect(try text(folder, "target") == "new")
        let status = try #require(try SystemCall.entryStatus("target", in: handle, path: folder.file("target")))
        #expect(status.st_nlink == 1, "one name is left on the file")
    }

    @Test("the link fallback refuses an existing target with EEXIST and leaves both files as they were")
    func fallbackRefusesExistingTarget() throws {
        let (folder, handle) = try folder(with: ["tmp.1": "new", "target": "old"])
        defer { folder.remove(); SystemCall.closeIgnoringErrors(handle) }
        #expect(throws: SystemCallError(operation: "link to", path: folder.file("target"), errno: .fileExists)) {
            try SystemCall.renameByLinking("tmp.1", to: "target", in: handle, path: folder.file("target"))
        }
        #expect(try names(in: folder) == ["target", "tmp.1"])
        #expect(try text(folder, "target") == "old")
        #expect(try text(folder, "tmp.1") == "new")
    }

    @Test("the link fallback refuses a symbolic link at the target, even a dangling one, and leaves it")
    func fallbackRefusesLinkAtTarget() throws {
        let (folder, handle) = try folder(with: ["tmp.1": "new"])
        defer { folder.remove(); SystemCall.closeIgnoringErrors(handle) }
        try FileManager.default.createSymbolicLink(atPath: folder.file("target"), withDestinationPath: "nowhere")
        #expect(throws: SystemCallError(operation: "link to", path: folder.file("target"), errno: .fileExists)) {
            try SystemCall.renameByLinking("tmp.1", to: "target", in: handle, path: folder.file("target"))
        }
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: folder.file("target")) == "nowhere")
        #expect(try text(folder, "tmp.1") == "new")
    }

    @Test("the link fallback names the missing source's failure")
    func fallbackMissingSource() throws {
        let (folder, handle) = try folder(with: [:])
        defer { folder.remove(); SystemCall.closeIgnoringErrors(handle) }
        #expect(throws: SystemCallError(operation: "link to", path: folder.file("target"), errno: .noSuchFileOrDirectory)) {
            try SystemCall.renameByLinking("tmp.1", to: "target", in: handle, path: folder.file("target"))
        }
        #expect(try names(in: folder).isEmpty)
    }

    @Test("renameWithoutReplacing publishes, and refuses an existing target with EEXIST leaving both files")
    func renameWithoutReplacing() throws {
        let (folder, handle) = try folder(with: ["tmp.1": "first", "tmp.2": "second"])
        defer { folder.remove(); SystemCall.closeIgnoringErrors(handle) }
        try SystemCall.renameWithoutReplacing("tmp.1", to: "target", in: handle, path: folder.file("target"))
        #expect(try names(in: folder) == ["target", "tmp.2"])
        do {
            try SystemCall.renameWithoutReplacing("tmp.2", to: "target", in: handle, path: folder.file("target"))
            Issue.record("an existing target was replaced")
        } catch {
            // "link to" where the temporary folder's file system lacks RENAME_NOREPLACE.
            #expect(error.operation == "rename to" || error.operation == "link to")
            #expect(error.path == folder.file("target"))
            #expect(error.errno == .fileExists)
        }
        #expect(try text(folder, "target") == "first")
        #expect(try text(folder, "tmp.2") == "second")
    }
}
