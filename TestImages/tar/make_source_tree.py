#!/usr/bin/env python3
"""Creates the source tree the interop fixtures archive (deterministic bytes).

usage: make_source_tree.py DIR

DIR/disk.img   9 GiB sparse file, 30 data runs (some past 8 GiB, some unaligned), ends in a hole
DIR/<200-char path>/file.txt  small dense file under a 200-character path
DIR/dense.bin  64 KiB dense file with a zero run in the middle (16 KiB of zeros at 16 KiB)

The byte pattern is run_byte(i, j) = (i * 37 + j * 7) % 251 + 1 (never zero), so
TarTests can recompute every expected byte (see Fixtures.swift).
"""
import os, sys

GIB = 1 << 30

def runs():
    # 30 runs: offsets spread over 9 GiB, lengths 1000..7000, a few past 8 GiB.
    result = []
    for i in range(30):
        offset = i * (300 << 20) + (i % 3) * 513   # every 300 MiB, some unaligned
        length = 1000 + (i * 211) % 6000
        result.append((offset, length))
    return result

def run_bytes(i, length):
    return bytes(((i * 37 + j * 7) % 251) + 1 for j in range(length))

LONG_DIR = "/".join(["d%02d-" % k + "x" * 44 for k in range(4)])  # 4 * 49 + 3 = 199 chars
LONG_PATH = LONG_DIR[:191] + "/file.txt"  # exactly 200 characters

def main(root):
    os.makedirs(root, exist_ok=True)
    with open(os.path.join(root, "disk.img"), "wb") as f:
        f.truncate(9 * GIB)
        for i, (offset, length) in enumerate(runs()):
            f.seek(offset)
            f.write(run_bytes(i, length))
    path = os.path.join(root, LONG_PATH)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(b"two hundred characters of path\n")
    with open(os.path.join(root, "dense.bin"), "wb") as f:
        f.write(run_bytes(100, 16384) + bytes(16384) + run_bytes(101, 32768))

if __name__ == "__main__":
    assert len(LONG_PATH) == 200, len(LONG_PATH)
    main(sys.argv[1])
