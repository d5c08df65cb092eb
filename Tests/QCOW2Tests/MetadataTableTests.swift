import Foundation
import SystemPackage
import Testing
@testable import QCOW2

/// `L1Table` and `RefcountTable`, the one reader of each table, on qemu-made images.
@Suite struct MetadataTableTests {
    /// Opens `path` as a parsed image for the duration of `body`.
    static func withImage<T>(_ path: String, _ body: (QCOW2Image) throws -> T) throws -> T {
        let fd = try FileDescriptor.open(FilePath(path), .readOnly)
        defer { try? fd.close() }
        return try body(try QCOW2Image(descriptor: fd, path: path))
    }

    @Test(arguments: QemuImages.names)
    func l1VisitAndLookupAgree(name: String) throws {
        try Self.withImage(QemuImages.path(name)) { image in
            let layout = try ImageLayout(image: image)
            var table = try L1Table(file: image.file, layout: layout)
            let raw = try image.file.read(count: Int(layout.l1Size) * 8, at: layout.l1Offset)
            var visited: [UInt64] = []
            try table.visit { index, entry in
                #expect(index == visited.count)
                visited.append(entry.raw)
                return true
            }
            #expect(visited == (0..<Int(layout.l1Size)).map { BigEndianBytes(raw).u64($0 * 8) })
            for index in 0..<visited.count {
                let entry = try table.entry(index)
                #expect(entry.raw == visited[index])
            }
            // Past the table: unallocated, never a trap.
            let after = try table.entry(visited.count), before = try table.entry(-1)
            #expect(after.raw == 0 && before.raw == 0)
        }
    }

    @Test(arguments: QemuImages.names)
    func refcountLookupsAgreeWithTheLoadedTable(name: String) throws {
        try Self.withImage(QemuImages.path(name)) { image in
            let layout = try ImageLayout(image: image)
            var loaded = RefcountTable(file: image.file, layout: layout, rule: .insideFile)
            try loaded.loadEntries()
            var single = RefcountTable(image: image, rule: .insideFile)
            #expect(single.count == loaded.count && single.width == loaded.width)
            let clusters = (image.fileSize + UInt64(layout.clusterSize) - 1) >> UInt64(layout.clusterBits)
            var referenced = 0
            for cluster in 0..<min(clusters, 4096) {
                let one = try single.refcount(ofCluster: cluster)
                let many = try loaded.refcount(ofCluster: cluster)
                #expect(one == many, "\(name) cluster \(cluster)")
                if (one ?? 0) > 0 { referenced += 1 }
            }
            // The header cluster is always referenced, in every width (1 to 64 bits).
            let header = try single.refcount(ofCluster: 0)
            #expect(referenced > 0 && header == 1)
        }
    }

    @Test func blockRules() throws {
        try Self.withImage(QemuImages.path("c512")) { image in
            let table = RefcountTable(image: image, rule: .insideFile)
            let qemu = RefcountTable(image: image, rule: .qemu)
            let past = (image.fileSize + 512) & ~UInt64(511)
            // Inside the file: both read it; past the end: only qemu's rule (zeros there).
            #expect(table.mayRead(block: 0) && qemu.mayRead(block: 0))
            #expect(!table.mayRead(block: past) && qemu.mayRead(block: past))
            // Unaligned or past qemu's largest request: neither.
            #expect(!table.mayRead(block: 256) && !qemu.mayRead(block: 256))
            #expect(!qemu.mayRead(block: QCOW2Format.maximumRequestEnd))
        }
    }

    @Test func firstAllocatedL1Index() throws {
        // qemu-img create -b: an overlay that maps nothing itself.
        #expect(try Self.withImage(HeaderFixtures.path("chain-top.qcow2")) { try $0.firstAllocatedL1Index() } == nil)
        #expect(try Self.withImage(HeaderFixtures.path("cluster512.qcow2")) { try $0.firstAllocatedL1Index() } == nil)
        // Data in the first 512 MiB of guest disk: L1 entry 0.
        #expect(try Self.withImage(HeaderFixtures.path("compressed-zlib.qcow2")) { try $0.firstAllocatedL1Index() } == 0)
    }

    @Test func l1TableRefusesMoreThanQemusCap() throws {
        try QemuImages.withFile(QemuImages.path("c512")) { file in
            #expect(throws: ImageAccessError.self) {
                _ = try L1Table(file: file, offset: 0, count: Int(QCOW2Format.maximumL1Bytes / 8) + 1)
            }
            // The largest table qemu allows is accepted (read lazily, past the file as zeros).
            let big = try L1Table(file: file, offset: 0, count: Int(QCOW2Format.maximumL1Bytes / 8))
            #expect(!big.isInsideFile)
        }
    }
}
