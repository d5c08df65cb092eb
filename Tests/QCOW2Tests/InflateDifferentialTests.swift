import Testing
import TestSupport
@testable import QCOW2

/// The inflater against Python's zlib (the reference compressor) on streams built to reach
/// every part of the decoder: long codes (two-level tables), short overlapping matches, far
/// distances, stored/fixed/dynamic blocks, every window size qemu could use, and output
/// buffers that end anywhere.
@Suite struct InflateDifferentialTests {
    struct Case {
        var name: String
        var plain: [UInt8]
        var packed: [UInt8]
    }

    /// Data kinds × compressor settings, made by python3's zlib at test time.
    static let script = """
    import sys, zlib, random, struct
    r = random.Random(2024)
    def text(n):
        words = [b'qcow2 ', b'cluster ', b'the ', b'data ', b'\\n', b'refcount ', b'L2 ', b'0x%x ' % 4096, b'table ']
        return b''.join(r.choice(words) for _ in range(n // 4))[:n]
    def skewed(n):
        # Geometric literal frequencies: rare symbols get 11-15 bit codes (second-level tables).
        return bytes(min(255, int(r.expovariate(0.35))) for _ in range(n))
    def far(n):
        # Copies from geometrically spread distances: long distance codes, far matches.
        out = bytearray(r.getrandbits(8) for _ in range(2048))
        while len(out) < n:
            k = min(14, int(r.expovariate(0.3)))
            d = min(len(out), (1 << k) + r.randrange(1 << k))
            ln = r.randrange(3, 40)
            start = len(out) - d
            for i in range(ln): out.append(out[start + i])
            out.append(r.getrandbits(8))
        return bytes(out[:n])
    def periodic(n):
        out = bytearray()
        while len(out) < n:
            p = r.randrange(1, 10)
            unit = bytes(r.getrandbits(8) for _ in range(p))
            out += unit * r.randrange(2, 80)
        return bytes(out[:n])
    def binary(n):
        blob = open(sys.executable, 'rb').read()
        s = r.randrange(0, max(1, len(blob) - n))
        return blob[s:s + n]
    def noise(n):
        return bytes(r.getrandbits(8) for _ in range(n))
    kinds = [('text', text), ('skewed', skewed), ('far', far), ('periodic', periodic), ('binary', binary), ('noise', noise)]
    configs = [(6, -12, 8, zlib.Z_DEFAULT_STRATEGY), (9, -15, 9, zlib.Z_DEFAULT_STRATEGY), (1, -15, 8, zlib.Z_DEFAULT_STRATEGY),
               (0, -15, 8, zlib.Z_DEFAULT_STRATEGY), (6, -9, 1, zlib.Z_DEFAULT_STRATEGY), (6, -15, 9, zlib.Z_FILTERED),
               (6, -15, 9, zlib.Z_HUFFMAN_ONLY), (6, -15, 9, zlib.Z_RLE), (6, -15, 9, zlib.Z_FIXED), (4, -10, 5, zlib.Z_DEFAULT_STRATEGY)]
    out = sys.stdout.buffer
    for kname, make in kinds:
        for level, wbits, mem, strategy in configs:
            n = 200000 if (level, wbits) == (9, -15) else 65536
            plain = make(n)
            c = zlib.compressobj(level, zlib.DEFLATED, wbits, mem, strategy)
            packed = c.compress(plain) + c.flush()
            name = ('%s-l%d-w%d-m%d-s%d' % (kname, level, -wbits, mem, strategy)).encode()
            out.write(bytes([len(name)]) + name + struct.pack('<I', len(plain)) + plain + struct.pack('<I', len(packed)) + packed)
    """

