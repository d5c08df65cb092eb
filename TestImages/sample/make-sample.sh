#!/usr/bin/env bash
# Rebuilds TestImages/sample/image.tar.zst with our own tools:
#   TestImages/sample/make-sample.sh PATH/TO/qcowtool
# A 1 GiB sparse disk holding a small ext4 file system (one text file), this folder's
# machine.json, packaged by `qcowtool package`. Needs mkfs.ext4 (e2fsprogs).
set -euo pipefail
tool=${1:?path to qcowtool}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$tool" new-disk "$work/image" --size 1 --machine "$here/machine.json" >/dev/null
mkdir "$work/root"
echo "hello from swift-vmimage" > "$work/root/hello.txt"
mkfs.ext4 -q -F -U 6f1ea2a4-33ba-4c61-9b6c-1f0d2b0b6f11 -E root_owner=0:0 -d "$work/root" "$work/image/disk.img"
# mkfs leaves preallocated extents; rewrite so only real data is allocated.
cp --sparse=always "$work/image/disk.img" "$work/disk.tmp" && mv "$work/disk.tmp" "$work/image/disk.img"
"$tool" package -q "$work/image" "$here/image.tar.zst"
