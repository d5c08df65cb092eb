// Inputs built at run time (nothing is checked in): real bytes from /usr binaries, a sparse
// raw disk holding them, an image folder and a qcow2 overlay made with QCOW2Creator.
import Foundation
import QCOW2
import SystemPackage

/// A scratch folder under /var/tmp, removed by `remove()`.
public final class Scratch: @unchecked Sendable {
    /// The folder's path.
    public let path: String

    /// A new, empty folder `/var/tmp/vmimage-bench-<label>-XXXXXX`.
    public init(_ label: String) throws {
        var template = Array("/var/tmp/vmimage-bench-\(label)-XXXXXX".utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw FixtureError("mkdtemp failed: errno \(errno)")
        }
        path = String(cString: made)
    }

    /// `path/name`.
    public func file(_ name: String) -> String { path + "/" + name }

    /// Deletes the folder and everything in it.
    public func remove() { try? FileManager.default.removeItem(atPath: path) }
}

/// A fixture could not be built.
public struct FixtureError: Error, CustomStringConvertible {
    /// What went wrong.
    public var description: String
    /// An error saying `description`.
    public init(_ description: String) { self.description = description }
}

/// Builders of the benchmarks' inputs.
public enum Fixtures {
    /// Folders whose regular files (top level only, sorted by name) supply the real bytes.
    /// `Benchmarks/usr-sample.py` selects exactly the same bytes, for `zstd -b3` on them.
    public static let sampleFolders = ["/usr/bin", "/usr/lib/x86_64-linux-gnu", "/usr/lib"]

    /// The first `count` bytes of the concatenation of the regular files (not symbolic links,
    /// at least 4 KiB each) directly in `sampleFolders`, in name order: real executable and
    /// library data, the same on every run of the same machine.
    public static func usrBytes(_ count: Int) throws -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(count)
        let manager = FileManager.default
        for folder in sampleFolders {
            guard let names = try? manager.contentsOfDirectory(atPath: folder) else { continue }
            for name in names.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }) {
                let path = folder + "/" + name
                guard let attributes = try? manager.attributesOfItem(atPath: path),
                      attributes[.type] as? FileAttributeType == .typeRegular,
                      let size = attributes[.size] as? Int, size >= 4096,
                      let data = manager.contents(atPath: path) else { continue }
                out.append(contentsOf: data.prefix(count - out.count))
                if out.count >= count { return out }
            }
        }
        throw FixtureError("/usr holds fewer than \(count) bytes of regular files")
    }

    /// Writes `bytes` to a new file at `path`.
    public static func write(_ bytes: [UInt8], to path: String) throws {
        let fd = try FileDescriptor.open(path, .writeOnly, options: [.create, .truncate, .exclusiveCreate],
                                         permissions: .ownerReadWrite)
        defer { try? fd.close() }
        _ = try bytes.withUnsafeBytes { try fd.writeAll($0) }
    }

    /// A sparse raw disk of `size` bytes holding `data` in 1 MiB pieces spread evenly over it
    /// (the rest is holes), like a freshly installed guest file system.
    public static func makeSparseDisk(at path: String, size: UInt64, data: [UInt8]) throws {
        let fd = try FileDescriptor.open(path, .writeOnly, options: [.create, .truncate, .exclusiveCreate],
                                         permissions: .ownerReadWrite)
        defer { try? fd.close() }
        let piece = 1 << 20
        let pieces = max(1, data.count / piece)
        let stride = (size / UInt64(pieces)) & ~UInt64(piece - 1)
        guard stride >= UInt64(piece) else { throw FixtureError("disk of \(size) bytes cannot hold \(data.count) bytes") }
        try data.withUnsafeBytes { all in
            for index in 0..<pieces {
                let chunk = UnsafeRawBufferPointer(rebasing: all[(index * piece)..<((index + 1) * piece)])
                _ = try fd.writeAll(toAbsoluteOffset: Int64(UInt64(index) * stride), chunk)
            }
        }
        guard ftruncate(fd.rawValue, off_t(size)) == 0 else { throw FixtureError("ftruncate \(path): errno \(errno)") }
    }

    /// An image folder (`disk.img` sparse raw + `machine.json`) ready for `ImageArchive.package`.
    public static func makeImageFolder(at path: String, profile: Profile) throws {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        try makeSparseDisk(at: path + "/disk.img", size: profile.diskSize, data: try usrBytes(profile.diskDataBytes))
        let machine = #"{"version": 1, "memory": 1024, "network": "rtl8139", "mac": "aa:bb:cc:dd:ee:02"}"#
        try write(Array(machine.utf8), to: path + "/machine.json")
    }

    /// Options for a qcow2 overlay on the raw `disk.img` next to it, as an instance gets.
    public static func overlayOptions(virtualSize: UInt64) -> QCOW2CreateOptions {
        QCOW2CreateOptions(virtualSize: virtualSize, lazyRefcounts: true, backingFile: "disk.img",
                           backingFormat: .raw, overwrite: true, sync: false)
    }
}

