import Foundation
@testable import QCOW2
import SystemPackage
import TestSupport

/// Helpers for the create tests: reading our own output back and checking its refcounts.
enum CreateTestSupport {
    static func be<T: FixedWidthInteger>(_ bytes: [UInt8], _ at: Int, _: T.Type = T.self) -> T {
        var v: T = 0
        for i in 0..<(T.bitWidth / 8) { v = v << 8 | T(bytes[at + i]) }
        return v
    }

    /// Recomputes every cluster's refcount from the metadata of a dense image (header,
    /// refcount table and blocks, L1 and L2 tables) and compares it with the stored refcounts,
    /// like `qemu-img check` does. Returns the problems found.
    static func refcountProblems(_ image: [UInt8]) -> [String] {
        var problems: [String] = []
        let clusterBits = Int(be(image, 20, UInt32.self))
        let cs = 1 << clusterBits
        let version: UInt32 = be(image, 4)
        let order = version >= 3 ? Int(be(image, 96, UInt32.self)) : 4
        let incompatible: UInt64 = version >= 3 ? be(image, 72) : 0
        let l2EntrySize = incompatible & (1 << 4) != 0 ? 16 : 8
        let clusters = (image.count + cs - 1) / cs
        var expected = [UInt64](repeating: 0, count: clusters + 1)
        func ref(_ offset: UInt64, _ length: Int) {
            let first = Int(offset) / cs
            let last = (Int(offset) + max(length, 1) - 1) / cs
            for c in first...last where c < expected.count { expected[c] += 1 }
        }
        ref(0, cs)
        let rtOffset: UInt64 = be(image, 48)
        let rtClusters = Int(be(image, 56, UInt32.self))
        ref(rtOffset, rtClusters * cs)
        let l1Size = Int(be(image, 36, UInt32.self))
        let l1Offset: UInt64 = be(image, 40)
        if l1Size > 0 { ref(l1Offset, l1Size * 8) }
        for i in 0..<l1Size {
            let l2 = be(image, Int(l1Offset) + 8 * i, UInt64.self) & 0x00FF_FFFF_FFFF_FE00
            guard l2 != 0 else { continue }
            ref(l2, cs)
            for j in 0..<(cs / l2EntrySize) {
                let entry = be(image, Int(l2) + j * l2EntrySize, UInt64.self) & 0x00FF_FFFF_FFFF_FE00
                if entry != 0 { ref(entry, cs) }
            }
        }
        var stored = [UInt64](repeating: 0, count: clusters + 1)
        let perBlock = (cs * 8) >> order
        for t in 0..<(rtClusters * cs / 8) {
            let block = be(image, Int(rtOffset) + 8 * t, UInt64.self)
            guard block != 0 else { continue }
            ref(block, cs)
            let raw = Array(image[Int(block)..<min(Int(block) + cs, image.count)]) + [UInt8](repeating: 0, count: max(0, Int(block) + cs - image.count))
            for k in 0..<perBlock {
                let cluster = t * perBlock + k
                guard cluster < stored.count else { break }
                stored[cluster] = CreateRefcountModel.entry(raw, k, order: UInt64(order))
            }
        }
        for c in 0..<clusters where expected[c] != stored[c] {
            problems.append("cluster \(c): stored refcount \(stored[c]), referenced \(expected[c]) times")
            if problems.count > 10 { break }
        }
        return problems
    }

    /// `qemu-img info --output=json` without the fields that name the file or its allocation.
    static func qemuInfo(_ path: String) throws -> [String: AnyHashable] {
        let out = try Oracle.run("qemu-img", ["info", "--output=json", path])
        guard out.status == 0, var json = try JSONSerialization.jsonObject(with: out.stdout) as? [String: Any] else {
            throw CocoaError(.fileReadCorruptFile, userInfo: [NSLocalizedDescriptionKey: out.stderr])
        }
        json["filename"] = nil
        json["actual-size"] = nil
        return json.compactMapValues { $0 as? AnyHashable }
    }
}
