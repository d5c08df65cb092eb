import Foundation
@testable import QCOW2
import SystemPackage
import Testing

/// ``QemuOpenGate``: what qemu-img check, map and convert refuse on open, decided without
/// reading anything but plain names beside the image (no oracle needed).
@Suite struct QemuOpenGateTests {
    static func refusal(_ name: String, path: String? = nil, forCheck: Bool = false) throws -> String? {
        let path = path ?? HeaderFixtures.path(name)
        let fd = try FileDescriptor.open(FilePath(path), .readOnly)
        defer { try? fd.close() }
        let size = try fd.seek(offset: 0, from: .end)
        let image = try QCOW2Image(descriptor: fd, path: path, fileSize: UInt64(size), forCheck: forCheck)
        return QemuOpenGate.refusal(image: image, path: path)
    }

    @Test("qemu's words for data-file bits without a file, encryption without a key, a missing backing file")
    func refusals() throws {
        #expect(try Self.refusal("flagged-data-file-bit-without-name.qcow2") == "'data-file' is required for this image")
        #expect(try Self.refusal("flagged-data-file-raw-without-data-file.qcow2") == "data-file-raw requires a data file")
        #expect(try Self.refusal("flagged-encryption-aes.qcow2") == "Parameter 'encrypt.key-secret' is required for cipher")
        #expect(try Self.refusal("luks.qcow2") == "Parameter 'encrypt.key-secret' is required for cipher")
        #expect(try Self.refusal("flagged-data-file-absolute.qcow2") == "Could not open '/dev/sda': No such file or directory")
        let missing = try #require(try Self.refusal("parity-missing-backing.qcow2"))
        #expect(missing == "Could not open backing file: Could not open '\(HeaderFixtures.folder)/parity-missing.img': No such file or directory")
        // A backing name with a protocol is refused without touching the network.
        #expect(try Self.refusal("flagged-backing-protocol.qcow2")?.contains("protocol") == true)
    }

    @Test("images whose chain opens pass: plain, a raw backing file beside, a qcow2 chain, no backing name")
    func accepted() throws {
        for name in ["v3.qcow2", "layer.qcow2", "chain-top.qcow2", "parity-empty-backing-name.qcow2", "snapshots.qcow2"] {
            #expect(try Self.refusal(name) == nil, "\(name)")
        }
        // Only check mode accepts an image without a refcount table (qemu's BDRV_O_CHECK).
        #expect(throws: QCOW2HeaderError.self) { try Self.refusal("hostile-no-refcount-table.qcow2") }
        #expect(try Self.refusal("hostile-no-refcount-table.qcow2", forCheck: true) == nil)
    }

    @Test("the data file name is looked up from the working directory (not beside the image), as qemu does")
    func dataFileRelativeToWorkingDirectory() throws {
        // The image lies in TestImages/qcow2 beside datafile.data; the tests run elsewhere.
        let here = FileManager.default.currentDirectoryPath
        try #require(here != HeaderFixtures.folder && !FileManager.default.fileExists(atPath: "datafile.data"))
        #expect(try Self.refusal("datafile.qcow2") == "Could not open 'datafile.data': No such file or directory")
    }

    @Test("backing paths resolve like qemu's path_combine; names are C strings")
    func paths() {
        #expect(QemuOpenGate.backingPath(imagePath: "a/b/top.qcow2", name: Array("base.raw".utf8)) == Array("a/b/base.raw".utf8))
        #expect(QemuOpenGate.backingPath(imagePath: "top.qcow2", name: Array("base.raw".utf8)) == Array("base.raw".utf8))
        #expect(QemuOpenGate.backingPath(imagePath: "a/top.qcow2", name: Array("/abs.raw".utf8)) == Array("/abs.raw".utf8))
        #expect(QemuOpenGate.cName(Array("base.img".utf8) + [0] + Array("/etc/passwd".utf8)) == Array("base.img".utf8))
    }
}
