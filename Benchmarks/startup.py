# Whole-process start-up of qcowtool builds against qemu-img info, alternating, medians.
#   chrt -f 10 python3 Benchmarks/startup.py ROUNDS   (paths inside: edit for the builds to compare)
import subprocess, time, statistics, sys
cmds = {
  "qcowtool (static executable, dist/)": ["/work/main/dist/qcowtool", "inspect", "--json", "/tmp/st.qcow2"],
  "qcowtool (before: -static-stdlib, dynamic glibc/libzstd)": ["/tmp/qcowtool-old-stripped", "inspect", "--json", "/tmp/st.qcow2"],
  "qemu-img info --output=json": ["qemu-img", "info", "--output=json", "/tmp/st.qcow2"],
}
times = {k: [] for k in cmds}
for r in range(int(sys.argv[1])):
    for k, c in cmds.items():
        t = time.perf_counter(); subprocess.run(c, stdout=subprocess.DEVNULL, check=True); times[k].append(time.perf_counter() - t)
q = statistics.median(times["qemu-img info --output=json"])
for k, v in times.items():
    m = statistics.median(v)
    print(f"{k}: median {m*1000:.2f} ms (p10 {sorted(v)[len(v)//10]*1000:.2f}), qemu-img/this = {q/m:.2f}x")
