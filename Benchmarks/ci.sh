#!/usr/bin/env bash
# Short benchmark run for CI: release build, the package-benchmark suite on small inputs,
# `zstd -b3` on the suite's data as the ceiling, then qcowtool against qemu-img/tar/zstd
# (compare.py, CI profile) with the ratio floors of floors.json checked. With
# VMIMAGE_STREAM_BENCHMARK=1 it also runs StreamBenchmark (extraction while downloading vs
# download-then-extract, over HTTP on loopback; streaming may be at most 25% slower, a margin
# for noise). CI leaves it out: its release build of async-http-client, swift-nio and BoringSSL
# alone took 6.3 of CI's 29 minutes, and the behaviour it guards (the disk is written while
# the bytes still arrive) is a test in the suite (ImageManagerStreamingTests).
#
#   Benchmarks/ci.sh [OUTDIR]      (default OUTDIR: Benchmarks/.build/ci-results)
#   VMIMAGE_STREAM_BENCHMARK=1 Benchmarks/ci.sh [OUTDIR]
#
# Exits non-zero when the build or a benchmark fails, or when a ratio is below its floor.
# Everything runs under `nice`: the machines are shared.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="${1:-$here/.build/ci-results}"
mkdir -p "$out"
cd "$here"
start=$(date +%s)
step() { echo "== $(date -u +%H:%M:%S) (+$(( $(date +%s) - start )) s, load $(cut -d' ' -f1-3 /proc/loadavg)) $*" >&2; }

# The benchmark plugin builds the suite in release itself (with its own flags: building it
# with `swift build` first would only make the plugin build it a second time).
step "release build + package-benchmark suite, CI profile"
VMIMAGE_BENCH_PROFILE=ci nice swift package benchmark --target ImageBenchmarks --no-progress --format markdown \
    | tee "$out/suite.md"

step "release build of qcowtool (reuses the suite's modules in this package's .build)"
nice swift build -c release --product qcowtool
qcowtool="$(swift build -c release --show-bin-path)/qcowtool"

if command -v zstd >/dev/null; then
    step "ceiling: zstd -b3 (one thread) on the suite's 16 MiB of /usr"
    sample="$out/usr-sample.bin"
    python3 "$here/usr-sample.py" $((16 << 20)) "$sample"
    nice zstd -b3 -i2 "$sample" 2>&1 | tr '\r' '\n' | grep 'MB/s' | tail -1 | tee "$out/zstd-ceiling.txt"
    rm -f "$sample"
fi

step "qcowtool vs qemu-img / tar / zstd, CI profile, floors checked"
nice python3 "$here/compare.py" --profile ci --qcowtool "$qcowtool" --json "$out/compare.json" --check-floors \
    | tee "$out/compare.md"

if [ "${VMIMAGE_STREAM_BENCHMARK:-0}" = 1 ]; then
    step "bytes start arriving -> instance ready: streaming vs download-then-extract over HTTP (loopback, and paced to 100 MB/s)"
    nice swift build -c release --product StreamBenchmark
    nice "$(swift build -c release --show-bin-path)/StreamBenchmark" --runs 5 --rates 0,100 --min-ratio 0.75 --json "$out/stream.json" \
        | tee "$out/stream.md"
fi

step "done"
