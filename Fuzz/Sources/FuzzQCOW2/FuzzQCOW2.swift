import FuzzSupport
import QCOW2
import SystemPackage

/// The input, held in memory: the audit, the inspection and the check read through a descriptor.
nonisolated(unsafe) private let file = MemoryFile(name: "fuzz-qcow2")

/// Parses, audits, inspects and checks arbitrary bytes as a qcow2 image (the metadata paths
/// `inspect` and `check` take): any outcome but a crash, a hang, a leak or unbounded memory
/// is fine. The guest data paths (map, read, convert) are FuzzImage's.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzQCOW2(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    // The header parse needs at most the first cluster (2 MiB); the audit of a raw file 4 KiB.
    let prefix = fuzzInput(data, min(size, QCOW2Header.maximumClusterSize))
    let header = try? QCOW2Header(parsing: prefix, fileSize: UInt64(size))
    _ = Audit(rawPrefix: Array(prefix.prefix(4096)), fileSize: UInt64(size))
    guard let file, file.load(data, size) else { return 0 }
    let fd = FileDescriptor(rawValue: file.descriptor)
    // A small file can claim 65,535 snapshots (the table past its end reads as zeros): the
    // parse and the check still see them all, but printing each one is the same code as
    // printing the first few and takes seconds under ASan (14 MB of JSON), so the fuzzer
    // would spend its time printing. FanOutTests.inspectFanOut checks such output against qemu-img.
    let renders = (header?.snapshotCount ?? 0) <= 1024
    // `inspect`: the probe, the header, the info and the audit (`Audit(image:)`), and the JSON
    // that holds them all (the human report prints the same values).
    if let inspection = try? ImageInspection(descriptor: fd, filename: "fuzz.qcow2"), renders {
        _ = inspection.json
    }
    // `check` opens more leniently than the rest (as `qemu-img check` does).
    if let image = try? QCOW2Image(descriptor: fd, path: "fuzz.qcow2", fileSize: UInt64(size), forCheck: true),
       CheckBudget.allowsCheck(of: image) {
        // Each message is dropped as it is found, as `check` streams them to its output.
        _ = try? ImageCheck.run(image) { _ in }
    }
    return 0
}

@_cdecl("FuzzQCOW2_main")
public func fuzzQCOW2Main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc: argc, argv: argv, fuzzQCOW2)
}
