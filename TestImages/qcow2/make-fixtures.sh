#!/bin/sh
# Rebuilds every fixture in this folder with qemu-img/qemu-io 7.2 and stores, next to each,
# what `qemu-img info --output=json` says about it (NAME.info.json), or its error text when it
# refuses the file (NAME.info.err). Run from anywhere: ./make-fixtures.sh
# Snapshot dates, LUKS salts and UUIDs change on every run, so the .info.json files must be
# regenerated together with the images (this script does both).
set -eu
cd "$(dirname "$0")"
rm -f ./*.qcow2 ./*.img ./*.data ./*.info.json ./*.info.err

Q() { qemu-img "$@" >/dev/null; }

# A 256 KiB raw pattern to compress and to copy into images.
qemu-img create -f raw pattern.tmp 256K >/dev/null
qemu-io -f raw -c "write -P 0x5a 0 64k" -c "write -P 0xa5 128k 64k" pattern.tmp >/dev/null

# --- Plain images: compat, cluster sizes, refcount widths, feature bits --------------------
Q create -f qcow2 -o compat=0.10 v2.qcow2 1M
Q create -f qcow2 -o compat=1.1 v3.qcow2 1M
Q create -f qcow2 -o cluster_size=4k v3-4k.qcow2 1M   # the base of the hand-broken ones (small)
Q create -f qcow2 -o cluster_size=512 cluster512.qcow2 1M
Q create -f qcow2 -o cluster_size=2M cluster2m.qcow2 1M
Q create -f qcow2 -o refcount_bits=1 refcount1.qcow2 1M
Q create -f qcow2 -o refcount_bits=64 refcount64.qcow2 1M
Q create -f qcow2 -o lazy_refcounts=on lazy.qcow2 1M
Q create -f qcow2 -o extended_l2=on extended-l2.qcow2 1M
qemu-io -f qcow2 -c "write -P 0x33 4k 8k" extended-l2.qcow2 >/dev/null

# --- Compressed clusters -----------------------------------------------------------------
Q convert -f raw -O qcow2 -c -o compression_type=zlib pattern.tmp compressed-zlib.qcow2
Q convert -f raw -O qcow2 -c -o compression_type=zstd pattern.tmp compressed-zstd.qcow2

# --- Internal snapshots and a bitmap ------------------------------------------------------
Q create -f qcow2 snapshots.qcow2 1M
qemu-io -f qcow2 -c "write -P 0x11 0 64k" snapshots.qcow2 >/dev/null
Q snapshot -c first snapshots.qcow2
qemu-io -f qcow2 -c "write -P 0x22 0 64k" snapshots.qcow2 >/dev/null
Q snapshot -c second snapshots.qcow2
Q create -f qcow2 bitmap.qcow2 1M
Q bitmap --add bitmap.qcow2 bitmap0
Q bitmap --add -g 128k bitmap.qcow2 bitmap1
Q bitmap --disable bitmap.qcow2 bitmap1

# --- External data file (plain and raw) ---------------------------------------------------
Q create -f qcow2 -o data_file=datafile.data datafile.qcow2 1M
Q create -f qcow2 -o data_file=datafile-raw.data,data_file_raw=on datafile-raw.qcow2 1M

# --- LUKS encryption (fast key derivation keeps the script quick) -------------------------
Q create -f qcow2 --object secret,id=sec0,data=fixture-passphrase \
    -o encrypt.format=luks,encrypt.key-secret=sec0,encrypt.iter-time=10 luks.qcow2 1M

# --- A 3-deep backing chain, and the image-archive layer shape -----------------------------
Q create -f qcow2 chain-base.qcow2 1M
Q create -f qcow2 -b chain-base.qcow2 -F qcow2 chain-mid.qcow2
Q create -f qcow2 -b chain-mid.qcow2 -F qcow2 chain-top.qcow2
Q create -f raw disk.img 1M
Q create -f qcow2 -o lazy_refcounts=on -b disk.img -F raw layer.qcow2 1M
# qemu-img 7.2 refuses to create a backing file without -F, so make one with it and then
# rewrite the extension area without the backing-format extension.
Q create -f qcow2 -b disk.img -F raw backing-noformat.qcow2 1M
python3 break-headers.py --drop-backing-format backing-noformat.qcow2

# --- Raw files: plain, and raw files that start with another format's header ---------------
cp pattern.tmp raw.img
python3 break-headers.py --raw-confusion v3-4k.qcow2

# --- Dirty / corrupt bits and hand-broken headers (documented in break-headers.py) ----------
python3 break-headers.py --hostile v3-4k.qcow2
rm -f pattern.tmp

# --- Cases found by the differential campaign against qemu-img (see parity-mutations.py) ----
python3 parity-mutations.py
Q create -f qcow2 -u -b parity-missing.img -F raw parity-missing-backing.qcow2 1M
Q create -f qcow2 -o data_file=parity-missing.data parity-missing-data-file.qcow2 1M
rm -f parity-missing.data

# --- What qemu-img says about each -------------------------------------------------------
for f in *.qcow2 *.img; do
    case "$f" in
        raw*.img|disk.img) fmt=raw ;;
        *) fmt=qcow2 ;;
    esac
    if ! qemu-img info -f "$fmt" --output=json "$f" >"$f.info.json" 2>"$f.info.err"; then
        rm -f "$f.info.json"
    else
        rm -f "$f.info.err"
    fi
done
