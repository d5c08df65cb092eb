#!/usr/bin/env python3
"""Writes the first N bytes of real /usr data that the package-benchmark suite streams
(Benchmarks/Benchmarks/ImageBenchmarks/Fixtures.swift, usrBytes: the same folders, order and
filter), so `zstd -b3` can be run on exactly the bytes the suite's zstd rows measure.

Usage: Benchmarks/usr-sample.py BYTES OUT
"""
import os
import stat
import sys

FOLDERS = ["/usr/bin", "/usr/lib/x86_64-linux-gnu", "/usr/lib"]


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    want, out = int(sys.argv[1]), sys.argv[2]
    written = 0
    with open(out, "wb") as sink:
        for folder in FOLDERS:
            try:
                names = os.listdir(folder)
            except OSError:
                continue
            for name in sorted(names, key=lambda n: n.encode()):
                path = os.path.join(folder, name)
                try:
                    info = os.lstat(path)
                    if not stat.S_ISREG(info.st_mode) or info.st_size < 4096:
                        continue
                    with open(path, "rb") as source:
                        data = source.read(want - written)
                except OSError:
                    continue
                sink.write(data)
                written += len(data)
                if written >= want:
                    return
    sys.exit(f"usr-sample.py: only {written} of {want} bytes found under {FOLDERS}")


if __name__ == "__main__":
    main()
