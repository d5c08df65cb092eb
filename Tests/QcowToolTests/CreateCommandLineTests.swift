import QCOW2
import Testing
@testable import qcowtool

/// qemu-img's option and size syntax, and the `Formatting` line it prints.
@Suite struct CreateCommandLineTests {
    @Test func sizes() throws {
        #expect(try QCOW2CreateCommandLine.parseSize("1024") == 1024)
        #expect(try QCOW2CreateCommandLine.parseSize("512b") == 512)
        #expect(try QCOW2CreateCommandLine.parseSize("512B") == 512)
        #expect(try QCOW2CreateCommandLine.parseSize("1k") == 1024)
        #expect(try QCOW2CreateCommandLine.parseSize("64K") == 65536)
        #expect(try QCOW2CreateCommandLine.parseSize("1M") == 1 << 20)
        #expect(try QCOW2CreateCommandLine.parseSize("10G") == 10 << 30)
        #expect(try QCOW2CreateCommandLine.parseSize("2T") == 2 << 40)
        #expect(try QCOW2CreateCommandLine.parseSize("1.5G") == 1_610_612_736)
        #expect(throws: QCOW2CreateError.self) { try QCOW2CreateCommandLine.parseSize("1X") }
        #expect(throws: QCOW2CreateError.self) { try QCOW2CreateCommandLine.parseSize("") }
        #expect(throws: QCOW2CreateError.self) { try QCOW2CreateCommandLine.parseSize("-1") }
        #expect(throws: QCOW2CreateError.self) { try QCOW2CreateCommandLine.parseSize("1.5") }
        #expect(throws: QCOW2CreateError.self) { try QCOW2CreateCommandLine.parseSize("16E") }
        #expect(throws: QCOW2CreateError.self) { try QCOW2CreateCommandLine.parseSize("99999999999999999999") }
    }

    @Test func formattingLineMatchesQemuImg() throws {
        var line = QCOW2CreateCommandLine()
        try line.setSize("1G")
        #expect(line.formattingLine(file: "a.qcow2") == "Formatting 'a.qcow2', fmt=qcow2 cluster_size=65536 extended_l2=off compression_type=zlib size=1073741824 lazy_refcounts=off refcount_bits=16")

        var full = QCOW2CreateCommandLine()
        try full.apply(optionList: "compat=1.1,preallocation=off,lazy_refcounts=on,extended_l2=on")
        try full.apply(optionList: "compression_type=zstd,refcount_bits=8,cluster_size=128k")
        try full.set("backing_file", "base.raw")
        try full.set("backing_fmt", "raw")
        try full.setSize("1.5G")
        #expect(full.formattingLine(file: "x.qcow2") == "Formatting 'x.qcow2', fmt=qcow2 cluster_size=131072 extended_l2=on preallocation=off compression_type=zstd size=1610612736 compat=1.1 backing_file=base.raw backing_fmt=raw lazy_refcounts=on refcount_bits=8")
        #expect(full.options.clusterSize == 131072)
        #expect(full.options.refcountBits == 8)
        #expect(full.options.lazyRefcounts && full.options.extendedL2)
        #expect(full.options.compressionType == .zstd)
        #expect(full.options.backingFormat == .raw)

        var fromBacking = QCOW2CreateCommandLine()
        try fromBacking.apply(optionList: "backing_file=base.raw,backing_fmt=raw,compat=0.10")
        fromBacking.noteResolvedSize(1 << 20)
        #expect(fromBacking.formattingLine(file: "c.qcow2") == "Formatting 'c.qcow2', fmt=qcow2 cluster_size=65536 extended_l2=off compression_type=zlib size=1048576 compat=0.10 backing_file=base.raw backing_fmt=raw lazy_refcounts=off refcount_bits=16")
    }

    @Test func badOptionsAreRefused() {
        var line = QCOW2CreateCommandLine()
        #expect(throws: QCOW2CreateError.self) { try line.apply(optionList: "nonsense=1") }
        #expect(throws: QCOW2CreateError.self) { try line.apply(optionList: "compat=2.0") }
        #expect(throws: QCOW2CreateError.self) { try line.apply(optionList: "lazy_refcounts=maybe") }
        #expect(throws: QCOW2CreateError.self) { try line.apply(optionList: "backing_fmt=vmdk") }
        #expect(throws: QCOW2CreateError.self) { try line.apply(optionList: "preallocation=full") }
        #expect(throws: QCOW2CreateError.self) { try line.apply(optionList: "cluster_size") }
    }
}
