#!/usr/bin/env python3
"""Writes the hostile tar fixtures (hostile-*.tar) into this folder, from hand-built bytes,
so each one breaks exactly one rule. Run from anywhere: python3 make_hostile.py

Each archive uses the member names of an image archive (disk.img, machine.json), so the
same files test the allow-list: the test extracts with allowed names {disk.img,
layer.qcow2, machine.json} and expects the error code noted beside each file.
"""
import os

HERE = os.path.dirname(os.path.abspath(__file__))

def octal(value, width):
    return ("%0*o" % (width - 1, value)).encode() + b"\0"

def header(name, size=0, typeflag=b"0", linkname=b"", mode=0o644, devmajor=0, devminor=0,
           size_field=None, checksum_delta=0, gnu_sparse=None):
    """A ustar header block (GNU magic when gnu_sparse is given: (entries, realsize))."""
    h = bytearray(512)
    h[0:len(name)] = name
    h[100:108] = octal(mode, 8)
    h[108:116] = octal(0, 8)
    h[116:124] = octal(0, 8)
    h[124:136] = size_field if size_field is not None else octal(size, 12)
    h[136:148] = octal(1700000000, 12)
    h[156:157] = typeflag
    h[157:157 + len(linkname)] = linkname
    if gnu_sparse is None:
        h[257:265] = b"ustar\x0000"
        h[329:337] = octal(devmajor, 8)
        h[337:345] = octal(devminor, 8)
    else:
        h[257:265] = b"ustar  \x00"
        entries, realsize = gnu_sparse
        for i, (off, length) in enumerate(entries[:4]):
            h[386 + 24 * i:398 + 24 * i] = octal(off, 12)
            h[398 + 24 * i:410 + 24 * i] = octal(length, 12)
        h[483:495] = octal(realsize, 12)
    h[148:156] = b" " * 8
    checksum = sum(h) + checksum_delta
    h[148:156] = ("%06o" % checksum).encode() + b"\0 "
    return bytes(h)

def pad(data):
    return data + bytes(-len(data) % 512)

def pax(records, name=b"./PaxHeaders/x"):
    body = b""
    for key, value in records:
        payload = b" " + key + b"=" + value + b"\n"
        n = len(payload) + 1
        while len(str(n)) + len(payload) != n:
            n += 1
        body += str(n).encode() + payload
    return header(name, len(body), b"x") + pad(body)

def member(name, data, **kw):
    return header(name, len(data), **kw) + pad(data)

END = bytes(1024)
JSON = b'{"version": 1}\n'

def pax10_sparse(name, realsize, entries, data_len, size_override=None):
    mapping = ("%d\n" % len(entries)).encode() + b"".join(b"%d\n%d\n" % e for e in entries)
    mapping = pad(mapping)
    size = len(mapping) + data_len if size_override is None else size_override
    recs = [(b"GNU.sparse.major", b"1"), (b"GNU.sparse.minor", b"0"),
            (b"GNU.sparse.name", name), (b"GNU.sparse.realsize", str(realsize).encode())]
    return pax(recs) + header(b"./GNUSparseFile.0/" + name, size) + mapping + pad(b"\x01" * data_len)

def rechecksum(block):
    h = bytearray(block)
    h[148:156] = b" " * 8
    h[148:156] = ("%06o" % sum(h)).encode() + b"\0 "
    return bytes(h)

def with_magic(block, magic, prefix=b""):
    """`block` with another magic+version (8 bytes) and prefix field."""
    h = bytearray(block)
    h[257:265] = magic
    h[345:345 + len(prefix)] = prefix
    return rechecksum(h)

def long_name(name):
    """A GNU `L` header holding `name`."""
    data = name + b"\0"
    return with_magic(header(b"././@LongLink", len(data), b"L"), b"ustar  \x00") + pad(data)

