import Foundation
import Testing
@testable import QCOW2

/// Throughput of the inflater and of raw conversion. Runs only with QCOW2_BENCH=1
/// (meant for `swift test -c release --filter Benchmark`); prints MB/s.
@Suite struct InflateBenchmark {
    static let enabled = ProcessInfo.processInfo.environment["QCOW2_BENCH"] == "1"

    @Test(.enabled(if: enabled && Fixtures.hasPython))
    func inflateThroughput() throws {
        // 64 KiB clusters of mixed text and structure, compressed like qemu (raw deflate).
        let script = "import sys,zlib,random\nr=random.Random(5)\nw=[b'qcow2 ',b'cluster ',b'data ',b'\\n',b'0123456789 ']\nd=b''.join(r.choice(w) for _ in range(12000))[:65536]\nc=zlib.compressobj(6,zlib.DEFLATED,-12)\nsys.stdout.buffer.write(c.compress(d)+c.flush())"
        let (packed, status) = try Fixtures.run("python3", ["-c", script])
        #expect(status == 0)
        let inflater = Inflater()
        var output = [UInt8](repeating: 0, count: 65536)
        let rounds = 4000
        let start = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<rounds {
            let result = try packed.withUnsafeBytes { source in
                try output.withUnsafeMutableBytes { try inflater.inflate(source, into: $0) }
            }
            #expect(result.bytesWritten == 65536)
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let rate = Double(rounds * 65536) / seconds / 1e6
        print("inflate: \(Int(rate)) MB/s output (64 KiB clusters, ratio \(packed.count * 100 / 65536)%)")
        #expect(rate > 150)
    }
}
