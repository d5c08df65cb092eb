import Foundation
import SystemPackage
import TestSupport
import Testing
import VMImage

/// `qcowtool cache list|remove|prune` on a folder an ``ImageManager`` in this process filled:
/// the listing (most recently used first, image IDs escaped), what a manager would remove, and
/// that every command fails at once while a manager holds the folder's lock.
@Suite("qcowtool cache")
struct CacheCommandTests {
    @Test("list, remove and prune a manager's folder, under the manager's lock")
    func listRemovePrune() async throws {
        let scratch = try TemporaryFolder("cache-cli")
        defer { scratch.remove() }
        let images = scratch.file("images")
        let archive = try packagedImage(in: scratch)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: archive))
        let copy: Downloader = { path in try bytes.write(to: URL(fileURLWithPath: path.string)) }
        do {
            let gc = GarbageCollector(storageFolder: FilePath(scratch.path), minimumDiskSpace: 0, minimumMemory: 0)
            let manager = try ImageManager(imageFolder: FilePath(images), gc: gc)
            try await manager.instance(imageID: "first", download: copy).release()
            let held = try await manager.instance(imageID: "url:x\u{1B}[2J", download: copy)
            let busy = try Tool.run(["cache", "list", images])
            #expect(busy.status == 1 && busy.stderr.contains("is in use by another image manager"), "\(busy.stderr)")
            _ = held  // killed VM: its instance disk stays behind
        }
        try Data("x".utf8).write(to: URL(fileURLWithPath: "\(images)/left.download.tar.zst"))
        let list = try Tool.run(["cache", "list", images])
        #expect(list.status == 0, "\(list.stderr)")
        let lines = list.text.split(separator: "\n")
        #expect(lines.count == 4, "\(list.text)")
        #expect(lines.first?.contains(#"url:x\x1b[2J"#) == true, "most recently used first, escaped: \(list.text)")
        #expect(lines.dropFirst().first?.contains(" first ") == true, "\(list.text)")
        let removable = lines.filter { $0.hasPrefix("removable: ") }
        #expect(removable.count == 2 && removable.contains { $0.contains("left.download.tar.zst") }
                && removable.contains { $0.contains("/instance-") }, "\(list.text)")
        #expect(!list.text.contains("\u{1B}"))

        let missing = try Tool.run(["cache", "remove", images, "nope"])
        #expect(missing.status == 1 && missing.stderr.contains("no image with the ID 'nope'"), "\(missing.stderr)")
        let removed = try Tool.run(["cache", "remove", images, "first"])
        #expect(removed.status == 0, "\(removed.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: images).filter { $0.hasPrefix("image-") }.count == 1)
        let pruned = try Tool.run(["cache", "prune", images])
        #expect(pruned.status == 0 && pruned.text.contains("removed 2 entries"), "\(pruned.text) \(pruned.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: images) == [".vmimage.lock"])
        #expect(try Tool.run(["cache", "list", images]).text == "(empty)\n")
    }

    /// The archive `qcowtool package` makes of a fresh `new-disk` image (1 GiB, no data), in
    /// `folder`.
    private func packagedImage(in folder: TemporaryFolder) throws -> String {
        let made = try Tool.run(["new-disk", "img", "--size", "1"], in: folder.path)
        #expect(made.status == 0, "\(made.stderr)")
        let packed = try Tool.run(["package", "-q", "img", "image.tar.zst"], in: folder.path)
        #expect(packed.status == 0, "\(packed.stderr)")
        return folder.file("image.tar.zst")
    }
}
