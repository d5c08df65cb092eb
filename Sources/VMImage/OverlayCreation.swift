import ByteStreams
import QCOW2

/// The one place that creates the qcow2 overlays of an image folder: `layer.qcow2` when
/// packaging, and each instance's private disk.
enum OverlayCreation {
    /// Creates at `path` a qcow2 v3 overlay of the folder's `disk.img` (backing format raw,
    /// lazy refcounts, no data clusters) of `virtualSize` bytes, without `fsync`: an overlay is
    /// scratch until something durable (the archive, the manifest) is written after it.
    ///
    /// - Parameter replacing: whether an existing regular file at `path` is replaced
    ///   (packaging rewrites `layer.qcow2`) or refused (an instance's fresh name must be new).
    /// - Throws: ``VMImageError/overlayCreation(path:underlying:)`` with the creator's error.
    static func create(at path: FilePath, virtualSize: UInt64, replacing: Bool) throws(VMImageError) {
        let options = QCOW2CreateOptions(
            virtualSize: virtualSize, lazyRefcounts: true, backingFile: ImageArchive.diskName,
            backingFormat: .raw, overwrite: replacing, sync: false)
        do throws(QCOW2CreateError) {
            _ = try QCOW2Creator.create(at: path, options: options)
        } catch {
            throw .overlayCreation(path: PathText.text(path), underlying: error)
        }
    }
}