    static func cases() throws -> [Case] {
        let (bytes, status) = try Fixtures.run("python3", ["-c", script])
        #expect(status == 0)
        var cases: [Case] = []
        var at = 0
        func take(_ count: Int) -> [UInt8] {
            defer { at += count }
            return Array(bytes[at..<(at + count)])
        }
        func length() -> Int { take(4).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) } }
        while at < bytes.count {
            let name = String(decoding: take(Int(take(1)[0])), as: UTF8.self)
            let plain = take(length())
            let packed = take(length())
            cases.append(Case(name: name, plain: plain, packed: packed))
        }
        return cases
    }

    private func inflate(_ input: [UInt8], capacity: Int, with inflater: Inflater = Inflater()) throws -> (bytes: [UInt8], result: InflateResult) {
        var output = [UInt8](repeating: 0x5A, count: capacity)
        let result = try input.withUnsafeBytes { source in
            try output.withUnsafeMutableBytes { try inflater.inflate(source, into: $0) }
        }
        return (Array(output[..<result.bytesWritten]), result)
    }

    @Test(.enabled(if: Fixtures.hasPython))
    func agreesWithZlibOnEveryKindAndSetting() throws {
        let cases = try Self.cases()
        #expect(cases.count == 60)
        let inflater = Inflater()
        for item in cases {
            let (bytes, result) = try inflate(item.packed, capacity: item.plain.count + 64, with: inflater)
            #expect(bytes == item.plain, "\(item.name)")
            #expect(result.finished && result.bytesRead == item.packed.count, "\(item.name)")
        }
    }

    @Test(.enabled(if: Fixtures.hasPython))
    func stopsAtEveryOutputBoundary() throws {
        let cases = try Self.cases().filter { $0.name.hasPrefix("far-l6-w12") || $0.name.hasPrefix("periodic-l6-w12") || $0.name.hasPrefix("skewed-l6-w12") }
        #expect(cases.count == 3)
        let inflater = Inflater()
        for item in cases {
            let n = item.plain.count
            // Both ends of the output, where the fast path gives way to the careful one.
            for capacity in Array(stride(from: 1, through: 400, by: 7)) + Array(stride(from: n - 300, to: n - 60, by: 5)) + Array((n - 60)...n) {
                let (bytes, result) = try inflate(item.packed, capacity: capacity, with: inflater)
                #expect(bytes.count == capacity && bytes[...] == item.plain[..<capacity], "\(item.name) capacity \(capacity)")
                #expect(result.bytesRead <= item.packed.count)
                if capacity < n { #expect(!result.finished, "\(item.name) capacity \(capacity)") }
            }
        }
    }

    @Test(.enabled(if: Fixtures.hasPython))
    func everyTruncationIsATypedError() throws {
        let item = try #require(try Self.cases().first { $0.name.hasPrefix("skewed-l6-w12") })
        let inflater = Inflater()
        for cut in Array(stride(from: 0, to: item.packed.count, by: max(1, item.packed.count / 150))) + [item.packed.count - 1] {
            #expect(throws: InflateError.self, "cut at \(cut)") {
                _ = try inflate(Array(item.packed[..<cut]), capacity: item.plain.count + 1, with: inflater)
            }
        }
    }

    @Test(.enabled(if: Fixtures.hasPython))
    func mutatedLongStreamsNeverCrashOrHang() throws {
        let seeds = try Self.cases().filter { $0.name.contains("-l6-w12") || $0.name.contains("-s1") }.map { Array($0.packed.prefix(6000)) }
        #expect(seeds.count >= 6)
        var rng = SplitMix64(seed: 31)
        let inflater = Inflater()
        var output = [UInt8](repeating: 0, count: 32768)
        var failures = 0
        for round in 0..<1500 {
            var input = seeds[round % seeds.count]
            for _ in 0..<Int.random(in: 1...6, using: &rng) {
                let i = Int.random(in: 0..<input.count, using: &rng)
                if round % 3 == 0 { input[i] = UInt8.random(in: 0...255, using: &rng) } else { input[i] ^= UInt8(1 << Int.random(in: 0..<8, using: &rng)) }
            }
            do {
                let result = try input.withUnsafeBytes { source in
                    try output.withUnsafeMutableBytes { try inflater.inflate(source, into: $0) }
                }
                #expect(result.bytesWritten <= output.count && result.bytesRead <= input.count)
            } catch {
                failures += 1
            }
        }
        #expect(failures > 300)
    }
}
