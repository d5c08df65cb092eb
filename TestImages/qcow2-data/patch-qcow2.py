#!/usr/bin/env python3
"""Hand-patches qcow2 fixtures to make known damage (used by make-fixtures.sh).

  patch-qcow2.py leak FILE GUEST_OFFSET      clear the L2 entry mapping GUEST_OFFSET:
                                             its data cluster keeps refcount 1 (a leak)
  patch-qcow2.py refcount FILE HOST_OFFSET N set the stored refcount of the cluster at
                                             HOST_OFFSET to N (16-bit refcounts only)
"""
import struct, sys

def header(f):
    f.seek(0)
    h = f.read(104)
    cluster_bits = struct.unpack(">I", h[20:24])[0]
    l1_size = struct.unpack(">I", h[36:40])[0]
    l1_offset, rt_offset = struct.unpack(">QQ", h[40:56])
    order = struct.unpack(">I", h[96:100])[0] if struct.unpack(">I", h[4:8])[0] >= 3 else 4
    return cluster_bits, l1_size, l1_offset, rt_offset, order

def main():
    mode, path = sys.argv[1], sys.argv[2]
    with open(path, "r+b") as f:
        cluster_bits, l1_size, l1_offset, rt_offset, order = header(f)
        cs = 1 << cluster_bits
        if mode == "leak":
            guest = int(sys.argv[3], 0)
            l2_entries = cs // 8
            l1_index, l2_index = divmod(guest >> cluster_bits, l2_entries)
            f.seek(l1_offset + 8 * l1_index)
            l2_offset = struct.unpack(">Q", f.read(8))[0] & 0x00FFFFFFFFFFFE00
            assert l2_offset, "no L2 table there"
            f.seek(l2_offset + 8 * l2_index)
            assert struct.unpack(">Q", f.read(8))[0] & 0x00FFFFFFFFFFFE00, "cluster not allocated"
            f.seek(l2_offset + 8 * l2_index)
            f.write(b"\0" * 8)
        elif mode == "refcount":
            host, value = int(sys.argv[3], 0), int(sys.argv[4], 0)
            assert order == 4
            cluster = host >> cluster_bits
            per_block = cs * 8 // 16
            f.seek(rt_offset + 8 * (cluster // per_block))
            block = struct.unpack(">Q", f.read(8))[0]
            f.seek(block + 2 * (cluster % per_block))
            f.write(struct.pack(">H", value))
        else:
            sys.exit("unknown mode " + mode)

main()
