import Testing
@testable import QCOW2

/// The bytes we lay out, checked field by field without any oracle.
@Suite struct CreateLayoutTests {
    typealias S = CreateTestSupport

    @Test func defaultImageHeaderAndTables() throws {
        let image = try QCOW2Creator.imageBytes(options: QCOW2CreateOptions(virtualSize: 1 << 30))
        #expect(image.count == 3 * 65536 + 16)  // header, reftable, refblock, 2-entry L1
        #expect(Array(image[0..<4]) == [0x51, 0x46, 0x49, 0xFB])
        #expect(S.be(image, 4, UInt32.self) == 3)
        #expect(S.be(image, 20, UInt32.self) == 16)
        #expect(S.be(image, 24, UInt64.self) == 1 << 30)
        #expect(S.be(image, 36, UInt32.self) == 2)
        #expect(S.be(image, 40, UInt64.self) == 0x30000)
        #expect(S.be(image, 48, UInt64.self) == 0x10000)
        #expect(S.be(image, 56, UInt32.self) == 1)
        #expect(S.be(image, 96, UInt32.self) == 4)
        #expect(S.be(image, 100, UInt32.self) == 112)
        #expect(S.be(image, 112, UInt32.self) == 0x6803_F857)  // feature table first
        #expect(S.be(image, 116, UInt32.self) == 8 * 48)
        #expect(Array(image[122..<131]) == Array("dirty bit".utf8))
        #expect(S.be(image, 112 + 8 + 384, UInt64.self) == 0)  // end marker
        #expect(S.be(image, 0x10000, UInt64.self) == 0x20000)
        #expect(Array(image[0x20000..<0x20008]) == [0, 1, 0, 1, 0, 1, 0, 1])  // 4 clusters in use
        #expect(image[0x30000...].allSatisfy { $0 == 0 })  // the L1 is empty
        #expect(S.refcountProblems(image).isEmpty)
    }

    @Test func backingFormatExtensionComesFirstAndNameFollowsEndMarker() throws {
        let options = QCOW2CreateOptions(virtualSize: 1 << 20, backingFile: "base.raw", backingFormat: .raw)
        let image = try QCOW2Creator.imageBytes(options: options)
        #expect(S.be(image, 112, UInt32.self) == 0xE279_2ACA)
        #expect(S.be(image, 116, UInt32.self) == 3)
        #expect(Array(image[120..<128]) == [0x72, 0x61, 0x77, 0, 0, 0, 0, 0])
        #expect(S.be(image, 128, UInt32.self) == 0x6803_F857)
        let nameOffset = Int(S.be(image, 8, UInt64.self))
        #expect(nameOffset == 128 + 8 + 384 + 8)
        #expect(S.be(image, 16, UInt32.self) == 8)
        #expect(Array(image[nameOffset..<nameOffset + 8]) == Array("base.raw".utf8))
    }

    @Test func version2HasNoFeatureBitsOrTable() throws {
        let options = QCOW2CreateOptions(virtualSize: 1 << 20, compat: .v0_10, backingFile: "b.img", backingFormat: .qcow2)
        let image = try QCOW2Creator.imageBytes(options: options)
        #expect(S.be(image, 4, UInt32.self) == 2)
        #expect(S.be(image, 72, UInt32.self) == 0xE279_2ACA)
        #expect(Array(image[80..<85]) == Array("qcow2".utf8))
        #expect(S.be(image, 88, UInt64.self) == 0)
        #expect(S.be(image, 8, UInt64.self) == 96)
        #expect(!image[0..<4096].contains(0x68) || S.be(image, 96 + 5, UInt32.self) != 0x6803_F857)
    }

    @Test func featureBitsAndCompressionType() throws {
        var options = QCOW2CreateOptions(virtualSize: 1 << 20, lazyRefcounts: true, extendedL2: true, compressionType: .zstd)
        options.clusterSize = 1 << 16
        let image = try QCOW2Creator.imageBytes(options: options)
        #expect(S.be(image, 72, UInt64.self) == 0b11000)  // compression type + extended L2
        #expect(S.be(image, 80, UInt64.self) == 1)  // lazy refcounts
        #expect(image[104] == 1)
        #expect(S.be(image, 36, UInt32.self) == 1)
    }

