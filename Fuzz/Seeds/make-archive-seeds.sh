#!/usr/bin/env bash
# Rebuilds Fuzz/Seeds/FuzzArchive: small image archives (uncompressed tars, which FuzzArchive
# compresses itself, and one .tar.zst), valid ones and ones breaking one rule each.
#   Fuzz/Seeds/make-archive-seeds.sh
# Needs qemu-img (7.2), GNU tar, bsdtar and zstd. Members have fixed mtimes and owners, but
# the tars still hold a few bytes that change per run (GNU's sparse name has tar's PID, pax
# headers carry atime/ctime, a snapshot its date): rerun only to change the seeds.
set -euo pipefail
out=$(cd "$(dirname "$0")" && pwd)/FuzzArchive
machine=$(cd "$(dirname "$0")/../../TestImages/sample" && pwd)/machine.json
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"
cd "$work"

# A 1 MiB sparse disk with a few bytes of data, its empty overlay (512-byte clusters: 1.8 KB).
make_image() {  # folder size
    mkdir -p "$1"
    truncate -s "$2" "$1/disk.img"
    printf 'swift-vmimage fuzz seed' | dd of="$1/disk.img" bs=1 seek=8192 conv=notrunc status=none
    qemu-img create -q -f qcow2 -o cluster_size=512 -b disk.img -F raw "$1/layer.qcow2"
    cp "$machine" "$1/machine.json"
}
gnu() {  # archive folder format members...
    local archive=$1 folder=$2 format=$3 sparse=--sparse; shift 3
    [ "$format" = ustar ] && sparse=""  # ustar has no sparse members
    tar -C "$folder" --format="$format" $sparse --mtime=@0 --owner=0 --group=0 --numeric-owner \
        -cf "$out/$archive" "$@"
}
bsd() {  # archive folder members...
    local archive=$1 folder=$2; shift 2
    (cd "$folder" && touch -d @0 "$@" && bsdtar --format pax --uid 0 --gid 0 -cf "$out/$archive" "$@")
}
members=(disk.img layer.qcow2 machine.json)

make_image ok 1M
gnu valid-pax.tar ok posix "${members[@]}"
gnu valid-oldgnu.tar ok gnu "${members[@]}"
make_image dense 64K  # ustar stores the disk dense: keep it small
gnu valid-ustar.tar dense ustar "${members[@]}"
bsd valid-bsdtar.tar ok "${members[@]}"
zstd -q -3 -f "$out/valid-pax.tar" -o "$out/valid-pax.tar.zst"

# One rule broken in each.
gnu missing-machine.tar ok posix disk.img layer.qcow2
cp -r ok extra && echo x > extra/notes.txt
gnu extra-member.tar extra posix "${members[@]}" notes.txt
cp -r ok linked && rm linked/machine.json && ln -s /etc/hostname linked/machine.json
gnu symlink-member.tar linked posix "${members[@]}"
cp -r ok confused && qemu-img create -q -f qcow2 -o cluster_size=512 confused/disk.img 1M
gnu qcow2-disk.tar confused posix "${members[@]}"
cp -r ok data && qemu-io -f qcow2 -c 'write -P 0x5a 0 4k' data/layer.qcow2 >/dev/null
gnu layer-with-data.tar data posix "${members[@]}"
cp -r ok snap && qemu-img snapshot -c first snap/layer.qcow2
gnu layer-snapshot.tar snap posix "${members[@]}"
make_image small 512K && cp ok/layer.qcow2 small/layer.qcow2
gnu size-mismatch.tar small posix "${members[@]}"
cp -r ok badjson && printf '{"version": 1, "memory": "lots"' > badjson/machine.json
gnu bad-machine.tar badjson posix "${members[@]}"
