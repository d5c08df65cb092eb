import Foundation
import Testing
import TestSupport
@testable import QCOW2

/// Images with an external data file (plain and `data_file_raw`), made live by qemu-img.
@Suite(.enabled(if: Fixtures.hasQemu && Oracle.has("sha256sum")))
struct DataFileTests {
    @Test(arguments: ["data_file=d.data", "data_file=r.data,data_file_raw=on"])
    func agreesWithQemuImg(options: String) throws {
        let folder = try TemporaryFolder("qcow2-datafile")
        defer { folder.remove() }
        let image = folder.file("a.qcow2")
        try #require(try Oracle.run("qemu-img", ["create", "-f", "qcow2", "-o", options, "a.qcow2", "1M"],
                                         currentDirectory: folder.path).status == 0)
        // qemu resolves the data file name against its working directory: run it in the folder.
        let io = try Oracle.run("qemu-io", ["-f", "qcow2", "-c", "write -P 1 0 70k", "-c", "write -z 200k 64k",
                                            "-c", "write -P 2 500k 3k", "a.qcow2"], currentDirectory: folder.path)
        try #require(io.status == 0)

        // Not opened unless allowed.
        #expect(throws: ImageAccessError.self) { _ = try ImageReader.open(path: image) }
        let reader = try ImageReader.open(path: image, options: ChainOptions(allowExternalDataFile: true))
        #expect(MapJSON.render(try reader.map()) == (try Oracle.run("qemu-img", ["map", "--output=json", "a.qcow2"], currentDirectory: folder.path).text))
        _ = try RawConversion.convert(reader, to: folder.file("ours.raw"))
        try #require(try Oracle.run("qemu-img", ["convert", "-O", "raw", "a.qcow2", "qemu.raw"], currentDirectory: folder.path).status == 0)
        let sums = try Oracle.run("sha256sum", [folder.file("ours.raw"), folder.file("qemu.raw")]).text
            .split(separator: "\n").map { $0.prefix(64) }
        #expect(sums.count == 2 && sums[0] == sums[1])

        let qemuCheck = try Oracle.run("qemu-img", ["check", "--output=json", "a.qcow2"], currentDirectory: folder.path)
        let ours = try QemuImages.withFile(image) { try ImageCheck.run($0) }
        #expect(ours.json(filename: "a.qcow2") + "\n" == qemuCheck.text, "\(ours.messages)")
    }
}
