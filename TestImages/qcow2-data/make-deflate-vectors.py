#!/usr/bin/env python3
"""Writes raw-DEFLATE test vectors to deflate/: NAME.raw (plain) and NAME.deflate.

Deterministic (seeded); run from this folder: python3 make-deflate-vectors.py
"""
import os, random, zlib

rng = random.Random(1951)
os.makedirs("deflate", exist_ok=True)

def text(n):
    words = [b"qcow2", b"cluster", b"refcount", b"the", b"of", b"L2", b"table", b"snapshot", b"\n", b"zero"]
    out = bytearray()
    while len(out) < n:
        out += rng.choice(words) + b" "
    return bytes(out[:n])

def noise(n):
    return bytes(rng.getrandbits(8) for _ in range(n))

def deflate(data, level=6, wbits=-15, strategy=zlib.Z_DEFAULT_STRATEGY, flush_every=None):
    c = zlib.compressobj(level, zlib.DEFLATED, wbits, 9, strategy)
    if flush_every:
        out = b""
        for i in range(0, len(data), flush_every):
            out += c.compress(data[i:i + flush_every]) + c.flush(zlib.Z_FULL_FLUSH)
        return out + c.flush()
    return c.compress(data) + c.flush()

mixed = text(12000) + noise(3000) + bytes(8000) + text(9000)
cases = {
    "empty": (b"", {}),
    "one-byte": (b"A", {}),
    "text-fixed": (text(20000), {"strategy": zlib.Z_FIXED}),
    "text-dynamic-l9": (text(40000), {"level": 9}),
    "random-stored-l0": (noise(20000), {"level": 0}),
    "random-l6": (noise(9000), {}),
    "zeros-64k": (bytes(65536), {}),
    "mixed-huffman-only": (mixed, {"strategy": zlib.Z_HUFFMAN_ONLY}),
    "mixed-rle": (mixed, {"strategy": zlib.Z_RLE}),
    "mixed-qemu-wbits12": (mixed[:65536], {"wbits": -12}),
    "mixed-full-flush": (mixed, {"flush_every": 5000}),
    "mixed-l1": (mixed, {"level": 1}),
}
for name, (data, kw) in cases.items():
    with open(f"deflate/{name}.raw", "wb") as f:
        f.write(data)
    with open(f"deflate/{name}.deflate", "wb") as f:
        f.write(deflate(data, **kw))
