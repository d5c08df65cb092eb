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
        // With extended L2 the zero flag means nothing.
        #expect(L2Entry(descriptor: 1).kind(extended: true) == .unallocated)
    }

    @Test func readsBigEndianEntriesInBounds() {
        let table: [UInt8] = [0x80, 0, 0, 0, 0, 0x05, 0, 0, 0, 0, 0, 0x03, 0, 0, 0, 0x01]
        table.withUnsafeBytes { raw in
            #expect(L2Entry.read(from: raw, index: 0, extended: false) == L2Entry(descriptor: 0x8000_0000_0005_0000))
            #expect(L2Entry.read(from: raw, index: 1, extended: false) == L2Entry(descriptor: 0x0000_0003_0000_0001))
            #expect(L2Entry.read(from: raw, index: 2, extended: false) == nil)
            #expect(L2Entry.read(from: raw, index: -1, extended: false) == nil)
            let wide = L2Entry.read(from: raw, index: 0, extended: true)
            #expect(wide == L2Entry(descriptor: 0x8000_0000_0005_0000, bitmap: 0x0000_0003_0000_0001))
            #expect(wide?.allocatedSubclusters == 1 && wide?.zeroSubclusters == 3)
            #expect(L2Entry.read(from: raw, index: 1, extended: true) == nil)
        }
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
        bytes.withUnsafeBytes { raw in
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
        }
        #expect(RefcountWidth(order: 0)!.maximum == 1 && RefcountWidth(order: 6)!.maximum == .max)
        #expect(RefcountWidth(order: 4)!.entriesPerBlock(clusterSize: 65536) == 32768)
        #expect(RefcountWidth(order: 0)!.entriesPerBlock(clusterSize: 512) == 4096)
    }
}
