import ByteStreams
import Synchronization
import SystemPackage

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An image kept in a single folder that a VM may change, then packaged into a new image
/// archive: taskcluster-worker's `image.MutableImage`, used to build and test images.
///
/// ``diskFile`` hands the raw disk to a VM and marks the image in use; ``release()`` marks it
/// free again. ``package(to:options:)`` and ``dispose()`` refuse to run while it is in use,
/// and ``diskFile`` and ``dispose()`` refuse to run while a package is being written.
public final class MutableImage: Sendable {
    /// The largest blank disk ``init(folder:size:machine:)`` makes, in GiB.
    public static let maximumSizeGiB = 80

    /// The folder holding `disk.img` and `machine.json` (and `layer.qcow2` after packaging).
    public let folder: FilePath
    /// The image format of ``diskFile``: always `"raw"`.
    public let format = "raw"
    /// The virtual machine definition.
    public let machine: Machine
    private let state = Mutex(State())

    private struct State {
        var inUse = false
        var packaging = false
        var disposed = false
    }

    /// A blank image: a sparse raw disk of `size` GiB (1…80) and `machine`, in the new
    /// folder `folder` (which must not exist).
    public init(folder: FilePath, size: Int, machine: Machine) throws(VMImageError) {
        guard size >= 1, size <= Self.maximumSizeGiB else {
            throw .misuse(message: "a blank disk must be 1 to \(Self.maximumSizeGiB) GiB, not \(size)")
        }
        let issues = machine.validationIssues
        guard issues.isEmpty else { throw .invalidMachine(member: ImageArchive.machineName, issues: issues) }
        let json: [UInt8]
        do {
            json = try machine.jsonBytes(pretty: true)
        } catch {
            throw .misuse(message: "the machine cannot be encoded: \(error)")
        }
        do {
            let target = try ImageFolder(creating: folder)
            do {
                let disk = try target.create(ImageArchive.diskName)
                defer { SystemCall.closeIgnoringErrors(disk) }
                try SparseFile.setSize(of: disk, to: UInt64(size) << 30, path: target.file(ImageArchive.diskName).string)
                let file = try target.create(ImageArchive.machineName)
                defer { SystemCall.closeIgnoringErrors(file) }
                var sink = FileSink(file, path: target.file(ImageArchive.machineName).string)
                try sink.write(json)
                target.sync()
                target.close()
            } catch {
                target.remove()
                throw error
            }
        } catch {
            throw imageError(error, archiveName: folder.string)
        }
        self.folder = folder
        self.machine = machine
    }

    /// An image made from the archive `imageFile`, extracted (and validated) into the new
    /// folder `imageFolder`.
    ///
    /// Extraction of up to ``ImageLimits/maxImageSize`` runs on a thread of its own, never on
    /// the caller's (a cooperative thread in an async context), as ``package(to:options:)`` does.
    public init(imageFile: FilePath, imageFolder: FilePath, limits: ImageLimits = .init()) async throws(VMImageError) {
        let contents: ImageContents
        do {
            contents = try await runBlocking { try ImageArchive.extract(archive: imageFile, into: imageFolder, limits: limits) }
        } catch let error as VMImageError {
            throw error
        } catch {
            throw imageError(error, archiveName: imageFile.string)
        }
        self.folder = imageFolder
        self.machine = contents.machine
    }

    /// The raw disk to give the VM. Marks the image in use until ``release()``.
    public var diskFile: FilePath {
        get throws(VMImageError) {
            try state.withLock { state throws(VMImageError) in
                guard !state.disposed else { throw .misuse(message: "MutableImage.diskFile used after dispose()") }
                guard !state.packaging else { throw .misuse(message: "MutableImage.diskFile used while the image is being packaged") }
                state.inUse = true
            }
            return folder.appending(ImageArchive.diskName)
        }
    }

    /// Whether a VM holds the disk (``diskFile`` was read and ``release()`` not yet called).
    public var isInUse: Bool { state.withLock { $0.inUse } }

    /// Marks the image as no longer in use, so it can be packaged or disposed: the same shape
    /// as ``Instance/release()``.
    ///
    /// - Throws: ``VMImageError/misuse(message:)`` when the disk is not in use (``diskFile``
    ///   was not read since the last release) or after ``dispose()``.
    public func release() async throws(VMImageError) {
        try state.withLock { state throws(VMImageError) in
            guard !state.disposed else { throw .misuse(message: "MutableImage.release() called after dispose()") }
            guard state.inUse else { throw .misuse(message: "MutableImage.release() called while the disk is not in use (read diskFile first, release once)") }
            state.inUse = false
        }
    }

    /// Writes the image as a zstd-compressed sparse tar archive to `target` (see
    /// ``ImageArchive/package(folder:to:options:)``).
    ///
    /// - Throws: ``VMImageError/misuse(message:)`` while the image is in use or after dispose.
    @discardableResult
    public func package(to target: FilePath, options: PackageOptions = .init()) async throws(VMImageError) -> PackageResult {
        try state.withLock { state throws(VMImageError) in
            guard !state.disposed else { throw .misuse(message: "MutableImage.package called after dispose()") }
            guard !state.inUse else { throw .misuse(message: "MutableImage.package called while the disk is in use; call release() first") }
            guard !state.packaging else { throw .misuse(message: "MutableImage.package called while another package() runs") }
            state.packaging = true
        }
        defer { state.withLock { $0.packaging = false } }
        let folder = self.folder
        do {
            return try await runBlocking { try ImageArchive.package(folder: folder, to: target, options: options) }
        } catch let error as VMImageError {
            throw error
        } catch {
            throw imageError(error, archiveName: target.string)
        }
    }

    /// Deletes the image's folder and everything in it.
    ///
    /// - Throws: ``VMImageError/misuse(message:)`` while the image is in use.
    public func dispose() throws(VMImageError) {
        let proceed = try state.withLock { state throws(VMImageError) -> Bool in
            guard !state.inUse else { throw .misuse(message: "MutableImage.dispose called while the disk is in use; call release() first") }
            guard !state.packaging else { throw .misuse(message: "MutableImage.dispose called while the image is being packaged") }
            defer { state.disposed = true }
            return !state.disposed
        }
        if proceed { try removeImageFolder(folder) }
    }
}
