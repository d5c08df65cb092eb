import Testing
@testable import QCOW2

@Suite struct L2EntryTests {
    @Test func standardEntryKinds() {
        #expect(L2Entry(descriptor: 0).kind(extended: false) == .unallocated)
        #expect(L2Entry(descriptor: 1).kind(extended: false) == .zeroPlain)
        #expect(L2Entry(descriptor: 0x8000_0000_0005_0001).kind(extended: false) == .zeroAllocated)
        let normal = L2Entry(descriptor: 0x8000_0000_0005_0000)
        #expect(normal.kind(extended: false) == .normal)
        #expect(normal.isCopied && !normal.isCompressed && normal.hostOffset == 0x50000)
        #expect(L2Entry(descriptor: 0x4000_0000_0000_0000).kind(extended: false) == .compressed)
        // Reserved bits: bits 1-8 and 56-61.
        #expect(L2Entry(descriptor: 0x0100_0000_0005_0002).reservedBits == 0x0100_0000_0000_0002)
        // With an external data file, offset 0 plus the copied flag is data at offset 0.
        #expect(L2Entry(descriptor: 1 << 63).kind(extended: false, externalDataFile: true) == .normal)
        #expect(L2Entry(descriptor: 1 << 63).kind(extended: false) == .unallocated)
        #expect(L2Entry(descriptor: 0).kind(extended: false, externalDataFile: true) == .unallocated)
        // With extended L2 the zero flag means nothing.
        #expect(L2Entry(descriptor: 1).kind(extended: true) == .unallocated)
    }

    @Test func readsBigEndianEntriesInBounds() {
        let table: [UInt8] = [0x80, 0, 0, 0, 0, 0x05, 0, 0, 0, 0, 0, 0x03, 0, 0, 0, 0x01]
        let raw = BigEndianBytes(table)
        #expect(L2Entry.read(from: raw, index: 0, extended: false) == L2Entry(descriptor: 0x8000_0000_0005_0000))
        #expect(L2Entry.read(from: raw, index: 1, extended: false) == L2Entry(descriptor: 0x0000_0003_0000_0001))
        #expect(L2Entry.read(from: raw, index: 2, extended: false) == nil)
        #expect(L2Entry.read(from: raw, index: -1, extended: false) == nil)
        let wide = L2Entry.read(from: raw, index: 0, extended: true)
        #expect(wide == L2Entry(descriptor: 0x8000_0000_0005_0000, bitmap: 0x0000_0003_0000_0001))
        #expect(wide?.allocatedSubclusters == 1 && wide?.zeroSubclusters == 3)
        #expect(L2Entry.read(from: raw, index: 1, extended: true) == nil)
    }

    @Test func extendedSubclusterKinds() {
        // Allocated cluster: subcluster 0 data, 1 zero, 2 unallocated.
        let entry = L2Entry(descriptor: 0x8000_0000_0005_0000, bitmap: (UInt64(0b10) << 32) | 0b1)
        #expect(entry.subclusterKind(0, extended: true) == .normal)
        #expect(entry.subclusterKind(1, extended: true) == .zeroAllocated)
        #expect(entry.subclusterKind(2, extended: true) == .unallocatedAllocated)
        // Both bits for one subcluster: invalid for the whole cluster.
        let bad = L2Entry(descriptor: 0x8000_0000_0005_0000, bitmap: (UInt64(1) << 32) | 1)
        #expect(bad.subclusterKind(5, extended: true) == .invalid)
        // Unallocated cluster: zero bits allowed, allocation bits not.
        let plain = L2Entry(descriptor: 0, bitmap: UInt64(1) << 40)
        #expect(plain.subclusterKind(8, extended: true) == .zeroPlain)
        #expect(plain.subclusterKind(7, extended: true) == .unallocatedPlain)
        #expect(L2Entry(descriptor: 0, bitmap: 4).subclusterKind(0, extended: true) == .invalid)
        // Standard entries map cluster kinds one to one.
        #expect(L2Entry(descriptor: 1).subclusterKind(3, extended: false) == .zeroPlain)
    }

    @Test func compressedDescriptorSplitsAtX() {
        // 64 KiB clusters: x = 54, 8 size bits.
        let d64 = CompressedClusterDescriptor(descriptor: (1 << 62) | (3 << 54) | 0x12345, clusterBits: 16)
        #expect(d64.hostOffset == 0x12345 && d64.sectorCount == 4)
        #expect(d64.byteCount == 4 * 512 - 0x145)
        // 512-byte clusters: x = 61, one size bit.
        let d512 = CompressedClusterDescriptor(descriptor: (1 << 62) | (1 << 61) | 0x800, clusterBits: 9)
        #expect(d512.hostOffset == 0x800 && d512.sectorCount == 2)
        // 2 MiB clusters: x = 49, 13 size bits; offset bits above 48 belong to the size.
        let d2m = CompressedClusterDescriptor(descriptor: (1 << 62) | (0x1FFF << 49) | 0x1_0000_0200, clusterBits: 21)
        #expect(d2m.hostOffset == 0x1_0000_0200 && d2m.sectorCount == 0x2000)
        #expect(d2m.byteCount == 0x2000 * 512)
        // Copied flag is not part of either field.
        let copied = CompressedClusterDescriptor(descriptor: (1 << 63) | (1 << 62) | 0x200, clusterBits: 16)
        #expect(copied.hostOffset == 0x200 && copied.sectorCount == 1)
    }

