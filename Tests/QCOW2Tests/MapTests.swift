import Foundation
import Testing
@testable import QCOW2

@Suite struct MapTests {
    @Test(arguments: QemuImages.names)
    func agreesWithQemuImgMap(name: String) throws {
        let reader = try ImageReader.open(path: QemuImages.path(name), options: ChainOptions(followBacking: true))
        let entries = try reader.map()
        #expect(MapJSON.render(entries) == (try QemuImages.oracle(name, "map.json")))
        // The regions tile the disk.
        var next: UInt64 = 0
        for entry in entries {
            #expect(entry.start == next && entry.length > 0)
            next = entry.start + entry.length
        }
        #expect(next == reader.virtualSize)
    }

    @Test func kindsForPeople() throws {
        let reader = try ImageReader.open(path: QemuImages.path("chain-mid2"), options: ChainOptions(followBacking: true))
        let kinds = Set(try reader.map().map(\.kind))
        #expect(kinds.isSuperset(of: ["data", "compressed", "backing", "unallocated"]))
        let zero = try ImageReader.open(path: QemuImages.path("zero")).map()
        #expect(zero.contains { $0.kind == "zero" && $0.offset != nil })
        #expect(zero.contains { $0.kind == "zero" && $0.offset == nil })
    }

    @Test func unopenedBackingIsNeitherZeroNorData() throws {
        let reader = try ImageReader.open(path: QemuImages.path("chain-top"))
        let entries = try reader.map()
        #expect(entries.contains { !$0.present && !$0.zero && !$0.data && $0.depth == 0 })
        #expect(entries.allSatisfy { $0.depth == 0 })
    }
}
