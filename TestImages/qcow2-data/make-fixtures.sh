#!/bin/sh
# Rebuilds the qcow2 fixtures and qemu-img's verdicts on them (qemu-utils 7.2).
# Run from this folder: sh make-fixtures.sh
# Every image is made dense afterwards (cp --sparse=never) because git checks files
# out dense, and qemu-img map reports holes in the image file as zeros.
# For each IMAGE the oracle files are: IMAGE.check.json (qemu-img check --output=json,
# exit code in IMAGE.check.rc), IMAGE.map.json (qemu-img map --output=json) and
# IMAGE.raw.sha256 (SHA-256 of qemu-img convert -O raw).
set -eu
cd "$(dirname "$0")"
rm -rf images
mkdir -p images
cd images
io() { f=$1; shift; for c in "$@"; do qemu-io -f qcow2 -c "$c" "$f" >/dev/null; done; }

# compat 0.10 (version 2), 64 KiB clusters.
qemu-img create -q -f qcow2 -o compat=0.10 compat010.qcow2 1M
io compat010.qcow2 'write -P 0xa1 0 100k' 'write -z 256k 64k' 'write -P 0xa2 900k 4k'

# 512-byte clusters.
qemu-img create -q -f qcow2 -o cluster_size=512 c512.qcow2 256K
io c512.qcow2 'write -P 0x01 1000 3000' 'write -z 8k 2k' 'write -P 0x02 100k 33k' 'write -z -u 110k 4k'

# 64 KiB clusters with zero clusters: allocated-then-zeroed, unmapped, never allocated.
qemu-img create -q -f qcow2 zero.qcow2 1M
io zero.qcow2 'write -P 0x5a 0 256k' 'write -z 64k 64k' 'write -z -u 192k 64k' 'write -z 512k 64k' 'write -P 0x5b 700k 1k'

# 2 MiB clusters (dense it is 14 MiB).
qemu-img create -q -f qcow2 -o cluster_size=2M c2m.qcow2 6M
io c2m.qcow2 'write -P 0x77 1M 8k' 'write -P 0x78 4M 2M'

# refcount_bits 1 and 64.
qemu-img create -q -f qcow2 -o refcount_bits=1 refbits1.qcow2 1M
io refbits1.qcow2 'write -P 0x31 0 70k' 'write -P 0x32 500k 1k'
qemu-img create -q -f qcow2 -o refcount_bits=64 refbits64.qcow2 1M
io refbits64.qcow2 'write -P 0x61 0 70k'
qemu-img snapshot -c first refbits64.qcow2
io refbits64.qcow2 'write -P 0x62 4k 4k' 'write -P 0x63 600k 64k'

# Extended L2 entries (64 KiB clusters, 2 KiB subclusters), subcluster-sized writes.
qemu-img create -q -f qcow2 -o extended_l2=on extl2.qcow2 1M
io extl2.qcow2 'write -P 0x01 0 2k' 'write -P 0x02 6k 3k' 'write -z 70k 4k' 'write -P 0x03 200k 64k' \
   'write -z -u 202k 2k' 'write -P 0x04 1000k 1k'

# Compressed clusters, zlib and zstd, from a raw file of text, noise, zeros and patterns.
python3 - <<'PY'
import random
r = random.Random(7)
words = [b"qcow2 ", b"cluster ", b"zlib ", b"zstd ", b"snapshot ", b"\n"]
out = bytearray()
for block in range(16):
    kind = block % 4
    if kind == 0:
        while len(out) < (block + 1) * 65536: out += r.choice(words)
        del out[(block + 1) * 65536:]
    elif kind == 1:
        out += bytes(r.getrandbits(8) for _ in range(65536))
    elif kind == 2:
        out += bytes(65536)
    else:
        out += bytes((i * 7) & 0xff for i in range(65536))
open("compress-src.raw", "wb").write(out)
PY
qemu-img convert -c -f raw -O qcow2 -o compression_type=zlib compress-src.raw zlib.qcow2
qemu-img convert -c -f raw -O qcow2 -o compression_type=zstd compress-src.raw zstd.qcow2
io zlib.qcow2 'write -P 0x99 70k 2k'
rm compress-src.raw

# Internal snapshots.
qemu-img create -q -f qcow2 snapshots.qcow2 1M
io snapshots.qcow2 'write -P 0x10 0 128k'
qemu-img snapshot -c one snapshots.qcow2
io snapshots.qcow2 'write -P 0x11 64k 64k' 'write -P 0x12 512k 4k'
qemu-img snapshot -c two snapshots.qcow2
io snapshots.qcow2 'write -P 0x13 0 4k' 'write -z -u 512k 64k'

# A persistent dirty bitmap (bitmap directory and table).
qemu-img create -q -f qcow2 bitmap.qcow2 1M
io bitmap.qcow2 'write -P 0x44 0 64k'
qemu-img bitmap --add bitmap.qcow2 dirty0
qemu-img bitmap --add -g 65536 bitmap.qcow2 dirty1

# A 3-deep backing chain over a raw base: base.raw <- mid1 <- mid2 <- top.
python3 -c "import random; r=random.Random(3); open('chain-base.raw','wb').write(bytes(r.getrandbits(8) for _ in range(600*1024)))"
qemu-img create -q -f qcow2 -b chain-base.raw -F raw chain-mid1.qcow2 1M
io chain-mid1.qcow2 'write -P 0xc1 64k 64k' 'write -z 192k 64k' 'write -P 0xc2 700k 8k'
qemu-img create -q -f qcow2 -b chain-mid1.qcow2 -F qcow2 chain-mid2.qcow2 1M
io chain-mid2.qcow2 'write -P 0xc3 100k 10k' 'write -c -P 0xc4 320k 64k'
qemu-img create -q -f qcow2 -b chain-mid2.qcow2 -F qcow2 chain-top.qcow2 1M
io chain-top.qcow2 'write -P 0xc5 0 4k' 'write -z 128k 64k' 'write -P 0xc6 900k 64k'

# Damage: a leaked cluster, and a data cluster whose stored refcount is 0.
qemu-img create -q -f qcow2 leak.qcow2 1M
io leak.qcow2 'write -P 0x70 0 64k' 'write -P 0x71 128k 64k'
python3 ../patch-qcow2.py leak leak.qcow2 0x20000
qemu-img create -q -f qcow2 badref.qcow2 1M
io badref.qcow2 'write -P 0x80 0 64k' 'write -P 0x81 128k 64k'
python3 ../patch-qcow2.py refcount badref.qcow2 0x50000 0

for f in *.qcow2 *.raw; do cp --sparse=never "$f" "$f.tmp" && mv "$f.tmp" "$f"; done
for f in *.qcow2; do
  set +e
  qemu-img check --output=json "$f" > "$f.check.json" 2>/dev/null
  echo $? > "$f.check.rc"
  set -e
  qemu-img map --output=json "$f" > "$f.map.json"
  qemu-img convert -O raw "$f" "$f.out.raw"
  sha256sum < "$f.out.raw" | cut -d' ' -f1 > "$f.raw.sha256"
  rm "$f.out.raw"
done
# Committed zstd-compressed (they are mostly zeros); the tests decompress them.
zstd -q -19 --rm *.qcow2 *.raw