    @Test func refcountEntriesOfEveryWidth() {
        #expect(RefcountWidth(order: 7) == nil && RefcountWidth(order: -1) == nil)
        let bytes: [UInt8] = [0b1010_0101, 0b1110_0100, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08]
        let raw = BigEndianBytes(bytes)
        let w1 = RefcountWidth(order: 0)!
        #expect((0..<8).map { w1.entry($0, in: raw)! } == [1, 0, 1, 0, 0, 1, 0, 1])
        #expect(w1.entry(80, in: raw) == nil && w1.entry(79, in: raw) == 0)
        let w2 = RefcountWidth(order: 1)!
        #expect((4..<8).map { w2.entry($0, in: raw)! } == [0, 1, 2, 3])
        let w4 = RefcountWidth(order: 2)!
        #expect(w4.entry(0, in: raw) == 5 && w4.entry(1, in: raw) == 0xA)
        #expect(RefcountWidth(order: 3)!.entry(2, in: raw) == 1)
        #expect(RefcountWidth(order: 4)!.entry(1, in: raw) == 0x0102)
        #expect(RefcountWidth(order: 5)!.entry(1, in: raw) == 0x0304_0506)
        #expect(RefcountWidth(order: 5)!.entry(0, in: raw) == 0xA5E4_0102)
        #expect(RefcountWidth(order: 6)!.entry(0, in: raw) == 0xA5E4_0102_0304_0506)
        #expect(RefcountWidth(order: 6)!.entry(1, in: raw) == nil)
        #expect(RefcountWidth(order: 0)!.maximum == 1 && RefcountWidth(order: 6)!.maximum == .max)
        #expect(RefcountWidth(order: 4)!.entriesPerBlock(clusterSize: 65536) == 32768)
        #expect(RefcountWidth(order: 0)!.entriesPerBlock(clusterSize: 512) == 4096)
    }

    @Test func refcountEntryLocations() {
        // Sub-byte entries: the byte holding the entry and its index in that byte.
        let w2 = RefcountWidth(order: 1)!
        #expect(w2.location(ofEntry: 9) == (byteOffset: 2, byteCount: 1, indexInBytes: 1))
        // Wider entries: their own bytes.
        let w16 = RefcountWidth(order: 4)!
        #expect(w16.location(ofEntry: 3) == (byteOffset: 6, byteCount: 2, indexInBytes: 0))
        // Reading an entry through its location gives what reading the whole block gives.
        let block: [UInt8] = [0b1010_0101, 0b1110_0100, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08]
        for order in 0...6 {
            let width = RefcountWidth(order: order)!
            for index in 0..<(block.count * 8 / width.bits) {
                let place = width.location(ofEntry: UInt64(index))
                let start = Int(place.byteOffset)
                let part = BigEndianBytes(Array(block[start..<(start + place.byteCount)]))
                #expect(width.entry(place.indexInBytes, in: part) == width.entry(index, in: BigEndianBytes(block)), "order \(order) entry \(index)")
            }
        }
    }

    @Test func lastRefcountIndex() {
        #expect(RefcountWidth(order: 4)!.lastNonZeroEntry(in: [0, 0, 1, 0]) == 1)
        #expect(RefcountWidth(order: 4)!.lastNonZeroEntry(in: [0, 0, 0, 0]) == nil)
        #expect(RefcountWidth(order: 0)!.lastNonZeroEntry(in: [0xFF, 0x04]) == 10)
        #expect(RefcountWidth(order: 1)!.lastNonZeroEntry(in: [0x00, 0x10]) == 6)
        #expect(RefcountWidth(order: 2)!.lastNonZeroEntry(in: [0x00, 0x10]) == 3)
        #expect(RefcountWidth(order: 6)!.lastNonZeroEntry(in: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]) == 1)
    }

    @Test func bigEndianReadsAcrossTheEndReadZeros() {
        let b = BigEndianBytes([0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09])
        #expect(b.u64(0) == 0x0102_0304_0506_0708 && b.u64(1) == 0x0203_0405_0607_0809)
        #expect(b.u64(2) == 0x0304_0506_0708_0900 && b.u32(8) == 0x0900_0000 && b.u16(-1) == 0x0001)
        #expect(b.u64(Int.max) == 0 && b.u32(Int.min) == 0)
        let prefix = BigEndianBytes([0xFF, 0xFF, 0xFF, 0xFF], count: 2)
        #expect(prefix.u32(0) == 0xFFFF_0000)
    }
}
