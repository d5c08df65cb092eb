import ByteStreams
import SystemPackage

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes an image's guest bytes to a sparse raw file, like `qemu-img convert -O raw`.
///
/// The output is created as a temporary file in the destination's folder
/// (`O_CREAT | O_EXCL`, mode 0644), sized with `ftruncate`, filled with `pwrite` of the
/// non-zero 4 KiB blocks only (so zeros stay holes), then renamed over the
/// destination. On failure the temporary file is removed; until the rename it is registered
/// with ``InterruptCleanup``, so an interrupted process removes it too. Memory: one 1 MiB buffer.
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
        let target = PathText.filePath(destination)
        guard let name = target.lastComponent?.string, !name.isEmpty, name != ".", name != ".." else {
            throw ImageAccessError.io(path: destination, reason: "not a file name")
        }
        var folder = target
        folder.removeLastComponent()
        let temporary = folder.appending(".\(name).\(UInt64.random(in: 0...UInt64.max) & 0xFFFF_FFFF).partial")
        let (fd, ticket) = try InterruptCleanup.transaction { (registry) throws(ImageAccessError) in
            do {
                let fd = try FileDescriptor.open(temporary, .writeOnly, options: [.create, .exclusiveCreate, .noFollow],
                                                 permissions: [.ownerReadWrite, .groupRead, .otherRead])
                return (fd, registry.add(temporary.string, kind: .file))
            } catch {
                throw ImageAccessError.io(path: temporary.string, reason: "cannot create: \(error)")
            }
        }
        var closed = false
        do {
            let summary = try write(reader, to: fd, path: temporary.string, progress: progress)
            try fd.close()
            closed = true
            try InterruptCleanup.transaction { (registry) throws(ImageAccessError) in
                guard temporary.withPlatformString({ from in target.withPlatformString { rename(from, $0) } }) == 0 else {
                    throw ImageAccessError.io(path: destination, reason: "cannot rename the finished file into place: \(Errno(rawValue: errno))")
                }
                registry.remove(ticket)
            }
            return summary
        } catch {
            if !closed { try? fd.close() }
            InterruptCleanup.transaction { registry in
                _ = temporary.withPlatformString { unlink($0) }
                registry.remove(ticket)
            }
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
        let chunkSize = 1 << 20
        let block = 4096
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunkSize, alignment: 4096)
        defer { buffer.deallocate() }
        var offset: UInt64 = 0
        var written: UInt64 = 0
        while offset < size {
            // Ranges known to read as zeros stay holes without being read.
            let zeros = try reader.knownZeroLength(at: offset, limit: size - offset)
            if zeros > 0 {
                offset += zeros
                progress?(offset, size)
                continue
            }
            let count = Int(min(UInt64(chunkSize), size - offset))
            let chunk = UnsafeMutableRawBufferPointer(rebasing: buffer[..<count])
            try reader.read(into: chunk, at: offset)
            // Write runs of non-zero blocks; leave zero blocks as holes.
            var position = 0
            while position < count {
                var end = position
                while end < count && !SparseFile.isZero(UnsafeRawBufferPointer(rebasing: chunk[end..<min(end + block, count)])) {
                    end = min(end + block, count)
                }
                if end > position {
                    do {
                        try fd.pwriteAll(UnsafeRawBufferPointer(rebasing: chunk[position..<end]), at: offset + UInt64(position), path: path)
                    } catch {
                        throw ImageAccessError.io(path: path, reason: "\(error)")
                    }
                    written += UInt64(end - position)
                    position = end
                } else {
                    position = min(position + block, count)
                }
            }
            offset += UInt64(count)
            progress?(offset, size)
        }
        return Summary(size: size, dataBytes: written)
    }
}
