#!/usr/bin/env python3
"""Makes the two qcow2 "fan-out" images of issue 12 item 4: small files whose metadata is
shared so many times that a tool holding every message or every map record needs memory
out of all proportion to the file.

  make-fanout.py check OUT [--snapshots N] [--cluster-bits B] [--bad-entries K]
      N snapshots (default 65535, qemu's limit is 65536) whose L1 table is the active
      image's own one-entry L1 table, pointing at one shared L2 table. The first K entries
      of that L2 table (default 16) are "all zeros" entries with reserved bit 1 set, so each
      walk of the table (the active image's and every snapshot's) reports K corruptions:
      qemu-img check prints (N + 1) * K lines. With the defaults and 64 KiB clusters the
      file is 4.6 MB, mostly the 65535 snapshot table entries of 64 bytes each.

  make-fanout.py map OUT [--l1-entries M] [--cluster-bits B]
      M active L1 entries (default 512) all pointing at one L2 table whose entries alternate
      between one data cluster and unallocated, so no two neighbouring clusters merge:
      qemu-img map prints M * (cluster size / 8) records (4,194,304 with the defaults:
      a 256 GiB disk in a 320 KiB file).

Refcounts are stored correctly (capped at the 16-bit maximum), so the only findings are
the ones the shape is meant to cause. Everything is written with plain struct packing;
no qemu tool is needed to make the files.
"""

import argparse
import struct
import sys

REFCOUNT_MAX = 0xFFFF  # refcount_order 4


def header(cluster_bits, size, l1_size, l1_offset, reftable_offset, reftable_clusters,
           snapshots=0, snapshots_offset=0):
    """A version 3 header of 112 bytes, no extensions (the end marker is the zeros after it)."""
    return struct.pack(">4sIQIIQIIQQIIQQQQII", b"QFI\xfb", 3, 0, 0, cluster_bits, size, 0, l1_size,
                       l1_offset, reftable_offset, reftable_clusters, snapshots, snapshots_offset,
                       0, 0, 0, 4, 112) + b"\0" * 8


def snapshot_entry(l1_offset, l1_size, ident, disk_size):
    """One snapshot table entry with the 16 bytes of extra data version 3 requires, padded to 8."""
    ident = ident.encode()
    entry = struct.pack(">QIHHIIQII", l1_offset, l1_size, len(ident), 0, 0, 0, 0, 0, 16)
    entry += struct.pack(">QQ", 0, disk_size) + ident
    return entry + b"\0" * (-len(entry) % 8)


def with_refcounts(clusters, cluster_bits, references):
    """Appends the refcount table and blocks after `clusters` (a list of cluster byte strings)
    given `references` (cluster index -> count) for the clusters before them; returns
    (clusters, reftable offset, reftable clusters)."""
    size = 1 << cluster_bits
    per_block = size // 2
    used = len(clusters)
    # Grow until the table and the blocks cover themselves as well.
    table_clusters, blocks = 1, 1
    while True:
        total = used + table_clusters + blocks
        need_blocks = -(-total // per_block)
        need_table = -(-need_blocks * 8 // size)
        if need_blocks <= blocks and need_table <= table_clusters:
            break
        blocks, table_clusters = max(blocks, need_blocks), max(table_clusters, need_table)
    table_start = used
    block_start = used + table_clusters
    counts = dict(references)
    for index in range(table_start, block_start + blocks):
        counts[index] = 1
    table = b"".join(struct.pack(">Q", (block_start + i) << cluster_bits) for i in range(blocks))
    table += b"\0" * (table_clusters * size - len(table))
    out = list(clusters) + [table[i * size:(i + 1) * size] for i in range(table_clusters)]
    for block in range(blocks):
        values = [min(counts.get(block * per_block + i, 0), REFCOUNT_MAX) for i in range(per_block)]
        out.append(struct.pack(">%dH" % per_block, *values))
    return out, table_start << cluster_bits, table_clusters


def make_check(path, snapshots, cluster_bits, bad_entries):
    size = 1 << cluster_bits
    l2_entries = size // 8
    if not 0 < snapshots <= 65536 or not 0 <= bad_entries <= l2_entries:
        sys.exit("make-fanout.py: snapshots must be 1..65536 and bad entries at most one L2 table")
    virtual = l2_entries * size
    l1_offset, l2_offset = size, 2 * size
    l1 = struct.pack(">Q", l2_offset).ljust(size, b"\0")
    l2 = (struct.pack(">Q", 0x3) * bad_entries).ljust(size, b"\0")
    table = b"".join(snapshot_entry(l1_offset, 1, str(i + 1), virtual) for i in range(snapshots))
    table_clusters = -(-len(table) // size)
    table = table.ljust(table_clusters * size, b"\0")
    clusters = [b"", l1, l2] + [table[i * size:(i + 1) * size] for i in range(table_clusters)]
    references = {0: 1, 1: snapshots + 1, 2: snapshots + 1}
    references.update({3 + i: 1 for i in range(table_clusters)})
    clusters, reftable, reftable_clusters = with_refcounts(clusters, cluster_bits, references)
    clusters[0] = header(cluster_bits, virtual, 1, l1_offset, reftable, reftable_clusters,
                         snapshots, 3 * size).ljust(size, b"\0")
    write(path, clusters, size)


def make_map(path, l1_entries, cluster_bits):
    size = 1 << cluster_bits
    l2_entries = size // 8
    if not 0 < l1_entries <= l2_entries:
        sys.exit("make-fanout.py: L1 entries must be 1..%d (one L1 cluster)" % l2_entries)
    l1_offset, l2_offset, data_offset = size, 2 * size, 3 * size
    l1 = struct.pack(">Q", l2_offset) * l1_entries
    l1 = l1.ljust(size, b"\0")
    l2 = b"".join(struct.pack(">Q", data_offset if i % 2 == 0 else 0) for i in range(l2_entries))
    data = bytes(range(256)) * (size // 256) if size >= 256 else bytes(range(size))
    clusters = [b"", l1, l2, data]
    references = {0: 1, 1: 1, 2: l1_entries, 3: l1_entries * (l2_entries // 2)}
    clusters, reftable, reftable_clusters = with_refcounts(clusters, cluster_bits, references)
    clusters[0] = header(cluster_bits, l1_entries * l2_entries * size, l1_entries, l1_offset,
                         reftable, reftable_clusters).ljust(size, b"\0")
    write(path, clusters, size)


def write(path, clusters, size):
    with open(path, "wb") as handle:
        for cluster in clusters:
            handle.write(cluster.ljust(size, b"\0"))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("check", help="snapshots sharing one L1/L2 table with bad entries")
    check.add_argument("out")
    check.add_argument("--snapshots", type=int, default=65535)
    check.add_argument("--cluster-bits", type=int, default=16)
    check.add_argument("--bad-entries", type=int, default=16)
    fanout = commands.add_parser("map", help="L1 entries sharing one alternating L2 table")
    fanout.add_argument("out")
    fanout.add_argument("--l1-entries", type=int, default=512)
    fanout.add_argument("--cluster-bits", type=int, default=16)
    args = parser.parse_args()
    if not 9 <= args.cluster_bits <= 21:
        sys.exit("make-fanout.py: cluster bits must be 9..21")
    if args.command == "check":
        make_check(args.out, args.snapshots, args.cluster_bits, args.bad_entries)
    else:
        make_map(args.out, args.l1_entries, args.cluster_bits)


if __name__ == "__main__":
    main()
