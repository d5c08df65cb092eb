import ByteStreams
import Synchronization
import SystemPackage

/// A VM's private view of an image: a fresh qcow2 disk whose backing file is the image's
/// `disk.img`, and the image's machine definition.
///
/// Release it with ``release()`` when the VM is done: that deletes the private disk and lets
/// the image be collected. Using an instance after release, or releasing it twice, throws
/// ``VMImageError/misuse(message:)``.
public final class Instance: Sendable {
    private let image: LoadedImage
    private let disk: FilePath
    private let released = Mutex(false)

    /// The image format of ``diskFile``: always `"qcow2"`.
    public let format = "qcow2"
    /// The virtual machine definition of the image.
    public let machine: Machine

    init(image: LoadedImage, disk: FilePath) {
        self.image = image
        self.disk = disk
        self.machine = image.contents.machine
    }

    /// The private qcow2 disk (backed by the image's `disk.img`) to give the VM.
    public var diskFile: FilePath {
        get throws(VMImageError) {
            if released.withLock({ $0 }) {
                throw .misuse(message: "Instance.diskFile used after release() (disk \(disk.string))")
            }
            return disk
        }
    }

    /// The image ID this instance was made from.
    public var imageID: String { image.imageID }

    /// The folder of the image this instance uses: it holds the image's `disk.img` (the
    /// backing file of ``diskFile``), `layer.qcow2`, `machine.json` and the instance disks.
    /// It belongs to the ``ImageManager``; do not change what is in it.
    public var imageFolder: FilePath { image.folder }

    /// Deletes the private disk and gives the image back to the manager.
    ///
    /// - Throws: ``VMImageError/misuse(message:)`` when called a second time; a
    ///   `fileSystem` error when the disk cannot be deleted (the image is released anyway).
    public func release() async throws(VMImageError) {
        let wasReleased = released.withLock { state -> Bool in
            defer { state = true }
            return state
        }
        if wasReleased {
            throw .misuse(message: "Instance.release() called twice (disk \(disk.string))")
        }
        let failed = unlinkFile(disk)
        await image.release()
        if let failed { throw failed }
    }
}

/// Deletes a file; returns the error, or `nil` when it is gone (or never was).
func unlinkFile(_ path: FilePath) -> VMImageError? {
    do throws(SystemCallError) {
        try SystemCall.unlink(path.string, in: nil, path: path.string)
    } catch where error.errno == .noSuchFileOrDirectory {
        return nil
    } catch {
        return fileSystemError(error)
    }
    return nil
}
