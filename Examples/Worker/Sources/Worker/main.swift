// A tiny CI worker: download an image over HTTP, start two VMs' worth of instances from it,
// print their disks, release them, and let the garbage collector take the image back.
//
//   swift run Worker URL [IMAGE_FOLDER]
//
// The image is downloaded once however many instances ask for it; each instance gets a private
// qcow2 overlay over the image's disk.img. Only `import VMImage` and `import VMImageDownload`
// are needed: `FilePath` comes with VMImage.
import Foundation
import VMImage
import VMImageDownload

let arguments = CommandLine.arguments
guard arguments.count >= 2, let url = URL(string: arguments[1]) else {
    FileHandle.standardError.write(Data("usage: Worker URL [IMAGE_FOLDER]\n".utf8))
    exit(2)
}
let folder = FilePath(arguments.count >= 3 ? arguments[2] : NSTemporaryDirectory() + "worker-images")

do {
    // Free images (least recently used first) when the disk has under 1 GiB or memory under 256 MiB.
    let gc = GarbageCollector(storageFolder: folder.removingLastComponent(), minimumDiskSpace: 1 << 30, minimumMemory: 256 << 20)
    let manager = try ImageManager(imageFolder: folder, gc: gc)
    let imageID = "url:\(url.absoluteString)"

    // Two tasks ask for the same image at once: one download, two private disks.
    async let first = manager.instance(imageID: imageID, download: downloadImage(from: url))
    async let second = manager.instance(imageID: imageID, download: downloadImage(from: url))
    let instances = try await [first, second]

    for (number, instance) in instances.enumerated() {
        let disk = try instance.diskFile
        print("instance \(number + 1): \(instance.format) disk \(disk.lastComponent?.string ?? "?") in \(instance.imageFolder.lastComponent?.string ?? "?")")
        print("  machine: \(instance.machine.memory ?? 0) MB memory, \(instance.machine.threads ?? 1) thread(s)")
    }
    print("cached images: \(await manager.cachedImageIDs.count)")

    for instance in instances { try await instance.release() }
    // Nothing holds the image any more: collecting everything removes it from disk.
    let freed = try await gc.collectAll()
    print("released both instances; the collector freed \(freed) image(s)")
    try? FileManager.default.removeItem(atPath: folder.string)
} catch {
    FileHandle.standardError.write(Data("worker: \(error)\n".utf8))
    exit(1)
}
