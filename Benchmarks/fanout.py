#!/usr/bin/env python3
"""Time and peak RSS of `qcowtool check`, `map --json` and `map --svg` against qemu-img on the
fan-out images of issue 12 item 4 (TestImages/fanout/make-fanout.py, default sizes: 65,535
snapshots sharing one L1/L2 with 16 bad entries; 512 L1 entries sharing one alternating L2,
4,194,304 map records). Output goes to files in a temporary folder, as a user redirecting it
would; each command runs --runs times, alternating with qemu-img, and the medians are shown.
Exits 1 when an output differs from qemu-img's or a peak RSS is over 64 MiB.

Usage: Benchmarks/fanout.py [--qcowtool .build/release/qcowtool] [--runs 3] [--realtime]
"""

import argparse
import filecmp
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIMIT = 64 << 20


def measure(command, out, err, prefix):
    """(seconds, peak RSS in bytes, exit status) of `command`. A real fork: subprocess may use
    vfork/posix_spawn, whose child shares this process's memory until exec, and the kernel then
    counts this script's own peak (it reads big outputs) into the child's ru_maxrss."""
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        try:
            os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
            os.dup2(os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644), 1)
            os.dup2(os.open(err, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644), 2)
            argv = prefix + command
            os.execvp(argv[0], argv)
        finally:
            os._exit(127)
    _, status, usage = os.wait4(pid, 0)
    return time.perf_counter() - start, usage.ru_maxrss * 1024, os.waitstatus_to_exitcode(status)


def same_with_prefix(ours, theirs, prefix):
    """Whether file `ours` is file `theirs` with every line prefixed (qcowtool's stderr lines
    start with `qcowtool: `), compared a line at a time."""
    with open(ours, "rb") as a, open(theirs, "rb") as b:
        for line in b:
            if a.readline() != prefix + line:
                return False
        return a.read(1) == b""


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--qcowtool", default=os.path.join(ROOT, ".build/release/qcowtool"))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--realtime", action="store_true", help="run every timed command under chrt -f 10")
    args = parser.parse_args()
    prefix = ["chrt", "-f", "10"] if args.realtime else []
    qemu = shutil.which("qemu-img")
    work = tempfile.mkdtemp(prefix="fanout-")
    failed = False
    try:
        script = os.path.join(ROOT, "TestImages/fanout/make-fanout.py")
        check_image, map_image = os.path.join(work, "check.qcow2"), os.path.join(work, "map.qcow2")
        subprocess.run([sys.executable, script, "check", check_image], check=True)
        subprocess.run([sys.executable, script, "map", map_image], check=True)
        svg = os.path.join(work, "map.svg")
        jobs = [
            ("check --json", [args.qcowtool, "check", "--json", check_image], ["check", "--output=json", check_image]),
            ("map --json", [args.qcowtool, "map", "--json", map_image], ["map", "--output=json", map_image]),
            ("map --svg", [args.qcowtool, "map", "--svg", svg, map_image], None),
        ]
        print("| job | qcowtool time | qcowtool peak RSS | qemu-img time | qemu-img peak RSS | ratio | output |")
        print("|---|---|---|---|---|---|---|")
        for label, ours_command, qemu_command in jobs:
            ours, theirs = [], []
            for _ in range(args.runs):
                ours.append(measure(ours_command, os.path.join(work, "ours.out"), os.path.join(work, "ours.err"), prefix))
                if qemu and qemu_command:
                    theirs.append(measure([qemu] + qemu_command, os.path.join(work, "qemu.out"),
                                          os.path.join(work, "qemu.err"), prefix))
            our_time = statistics.median(t for t, _, _ in ours)
            our_rss = max(r for _, r, _ in ours)
            same = "-"
            if theirs:
                qemu_time = statistics.median(t for t, _, _ in theirs)
                qemu_rss = max(r for _, r, _ in theirs)
                same_out = filecmp.cmp(os.path.join(work, "ours.out"), os.path.join(work, "qemu.out"), shallow=False)
                if label.startswith("check"):
                    # The same JSON, and qemu-img's stderr line by line with our prefix.
                    same_out = same_out and same_with_prefix(os.path.join(work, "ours.err"), os.path.join(work, "qemu.err"),
                                                             b"qcowtool: ")
                    same_out = same_out and ours[-1][2] == theirs[-1][2]
                same = "same as qemu-img" if same_out else "DIFFERS"
                failed |= not same_out
                row = f"{qemu_time:.2f} s | {qemu_rss >> 20} MiB | {qemu_time / our_time:.2f}x"
            else:
                row = "- | - | -"
            failed |= our_rss > LIMIT
            print(f"| {label} | {our_time:.2f} s | {our_rss >> 20} MiB | {row} | {same} |", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
