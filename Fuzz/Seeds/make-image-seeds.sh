#!/usr/bin/env bash
# Rebuilds Fuzz/Seeds/FuzzImage: tiny qcow2 images (64 KiB guest disks, mostly 512-byte
# clusters, a few KiB each) holding every kind of cluster the reader handles, so the fuzzer
# mutates small inputs that reach the zlib and zstd cluster paths, subclusters, zero clusters,
# snapshots and bitmaps (the fixtures in TestImages are 64 KiB-cluster images of 200 KiB+).
#   Fuzz/Seeds/make-image-seeds.sh
# Needs qemu-img and qemu-io (7.2). Snapshots carry their date, so reruns differ in a few bytes.
set -euo pipefail
out=$(cd "$(dirname "$0")" && pwd)/FuzzImage
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"
cd "$work"
io() { qemu-io -f qcow2 "$@" >/dev/null; }

# A 64 KiB guest: text, zeros, repeating bytes, 2 KiB of random bytes (seeded), zeros.
python3 - <<'PY'
import random
random.seed(12)
data = bytearray(b"swift-vmimage fuzz seed " * 400)[:8192]
data += bytes(16384)
data += bytes([0x5A]) * 8192
data += bytes(random.getrandbits(8) for _ in range(2048))
data += bytes(65536 - len(data))
open("guest.raw", "wb").write(data)
PY

for type in zlib zstd; do
    qemu-img convert -c -f raw -O qcow2 -o cluster_size=512,compression_type=$type guest.raw "$out/compressed-$type-c512.qcow2"
    qemu-img convert -c -f raw -O qcow2 -o cluster_size=4096,compression_type=$type guest.raw "$out/compressed-$type-c4k.qcow2"
done
qemu-img convert -f raw -O qcow2 -o cluster_size=512 guest.raw "$out/data-c512.qcow2"
qemu-img convert -f raw -O qcow2 -o cluster_size=512,compat=0.10 guest.raw "$out/compat010-c512.qcow2"

# Zero clusters: plain, allocated (-z over data), unmapped (-z -u).
qemu-img convert -f raw -O qcow2 -o cluster_size=512 guest.raw "$out/zero-c512.qcow2"
io -c 'write -z 0 2k' -c 'write -z -u 4k 2k' -c 'write -z 60k 4k' "$out/zero-c512.qcow2"

# Extended L2 (subclusters need clusters of 16 KiB or more): data, zeros, holes per subcluster.
qemu-img create -q -f qcow2 -o cluster_size=16k,extended_l2=on "$out/extl2-c16k.qcow2" 64k
io -c 'write -P 0x11 0 512' -c 'write -P 0x22 1536 1k' -c 'write -z 4k 512' -c 'write -P 0x33 20k 2k' \
   -c 'write -z -u 24k 512' "$out/extl2-c16k.qcow2"

# Snapshots, bitmaps, refcount widths, a backing name (never opened by the fuzzer).
qemu-img convert -f raw -O qcow2 -o cluster_size=512 guest.raw "$out/snapshot-c512.qcow2"
qemu-img snapshot -c first "$out/snapshot-c512.qcow2"
io -c 'write -P 0x44 0 4k' "$out/snapshot-c512.qcow2"
qemu-img create -q -f qcow2 -o cluster_size=512 "$out/bitmap-c512.qcow2" 64k
io -c 'write -P 0x55 0 2k' "$out/bitmap-c512.qcow2"
qemu-img bitmap --add "$out/bitmap-c512.qcow2" dirty
for bits in 1 64; do
    qemu-img convert -f raw -O qcow2 -o cluster_size=512,refcount_bits=$bits guest.raw "$out/refbits$bits-c512.qcow2"
done
qemu-img create -q -f raw base.raw 64k
qemu-img create -q -f qcow2 -o cluster_size=512 -b base.raw -F raw backing-c512.qcow2
io -c 'write -P 0x66 8k 1k' backing-c512.qcow2
mv backing-c512.qcow2 "$out/"
