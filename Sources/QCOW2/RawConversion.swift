import ByteStreams
import Dispatch
import SystemPackage

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes an image's guest bytes to a sparse raw file, like `qemu-img convert -O raw`.
///
/// The output is written through ByteStreams' `AtomicFile`: a temporary file in the
/// destination's folder (`O_CREAT | O_EXCL | O_NOFOLLOW`, mode 0644), sized with `ftruncate`,
/// filled with `pwrite` of the non-zero 4 KiB blocks only (so zeros stay holes), then renamed
/// over the destination when that is absent or a regular file. On failure the temporary file
/// is removed; until the rename it is registered with ``InterruptCleanup``, so an interrupted
/// process removes it too. Memory: two 1 MiB
/// buffers: the next chunk is read (its compressed clusters decoded on every core) while the
/// one before it is written.
public enum RawConversion {
    /// What a conversion wrote.
    public struct Summary: Sendable, Equatable {
        /// The output's size (the virtual size).
        public var size: UInt64
        /// Bytes actually written (the rest are holes).
        public var dataBytes: UInt64
    }

    /// Converts everything `reader` shows to a raw file at `destination`.
    ///
    /// - Parameter progress: called after each chunk with (bytes done, total).
    public static func convert(_ reader: ImageReader, to destination: String,
                               progress: ((UInt64, UInt64) -> Void)? = nil) throws -> Summary {
        let output: AtomicFile
        do {
            output = try AtomicFile(target: destination, purpose: "partial")
        } catch {
            throw ImageAccessError.io(path: destination, reason: "\(error)")
        }
        do {
            let summary = try write(reader, to: output.descriptor, path: output.temporaryPath, progress: progress)
            do {
                // An output named on the command line is replaced when it is a regular file
                // (as `qemu-img convert` overwrites it); a link or anything else is refused.
                try output.publish(.replacingRegularFile, sync: false)
            } catch {
                throw ImageAccessError.io(path: destination, reason: "\(error)")
            }
            return summary
        } catch {
            output.discard()
            throw error
        }
    }

    private static func write(_ reader: ImageReader, to fd: FileDescriptor, path: String,
                              progress: ((UInt64, UInt64) -> Void)?) throws -> Summary {
        let size = reader.virtualSize
        do {
            try SparseFile.setSize(of: fd, to: size, path: path)
        } catch {
            throw ImageAccessError.io(path: path, reason: "\(error)")
        }
        // Read (and decompress) the next chunk on another thread while this one is written,
        // unless the reader is kept to the calling thread (then one buffer does).
        let readsAhead = reader.decodingThreads > 1
        let producer = ChunkProducer(reader: reader, size: size, buffers: readsAhead ? 2 : 1)
        var written: UInt64 = 0
        var current = 0
        producer.fill(current)
        while let (offset, count) = try producer.take() {
            let next = readsAhead ? 1 - current : current
            let group = DispatchGroup()
            if readsAhead {
                DispatchQueue.global().async(group: group) { producer.fill(next) }
            }
            do {
                written += try writeNonZeroBlocks(UnsafeRawBufferPointer(rebasing: producer.buffers[current][..<count]),
                                                  at: offset, to: fd, path: path)
            } catch {
                group.wait()
                throw error
            }
            group.wait()
            if !readsAhead { producer.fill(next) }
            progress?(offset + UInt64(count), size)
            current = next
        }
        progress?(size, size)
        return Summary(size: size, dataBytes: written)
    }

    /// Writes the runs of non-zero 4 KiB blocks of `chunk` (blocks aligned to file offsets:
    /// ``ZeroRuns``, the scanner the tar writer and reader use), leaving zero blocks as holes;
    /// returns the bytes written.
    private static func writeNonZeroBlocks(_ chunk: UnsafeRawBufferPointer, at offset: UInt64, to fd: FileDescriptor,
                                           path: String) throws -> UInt64 {
        var written: UInt64 = 0
        try ZeroRuns.forEachDataRun(in: chunk, at: offset, blockSize: 4096) { run in
            do {
                try fd.pwriteAll(UnsafeRawBufferPointer(rebasing: chunk[run]), at: offset + UInt64(run.lowerBound), path: path)
            } catch {
                throw ImageAccessError.io(path: path, reason: "\(error)")
            }
            written += UInt64(run.count)
        }
        return written
    }
}

/// Reads an image's guest bytes chunk by chunk, skipping ranges known to read as zeros (they
/// stay holes without being read). One `fill` runs at a time: `write` waits for each before
/// calling `take` or the next `fill`, so the reader is never used by two threads at once and
/// the waiting thread sees everything `fill` wrote.
private final class ChunkProducer: @unchecked Sendable {
    static let chunkSize = 1 << 20
    private let reader: ImageReader
    private let size: UInt64
    private var next: UInt64 = 0
    private var outcome: Result<(offset: UInt64, count: Int)?, any Error> = .success(nil)
    /// The chunk buffers: with two, one is filled while the other is written.
    let buffers: [UnsafeMutableRawBufferPointer]

    /// `count` buffers of one chunk each (no larger than the image: a small image gets small
    /// buffers).
    init(reader: ImageReader, size: UInt64, buffers count: Int) {
        self.reader = reader
        self.size = size
        let capacity = Int(min(UInt64(Self.chunkSize), max(size, 1)))
        buffers = (0..<count).map { _ in UnsafeMutableRawBufferPointer.allocate(byteCount: capacity, alignment: 4096) }
    }

    deinit {
        for buffer in buffers { buffer.deallocate() }
    }

    /// Reads the next chunk with data into buffer `index` (or notes the end, or the error).
    func fill(_ index: Int) {
        let buffer = buffers[index]
        outcome = Result {
            while next < size {
                let zeros = try reader.knownZeroLength(at: next, limit: size - next)
                if zeros == 0 { break }
                next += zeros
            }
            guard next < size else { return nil }
            let offset = next
            let count = min(buffer.count, Int(min(UInt64(Self.chunkSize), size - offset)))
            try reader.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[..<count]), at: offset)
            next = offset + UInt64(count)
            return (offset, count)
        }
    }

    /// What the last `fill` produced: a chunk's offset and length, or `nil` at the end.
    func take() throws -> (offset: UInt64, count: Int)? {
        try outcome.get()
    }
}
