#!/usr/bin/env python3
"""Side-by-side comparison of qcowtool with the tools it replaces.

Builds a realistic VM disk (an ext4 file system made with `mkfs.ext4 -d` from a copy of
/usr, in a sparse raw disk), then times each job with ours and with the peer, alternating
them, and reports medians, ratios (peer time / our time: > 1 means we are faster), MB/s,
peak RSS (GNU time, one extra run of each side) and output sizes, as a table and as JSON.
Peers that are not installed are reported as skipped, never faked. With --check-floors it exits 1 when a ratio falls below
the floor recorded in floors.json.

Usage:
  Benchmarks/compare.py --profile ci   [--json out.json] [--check-floors]
  Benchmarks/compare.py --profile full [--json out.json]
  Benchmarks/compare.py --profile ci --realtime   (timed commands under chrt -f 10, for a loaded machine)
"""

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

PROFILES = {
    # data bytes copied from /usr, disk virtual size, runs per job, runs for per-call jobs
    "ci": {"data": 250 << 20, "disk": 2 << 30, "runs": 3, "calls": 20},
    "full": {"data": 1 << 30, "disk": 8 << 30, "runs": 5, "calls": 100},
}

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def have(tool):
    return shutil.which(tool) is not None


class Unsupported(RuntimeError):
    """Our qcowtool does not have the subcommand a row needs (not yet merged): the row is skipped."""


# What ArgumentParser (and other CLIs) print when a subcommand does not exist.
UNSUPPORTED_MARKERS = ("unknown subcommand", "unexpected argument", "unknown command", "invalid subcommand")


# With --realtime, every timed command (ours and the peer's alike) runs under `chrt -f 10`:
# on a machine shared with other work it then gets the cores as if the machine were idle
# (the kernel's RT throttling still leaves 5 % of each core to everything else).
REALTIME_PREFIX = []


