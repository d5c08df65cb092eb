import FuzzSupport
import QCOW2
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// The input, held in memory; the reader opens it again by its `/proc/self/fd` path.
nonisolated(unsafe) private let file = MemoryFile(name: "fuzz-image")
/// A folder on tmpfs for `convert`'s output, made once.
nonisolated(unsafe) private let scratch = ScratchFolder(label: "image")
/// One reusable read buffer of the largest cluster size (2 MiB).
nonisolated(unsafe) private let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 2 << 20, alignment: 4096)

/// Work caps, so that no single input takes seconds: a hostile header can declare petabytes
/// of guest disk in a few bytes. Past a cap the step is skipped (map) or stopped (reads).
private enum Budget {
    /// `map` walks at most this many clusters of guest disk.
    static let mapClusters: UInt64 = 1 << 16
    /// `convert` runs only on guest disks up to this size.
    static let convertBytes: UInt64 = 4 << 20
    /// The read pass stops after this many reads or skipped zero runs...
    static let readSteps = 4096
    /// ...or after this many guest bytes read.
    static let readBytes: UInt64 = 32 << 20
}

/// Opens arbitrary bytes as an image the way `map` and `convert` do, maps it, converts it
/// when small, and reads every cluster (data, zero, zlib- and zstd-compressed, subclusters)
/// within a budget: any outcome but a crash, a hang, a leak or unbounded memory is fine.
/// Nothing the image names is opened (no backing chain, no external data file): those reads
/// fail with a typed error, as for an unaudited image. The metadata paths (audit, inspect,
/// check) are FuzzQCOW2's, so that each input here costs only the guest data paths.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzImage(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let file, file.load(data, size) else { return 0 }
    let fd = FileDescriptor(rawValue: file.descriptor)
    guard let image = try? QCOW2Image(descriptor: fd, path: file.path),
          let reader = try? ImageReader.open(image: image, path: file.path) else { return 0 }
    defer { reader.close() }
    // All work on this thread: libdispatch's workers keep memory from one input to the next,
    // which libFuzzer's leak check then scans for after every input (5x fewer inputs a second).
    // Decoding on several workers is CompressedConvertTests' (1, 2, 3 and 5 workers give the
    // same bytes, and the same first error for damaged clusters).
    reader.decodingThreads = 1
    let virtualSize = reader.virtualSize
    let clusterBits = UInt64(image.header.clusterBits)
    if virtualSize >> clusterBits <= Budget.mapClusters, let entries = try? reader.map() {
        _ = MapJSON.render(entries)
    }
    if virtualSize <= Budget.convertBytes, let scratch {
        let output = scratch.path + "/convert.raw"
        _ = try? RawConversion.convert(reader, to: output)
        unlink(output)
    }
    readEveryCluster(reader, clusterSize: UInt64(image.header.clusterSize))
    return 0
}

/// Reads the guest disk cluster by cluster as `convert` does (skipping runs known to be zero),
/// going on past a cluster that fails to read, until the end or the budget.
private func readEveryCluster(_ reader: ImageReader, clusterSize: UInt64) {
    let size = reader.virtualSize
    var offset: UInt64 = 0
    var steps = 0
    var bytesRead: UInt64 = 0
    while offset < size, steps < Budget.readSteps, bytesRead < Budget.readBytes {
        steps += 1
        let zeros = (try? reader.knownZeroLength(at: offset, limit: size - offset)) ?? 0
        if zeros > 0 {
            offset = offset.addingReportingOverflow(zeros).partialValue
            continue
        }
        // To the end of this cluster, so each read stays within one cluster.
        let count = Int(min(clusterSize - offset % clusterSize, size - offset, UInt64(buffer.count)))
        _ = try? reader.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[..<count]), at: offset)
        offset += UInt64(count)
        bytesRead += UInt64(count)
    }
}

@_cdecl("FuzzImage_main")
public func fuzzImageMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc: argc, argv: argv, fuzzImage)
}
