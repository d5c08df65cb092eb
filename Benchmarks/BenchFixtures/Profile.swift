// Sizes of the inputs the suite builds for itself: small for CI, larger for a full run.
// Choose with VMIMAGE_BENCH_PROFILE=ci|full (default ci).
import Foundation

/// Input sizes and iteration limits of one run of the suite.
public struct Profile: Sendable {
    /// `ci` or `full`.
    public var name: String
    /// Bytes of real data (taken from /usr) that the tar and zstd benchmarks stream.
    public var streamBytes: Int
    /// Virtual size of the sparse disk that the package/extract benchmarks archive.
    public var diskSize: UInt64
    /// Bytes of real data written into that disk (in 1 MiB pieces spread over it).
    public var diskDataBytes: Int
    /// Iteration cap for the per-call benchmarks (inspect, create).
    public var callIterations: Int
    /// Iteration cap for the throughput benchmarks (tar, zstd, package, extract).
    public var throughputIterations: Int
    /// Wall-clock cap per benchmark.
    public var maxDuration: Duration

    public static let ci = Profile(
        name: "ci", streamBytes: 16 << 20, diskSize: 256 << 20, diskDataBytes: 32 << 20,
        callIterations: 2000, throughputIterations: 5, maxDuration: .seconds(3))
    public static let full = Profile(
        name: "full", streamBytes: 256 << 20, diskSize: 4 << 30, diskDataBytes: 512 << 20,
        callIterations: 20000, throughputIterations: 20, maxDuration: .seconds(20))

    /// The profile named by VMIMAGE_BENCH_PROFILE (ci when unset).
    public static var current: Profile {
        ProcessInfo.processInfo.environment["VMIMAGE_BENCH_PROFILE"] == "full" ? .full : .ci
    }
}
