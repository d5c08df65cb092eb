#!/usr/bin/env python3
"""Patches good qcow2 fixtures into broken, hostile or confusing ones (see README.md).

  break-headers.py --hostile v3-4k.qcow2           writes every hostile-*.qcow2, flagged-*.qcow2,
                                                   dirty.qcow2, corrupt.qcow2 from a good v3 image
  break-headers.py --raw-confusion v3.qcow2        writes raw-*.img files starting with other headers
  break-headers.py --drop-backing-format F.qcow2   turns F's backing-format extension into the end marker

Every patch is one line in PATCHES below: (file name, what qemu should say, patch function).
"""
import struct
import sys

CLUSTER = 65536  # replaced by the source image's cluster size in main()


def u32(buf, off, value):
    struct.pack_into(">I", buf, off, value)


def u64(buf, off, value):
    struct.pack_into(">Q", buf, off, value)


def get32(buf, off):
    return struct.unpack_from(">I", buf, off)[0]


def get64(buf, off):
    return struct.unpack_from(">Q", buf, off)[0]


def extensions(buf):
    """(offset, type, length) of each extension before the end marker."""
    off = get32(buf, 100)
    out = []
    while off + 8 <= CLUSTER:
        typ, length = struct.unpack_from(">II", buf, off)
        if typ == 0:
            break
        out.append((off, typ, length))
        off += 8 + ((length + 7) & ~7)
    return out


def rebuild_extensions(buf, exts):
    """Rewrites the extension area from `exts` [(type, bytes)] plus an end marker."""
    off = get32(buf, 100)
    area = b""
    for typ, data in exts:
        area += struct.pack(">II", typ, len(data)) + data + b"\0" * (((len(data) + 7) & ~7) - len(data))
    area += b"\0" * 8
    buf[off:off + len(area)] = area
    return off + len(area)


def feature_table(buf):
    for off, typ, length in extensions(buf):
        if typ == 0x6803F857:
            return bytes(buf[off + 8:off + 8 + length])
    return b""


def set_backing(buf, name, fmt=None):
    """Backing name at 0x800 (inside the first cluster, after the extensions)."""
    exts = []
    if fmt is not None:
        exts.append((0xE2792ACA, fmt))
    if feature_table(buf):
        exts.append((0x6803F857, feature_table(buf)))
    rebuild_extensions(buf, exts)
    buf[0x800:0x800 + len(name)] = name
    u64(buf, 8, 0x800)
    u32(buf, 16, len(name))


def incompat(bits):
    return lambda b: u64(b, 72, get64(b, 72) | bits)


def named_unknown_feature(b):
    table = bytearray(feature_table(b))
    table[0:48] = struct.pack(">BB46s", 0, 5, b"future feature")
    rebuild_extensions(b, [(0x6803F857, bytes(table))])
    u64(b, 72, get64(b, 72) | (1 << 5))


def unknown_extension(b):
    rebuild_extensions(b, [(0x12345678, b"hello, future")])


def overlong_extension(b):
    rebuild_extensions(b, [(0xE2792ACA, b"raw")])
    off, _, _ = extensions(b)[0]
    u32(b, off + 4, CLUSTER)


def crypto_without_luks(b):
    rebuild_extensions(b, [(0x0537BE77, struct.pack(">QQ", 3 * CLUSTER, CLUSTER))])


def data_file_name(name):
    def patch(b):
        rebuild_extensions(b, [(0x44415441, name)])
        u64(b, 72, get64(b, 72) | 4)
    return patch


def snapshots_at(count, offset):
    def patch(b):
        u32(b, 60, count)
        u64(b, 64, offset)
    return patch


