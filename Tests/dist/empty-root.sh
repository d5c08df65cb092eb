#!/usr/bin/env bash
# Proves that a qcowtool binary is one self-contained file: it runs the main jobs inside an
# empty root that holds only the binary, /dev/null, /dev/urandom, a private /proc and a scratch
# folder (no /usr, no /lib, no loader, no libzstd), then checks every output from outside with
# qemu-img.
#
#   Tests/dist/empty-root.sh PATH/TO/qcowtool
#
# /proc is there because the Swift runtime of a static executable finds its own path through
# /proc/self/exe at start-up, as every container provides it. Needs root (chroot, mknod, a
# mount namespace from `unshare`); without those it says why and exits 0 as skipped.
# Prints "empty-root: N passed, M failed" last and exits non-zero on any failure.
set -uo pipefail
tool=${1:?path to qcowtool}
here=$(cd "$(dirname "$0")/../.." && pwd)

if [ "$(id -u)" -ne 0 ] || ! command -v unshare >/dev/null || ! command -v chroot >/dev/null; then
    echo "empty-root: skipped: needs root, unshare and chroot"; exit 0
fi
if ! command -v qemu-img >/dev/null; then echo "empty-root: skipped: qemu-img (the oracle) is not installed"; exit 0; fi

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/dev" "$root/proc" "$root/scratch/tmp" "$root/scratch/img"
mknod -m 666 "$root/dev/null" c 1 3
mknod -m 444 "$root/dev/urandom" c 1 9
cp "$tool" "$root/qcowtool"
chmod 755 "$root/qcowtool"

# Inputs made from outside: a 64 MiB sparse disk with data at three places, the sample's machine.json.
python3 - "$root/scratch/img/disk.img" <<'PY'
import os, sys
with open(sys.argv[1], "wb") as f:
    f.truncate(64 << 20)
    for offset, fill in ((0, b"boot"), (5 << 20, b"\xab"), ((64 << 20) - 8192, b"end!")):
        f.seek(offset); f.write((fill * 8192)[:8192])
PY
cp "$here/TestImages/sample/machine.json" "$root/scratch/img/machine.json"

passed=0 failed=0
ok() { passed=$((passed + 1)); echo "ok: $*"; }
bad() { failed=$((failed + 1)); echo "FAILED: $*"; }
# Runs qcowtool inside the empty root, in a private mount namespace with its own /proc.
inside() {
    unshare --mount --fork sh -c 'mount -t proc proc "$0/proc" && exec chroot "$0" /qcowtool "$@"' "$root" "$@" </dev/null
}
job() {
    local name=$1; shift
    if out=$(TMPDIR=/scratch/tmp inside "$@" 2>&1); then ok "$name"; else bad "$name (exit $?): $out"; fi
}

if [ -e "$root/lib" ] || [ -e "$root/usr" ] || [ -e "$root/lib64" ]; then bad "the root is not empty"; fi
job "package" package -q /scratch/img /scratch/image.tar.zst
job "verify" verify -q /scratch/image.tar.zst
job "extract" extract -q /scratch/image.tar.zst /scratch/out
if json=$(TMPDIR=/scratch/tmp inside inspect --json /scratch/out/layer.qcow2 2>&1); then ok "inspect --json"; else bad "inspect --json: $json"; fi
job "create" create -f qcow2 -b disk.img -F raw /scratch/out/instance.qcow2
job "check" check /scratch/out/instance.qcow2
job "convert" convert -O raw /scratch/out/instance.qcow2 /scratch/converted.raw
job "mac" mac

# Outside, with qemu-img: every output is what qemu-img says it should be.
s=$root/scratch
qemu-img check -q "$s/out/layer.qcow2" && ok "qemu-img check layer.qcow2" || bad "qemu-img check layer.qcow2"
qemu-img check -q "$s/out/instance.qcow2" && ok "qemu-img check instance.qcow2" || bad "qemu-img check instance.qcow2"
cmp -s "$s/img/disk.img" "$s/out/disk.img" && ok "extracted disk.img equals the packaged one" || bad "extracted disk.img differs"
cmp -s "$s/img/disk.img" "$s/converted.raw" && ok "convert output equals the disk" || bad "convert output differs"
qemu-img convert -O raw "$s/out/instance.qcow2" "$s/qemu.raw" && cmp -s "$s/qemu.raw" "$s/converted.raw" \
    && ok "convert output equals qemu-img convert's" || bad "convert output differs from qemu-img convert's"
blocks=$(stat -c %b "$s/converted.raw"); [ "$blocks" -lt 2048 ] && ok "convert output is sparse ($blocks blocks)" || bad "convert output is not sparse ($blocks blocks)"
want=$(qemu-img info --output=json "$s/out/layer.qcow2" | python3 -c 'import json,sys; print(json.load(sys.stdin)["virtual-size"])')
got=$(printf '%s' "$json" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["virtual-size"], d["backing-filename"], d["audit"]["safe"])' 2>&1)
[ "$got" = "$want disk.img True" ] && ok "inspect --json agrees with qemu-img info" || bad "inspect --json: '$got', qemu-img virtual-size $want"

echo "empty-root: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
