#!/usr/bin/env python3
"""Writes the parity-*.qcow2 fixtures: copies of good fixtures with one field changed, each a
case where qcowtool once disagreed with qemu-img 7.2 in the differential campaign (see README.md).

  parity-mutations.py      run in TestImages/qcow2 after the good fixtures exist

Each line of MUTATIONS: (new name, source fixture, patch function).
"""
import importlib.util
import os

# The byte helpers and header patches of break-headers.py (same folder), not a second copy.
_spec = importlib.util.spec_from_file_location(
    "break_headers", os.path.join(os.path.dirname(os.path.abspath(__file__)), "break-headers.py"))
_break_headers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_break_headers)
u32, u64, snapshots = _break_headers.u32, _break_headers.u64, _break_headers.snapshots_at


def truncate(length):
    def patch(b):
        del b[length:]
    return patch


def field32(off, value):
    return lambda b: u32(b, off, value)


def field64(off, value):
    return lambda b: u64(b, off, value)


def empty_backing_name(b):
    u64(b, 8, 1)   # backing_file_offset 1, backing_file_size stays 0: qemu sees no backing file
    u32(b, 16, 0)


def bitmap_directory_past_eof(b):
    # The bitmaps header extension (type 0x23852875): directory offset at data + 16.
    at = b.find(bytes.fromhex("23852875"), 72)
    u64(b, at + 8 + 16, (len(b) + (1 << 20) + 0xFFFF) & ~0xFFFF)


MUTATIONS = [
    # The file ends 8 bytes into the L1 table's cluster: qemu counts the file in whole sectors.
    ("parity-truncated-in-l1.qcow2", "v3-4k.qcow2", truncate(8200)),
    # A virtual size of 1 byte: check, map and convert see 0 sectors; info prints 1.
    ("parity-size-1.qcow2", "v3-4k.qcow2", field64(24, 1)),
    # A virtual size that is not a multiple of 512.
    ("parity-size-unaligned.qcow2", "v3-4k.qcow2", field64(24, (1 << 20) - 100)),
    # backing_file_offset set with an empty name: no backing file at all.
    ("parity-empty-backing-name.qcow2", "v3-4k.qcow2", empty_backing_name),
    # One snapshot claimed by an image with an external data file: qemu lists no snapshots.
    ("parity-datafile-snapshot-count.qcow2", "datafile.qcow2", snapshots(1, 0)),
    # The L1 table cut off by the end of the file: qemu still follows the backing file.
    ("parity-layer-l1-cut.qcow2", "layer.qcow2", truncate(196615)),
    # The L1 table pointed at the header: qemu still follows the backing file.
    ("parity-layer-l1-over-header.qcow2", "layer.qcow2", field64(40, 0)),
    # The refcount table moved onto the L2 table of a data-file-raw image: its entries point
    # past qemu's largest readable offset, so check cannot read refcounts (check-errors).
    ("parity-refcount-table-on-l2.qcow2", "datafile-raw.qcow2", lambda b: (u64(b, 24, 512), u64(b, 48, 0x40000))),
    # The bitmap directory moved 1 MiB past the end of the file: qemu's open reads zeros there
    # and refuses ("Bitmap '' doesn't satisfy the constraints"); convert once read the image.
    ("parity-bitmap-directory-past-eof.qcow2", "bitmap.qcow2", bitmap_directory_past_eof),
]


def main():
    for name, source, patch in MUTATIONS:
        with open(source, "rb") as f:
            buf = bytearray(f.read())
        patch(buf)
        with open(name, "wb") as f:
            f.write(buf)


if __name__ == "__main__":
    main()
