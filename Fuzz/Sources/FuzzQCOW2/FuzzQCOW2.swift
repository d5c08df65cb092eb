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
    _ = try? QCOW2Header(parsing: prefix, fileSize: UInt64(size))
    _ = Audit(rawPrefix: Array(prefix.prefix(4096)), fileSize: UInt64(size))
    guard let file, file.load(data, size) else { return 0 }
    let fd = FileDescriptor(rawValue: file.descriptor)
    if let image = try? QCOW2Image(descriptor: fd, path: "fuzz.qcow2") {
        _ = Audit(image: image).json.rendered()
    }
    if let inspection = try? ImageInspection(descriptor: fd, filename: "fuzz.qcow2") {
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
