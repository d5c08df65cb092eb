import ByteStreams
import FuzzSupport
import SystemPackage
import VMImage
import Zstd

#if canImport(Glibc)
import Glibc
#endif

/// A folder on tmpfs: each input is extracted into a fresh folder inside it, and `verify`'s
/// scratch folders go there too (it is `$TMPDIR`).
nonisolated(unsafe) private let scratch: ScratchFolder? = {
    let folder = ScratchFolder(label: "archive")
    if let folder { setenv("TMPDIR", folder.path, 1) }
    return folder
}()

/// Small limits, so that a few bytes declaring a huge disk cannot make one input take
/// seconds (zstd turns 1 MiB of input into gigabytes of zeros; ASan makes scanning them slow).
/// Frames are decoded on this thread (the planning, buffering and ordering code is the same):
/// libdispatch's workers keep memory from one input to the next, which libFuzzer's leak
/// check then scans for after every input. Several threads are SeekableArchiveTests'.
private let limits = ImageLimits(maxImageSize: 16 << 20, maxDecodingThreads: 0)

/// The zstd frame magic, little-endian.
private let zstdMagic: [UInt8] = [0x28, 0xB5, 0x2F, 0xFD]

/// Extracts arbitrary bytes as an image archive (zstd → tar → the archive's rules → files)
/// and verifies them, then checks what the two promise: a failed extraction leaves no folder,
/// a successful one leaves exactly the three members, verification leaves nothing in
/// `$TMPDIR`, and the two agree on whether the archive is valid and on what it holds.
///
/// An input starting with the zstd magic is the archive itself; any other input is taken as
/// the tar and compressed first, so that mutations reach the tar and the rules instead of
/// breaking the zstd frame.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzArchive(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let scratch else { return 0 }
    let input = fuzzInput(data, size)
    let archive: [UInt8]
    if input.starts(with: zstdMagic) {
        archive = input
    } else {
        guard let compressed = try? Zstd.compress(input, options: .init(level: 1, workers: 0)) else { return 0 }
        archive = compressed
    }
    let folder = scratch.path + "/image"
    let extracted: Result<ImageContents, VMImageError>
    do {
        extracted = .success(try ImageArchive.extract(
            from: BufferSource(archive, maximumChunk: 4096), into: FilePath(folder),
            archiveName: "fuzz.tar.zst", limits: limits))
    } catch {
        extracted = .failure(error)
    }
    switch extracted {
    case .success:
        let names = Set(ScratchFolder.names(in: folder) ?? [])
        if names != Set(ImageArchive.memberNames) {
            fatalError("extract succeeded but the folder holds \(names.sorted())")
        }
    case .failure(let error):
        if access(folder, F_OK) == 0 {
            fatalError("extract failed (\(error)) but left its folder behind")
        }
    }
    ScratchFolder.removeTree(folder)

    let verified: Result<ImageContents, VMImageError>
    do {
        verified = .success(try ImageArchive.verify(from: BufferSource(archive, maximumChunk: 4096),
                                                    archiveName: "fuzz.tar.zst", limits: limits))
    } catch {
        verified = .failure(error)
    }
    if let left = ScratchFolder.names(in: scratch.path), !left.isEmpty {
        fatalError("verify left \(left) in its temporary folder")
    }
    switch (extracted, verified) {
    case let (.success(a), .success(b)) where a != b:
        fatalError("extract and verify disagree on the contents: \(a) vs \(b)")
    case let (.success, .failure(error)) where error.isMalformedPayload:
        fatalError("extract accepted what verify refuses: \(error)")
    case let (.failure(error), .success) where error.isMalformedPayload:
        fatalError("verify accepted what extract refuses: \(error)")
    default:
        break
    }
    return 0
}

@_cdecl("FuzzArchive_main")
public func fuzzArchiveMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc: argc, argv: argv, fuzzArchive)
}