def global_pax(records):
    """A pax `g` header."""
    blocks = pax(records, name=b"./PaxHeaders/g")
    return rechecksum(blocks[:156] + b"g" + blocks[157:512]) + blocks[512:]

def old_gnu_sparse(name, entries, realsize, data, extensions=(), is_extended=None):
    """An old GNU `S` member: up to four `entries` in the header, then one extension block
    per item of `extensions` (a list of entries, and whether another block follows). Raw
    entries may be given as (offset_field, length_field) bytes to leave a field empty."""
    h = bytearray(header(name, len(data), b"S", gnu_sparse=([], realsize)))
    def put(block, at, entry):
        off, length = entry
        block[at:at + 12] = off if isinstance(off, bytes) else octal(off, 12)
        block[at + 12:at + 24] = length if isinstance(length, bytes) else octal(length, 12)
    for i, entry in enumerate(entries):
        put(h, 386 + 24 * i, entry)
    h[482] = 1 if (is_extended if is_extended is not None else bool(extensions)) else 0
    out = rechecksum(h)
    for block_entries, more in extensions:
        b = bytearray(512)
        for i, entry in enumerate(block_entries):
            put(b, 24 * i, entry)
        b[504] = 1 if more else 0
        out += bytes(b)
    return out + pad(data)

# Every header GNU tar 1.34 and bsdtar 3.6 read differently is refused; the comment on each
# says what the two make of it (`tar -tvf` / `bsdtar -tvf`).
AMBIGUOUS = {
    # magic "ustarX": GNU tar reads v7 ("disk.img"), bsdtar ustar ("sub/disk.img").
    "ustar-magic-prefix": with_magic(header(b"disk.img", 5), b"ustarX00", prefix=b"sub") + pad(b"hello") + END,  # badHeaderField
    # GNU long name, then pax path: GNU tar names it "fromX", bsdtar "fromL".
    "longname-vs-path": long_name(b"fromL") + pax([(b"path", b"fromX")]) + member(b"disk.img", b"hello") + END,  # badExtendedHeader
    # A global pax path: GNU tar names the member "disk.img", bsdtar ignores g headers ("other").
    "global-path": global_pax([(b"path", b"disk.img")]) + member(b"other", b"hello") + END,  # badExtendedHeader
    # An empty pax path: GNU tar names the member "" (then "."), bsdtar "disk.img".
    "empty-pax-path": pax([(b"path", b"")]) + member(b"disk.img", b"hello") + END,  # badExtendedHeader
    # One map entry, marked as extended: GNU tar stops (and fails), bsdtar reads the block.
    "oldgnu-short-extended": old_gnu_sparse(b"disk.img", [(0, 512)], 8192, b"\x01" * 1024,
                                            [([(4096, 512)], False)]) + END,  # badSparseMap
    # An entry with an offset and an empty length: GNU tar ends the map there, bsdtar goes on.
    # "disk.img/" of type 0 is a directory to both, but GNU tar skips its 5 data bytes and
    # bsdtar reads them as the next header.
    "slash-data": member(b"disk.img/", b"hello") + member(b"machine.json", JSON) + END,  # badHeaderField
    "oldgnu-half-entry": old_gnu_sparse(b"disk.img", [(0, 512), (b"00000001000\0", bytes(12)), (4096, 512)], 8192,
                                        b"\x01" * 1024) + END,  # badSparseMap
}

# A chain of extended headers that hold nothing: capped by count (64 before one member).
EMPTY_HEADERS = b"".join(pax([]) for _ in range(65)) + member(b"disk.img", b"x") + END
# A full old GNU map followed by empty extension blocks, each saying another follows.
EMPTY_EXTENSIONS = old_gnu_sparse(b"disk.img", [(0, 512), (1024, 512), (2048, 512), (3072, 512)], 8192,
                                  b"\x01" * 2048, [([], True)] * 8 + [([], False)]) + END

