import FuzzSupport
import QCOW2
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// One scratch file reused for every input: the header parse works on bytes, the audit and
/// the check on a file.
nonisolated(unsafe) private var scratch: FileDescriptor?

private func scratchFile() -> FileDescriptor? {
    if let scratch { return scratch }
    let path = "/dev/shm/swift-vmimage-fuzz-qcow2-\(getpid())"
    guard let fd = try? FileDescriptor.open(FilePath(path), .readWrite, options: [.create, .truncate], permissions: [.ownerReadWrite]) else {
        return nil
    }
    unlink(path)
    scratch = fd
    return fd
}

/// Parses, audits and checks arbitrary bytes as a qcow2 image: any outcome but a crash,
/// a hang, a leak or unbounded memory is fine.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzQCOW2(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = fuzzInput(data, size)
    _ = try? QCOW2Header(parsing: bytes, fileSize: UInt64(bytes.count))
    _ = Audit(rawPrefix: Array(bytes.prefix(4096)), fileSize: UInt64(bytes.count))
    guard let fd = scratchFile() else { return 0 }
    guard ftruncate(fd.rawValue, 0) == 0 else { return 0 }
    _ = bytes.withUnsafeBytes { try? fd.pwriteAll($0, at: 0) }
    if let image = try? QCOW2Image(descriptor: fd, path: "fuzz.qcow2") {
        _ = Audit(image: image)
        if let file = try? ImageFile(descriptor: fd, path: "fuzz.qcow2") {
            _ = try? ImageCheck.run(file)
        }
    }
    return 0
}

@_cdecl("FuzzQCOW2_main")
public func fuzzQCOW2Main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc: argc, argv: argv, fuzzQCOW2)
}
