#!/bin/sh
# Makes the interop fixtures: the same source tree (make_source_tree.py) archived by
# GNU tar 1.34 in its four sparse formats and by bsdtar 3.6, each compressed with zstd -19.
# Run from this folder: ./make_interop.sh
set -eu
here=$(pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 "$here/make_source_tree.py" "$work/src"
cd "$work/src"
long=$(find . -name file.txt | sed 's|^\./||')
common="--owner=0 --group=0 --numeric-owner --mtime=@1700000000"
tar $common --format=gnu -S -cf "$work/gnu-oldsparse.tar" disk.img "$long" dense.bin
for v in 0.0 0.1 1.0; do
    tar $common --format=posix --sparse-version=$v -S \
        --pax-option=delete=atime,delete=ctime,exthdr.name=%d/PaxHeaders/%f \
        -cf "$work/gnu-pax-$v.tar" disk.img "$long" dense.bin
done
bsdtar --uid 0 --gid 0 --numeric-owner -cf "$work/bsdtar.tar" disk.img "$long" dense.bin
for f in gnu-oldsparse gnu-pax-0.0 gnu-pax-0.1 gnu-pax-1.0 bsdtar; do
    zstd -q -19 -f "$work/$f.tar" -o "$here/$f.tar.zst"
done
