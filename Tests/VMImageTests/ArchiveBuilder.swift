import ByteStreams
import Foundation
import QCOW2
import SystemPackage
import Tar
import TestSupport
import Zstd
@testable import VMImage

/// Builds image archives, good and hostile, for the extraction tests.
struct ArchiveBuilder {
    enum Member {
        case file(String, [UInt8])
        case sparseFile(String, FilePath)
        case directory(String)
        case symlink(String, target: String)
    }

    static let machineJSON = Array(#"{"version": 1, "memory": 512, "mac": "aa:bb:cc:dd:ee:01"}"#.utf8)

    /// A layer.qcow2 over disk.img (raw) of `size` bytes, made by our own writer.
    static func layer(size: UInt64, backing: String = "disk.img", format: QCOW2CreateOptions.BackingFormat? = .raw,
                      in folder: TemporaryFolder) throws -> [UInt8] {
        let path = folder.file("layer-\(UUID().uuidString).qcow2")
        _ = try QCOW2Creator.create(
            at: FilePath(path),
            options: QCOW2CreateOptions(virtualSize: size, lazyRefcounts: true, backingFile: backing,
                                        backingFormat: format, allowUnsafeBackingName: true, sync: false))
        defer { try? FileManager.default.removeItem(atPath: path) }
        return Array(try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    /// The zstd-compressed tar of `members`.
    static func archive(_ members: [Member], compress: Bool = true) throws -> [UInt8] {
        let writer = TarWriter(writingTo: BufferSink())
        for member in members {
            switch member {
            case let .file(name, bytes):
                try writer.appendFile(named: name, contents: bytes)
            case let .sparseFile(name, path):
                let fd = try FileDescriptor.open(path, .readOnly)
                defer { try? fd.close() }
                try writer.appendFile(named: name, contentsOf: fd, attributes: .init(mode: 0o644))
            case let .directory(name):
                try writer.appendDirectory(named: name)
            case let .symlink(name, target):
                try writer.appendSymbolicLink(named: name, target: target)
            }
        }
        let tar = try writer.finish().bytes
        return compress ? try Zstd.compress(tar) : tar
    }

    /// A valid image's members: a 16 MiB disk with a little data, its layer, a machine.
    static func validMembers(in folder: TemporaryFolder, diskSize: UInt64 = 16 << 20) throws -> [Member] {
        var disk = [UInt8](repeating: 0, count: Int(diskSize))
        for i in 0..<4096 { disk[1 << 20 + i] = UInt8(truncatingIfNeeded: i * 7 + 1) }
        return [.file("disk.img", disk), .file("layer.qcow2", try layer(size: diskSize, in: folder)),
                .file("machine.json", machineJSON)]
    }
}

/// The rule of a `malformedPayload` error (or `machine-schema` for `invalidMachine`), else nil.
func payloadRule(_ error: VMImageError) -> String? {
    switch error {
    case let .malformedPayload(_, rule, _): rule.rawValue
    case .invalidMachine: PayloadRule.machineSchema.rawValue
    default: nil
    }
}
