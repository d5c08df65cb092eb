import ByteStreams
import Foundation
import SystemPackage
import Tar
import TestSupport
import Testing
import Zstd

/// Reads the committed archives made by GNU tar (old GNU, PAX 0.0/0.1/1.0 sparse) and
/// bsdtar, streaming them through the zstd decompressor, and checks every byte.
@Suite("Tar reader on GNU tar and bsdtar archives")
struct TarReaderFixtureTests {
    static let expectedFormats: [String: TarSparseFormat] = [
        "gnu-oldsparse": .oldGNU, "gnu-pax-0.0": .pax0_0, "gnu-pax-0.1": .pax0_1, "gnu-pax-1.0": .pax1_0, "bsdtar": .pax1_0,
    ]

    @Test("every member reads back with the right names, sizes and bytes at the right offsets",
          arguments: Fixtures.interopArchives)
    func readsFixture(_ name: String) throws {
        let fd = try FileDescriptor.open(Fixtures.path("\(name).tar.zst"), .readOnly)
        defer { try? fd.close() }
        let reader = TarReader(reading: try ZstdDecompressor(readingFrom: FileSource(fd)))
        var names: [String] = []
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 3000, alignment: 8)
        defer { buffer.deallocate() }
        while let entry = try reader.next() {
            names.append(entry.name)
            #expect(entry.kind == .regular)
            #expect(entry.modificationTime > 1_600_000_000)
            switch entry.name {
            case "disk.img":
                #expect(entry.size == SourceTree.diskSize)
                #expect(entry.sparseFormat == Self.expectedFormats[name])
                let map = try #require(entry.sparseMap)
                #expect(map.realSize == SourceTree.diskSize)
                #expect(map.dataSize == entry.storedSize)
                #expect(map.dataSize < 1 << 20)
                var total: UInt64 = 0
                var lastEnd: UInt64 = 0
                while let chunk = try reader.readData(into: buffer) {
                    #expect(chunk.offset >= lastEnd)
                    let bytes = Array(UnsafeRawBufferPointer(rebasing: buffer[..<chunk.count]))
                    #expect(bytes == SourceTree.diskBytes(chunk.offset..<(chunk.offset + UInt64(chunk.count))),
                            "disk.img bytes at \(chunk.offset)")
                    lastEnd = chunk.offset + UInt64(chunk.count)
                    total += UInt64(chunk.count)
                }
                #expect(total == map.dataSize)
                // Every run of the source lies inside the map.
                for run in SourceTree.runs {
                    #expect(map.extents.contains { $0.offset <= run.offset && run.offset + UInt64(run.length) <= $0.offset + $0.length })
                }
            case SourceTree.longPath:
                var bytes: [UInt8] = []
                while let chunk = try reader.readData(into: buffer) {
                    #expect(chunk.offset == UInt64(bytes.count))
                    bytes += UnsafeRawBufferPointer(rebasing: buffer[..<chunk.count])
                }
                #expect(bytes == SourceTree.longContents)
            case "dense.bin":
                var bytes = [UInt8](repeating: 0, count: Int(entry.size))
                while let chunk = try reader.withNextChunk({ offset, data in
                    bytes.replaceSubrange(Int(offset)..<Int(offset) + data.count, with: data)
                    return data.count
                }) { #expect(chunk > 0) }
                #expect(bytes == SourceTree.denseContents)
            default:
                Issue.record("unexpected member \(entry.name)")
            }
        }
        #expect(names == ["disk.img", SourceTree.longPath, "dense.bin"])
        // GNU tar pads to 10240-byte records, bsdtar to blocks: zeros only either way.
        guard case .zeroPadding(let padding) = try reader.trailer() else {
            Issue.record("record padding not reported as zero padding")
            return
        }
        #expect(padding % 512 == 0)
        #expect(reader.archiveOffset % 512 == 0)
    }

    @Test("next() skips unread data; skipData() counts it (verify mode)", arguments: Fixtures.interopArchives)
    func skipsAndCounts(_ name: String) throws {
        let fd = try FileDescriptor.open(Fixtures.path("\(name).tar.zst"), .readOnly)
        defer { try? fd.close() }
        let reader = TarReader(reading: try ZstdDecompressor(readingFrom: FileSource(fd)))
        var counted: [String: UInt64] = [:]
        while let entry = try reader.next() {
            if entry.name == "dense.bin" { counted[entry.name] = try reader.skipData() }
            // disk.img and the long path are left unread: next() must skip them.
        }
        #expect(counted["dense.bin"] == UInt64(SourceTree.denseContents.count))
        #expect(reader.currentEntry == nil)
    }
}