# (name, patch). Names starting "hostile-" are refused by qemu-img info; "flagged-" ones qemu
# opens but our audit must flag.
PATCHES = [
    ("hostile-bad-magic", lambda b: b.__setitem__(slice(0, 4), b"QFI\xfc")),
    ("hostile-version-4", lambda b: u32(b, 4, 4)),
    ("hostile-cluster-bits-8", lambda b: u32(b, 20, 8)),
    ("hostile-cluster-bits-22", lambda b: u32(b, 20, 22)),
    ("hostile-header-length-short", lambda b: u32(b, 100, 100)),
    ("hostile-header-length-huge", lambda b: u32(b, 100, CLUSTER + 8)),
    ("hostile-backing-offset-beyond-cluster", lambda b: (u64(b, 8, CLUSTER + 512), u32(b, 16, 4))),
    ("hostile-backing-name-too-long", lambda b: (u64(b, 8, 0x1000), u32(b, 16, 2000))),
    ("hostile-backing-name-past-cluster", lambda b: (u64(b, 8, CLUSTER - 100), u32(b, 16, 200))),
    ("hostile-refcount-order-7", lambda b: u32(b, 96, 7)),
    ("hostile-crypt-method-3", lambda b: u32(b, 32, 3)),
    ("hostile-no-refcount-table", lambda b: u32(b, 56, 0)),
    ("hostile-refcount-table-too-large", lambda b: u32(b, 56, (8 << 20) // CLUSTER + 1)),
    ("hostile-refcount-table-unaligned", lambda b: u64(b, 48, get64(b, 48) + 8)),
    ("hostile-l1-too-large", lambda b: u32(b, 36, 5_000_000)),
    ("hostile-l1-unaligned", lambda b: u64(b, 40, get64(b, 40) + 8)),
    ("hostile-l1-too-small", lambda b: u32(b, 36, 0)),
    ("hostile-l1-offset-overflow", lambda b: u64(b, 40, 0x7FFFFFFFFFFF0000)),  # passes the INT64_MAX check, fails the read
    ("hostile-too-many-snapshots", snapshots_at(70000, 3 * CLUSTER)),
    ("hostile-snapshots-unaligned", snapshots_at(0, 3 * CLUSTER + 8)),
    ("hostile-size-2-62", lambda b: u64(b, 24, 1 << 62)),
    ("hostile-unknown-incompatible-bit", incompat(1 << 40)),
    ("hostile-unknown-incompatible-named", named_unknown_feature),
    ("hostile-compression-type-2", lambda b: (b.__setitem__(104, 2), u64(b, 72, get64(b, 72) | 8))),
    ("hostile-zstd-without-bit", lambda b: b.__setitem__(104, 1)),
    ("hostile-zlib-with-bit", incompat(8)),
    ("hostile-extension-too-large", overlong_extension),
    ("hostile-crypto-extension-without-luks", crypto_without_luks),
    ("flagged-data-file-bit-without-name", incompat(4)),
    ("flagged-data-file-raw-without-data-file", lambda b: u64(b, 88, get64(b, 88) | 2)),
    ("hostile-backing-format-too-long", lambda b: set_backing(b, b"base.qcow2", b"qcow2-but-longer!")),
    ("dirty", incompat(1)),
    ("corrupt", incompat(2)),
    ("flagged-unknown-extension", unknown_extension),
    ("flagged-unknown-compatible-bit", lambda b: u64(b, 80, 1 << 9)),
    ("flagged-unknown-autoclear-bit", lambda b: u64(b, 88, 1 << 9)),
    ("flagged-encryption-aes", lambda b: u32(b, 32, 1)),
    ("flagged-backing-absolute", lambda b: set_backing(b, b"/etc/passwd", b"raw")),
    ("flagged-backing-slash", lambda b: set_backing(b, b"images/base.qcow2", b"qcow2")),
    ("flagged-backing-dotdot", lambda b: set_backing(b, b"../base.qcow2", b"qcow2")),
    ("flagged-backing-json", lambda b: set_backing(b, b'json:{"file.filename":"/etc/shadow"}', b"raw")),
    ("flagged-backing-protocol", lambda b: set_backing(b, b"nbd://attacker.example:10809/disk", b"raw")),
    ("flagged-backing-nul", lambda b: set_backing(b, b"base.img\0/etc/passwd", b"raw")),
    ("flagged-data-file-absolute", data_file_name(b"/dev/sda")),
    ("flagged-l1-beyond-eof", lambda b: u64(b, 40, 0x100000)),
    ("flagged-l1-over-refcount-table", lambda b: u64(b, 40, get64(b, 48))),
    ("flagged-l1-in-header-cluster", lambda b: u64(b, 40, 0)),
    ("flagged-l1-host-offset-2-56", lambda b: u64(b, 40, 1 << 56)),
    ("flagged-refcount-table-beyond-eof", lambda b: u64(b, 48, 0x200000)),
    ("flagged-snapshots-beyond-eof", snapshots_at(1, 0x100000)),
    ("flagged-snapshots-over-l1", lambda b: snapshots_at(1, get64(b, 40))(b)),
]


def hostile(source):
    good = open(source, "rb").read()
    for name, patch in PATCHES:
        buf = bytearray(good)
        patch(buf)
        open(name + ".qcow2", "wb").write(buf)
    # Trailing garbage: a whole cluster of junk after the image's end.
    open("flagged-trailing-garbage.qcow2", "wb").write(good + b"\xde\xad\xbe\xef" * (CLUSTER // 4))


def raw_confusion(source):
    good = open(source, "rb").read()
    pad = lambda head: head + b"\0" * (CLUSTER - len(head))
    files = {
        "raw-qcow2.img": good,
        "raw-qcow1.img": pad(b"QFI\xfb\0\0\0\1"),
        "raw-vmdk.img": pad(b"KDMV\1\0\0\0"),
        "raw-vmdk-descriptor.img": pad(b"# Disk DescriptorFile\nversion=1\n"),
        "raw-vhdx.img": pad(b"vhdxfile"),
        "raw-vhd.img": pad(b"conectix\0\0\0\2"),
        "raw-qed.img": pad(b"QED\0"),
        "raw-luks.img": pad(b"LUKS\xba\xbe\0\1"),
        "raw-vdi.img": pad(b"<<< Oracle VM VirtualBox Disk Image >>>\n".ljust(0x40, b"\0") + struct.pack("<I", 0xBEDA107F)),
    }
    for name, data in files.items():
        open(name, "wb").write(data)


def drop_backing_format(path):
    buf = bytearray(open(path, "rb").read())
    for off, typ, _ in extensions(buf):
        if typ == 0xE2792ACA:
            # Move the feature table up over it so only the format disappears.
            rebuild_extensions(buf, [(t, bytes(buf[o + 8:o + 8 + n])) for o, t, n in extensions(buf) if t != 0xE2792ACA])
            break
    open(path, "wb").write(buf)


if __name__ == "__main__":
    mode, path = sys.argv[1], sys.argv[2]
    CLUSTER = 1 << get32(open(path, "rb").read(24), 20)
    {"--hostile": hostile, "--raw-confusion": raw_confusion, "--drop-backing-format": drop_backing_format}[mode](path)