FIXTURES = {
    # name: bytes                                             expected error code
    "symlink": member(b"machine.json", JSON) + header(b"disk.img", typeflag=b"2", linkname=b"/etc/passwd") + END,  # disallowedType
    "hardlink": member(b"machine.json", JSON) + header(b"disk.img", typeflag=b"1", linkname=b"machine.json") + END,  # disallowedType
    "dotdot": member(b"../evil", b"evil\n") + END,  # unsafeName
    "absolute": member(b"/abs/path", b"evil\n") + END,  # unsafeName
    "device": header(b"disk.img", typeflag=b"3", devmajor=1, devminor=3) + END,  # disallowedType
    "duplicate": member(b"disk.img", b"first\n") + member(b"disk.img", b"second\n") + END,  # duplicateMember
    "truncated": member(b"machine.json", JSON) + header(b"disk.img", 10000) + b"\x02" * 3000,  # truncated
    "bad-checksum": member(b"machine.json", JSON) + member(b"disk.img", b"x", checksum_delta=1) + END,  # badChecksum
    "sparse-overlap": pax10_sparse(b"disk.img", 1 << 20, [(0, 8192), (4096, 4096)], 12288) + END,  # badSparseMap
    "sparse-beyond": pax10_sparse(b"disk.img", 1 << 20, [(0, 4096), (1 << 20, 4096)], 8192) + END,  # badSparseMap
    "sparse-huge-count": pax(
        [(b"GNU.sparse.major", b"1"), (b"GNU.sparse.minor", b"0"), (b"GNU.sparse.name", b"disk.img"),
         (b"GNU.sparse.realsize", b"1048576")])
        + header(b"./GNUSparseFile.0/disk.img", 512) + pad(b"99999999999\n0\n") + END,  # limitExceeded
    "sparse-size-mismatch": pax10_sparse(b"disk.img", 1 << 20, [(0, 8192), (1 << 20, 0)], 4096) + END,  # sizeMismatch
    "oldgnu-unsorted": header(b"disk.img", 1024, typeflag=b"S", gnu_sparse=([(8192, 512), (0, 512)], 1 << 20))
        + pad(b"\x03" * 1024) + END,  # badSparseMap
    # 60 GiB declared (pax size + base-256 header field), 4 KiB actually present.
    "huge-declared": pax([(b"size", str(60 << 30).encode())])
        + header(b"disk.img", size_field=b"\x80" + bytes(6) + (60 << 30).to_bytes(5, "big"))
        + b"\x04" * 4096,  # limitExceeded with a 50 GiB limit (truncated without one)
    "nul-in-name": pax([(b"path", b"disk\x00.img")]) + member(b"disk.img", b"x") + END,  # badExtendedHeader
    "trailing-garbage": member(b"machine.json", JSON) + END + b"GARBAGE!" + bytes(504),  # trailingData
    "empty-header-chain": EMPTY_HEADERS,  # limitExceeded
    "oldgnu-empty-extensions": EMPTY_EXTENSIONS,  # badSparseMap
}
FIXTURES.update(AMBIGUOUS)
# Spellings every reader takes as disk.img by resolving the path, refused rather than guessed.
FIXTURES["dot-slash-slash"] = member(b".//disk.img", b"hello") + END  # unsafeName
FIXTURES["slash-dot"] = member(b"disk.img/.", b"hello") + END  # unsafeName

# Not hostile to a tar reader: "disk.img/" of type 0 and no data is a directory to GNU tar and
# bsdtar alike (and to us); an image archive refuses it as not a regular file.
OTHER = {
    "slash-directory": header(b"disk.img/") + member(b"machine.json", JSON) + END,
}

if __name__ == "__main__":
    for name, data in FIXTURES.items():
        with open(os.path.join(HERE, "hostile-%s.tar" % name), "wb") as f:
            f.write(data)
    for name, data in OTHER.items():
        with open(os.path.join(HERE, "%s.tar" % name), "wb") as f:
            f.write(data)