def run(command, cwd=None):
    """Runs a command: a string through bash (pipelines), a list of arguments directly (the
    per-process rows: a worker spawns the tool itself, and a shell in front of both sides adds
    the same millisecond to each, hiding a third of the difference). Returns the seconds it
    took (peak RSS is measured apart, by peak_rss)."""
    argv = command if isinstance(command, list) else ["/bin/bash", "-o", "pipefail", "-c", command]
    start = time.perf_counter()
    process = subprocess.Popen(REALTIME_PREFIX + argv, cwd=cwd,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, _ = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    stderr = process.stderr.read().decode(errors="replace")
    process.stderr.close()
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        if any(marker in stderr.lower() for marker in UNSUPPORTED_MARKERS):
            first = stderr.strip().splitlines()[0] if stderr.strip() else f"exit {code}"
            raise Unsupported(f"qcowtool lacks this subcommand ({first.strip()})")
        raise RuntimeError(f"command failed ({code}): {command}\n{stderr}")
    return elapsed


def allocated(path):
    """Bytes of disk allocated under path (file or folder)."""
    if os.path.isfile(path):
        return os.stat(path).st_blocks * 512
    total = 0
    for folder, _, files in os.walk(path):
        for name in files:
            total += os.lstat(os.path.join(folder, name)).st_blocks * 512
    return total


def make_disk(work, profile):
    """A sparse raw disk holding an ext4 file system with `data` bytes of /usr."""
    stage = os.path.join(work, "stage")
    os.makedirs(stage)
    budget = profile["data"]
    copied = 0
    for folder, dirs, files in os.walk("/usr"):
        dirs.sort()
        for name in sorted(files):
            source = os.path.join(folder, name)
            if os.path.islink(source) or not os.path.isfile(source):
                continue
            size = os.path.getsize(source)
            if size == 0 or copied + size > budget:
                continue
            target = os.path.join(stage, os.path.relpath(source, "/usr"))
            os.makedirs(os.path.dirname(target), exist_ok=True)
            try:
                shutil.copyfile(source, target)
            except OSError:
                continue
            copied += size
        if copied >= budget * 0.98:
            break
    raw = os.path.join(work, "fs.raw")
    with open(raw, "wb") as handle:
        handle.truncate(profile["disk"])
    subprocess.run(["mkfs.ext4", "-q", "-F", "-d", stage, raw], check=True)
    folder = os.path.join(work, "image")
    os.makedirs(folder)
    # mkfs leaves preallocated unwritten extents whose SEEK_DATA answer depends on the page
    # cache: rewrite the disk so every run sees the same extents.
    subprocess.run(["cp", "--sparse=always", raw, os.path.join(folder, "disk.img")], check=True)
    os.remove(raw)
    shutil.rmtree(stage)
    with open(os.path.join(folder, "machine.json"), "w") as handle:
        json.dump({"version": 1, "memory": 1024, "network": "rtl8139", "mac": "aa:bb:cc:dd:ee:02"}, handle)
    return folder, copied


class Results:
    def __init__(self):
        self.rows = []

    def add(self, operation, ours, peer, peer_name, data_bytes=None, ours_size=None, peer_size=None,
            ours_rss=None, peer_rss=None, note=""):
        row = {"operation": operation, "peer": peer_name, "ours_s": ours, "peer_s": peer,
               "ratio": (peer / ours) if (ours and peer) else None,
               "ours_mb_s": (data_bytes / ours / 1e6) if (data_bytes and ours) else None,
               "ours_rss": ours_rss, "peer_rss": peer_rss, "ours_size": ours_size, "peer_size": peer_size,
               "note": note}
        if LAST_STEAL:
            row["ours_steal_s"], row["peer_steal_s"] = LAST_STEAL["ours"], LAST_STEAL["peer"]
            if LAST_STEAL["ours"] + LAST_STEAL["peer"] >= 0.01:
                stolen = (f"CPU steal during the timed runs: ours {LAST_STEAL['ours'] * 1000:.0f} ms, "
                          f"peer {LAST_STEAL['peer'] * 1000:.0f} ms over {LAST_STEAL['runs']} runs each")
                row["note"] = f"{note}; {stolen}" if note else stolen
            LAST_STEAL.clear()
        self.rows.append(row)
        return row

    def skip(self, operation, peer_name, why):
        self.rows.append({"operation": operation, "peer": peer_name, "skipped": why})

    def table(self):
        def fmt(value, unit=""):
            if value is None:
                return "-"
            if unit == "s":
                return f"{value * 1000:.2f} ms" if value < 1 else f"{value:.2f} s"
            if unit == "B":
                return f"{value / (1 << 20):.1f} MiB"
            if unit == "x":
                return f"{value:.2f}x"
            return f"{value:.0f}"
        lines = ["| operation | peer | ours | peer | ratio | our MB/s | our peak RSS | peer peak RSS | our output | peer output |",
                 "|---|---|---|---|---|---|---|---|---|---|"]
        for r in self.rows:
            if "skipped" in r:
                lines.append(f"| {r['operation']} | {r['peer']} | skipped: {r['skipped']} | | | | | | | |")
                continue
            lines.append("| " + " | ".join([
                r["operation"], r["peer"], fmt(r["ours_s"], "s"), fmt(r["peer_s"], "s"), fmt(r["ratio"], "x"),
                fmt(r["ours_mb_s"]), fmt(r["ours_rss"], "B"), fmt(r["peer_rss"], "B"),
                fmt(r["ours_size"], "B"), fmt(r["peer_size"], "B")]) + " |")
        notes = [f"- {r['operation']} vs {r['peer']}: {r['note']}" for r in self.rows if r.get("note")]
        return "\n".join(lines + ([""] + notes if notes else []))


# GNU time, for peak RSS (see peak_rss); None when it is not installed (`apt-get install time`).
GNU_TIME = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None


def peak_rss(command):
    """Peak RSS of one run of `command` (bytes; for a pipeline, its largest process), measured by
    GNU time, which forks the command itself. The rusage of a child of this script cannot give
    it: a child forked from Python starts with Python's resident pages counted (Linux keeps the
    high-water mark across exec), so every command under ~24 MiB would read as Python's size."""
    if GNU_TIME is None:
        return None
    argv = command if isinstance(command, list) else ["/bin/bash", "-o", "pipefail", "-c", command]
    with tempfile.NamedTemporaryFile("r", prefix="compare-rss-") as out:
        run([GNU_TIME, "-f", "%M", "-o", out.name] + argv)
        text = out.read().strip().splitlines()
    return int(text[-1]) * 1024 if text and text[-1].isdigit() else None


def steal_seconds():
    """CPU time the hypervisor has taken from this machine's cores since boot (the `steal`
    column of /proc/stat's `cpu` line), in seconds; None where the kernel does not say."""
    try:
        with open("/proc/stat") as handle:
            fields = handle.readline().split()
        return int(fields[8]) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def effective_cores(work):
    """How much a second core speeds `zstd -3` up on this machine right now: the median of 3
    alternating runs of `zstd -3 --single-thread` over `zstd -3 -T2` on the same 64 MB (the
    largest programs in /usr/bin, in the page cache after the first run). On a quiet 2-core
    machine a second core gave zstd -3 1.77-2.06x (`-T2 -B4MiB` against `-T1` on the benchmark
    disk's tar, 5 rounds). A host short of CPU can run a VM's two vCPUs one at a time while counting
    little steal time (seen: 1.0-1.3, with `zstd -T2`'s user time equal to its wall time), and
    then no two-core row of ours can reach its ratio. None when zstd is missing or this
    process may use only one core."""
    if not have("zstd") or len(os.sched_getaffinity(0)) < 2:
        return None
    sample = os.path.join(work, "cores-sample")
    if not os.path.exists(sample):
        programs = []
        for name in os.listdir("/usr/bin"):
            path = os.path.join("/usr/bin", name)
            if os.path.isfile(path) and not os.path.islink(path):
                programs.append((os.path.getsize(path), path))
        with open(sample, "wb") as out:
            written = 0
            for _, path in sorted(programs, reverse=True):
                if written >= 64_000_000:
                    break
                try:
                    with open(path, "rb") as handle:
                        chunk = handle.read(64_000_000 - written)
                except OSError:
                    continue
                out.write(chunk)
                written += len(chunk)
    one, two = [], []
    for _ in range(3):
        # Argument lists, not shell strings: the work folder may hold any character.
        one.append(run(["zstd", "-q", "-3", "--single-thread", "-c", sample]))
        two.append(run(["zstd", "-q", "-3", "-T2", "-B2097152", "-c", sample]))
    return statistics.median(one) / statistics.median(two)


# Steal time during the timed runs of the last `alternate` call, per side; `Results.add`
# puts it in the row. A run of ours that loses CPU to the host (a shared machine under
# load) reads slow through no fault of its own: the note says so instead of leaving a guess.
LAST_STEAL = {}


def alternate(runs, ours, peer, before=None):
    """Runs ours and peer alternately `runs` times and returns their median times, then runs
    each once more under GNU time for its peak RSS (a run of its own, so the measurement adds
    nothing to the timed runs). The CPU steal time during each side's timed runs is left in
    LAST_STEAL."""
    ours_t, peer_t = [], []
    stolen = {"ours": 0.0, "peer": 0.0} if steal_seconds() is not None else None
    for index in range(runs):
        pair = [("ours", ours), ("peer", peer)] if index % 2 == 0 else [("peer", peer), ("ours", ours)]
        for which, command in pair:
            if before:
                before(which)
            steal_before = steal_seconds()
            t = run(command)
            if stolen is not None:
                stolen[which] += steal_seconds() - steal_before
            (ours_t if which == "ours" else peer_t).append(t)
    LAST_STEAL.clear()
    if stolen is not None:
        LAST_STEAL.update(ours=stolen["ours"], peer=stolen["peer"], runs=runs)
    rss = {}
    for which, command in [("ours", ours), ("peer", peer)]:
        if before:
            before(which)
        rss[which] = peak_rss(command)
    return statistics.median(ours_t), statistics.median(peer_t), rss["ours"], rss["peer"]


def row_key(row):
    return f"{row['operation']} vs {row['peer']}"


def below(row, floor):
    return "skipped" not in row and (row["ratio"] is None or row["ratio"] < floor)


def check_floors(results, floors, groups, attempts):
    """Checks every row against its floor. A row below its floor is measured again, with the
    rows of its group, up to `attempts` times in all: a real regression is below the floor in
    every attempt, while a burst of other load on a shared machine rarely lasts through three
    (one CI run measured extract at 1.20x, where seven quiet runs gave 1.78-2.16x). The row
    keeps the last attempt's numbers, and its note names the earlier ratios. Returns
    [(key, floor, [ratio of each attempt])] for the rows below their floor every time."""
    history = {}
    for row in results.rows:
        floor = floors.get(row_key(row))
        if floor is not None and "skipped" in row:
            print(f"compare.py: {row_key(row)}: floor {floor} not checked, row skipped: {row['skipped']}",
                  file=sys.stderr)
    for attempt in range(2, attempts + 1):
        low = [row for row in results.rows if row_key(row) in floors and below(row, floors[row_key(row)])]
        if not low:
            break
        for row in low:
            history.setdefault(row_key(row), []).append(row["ratio"])
            print(f"compare.py: {row_key(row)}: ratio {row['ratio'] if row['ratio'] is None else round(row['ratio'], 2)} "
                  f"is below the floor {floors[row_key(row)]}: measuring it again (attempt {attempt} of {attempts})",
                  file=sys.stderr)
        keys = {row_key(row) for row in low}
        for rows, body in groups:
            group_keys = {f"{operation} vs {peer}" for operation, peer in rows}
            if not group_keys & keys:
                continue
            # The group's rows are measured again and replace the old ones in place.
            positions = [index for index, row in enumerate(results.rows) if row_key(row) in group_keys]
            old = [results.rows[index] for index in positions]
            results.rows = [row for row in results.rows if row_key(row) not in group_keys]
            start = len(results.rows)
            try:
                body()
            except Unsupported:
                pass
            fresh = results.rows[start:]
            results.rows = results.rows[:start]
            if len(fresh) != len(old):
                fresh = old
            for index, row in zip(positions, fresh):
                earlier = history.get(row_key(row))
                if earlier:
                    shown = ", ".join("missing" if r is None else f"{r:.2f}x" for r in earlier)
                    row["note"] = ((row.get("note") or "") + f"; attempt {len(earlier) + 1}, earlier {shown}").lstrip("; ")
                results.rows.insert(index, row)
    failed = []
    for row in results.rows:
        floor = floors.get(row_key(row))
        if floor is not None and below(row, floor):
            failed.append((row_key(row), floor, history.get(row_key(row), []) + [row["ratio"]]))
    return failed


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", choices=PROFILES, default="ci")
    parser.add_argument("--runs", type=int)
    parser.add_argument("--qcowtool", help="path of a release qcowtool (default: build one)")
    parser.add_argument("--json", help="write the results here as JSON")
    parser.add_argument("--floors", default=os.path.join(ROOT, "Benchmarks", "floors.json"))
    parser.add_argument("--check-floors", action="store_true", help="exit 1 when a ratio is below its floor")
    parser.add_argument("--attempts", type=int, default=3,
                        help="with --check-floors: how many times in all a row below its floor is measured "
                             "before it fails (default 3)")
    parser.add_argument("--workdir", help="folder for the generated disk (default: a temporary one)")
    parser.add_argument("--realtime", action="store_true",
                        help="run every timed command, ours and the peer's, under `chrt -f 10` (needs root): "
                             "shields the timings from other load on a shared machine")
    args = parser.parse_args()
    if args.realtime:
        if not have("chrt"):
            sys.exit("compare.py: --realtime needs chrt (util-linux)")
        REALTIME_PREFIX[:] = ["chrt", "-f", "10"]
    profile = dict(PROFILES[args.profile])
    if args.runs:
        profile["runs"] = args.runs

    tool = args.qcowtool
    if not tool:
        subprocess.run(["swift", "build", "-c", "release", "--product", "qcowtool"], cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL)
        bin_path = subprocess.run(["swift", "build", "-c", "release", "--show-bin-path"], cwd=ROOT, check=True,
                                  capture_output=True, text=True).stdout.strip()
        tool = os.path.join(bin_path, "qcowtool")

    for needed in ["mkfs.ext4"]:
        if not have(needed):
            sys.exit(f"compare.py: {needed} is needed to build the test disk (apt-get install e2fsprogs)")

    work = args.workdir or tempfile.mkdtemp(prefix="vmimage-bench-", dir="/var/tmp")
    results = Results()
    steal_at_start, clock_at_start = steal_seconds(), time.monotonic()
    cores_at_start = cores_at_end = None
    try:
        folder, data = make_disk(work, profile)
        disk = os.path.join(folder, "disk.img")
        virtual = os.path.getsize(disk)
        print(f"disk: {virtual >> 20} MiB virtual, {data / 1e6:.0f} MB of /usr, "
              f"{allocated(disk) / 1e6:.0f} MB allocated", file=sys.stderr)
        cores_at_start = effective_cores(work)
        ours_archive = os.path.join(work, "ours.tar.zst")
        old_archive = os.path.join(work, "old.tar.zst")
        mt_archive = os.path.join(work, "mt.tar.zst")
        q = lambda p: "'" + p.replace("'", "'\\''") + "'"

        def clean(path):
            def before(_):
                if os.path.isdir(path):
                    shutil.rmtree(path)
                elif os.path.exists(path):
                    os.remove(path)
            return before

        groups = []

        def guarded(rows, body):
            """Runs body; when our qcowtool lacks a subcommand, records `rows` as skipped, never faked.
            Remembers the group, so a row below its floor can be measured again (see check_floors)."""
            groups.append((rows, body))
            try:
                body()
            except Unsupported as error:
                for operation, peer_name in rows:
                    results.skip(operation, peer_name, str(error))

        # Package.
        ours_package = f"{q(tool)} package -q {q(folder)} {q(ours_archive)}"

        def package_rows():
            if have("qemu-img") and have("zstd"):
                old_package = (f"cd {q(folder)} && rm -f layer.qcow2 && qemu-img create -q -f qcow2 -F raw -b disk.img "
                               f"-o lazy_refcounts=on layer.qcow2 && tar -cSf - disk.img layer.qcow2 machine.json "
                               f"| zstd -q -3 -f -o {q(old_archive)}")

                def before_package(which):
                    # Remove only the archive about to be written: the other one is needed afterwards.
                    # Then `sync`, so no run is throttled by the previous one's 90 MB of writeback
                    # (the peer's time varied 1.6-2.2 s without it).
                    path = ours_archive if which == "ours" else old_archive
                    if os.path.exists(path):
                        os.remove(path)
                    subprocess.run(["sync"], check=True)
                # At least 5 pairs: the package ratio is the one closest to its target.
                o, p, om, pm = alternate(max(5, profile["runs"]), ours_package, old_package, before_package)
                results.add("package", o, p, "qemu-img create + tar -S + zstd -3", data, os.path.getsize(ours_archive),
                            os.path.getsize(old_archive), om, pm)
                mt_package = (f"cd {q(folder)} && tar -cSf - disk.img layer.qcow2 machine.json "
                              f"| zstd -q -3 -T0 -f -o {q(mt_archive)}")
                o, p, om, pm = alternate(profile["runs"], ours_package, mt_package)
                results.add("package", o, p, "tar -S | zstd -3 -T0", data, os.path.getsize(ours_archive),
                            os.path.getsize(mt_archive), om, pm)
            else:
                results.skip("package", "qemu-img create + tar -S + zstd -3", "qemu-img or zstd not installed")
                run(ours_package)
        guarded([("package", "qemu-img create + tar -S + zstd -3"), ("package", "tar -S | zstd -3 -T0")],
                package_rows)

        # Extract + validate. Both sides extract the SAME archive, the one a user gets (ours:
        # independent frames with a seek table, which plain zstd reads as one stream). Before
        # every run, both outputs are removed and `sync` writes back whatever is dirty, so no
        # run pays for (or is throttled by) the previous run's writeback; the archive is read
        # once so it is in the page cache for both, as right after a download.
        ours_out = os.path.join(work, "ours-extract")
        peer_out = os.path.join(work, "peer-extract")
        ours_extract = f"{q(tool)} extract -q {q(ours_archive)} {q(ours_out)}"

        def fresh_outputs(_=None):
            clean(ours_out)(None)
            clean(peer_out)(None)
            subprocess.run(["sync"], check=True)
            with open(ours_archive, "rb") as handle:
                while handle.read(8 << 20):
                    pass

        def extract_rows():
            if not os.path.exists(ours_archive):
                results.skip("extract + validate", "zstd -dc | tar -x + 2 x qemu-img info", "no archive of ours (package skipped)")
                return
            if have("qemu-img") and have("zstd"):
                peer_extract = (f"mkdir {q(peer_out)} && zstd -dqc {q(ours_archive)} | tar -xSf - -C {q(peer_out)} && "
                                f"qemu-img info {q(peer_out)}/layer.qcow2 >/dev/null && "
                                f"qemu-img info -f raw {q(peer_out)}/disk.img >/dev/null")
                o, p, om, pm = alternate(profile["runs"], ours_extract, peer_extract, fresh_outputs)
                fresh_outputs()
                run(ours_extract)
                run(peer_extract)
                results.add("extract + validate", o, p, "zstd -dc | tar -x + 2 x qemu-img info", data,
                            allocated(ours_out), allocated(peer_out), om, pm,
                            note="same archive (ours) for both; output = allocated bytes")
            else:
                results.skip("extract + validate", "zstd -dc | tar -x + 2 x qemu-img info", "qemu-img or zstd not installed")
                fresh_outputs()
                run(ours_extract)
            # Scaling: our extract on one core against the same on two (no floor: a report).
            if have("taskset") and len(os.sched_getaffinity(0)) >= 2:
                def pinned(cpus):
                    return f"taskset -c {cpus} {ours_extract}"
                o, p, om, pm = alternate(profile["runs"], pinned("0,1"), pinned("0"), fresh_outputs)
                results.add("extract + validate, taskset -c 0,1", o, p, "the same on taskset -c 0", data, None, None, om, pm,
                            note="scaling with cores")
            fresh_outputs()
            run(ours_extract)
        guarded([("extract + validate", "zstd -dc | tar -x + 2 x qemu-img info"),
                 ("extract + validate, taskset -c 0,1", "the same on taskset -c 0")], extract_rows)

        layer = os.path.join(ours_out, "layer.qcow2")
        if not os.path.exists(layer):
            # Our extract did not run: inspect the overlay the old pipeline made (or make one).
            layer = os.path.join(folder, "layer.qcow2")
            ours_out = folder
            if not os.path.exists(layer) and have("qemu-img"):
                subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b", "disk.img", layer],
                               cwd=folder, check=True)
        # Inspect, per process.
        def inspect_rows():
            if have("qemu-img"):
                o, p, om, pm = alternate(profile["calls"], [tool, "inspect", "--json", layer],
                                         ["qemu-img", "info", "--output=json", layer])
                results.add("inspect (whole process)", o, p, "qemu-img info --output=json", None, None, None, om, pm)
            else:
                results.skip("inspect (whole process)", "qemu-img info --output=json", "qemu-img not installed")
        guarded([("inspect (whole process)", "qemu-img info --output=json")], inspect_rows)

        # New overlay on the image's disk.
        overlay = os.path.join(ours_out, "instance.qcow2")
        ours_create = [tool, "create", "-q", "-f", "qcow2", "-b", "disk.img", "-F", "raw", overlay]

        def overlay_rows():
            if have("qemu-img"):
                o, p, om, pm = alternate(profile["calls"], ours_create,
                                         ["qemu-img", "create", "-q", "-f", "qcow2", "-b", "disk.img", "-F", "raw", overlay],
                                         clean(overlay))
                results.add("new overlay (whole process)", o, p, "qemu-img create", None, None, None, om, pm)
            o, p, om, pm = alternate(profile["calls"], ours_create, ["cp", layer, overlay], clean(overlay))
            results.add("new overlay (whole process)", o, p, "cp layer.qcow2", None, None, None, om, pm)
        guarded([("new overlay (whole process)", "qemu-img create"), ("new overlay (whole process)", "cp layer.qcow2")],
                overlay_rows)

        # Check and convert on a qcow2 holding the data.
        def check_convert_rows():
            if have("qemu-img"):
                data_image = os.path.join(work, "data.qcow2")
                subprocess.run(["qemu-img", "convert", "-O", "qcow2", disk, data_image], check=True)
                o, p, om, pm = alternate(profile["runs"], f"{q(tool)} check {q(data_image)}",
                                         f"qemu-img check {q(data_image)}")
                results.add("check", o, p, "qemu-img check", None, None, None, om, pm)
                ours_raw = os.path.join(work, "ours.raw")
                peer_raw = os.path.join(work, "peer.raw")

                def before_convert(which):
                    # Then `sync`, as before package and extract: otherwise the previous run's
                    # 248 MB of output (or the image just made) is written back during this one,
                    # and the flusher takes CPU from whichever tool runs then.
                    clean(ours_raw if which == "ours" else peer_raw)(which)
                    subprocess.run(["sync"], check=True)
                o, p, om, pm = alternate(profile["runs"], f"{q(tool)} convert -O raw {q(data_image)} {q(ours_raw)}",
                                         f"qemu-img convert -O raw {q(data_image)} {q(peer_raw)}", before_convert)
                results.add("convert -O raw", o, p, "qemu-img convert -O raw", data, allocated(ours_raw),
                            allocated(peer_raw), om, pm, note="output = allocated bytes")
            else:
                results.skip("check / convert", "qemu-img", "qemu-img not installed")
        guarded([("check", "qemu-img check"), ("convert -O raw", "qemu-img convert -O raw")], check_convert_rows)

        # Convert of compressed images (as cloud images ship): each kind made once per run from
        # the same disk with qemu-img convert -c, then both tools convert that same file.
        def compressed_convert_rows():
            for kind in ("zlib", "zstd"):
                operation = f"convert {kind}-compressed -> raw"
                if not have("qemu-img"):
                    results.skip(operation, "qemu-img convert -O raw", "qemu-img not installed")
                    continue
                image = os.path.join(work, f"{kind}.qcow2")
                subprocess.run(["qemu-img", "convert", "-c", "-f", "raw", "-O", "qcow2", "-o",
                                f"compression_type={kind}", disk, image], check=True)
                ours_raw = os.path.join(work, f"ours-{kind}.raw")
                peer_raw = os.path.join(work, f"peer-{kind}.raw")

                def before_convert(which):
                    # Then `sync`, as before package and extract: otherwise the previous run's
                    # 248 MB of output (or the image just made) is written back during this one,
                    # and the flusher takes CPU from whichever tool runs then.
                    clean(ours_raw if which == "ours" else peer_raw)(which)
                    subprocess.run(["sync"], check=True)
                # At least 5 pairs, as for package: one run of ours ranges 0.20-0.37 s on the zstd
                # image (two cores, shared), so a median of 3 moved the ratio by a third.
                o, p, om, pm = alternate(max(5, profile["runs"]), f"{q(tool)} convert -O raw {q(image)} {q(ours_raw)}",
                                         f"qemu-img convert -O raw {q(image)} {q(peer_raw)}", before_convert)
                same = subprocess.run(["cmp", "-s", ours_raw, peer_raw]).returncode == 0
                results.add(operation, o, p, "qemu-img convert -O raw", data, allocated(ours_raw), allocated(peer_raw),
                            om, pm, note=f"input {os.path.getsize(image) / 1e6:.0f} MB; output = allocated bytes"
                                         + ("" if same else "; OUTPUTS DIFFER"))
                if not same:
                    print(f"compare.py: {operation}: our output differs from qemu-img's", file=sys.stderr)
                for path in (image, ours_raw, peer_raw):
                    if os.path.exists(path):
                        os.remove(path)
        guarded([("convert zlib-compressed -> raw", "qemu-img convert -O raw"),
                 ("convert zstd-compressed -> raw", "qemu-img convert -O raw")], compressed_convert_rows)

        # zstd alone: the ceiling for package.
        if have("zstd"):
            bench = subprocess.run(["zstd", "-b3", "-T0", disk], capture_output=True, text=True)
            # zstd redraws its progress line with carriage returns: keep the last full result.
            pieces = (bench.stdout + bench.stderr).replace("\r", "\n").splitlines()
            results_lines = [piece.strip() for piece in pieces if "MB/s" in piece]
            print(f"zstd -b3 -T0 on the disk: {results_lines[-1] if results_lines else 'no result'}", file=sys.stderr)
        cores_at_end = effective_cores(work)
        if cores_at_start is not None and cores_at_end is not None:
            print(f"compare.py: a second core sped zstd -3 up {cores_at_start:.2f}x at the start of the run and "
                  f"{cores_at_end:.2f}x at the end (quiet rounds on the benchmark disk's tar: 1.77-2.06x; well below that, "
                  f"the host is holding back every two-core row of ours)", file=sys.stderr)
        failed = []
        if args.check_floors and os.path.exists(args.floors):
            with open(args.floors) as handle:
                floors = json.load(handle)
            failed = check_floors(results, floors, groups, args.attempts)
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)

    print(results.table())
    steal_at_end = steal_seconds()
    if steal_at_start is not None and steal_at_end is not None:
        print(f"compare.py: CPU steal time over the whole run: {steal_at_end - steal_at_start:.2f} s "
              f"in {time.monotonic() - clock_at_start:.0f} s", file=sys.stderr)
    report = {"profile": args.profile, "runs": profile["runs"], "rows": results.rows,
              "second_core_speedup": {"start": cores_at_start, "end": cores_at_end}}
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(report, handle, indent=2)
    if args.check_floors:
        if failed:
            for key, floor, ratios in failed:
                shown = ", ".join("missing" if r is None else f"{r:.2f}" for r in ratios)
                print(f"compare.py: {key}: ratio below the floor {floor} in every attempt ({shown})", file=sys.stderr)
            sys.exit(1)
        print("compare.py: every ratio is at or above its floor", file=sys.stderr)


if __name__ == "__main__":
    main()
