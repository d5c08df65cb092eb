import ByteStreams
import CZstd
import Foundation
import TestSupport
import Testing
@testable import Zstd

/// Helpers for the seekable format: make a stream, decode it in parallel, split it.
enum Seekable {
    /// 12 MiB of the mixed sample: 12 frames of 1 MiB, several in flight at once.
    static let input = Array(Samples.mixed.prefix(12 << 20))

    /// Compresses `bytes` into the seekable format (small chunks, to exercise the frame cutting).
    static func compress(_ bytes: [UInt8], frameSize: Int = 1 << 20, workers: Int = 2, checksum: Bool = true)
        throws -> (stream: [UInt8], table: ZstdSeekTable) {
        var source = BufferSource(bytes, maximumChunk: 300_007)
        let compressor = try ZstdSeekableCompressor(
            writingTo: BufferSink(), options: .init(workers: workers, frameSize: frameSize, checksum: checksum))
        var stage = compressor
        try source.copy(to: &stage, chunkSize: 77_777)
        let sink = try compressor.finish()
        #expect(compressor.bytesIn == UInt64(bytes.count))
        #expect(compressor.bytesOut == UInt64(sink.bytes.count))
        return (sink.bytes, compressor.seekTable)
    }

    /// Decodes with the parallel decompressor, reading in odd-sized pieces.
    static func decompress(_ stream: [UInt8], options: ZstdParallelOptions = .init(workers: 2), chunk: Int = 65_521)
        throws -> (bytes: [UInt8], parallelFrames: Int) {
        let decompressor = try ZstdParallelDecompressor(readingFrom: BufferSource(stream, maximumChunk: 200_003), options: options)
        var sink = BufferSink()
        var source = decompressor
        try source.copy(to: &sink, chunkSize: chunk)
        #expect(decompressor.bytesOut == UInt64(sink.bytes.count))
        return (sink.bytes, decompressor.parallelFrames)
    }

    /// The error the parallel decompressor throws on `stream`, if any.
    static func failure(_ stream: [UInt8], options: ZstdParallelOptions = .init(workers: 2)) -> ZstdError? {
        do {
            _ = try decompress(stream, options: options)
            return nil
        } catch let error as ZstdError {
            return error
        } catch {
            Issue.record("not a ZstdError: \(error)")
            return nil
        }
    }

    /// The frames of `stream` as (offset, length), found with libzstd alone.
    static func frames(_ stream: [UInt8]) -> [(offset: Int, length: Int)] {
        var frames: [(Int, Int)] = []
        var offset = 0
        stream.withUnsafeBytes { raw in
            while offset < raw.count {
                let length = ZSTD_findFrameCompressedSize(raw.baseAddress! + offset, raw.count - offset)
                guard ZSTD_isError(length) == 0 else { return }
                frames.append((offset, length))
                offset += length
            }
        }
        return frames
    }

    /// Replaces the seek table `original` at the end of `stream` by `table`, patched.
    static func withTable(_ stream: [UInt8], _ original: ZstdSeekTable, _ table: ZstdSeekTable,
                          _ patch: (inout [UInt8]) -> Void = { _ in }) -> [UInt8] {
        var bytes = table.encoded()
        patch(&bytes)
        return Array(stream.prefix(stream.count - original.encodedSize)) + bytes
    }
}

@Suite struct ZstdSeekableTests {
    @Test("the seekable stream is frames of frameSize with a seek table that matches them, and decodes in parallel")
    func roundTrip() throws {
        let (stream, table) = try Seekable.compress(Seekable.input)
        let frames = Seekable.frames(stream)
        #expect(frames.count == 13, "12 data frames and the seek table")
        #expect(table.entries.count == 12)
        for (entry, frame) in zip(table.entries, frames) {
            #expect(Int(entry.compressedSize) == frame.length)
            #expect(entry.decompressedSize == 1 << 20)
            // The table's checksum is the frame's own content checksum (its last 4 bytes).
            let tail = stream[(frame.offset + frame.length - 4)..<(frame.offset + frame.length)]
            #expect(entry.checksum == tail.reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
        }
        let tableBytes = Array(stream.suffix(table.encodedSize))
        #expect(try ZstdSeekTable(parsing: tableBytes) == table)
        #expect(try ZstdSeekTable.frameLength(footer: Array(stream.suffix(9))) == table.encodedSize)
        try table.check(compressedSize: UInt64(stream.count))
        #expect(table.decompressedSize == UInt64(Seekable.input.count))

        let parallel = try Seekable.decompress(stream)
        #expect(sameBytes(parallel.bytes, Seekable.input))
        #expect(parallel.parallelFrames == 12)
        // The ordinary streaming decoder reads it as one zstd stream.
        #expect(sameBytes(try Zstd.decompress(stream, limit: 64 << 20), Seekable.input))
        // Inline decoding (no workers) and one worker give the same bytes.
        #expect(sameBytes(try Seekable.decompress(stream, options: .init(workers: 0)).bytes, Seekable.input))
        #expect(sameBytes(try Seekable.decompress(stream, options: .init(workers: 1)).bytes, Seekable.input))
    }