    @Test func smallClustersLeaveOutTheFeatureTable() throws {
        for cs: UInt64 in [512, 4096] {
            let image = try QCOW2Creator.imageBytes(options: QCOW2CreateOptions(virtualSize: 1 << 20, clusterSize: cs))
            #expect(S.be(image, 112, UInt64.self) == 0, "cluster size \(cs)")
        }
        let image = try QCOW2Creator.imageBytes(options: QCOW2CreateOptions(virtualSize: 1 << 20, clusterSize: 8192))
        #expect(S.be(image, 112, UInt32.self) == 0x6803_F857)
    }

    @Test(arguments: [1, 2, 4, 8, 16, 32, 64] as [UInt64])
    func refcountWidthsPackLikeQemu(bits: UInt64) throws {
        let image = try QCOW2Creator.imageBytes(options: QCOW2CreateOptions(virtualSize: 1 << 20, refcountBits: bits))
        let block = Array(image[0x20000..<0x20000 + 64])
        switch bits {
        case 1: #expect(block[0] == 0x0F)  // four clusters, least significant bit first
        case 2: #expect(block[0] == 0x55)
        case 4: #expect(Array(block[0..<2]) == [0x11, 0x11])
        default:
            let width = Int(bits / 8)
            for c in 0..<4 { #expect(S.be(block, c * width + width - 1, UInt8.self) == 1) }
        }
        #expect(S.refcountProblems(image).isEmpty)
    }

    @Test func tinyClustersSpreadRefcountBlocksAndGrowTheTable() throws {
        // 512-byte clusters with 64-bit refcounts: the first table covers 2 MiB of file, the
        // 2.5 MiB L1 of a 10 GiB image does not fit, so qemu grows the table; we must too.
        let options = QCOW2CreateOptions(virtualSize: 10 << 30, clusterSize: 512, refcountBits: 64)
        let image = try QCOW2Creator.imageBytes(options: options)
        #expect(S.be(image, 48, UInt64.self) != 512)  // the table moved
        #expect(S.be(image, 56, UInt32.self) > 1)
        #expect(S.refcountProblems(image).isEmpty)
    }

    @Test func metadataPreallocationRefcountsEveryCluster() throws {
        for (size, cs) in [(1 << 20, 65536), (1_049_088, 65536), (1 << 20, 512), (8 << 20, 512)] as [(UInt64, UInt64)] {
            let options = QCOW2CreateOptions(virtualSize: size, clusterSize: cs, preallocation: .metadata)
            let image = try QCOW2Creator.imageBytes(options: options)
            #expect(S.refcountProblems(image).isEmpty, "size \(size) cluster \(cs)")
            let l1 = Int(S.be(image, 40, UInt64.self))
            #expect(S.be(image, l1, UInt64.self) >> 63 == 1, "L1[0] has the COPIED flag")
        }
    }

    @Test func overlayCostDoesNotGrowWithVirtualSizeApartFromTheL1() throws {
        let small = try QCOW2Creator.imageBytes(options: QCOW2CreateOptions(virtualSize: 1 << 30, backingFile: "d.img", backingFormat: .raw))
        let plan = try CreateImagePlan(QCOW2Creator.validate(QCOW2CreateOptions(virtualSize: 16 << 40, backingFile: "d.img", backingFormat: .raw)).with(size: 16 << 40)) { _ throws(QCOW2CreateError) in }
        #expect(plan.fileLength == 3 * 65536 + 32768 * 8)
        let written = plan.regions.reduce(0) { $0 + $1.bytes.count }
        #expect(written < 1200)  // header, one reftable entry, four refcounts: the L1 stays a hole
        #expect(small.count == 3 * 65536 + 16)
    }

    @Test func refusalsAreTyped() {
        func refusal(_ options: QCOW2CreateOptions) -> QCOW2CreateError? {
            do { _ = try QCOW2Creator.imageBytes(options: options); return nil } catch { return error }
        }
        #expect(refusal(QCOW2CreateOptions(virtualSize: 1, clusterSize: 1000)) == .invalidClusterSize(1000))
        #expect(refusal(QCOW2CreateOptions(virtualSize: 1, clusterSize: 4 << 20)) == .invalidClusterSize(4 << 20))
        #expect(refusal(QCOW2CreateOptions(virtualSize: 1, refcountBits: 3)) == .invalidRefcountBits(3))
        #expect(refusal(QCOW2CreateOptions(virtualSize: 1, refcountBits: 128)) == .invalidRefcountBits(128))
        #expect(refusal(QCOW2CreateOptions(virtualSize: 1, compat: .v0_10, lazyRefcounts: true)) == .requiresCompat11(option: "lazy_refcounts=on"))
        #expect(refusal(QCOW2CreateOptions(virtualSize: 1, compat: .v0_10, refcountBits: 8)) == .requiresCompat11(option: "refcount_bits=8"))
        #expect(refusal(QCOW2CreateOptions(virtualSize: 1, compat: .v0_10, compressionType: .zstd)) == .requiresCompat11(option: "compression_type=zstd"))
        #expect(refusal(QCOW2CreateOptions(virtualSize: 1, clusterSize: 8192, extendedL2: true)) == .extendedL2NeedsLargerClusters(clusterSize: 8192))
        #expect(refusal(QCOW2CreateOptions(virtualSize: (128 << 30) + 512, clusterSize: 512)) == .imageTooLarge(virtualSize: (128 << 30) + 512, clusterSize: 512))
        #expect(refusal(QCOW2CreateOptions(virtualSize: 1, backingFile: "base.img")) == .missingBackingFormat)
        #expect(refusal(QCOW2CreateOptions(virtualSize: 1, backingFormat: .raw)) == .backingFormatWithoutBackingFile)
        #expect(refusal(QCOW2CreateOptions(virtualSize: 1, backingFile: "/etc/shadow", backingFormat: .raw)) == .unsafeBackingName(name: "/etc/shadow", problem: .absolutePath))
        #expect(refusal(QCOW2CreateOptions(virtualSize: 1, backingFile: "../x", backingFormat: .raw)) == .unsafeBackingName(name: "../x", problem: .parentReference))
        #expect(refusal(QCOW2CreateOptions(virtualSize: 1, backingFile: "nbd:localhost:10809", backingFormat: .raw)) == .unsafeBackingName(name: "nbd:localhost:10809", problem: .protocolName(prefix: "nbd")))
        #expect(refusal(QCOW2CreateOptions(virtualSize: 1, backingFile: "b", backingFormat: .raw, preallocation: .metadata)) == .preallocationWithBackingNeedsExtendedL2)
        #expect(refusal(QCOW2CreateOptions(virtualSize: nil)) == .missingSize)
        #expect(refusal(QCOW2CreateOptions(virtualSize: 64 << 30, clusterSize: 512, preallocation: .metadata)) == .preallocationTooLarge(virtualSize: 64 << 30, limit: 40 << 20))
        let long = String(repeating: "a", count: 600)
        #expect(refusal(QCOW2CreateOptions(virtualSize: 1, clusterSize: 512, backingFile: long, backingFormat: .raw)) == .backingNameTooLong(length: 600, room: 512 - 112 - 16 - 8))
        var allowed = QCOW2CreateOptions(virtualSize: 1 << 20, backingFile: "../shared/base.img", backingFormat: .raw)
        allowed.allowUnsafeBackingName = true
        #expect(refusal(allowed) == nil)
    }

    @Test func largestL1IsAccepted() throws {
        let settings = try QCOW2Creator.validate(QCOW2CreateOptions(virtualSize: 128 << 30, clusterSize: 512)).with(size: 128 << 30)
        #expect(settings.l1Entries == CreateResolvedSettings.maxL1Entries)
    }
}

extension CreateResolvedSettings {
    func with(size: UInt64) -> CreateResolvedSettings {
        var copy = self
        copy.virtualSize = size
        return copy
    }
}
