import ByteStreams
import TestSupport
import Testing

@Suite struct ZeroRunsTests {
    /// The data runs of `bytes` found by `ZeroRuns`.
    func runs(_ bytes: [UInt8], at offset: UInt64, block: UInt64) -> [Range<Int>] {
        var found: [Range<Int>] = []
        bytes.withUnsafeBytes { ZeroRuns.forEachDataRun(in: $0, at: offset, blockSize: block) { found.append($0) } }
        return found
    }

    /// The same answer the slow way: group byte indices by their file block, mark a group data
    /// when any byte in it is non-zero, and join neighbouring data groups.
    func reference(_ bytes: [UInt8], at offset: UInt64, block: UInt64) -> [Range<Int>] {
        var groups: [(range: Range<Int>, data: Bool)] = []
        for index in bytes.indices {
            let id = (offset + UInt64(index)) / block
            if let last = groups.last, (offset + UInt64(last.range.lowerBound)) / block == id {
                groups[groups.count - 1] = (last.range.lowerBound..<(index + 1), last.data || bytes[index] != 0)
            } else {
                groups.append((index..<(index + 1), bytes[index] != 0))
            }
        }
        var result: [Range<Int>] = []
        for group in groups where group.data {
            if let last = result.last, last.upperBound == group.range.lowerBound {
                result[result.count - 1] = last.lowerBound..<group.range.upperBound
            } else {
                result.append(group.range)
            }
        }
        return result
    }

    @Test func zerosAreNoRunAndDataIsOne() {
        #expect(runs([UInt8](repeating: 0, count: 10_000), at: 0, block: 4096).isEmpty)
        #expect(runs([], at: 7, block: 512).isEmpty)
        #expect(runs([UInt8](repeating: 1, count: 10_000), at: 0, block: 4096) == [0..<10_000])
    }

    @Test func blocksAreAlignedToTheFileOffset() {
        // 100 bytes at file offset 500 with 512-byte blocks: bytes 0..<12 are the end of block 0,
        // 12..<100 the start of block 1. A non-zero byte in block 1 marks only that part.
        var bytes = [UInt8](repeating: 0, count: 100)
        bytes[50] = 9
        #expect(runs(bytes, at: 500, block: 512) == [12..<100])
        bytes[3] = 1
        #expect(runs(bytes, at: 500, block: 512) == [0..<100])
        bytes[50] = 0
        #expect(runs(bytes, at: 500, block: 512) == [0..<12])
    }

    @Test func aZeroBlockBetweenDataSplitsTheRun() {
        var bytes = [UInt8](repeating: 7, count: 3 * 4096)
        for index in 4096..<8192 { bytes[index] = 0 }
        #expect(runs(bytes, at: 0, block: 4096) == [0..<4096, 8192..<12_288])
        // The same bytes with 8 KiB blocks: no block is all zeros.
        #expect(runs(bytes, at: 0, block: 8192) == [0..<12_288])
    }

    @Test func agreesWithTheSlowWayOnRandomPieces() {
        var random = SplitMix64(seed: 0x2E50)
        for _ in 0..<300 {
            let count = Int(random.next() % 3000)
            let block = [1, 3, 16, 64, 512, 700][Int(random.next() % 6)]
            let offset = random.next() % 5000
            // Mostly zeros, with sparse non-zero bytes, so both kinds of block occur.
            let bytes = (0..<count).map { _ in random.next() % 97 == 0 ? UInt8(1 + random.next() % 255) : 0 }
            #expect(runs(bytes, at: offset, block: UInt64(block)) == reference(bytes, at: offset, block: UInt64(block)),
                    "count \(count) block \(block) offset \(offset)")
        }
    }

    @Test func aThrowingBodyStopsTheScan() {
        struct Stop: Error {}
        var bytes = [UInt8](repeating: 0, count: 4096 * 4)
        bytes[0] = 1
        bytes[4096 * 2] = 1
        var calls = 0
        #expect(throws: Stop.self) {
            try bytes.withUnsafeBytes { raw in
                try ZeroRuns.forEachDataRun(in: raw, at: 0, blockSize: 4096) { _ in
                    calls += 1
                    throw Stop()
                }
            }
        }
        #expect(calls == 1)
    }

    @Test("lastNonZeroByte: the last non-zero byte, in any chunk, of any length")
    func lastNonZeroByte() {
        func last(_ bytes: [UInt8]) -> Int? { bytes.withUnsafeBytes { ZeroRuns.lastNonZeroByte(in: $0) } }
        #expect(last([]) == nil)
        #expect(last([0]) == nil)
        #expect(last([UInt8](repeating: 0, count: 5000)) == nil)
        #expect(last([7]) == 0)
        // Around the 512-byte chunk edges, counted from the end.
        for count in [511, 512, 513, 1024, 1500] {
            for index in [0, 1, count - 513, count - 512, count - 511, count - 2, count - 1] where index >= 0 && index < count {
                var bytes = [UInt8](repeating: 0, count: count)
                bytes[index] = 0x80
                #expect(last(bytes) == index, "count \(count), index \(index)")
                // An earlier non-zero byte does not change the answer.
                if index > 0 { bytes[0] = 1 }
                #expect(last(bytes) == index, "count \(count), index \(index), with byte 0 set")
            }
        }
        // Against the obvious loop on random sparse bytes.
        let seed: UInt64 = 0x5CA7
        var random = SplitMix64(seed: seed)
        for _ in 0..<200 {
            var bytes = [UInt8](repeating: 0, count: Int(random.next() % 3000))
            for _ in 0..<Int(random.next() % 3) where !bytes.isEmpty {
                bytes[Int(random.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: random.next() | 1)
            }
            #expect(last(bytes) == bytes.lastIndex { $0 != 0 }, "seed \(seed)")
        }
    }
}