    @Test("default frames have a window as long as the frame, and the stream stays within 1.02x of one zstd -3 frame")
    func defaultFramesSize() throws {
        let input = Array(Samples.mixed.prefix(16 << 20))
        let (stream, table) = try Seekable.compress(input, frameSize: ZstdSeekableOptions.defaultFrameSize)
        #expect(table.entries.count == 4)
        // Frame header descriptor (RFC 8878 3.1.1.1.1): with the window as long as the frame,
        // libzstd writes a single-segment frame (no window descriptor); level 3's own 2 MiB
        // window on a 4 MiB frame would need one.
        for frame in Seekable.frames(stream).dropLast() {
            #expect(stream[frame.offset + 4] & 0x20 != 0, "frame at \(frame.offset) is not single-segment")
        }
        let oneFrame = try Zstd.compress(input, options: .init(level: 3, workers: 0))
        let ratio = Double(stream.count) / Double(oneFrame.count)
        #expect(ratio <= 1.02, "seekable \(stream.count) bytes vs one frame \(oneFrame.count): \(ratio)")
    }

    @Test("an inline compressor (no workers), an empty input, a partial last frame, no checksums")
    func shapes() throws {
        let inline = try Seekable.compress(Seekable.input, workers: 0)
        let threaded = try Seekable.compress(Seekable.input, workers: 3)
        #expect(sameBytes(inline.stream, threaded.stream), "the bytes do not depend on the number of workers")

        let empty = try Seekable.compress([])
        #expect(empty.table.entries == [ZstdSeekTable.Entry(compressedSize: empty.table.entries[0].compressedSize,
                                                             decompressedSize: 0, checksum: empty.table.entries[0].checksum)])
        #expect(try Zstd.decompress(empty.stream).isEmpty)
        #expect(try Seekable.decompress(empty.stream).bytes.isEmpty)

        let odd = Array(Seekable.input.prefix(3 << 20 + 12_345))
        let partial = try Seekable.compress(odd, checksum: false)
        #expect(partial.table.entries.map(\.decompressedSize) == [1 << 20, 1 << 20, 1 << 20, 12_345])
        #expect(!partial.table.hasChecksums && partial.table.entries.allSatisfy { $0.checksum == nil })
        #expect(try ZstdSeekTable(parsing: Array(partial.stream.suffix(partial.table.encodedSize))) == partial.table)
        #expect(sameBytes(try Seekable.decompress(partial.stream).bytes, odd))
    }

    @Test("zstd -d reads the seekable stream unchanged, and a zstd -3 file (one frame with its size) decodes the same",
          .enabled(if: Oracle.has("zstd")))
    func zstdInterop() throws {
        let folder = try TemporaryFolder("zstd-seekable")
        defer { folder.remove() }
        let (stream, _) = try Seekable.compress(Seekable.input)
        try Data(stream).write(to: URL(fileURLWithPath: folder.file("s.zst")))
        let decoded = try Oracle.run("zstd", ["-dcq", folder.file("s.zst")])
        #expect(decoded.status == 0, "\(decoded.stderr)")
        #expect(sameBytes(Array(decoded.stdout), Seekable.input))

        // zstd on a file writes one frame declaring 12 MiB (over the 8 MiB cap): streamed.
        try Data(Seekable.input).write(to: URL(fileURLWithPath: folder.file("in")))
        let made = try Oracle.run("zstd", ["-3", "-qf", folder.file("in"), "-o", folder.file("one.zst")])
        #expect(made.status == 0)
        let one = Array(try Data(contentsOf: URL(fileURLWithPath: folder.file("one.zst"))))
        let result = try Seekable.decompress(one)
        #expect(sameBytes(result.bytes, Seekable.input))
        #expect(result.parallelFrames == 0)
        // zstd -T2 --no-content-size: one frame without a size: streamed too.
        let piped = try Oracle.shell("zstd -3 -T2 -q --no-content-size -c < '\(folder.file("in"))' > '\(folder.file("t.zst"))'")
        #expect(piped.status == 0)
        let threaded = Array(try Data(contentsOf: URL(fileURLWithPath: folder.file("t.zst"))))
        #expect(sameBytes(try Seekable.decompress(threaded).bytes, Seekable.input))
    }

    @Test("frames of every kind in one stream come out in order: parallel, streamed, skippable, parallel")
    func mixedFrames() throws {
        let a = Array(Seekable.input.prefix(3 << 20))
        let b = Array(Seekable.input[(3 << 20)..<(5 << 20)])
        let c = Array(Seekable.input[(5 << 20)..<(9 << 20)])
        let first = try Seekable.compress(a).stream
        let streamed = try compressStreaming(b)  // no content size: decoded in place
        let skippable: [UInt8] = [0x50, 0x2A, 0x4D, 0x18, 3, 0, 0, 0, 1, 2, 3]
        let last = try Seekable.compress(c).stream
        let result = try Seekable.decompress(first + streamed + skippable + last)
        #expect(sameBytes(result.bytes, a + b + c))
        #expect(result.parallelFrames == 7)
    }

    @Test("bytes put in lent frame space and bytes written make the same stream as writes alone")
    func lentSpace() throws {
        let input = Array(Seekable.input.prefix(5 << 20))
        let expected = try Seekable.compress(input, frameSize: 1 << 20).stream
        let compressor = try ZstdSeekableCompressor(writingTo: BufferSink(), options: .init(workers: 2, frameSize: 1 << 20))
        var done = 0, turn = 0
        while done < input.count {
            turn += 1
            let want = min([1, 70_001, 3 << 20][turn % 3], input.count - done)
            if turn % 2 == 0, let space = try compressor.borrowWritableSpace(maxCount: want) {
                #expect(space.count >= 1 && space.count <= want)
                // Put back part of every other loan: only what is committed counts.
                let used = turn % 4 == 0 ? (space.count + 1) / 2 : space.count
                input.withUnsafeBytes { space.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[done..<(done + used)])) }
                try compressor.commitBorrowedSpace(used)
                done += used
            } else {
                try input.withUnsafeBytes { try compressor.write(UnsafeRawBufferPointer(rebasing: $0[done..<(done + want)])) }
                done += want
            }
        }
        #expect(compressor.bytesIn == UInt64(input.count))
        #expect(try compressor.finish().bytes == expected)
    }

    @Test("lent bytes are the same bytes in the same order: borrowing and reading mixed, over every kind of frame")
    func lending() throws {
        let a = Array(Seekable.input.prefix(3 << 20))
        let b = Array(Seekable.input[(3 << 20)..<(5 << 20)])
        let stream = try Seekable.compress(a).stream + (try compressStreaming(b))
            + [0x50, 0x2A, 0x4D, 0x18, 1, 0, 0, 0, 9] + (try Seekable.compress(a).stream)
        let decompressor = try ZstdParallelDecompressor(readingFrom: BufferSource(stream, maximumChunk: 200_003))
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 50_000, alignment: 16)
        defer { buffer.deallocate() }
        var out: [UInt8] = []
        var lent = 0, declined = 0, turn = 0
        while true {
            turn += 1
            let limit = [1, 4096, 333_333, 8 << 20][turn % 4]
            if turn % 3 != 0, let bytes = try decompressor.borrowNextBytes(maxCount: limit) {
                #expect(bytes.count >= 1 && bytes.count <= limit)
                out.append(contentsOf: bytes)
                lent += bytes.count
                continue
            }
            if turn % 3 != 0 { declined += 1 }
            let n = try decompressor.read(into: buffer)
            if n == 0 { break }
            out.append(contentsOf: buffer[..<n])
        }
        #expect(sameBytes(out, a + b + a))
        #expect(decompressor.bytesOut == UInt64(out.count))
        // Most bytes come from the workers' frames, lent; the streamed frame's 2 MiB and the
        // end are declined and read.
        #expect(lent > 4 << 20, "\(lent) bytes lent")
        #expect(declined > 0)
        #expect(try decompressor.borrowNextBytes(maxCount: 100) == nil)
    }

    @Test("errors match the streaming decoder: empty, not zstd, truncated, garbage after the end, damaged frame")
    func errors() throws {
        let (stream, _) = try Seekable.compress(Seekable.input)
        #expect(Seekable.failure([]) == .emptyInput)
        #expect(Seekable.failure(Array("hello, not zstd at all".utf8)) == .notZstd(offset: 0))
        let frames = Seekable.frames(stream)
        // Cut inside the third frame.
        let cut = frames[2].offset + 1000
        guard case .truncated? = Seekable.failure(Array(stream.prefix(cut))) else {
            Issue.record("a stream cut inside a frame must be truncated")
            return
        }
        #expect(Seekable.failure(stream + Array("trailing".utf8)) == .notZstd(offset: UInt64(stream.count)))
        // A damaged byte in a frame's compressed data: that frame fails, named by its offset.
        var damaged = stream
        damaged[frames[5].offset + 5000] ^= 0xFF
        let error = Seekable.failure(damaged)
        switch error {
        case .corrupt(let offset, _)?, .checksumMismatch(let offset)?:
            #expect(offset == UInt64(frames[5].offset))
        default:
            Issue.record("damaged frame gave \(String(describing: error))")
        }
    }

    @Test("a seek table that lies is never believed: the frames decide (zstd -d agrees), and the parser refuses it")
    func lyingSeekTables() throws {
        let (stream, table) = try Seekable.compress(Seekable.input)
        var wrongSizes = table
        wrongSizes.entries[0].compressedSize += 100
        wrongSizes.entries[3].decompressedSize = 7
        var badChecksums = table
        for index in badChecksums.entries.indices { badChecksums.entries[index].checksum = 0xDEAD_BEEF }
        var tooFew = table
        tooFew.entries.removeLast(2)
        let lies: [(String, [UInt8], ZstdSeekTableError?)] = [
            ("wrong sizes", Seekable.withTable(stream, table, wrongSizes),
             .sizesDisagree(tableSays: UInt64(stream.count + 100), streamHas: UInt64(stream.count))),
            ("bad checksums", Seekable.withTable(stream, table, badChecksums), nil),
            // A reader going by the count starts the table inside the last data frame.
            ("count too large", Seekable.withTable(stream, table, table) { bytes in bytes[bytes.count - 9] &+= 5 },
             .notSkippableFrame),
            ("count too small (table of 10 entries, footer says 12)", Seekable.withTable(stream, table, tooFew) { bytes in
                bytes[bytes.count - 9] = 12
            }, .notSkippableFrame),
            ("reserved descriptor bits", Seekable.withTable(stream, table, table) { bytes in bytes[bytes.count - 5] |= 0x04 },
             .reservedBits(descriptor: 0x84)),
            ("no seekable magic", Seekable.withTable(stream, table, table) { bytes in bytes[bytes.count - 1] = 0 }, .noSeekTable),
            ("footer cut short (frame size adjusted)", Seekable.withTable(stream, table, table) { bytes in
                bytes.removeLast(3)
                bytes[4] &-= 3
            }, .noSeekTable),
        ]
        for (label, lying, expected) in lies {
            let decoded = try Seekable.decompress(lying)
            #expect(sameBytes(decoded.bytes, Seekable.input), "\(label): the output changed")
            #expect(sameBytes(try Zstd.decompress(lying, limit: 64 << 20), Seekable.input), "\(label)")
            // What a reader that trusted the table would be told.
            let tail = Array(lying.suffix(ZstdSeekTable.footerSize))
            let parsed: Result<ZstdSeekTable, ZstdSeekTableError> = Result {
                () throws(ZstdSeekTableError) -> ZstdSeekTable in
                let length = try ZstdSeekTable.frameLength(footer: tail)
                guard length <= lying.count else { throw .truncated(have: lying.count, need: length) }
                let parsed = try ZstdSeekTable(parsing: Array(lying.suffix(length)))
                try parsed.check(compressedSize: UInt64(lying.count))
                return parsed
            }
            switch (parsed, expected) {
            case (.failure(let error), let expected?):
                #expect(error == expected, "\(label): \(error)")
            case (.success(let parsed), nil):
                // Structurally fine; its checksums disagree with the frames' own.
                #expect(parsed.entries.allSatisfy { $0.checksum == 0xDEAD_BEEF }, "\(label)")
                #expect(parsed != table)
            default:
                Issue.record("\(label): parsed as \(parsed), expected \(String(describing: expected))")
            }
        }
        // Parsed on its own, a table whose count disagrees with its length is refused.
        var more = table.encoded()
        more[more.count - 9] &+= 5
        #expect(throws: ZstdSeekTableError.countMismatch(frames: 17, frameBytes: table.encodedSize)) {
            try ZstdSeekTable(parsing: more)
        }
        var fewer = tooFew.encoded()
        fewer[fewer.count - 9] = 12
        #expect(throws: ZstdSeekTableError.countMismatch(frames: 12, frameBytes: tooFew.encodedSize)) {
            try ZstdSeekTable(parsing: fewer)
        }
        // A table whose skippable frame runs past the end of the stream: the stream is truncated.
        let cut = Array(stream.dropLast(4))
        guard case .truncated? = Seekable.failure(cut) else {
            Issue.record("a seek table cut short must make the stream truncated")
            return
        }
    }

    /// A frame made by hand: a 1 KiB window, content size `declared` (256 … 65,791), then
    /// `emptyBlocks` empty raw blocks, then one last raw block holding `content` (≤ 1 KiB).
    static func handMadeFrame(declared: Int, content: [UInt8], emptyBlocks: Int) -> [UInt8] {
        let field = declared - 256
        var frame: [UInt8] = [0x28, 0xB5, 0x2F, 0xFD, 0x40, 0x00, UInt8(field & 0xFF), UInt8(field >> 8)]
        for _ in 0..<emptyBlocks { frame += [0, 0, 0] }
        let header = UInt32(1) | UInt32(content.count) << 3
        frame += [UInt8(header & 0xFF), UInt8(header >> 8 & 0xFF), UInt8(header >> 16)]
        return frame + content
    }

    static let content = Array(Seekable.input.prefix(300))

    @Test("a frame declaring a small size but larger than any encoder makes is refused (frameTooLarge), not buffered")
    func frameTooLarge() throws {
        let options = ZstdParallelOptions(workers: 2, frameCap: 64 << 10)
        // 200,000 empty blocks: 600 KB of frame for 300 bytes of content.
        let huge = Self.handMadeFrame(declared: 300, content: Self.content, emptyBlocks: 200_000)
        #expect(huge.count > options.compressedCap)
        // It is a valid frame: the streaming decoder reads it.
        #expect(try Zstd.decompress(huge) == Self.content)
        #expect(Seekable.failure(huge, options: options) == .frameTooLarge(offset: 0, limit: options.compressedCap))
        // After good frames, the offset names the bad one, and the good bytes come out first.
        let goodInput = Array(Seekable.input.prefix(3 << 20))
        let good = try Seekable.compress(goodInput).stream
        let decompressor = try ZstdParallelDecompressor(readingFrom: BufferSource(good + huge), options: options)
        var sink = BufferSink()
        var source = decompressor
        #expect(throws: ZstdError.frameTooLarge(offset: UInt64(good.count), limit: options.compressedCap)) {
            try source.copy(to: &sink)
        }
        #expect(sameBytes(sink.bytes, goodInput))
        // The same shape within the cap is decoded by a worker.
        let small = Self.handMadeFrame(declared: 300, content: Self.content, emptyBlocks: 10)
        let decoded = try Seekable.decompress(small, options: options)
        #expect(decoded.bytes == Self.content && decoded.parallelFrames == 1)
    }

    @Test("a frame that decodes to more than its header declares is refused (frameLargerThanDeclared)")
    func largerThanDeclared() throws {
        let lying = Self.handMadeFrame(declared: 256, content: Self.content, emptyBlocks: 0)
        #expect(Seekable.failure(lying) == .frameLargerThanDeclared(offset: 0, declared: 256))
        #expect(Seekable.failure(Self.handMadeFrame(declared: 400, content: Self.content, emptyBlocks: 0)) != nil,
                "decoding to fewer bytes than declared is damage too")
        #expect(try Seekable.decompress(Self.handMadeFrame(declared: 300, content: Self.content, emptyBlocks: 0)).bytes
                == Self.content)
    }

    @Test("frames in flight stay within the budget however many frames the stream has")
    func boundedInFlight() throws {
        // 40 frames of 256 KiB; a budget of 1 MiB allows only a few at once.
        let input = Array(Samples.mixed.prefix(10 << 20))
        let (stream, _) = try Seekable.compress(input, frameSize: 256 << 10)
        let options = ZstdParallelOptions(workers: 2, inFlightBudget: 1 << 20)
        let decompressor = try ZstdParallelDecompressor(readingFrom: BufferSource(stream), options: options)
        var sink = BufferSink()
        let source = decompressor
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 16)
        defer { buffer.deallocate() }
        var most = 0
        while true {
            let n = try source.read(into: buffer)
            if n == 0 { break }
            try sink.write(UnsafeRawBufferPointer(rebasing: buffer[..<n]))
            most = max(most, decompressor.inFlightForTesting)
        }
        #expect(sameBytes(sink.bytes, input))
        #expect(decompressor.parallelFrames == 40)
        // One frame's buffers are 1.25 MiB here (its compressed size rounded up to 1 MiB, its
        // 256 KiB of content); the budget is checked before each new frame, so at most one
        // frame goes beyond it.
        #expect(most <= options.inFlightBudget + (5 << 18), "\(most) bytes in flight")
        #expect(most > 0)
    }
}
