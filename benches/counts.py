#!/usr/bin/env python3
"""Load-insensitive counts for run.py's ferry scenarios: instructions
(callgrind, with --callgrind: this VM's perf has no hardware counters),
CPU time, page faults, syscalls (`strace -c -f`) and the HTTP requests the
registries logged, for ferry and any number of baseline binaries.
Wall-clock numbers on a shared machine drift with everyone else's work;
these do not, so a regression can be found (and its fix checked) while
the machine is busy.

    python3 benches/counts.py --baseline target/before/release/ferry
    python3 benches/counts.py --baseline before=/tmp/a/ferry --baseline head=/tmp/b/ferry
    python3 benches/counts.py --only small --no-strace

Reuses run.py's images, registries and scenarios (run `run.py` or
`target/release/gen-images target/bench/data` first for the data).
"""

from __future__ import annotations

import argparse
import collections
import importlib.util
import os
import statistics
import re
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
spec = importlib.util.spec_from_file_location("bench_run", HERE / "run.py")
R = importlib.util.module_from_spec(spec)
sys.modules["bench_run"] = R  # dataclasses look their module up
spec.loader.exec_module(R)

# docker-registry's access log: `... "GET /v2/... HTTP/1.1" 200 ...`
ACCESS = re.compile(rb'"(GET|HEAD|POST|PUT|PATCH|DELETE) (\S+) HTTP')


def requests(registries) -> collections.Counter:
    """Requests in the registries' logs so far, by method and kind of path."""
    c: collections.Counter = collections.Counter()
    for reg in registries:
        reg.log.flush()
        for m in ACCESS.finditer((reg.dir / "registry.log").read_bytes()):
            method, path = m.group(1).decode(), m.group(2).decode()
            kind = ("manifest" if "/manifests/" in path else
                    "upload" if "/blobs/uploads" in path else
                    "blob" if "/blobs/" in path else "other")
            c[f"{method} {kind}"] += 1
    return c


def instructions(cmd: list[str]) -> int:
    """Instructions executed (user space), counted by callgrind: this
    machine's perf has no hardware counters (a VM without a PMU)."""
    with tempfile.NamedTemporaryFile("r", suffix=".cg") as out:
        proc = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out.name}", *cmd],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=True)
        m = re.search(rb"Collected : (\d+)", proc.stderr)
        return int(m.group(1))


def usage(cmd: list[str]):
    """CPU seconds (user+sys), minor page faults and voluntary context
    switches of `cmd` and its threads, from wait4()."""
    devnull = [(os.POSIX_SPAWN_OPEN, fd, "/dev/null", os.O_WRONLY, 0) for fd in (1, 2)]
    pid = os.posix_spawnp(cmd[0], cmd, os.environ, file_actions=devnull)
    _, status, ru = os.wait4(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed")
    return ru.ru_utime + ru.ru_stime, ru.ru_minflt, ru.ru_nvcsw


def syscalls(cmd: list[str]) -> dict[str, int]:
    with tempfile.NamedTemporaryFile("r", suffix=".strace") as out:
        subprocess.run(["strace", "-f", "-c", "-o", out.name, *cmd],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        counts = {}
        for line in out.read().splitlines():
            parts = line.split()
            # % time, seconds, usecs/call, calls, [errors], syscall
            if len(parts) >= 5 and parts[0][0].isdigit() and parts[-1] != "total":
                counts[parts[-1]] = int(parts[3])
        return counts


def wall(sc, ferry, bins, n: int) -> None:
    """Runs each binary `n` times, alternating (and swapping who goes
    first), with the scenario's preparation before every run."""
    times = {label: [] for label, _ in bins}
    for i in range(n):
        order = bins if i % 2 == 0 else bins[::-1]
        for label, binary in order:
            if sc.prepare:
                sc.prepare()
            if ferry.setup:
                ferry.setup()
            times[label].append(R.measure_direct([binary, *ferry.cmd[1:]]).wall)
    for label, _ in bins:
        t = sorted(times[label])
        print(f"   {label}: min {t[0] * 1000:8.1f} ms  q1 {t[len(t) // 4] * 1000:8.1f} ms  "
              f"median {statistics.median(t) * 1000:8.1f} ms", flush=True)
    first = sorted(times[bins[0][0]])
    for label, _ in bins[1:]:
        other = sorted(times[label])
        print(f"   {bins[0][0]}/{label}: min {first[0] / other[0]:.3f}  "
              f"q1 {first[len(first) // 4] / other[len(other) // 4]:.3f}  "
              f"median {statistics.median(first) / statistics.median(other):.3f}", flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--baseline", action="append", default=[], metavar="[LABEL=]BIN",
                    help="another ferry binary to count beside this tree's (repeatable)")
    ap.add_argument("--only")
    ap.add_argument("--runs", type=int, default=5, help="CPU time etc.: median of this many")
    ap.add_argument("--callgrind", action="store_true", help="also count instructions (slow: ~50x)")
    ap.add_argument("--no-strace", action="store_true")
    ap.add_argument("--wall", type=int, default=0, metavar="N",
                    help="instead of counting: wall time of N alternating runs of each binary, "
                         "with min and lower quartile, which load inflates least")
    ap.add_argument("--data", type=Path, default=R.REPO / "target" / "bench" / "data")
    ap.add_argument("--work", type=Path, default=R.REPO / "target" / "bench" / "counts")
    args = ap.parse_args()

    R.shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)
    a = R.Registry(args.work, "registry-a")
    b = R.Registry(args.work, "registry-b")
    try:
        for repo, layout in [("src/oci4", "oci4"), ("src/docker4", "docker4"), ("src/small", "small")]:
            R.run([str(R.FERRY), "copy", "--progress", "none", "--all", "--dest-tls-verify=false",
                   f"oci:{args.data / layout}:bench", a.ref(repo)])
        scenarios = R.build_scenarios(a, b, args.data, args.work, 6)
        if args.only:
            scenarios = [s for s in scenarios if args.only in s.group or args.only in s.name]
        bins = [("new", str(R.FERRY))]
        for i, spec in enumerate(args.baseline):
            label, _, binary = spec.rpartition("=")
            bins.append((label or ("old" if i == 0 else f"old{i + 1}"), binary))
        for sc in scenarios:
            ferry = next((c for c in sc.contenders if c.label == "ferry" and c.cmd[0] == str(R.FERRY)), None)
            if ferry is None:
                continue
            print(f"== {sc.name}", flush=True)
            if args.wall:
                wall(sc, ferry, bins, args.wall)
                continue
            for label, binary in bins:
                cmd = [binary, *ferry.cmd[1:]]

                def fresh():
                    if sc.prepare:
                        sc.prepare()
                    if ferry.setup:
                        ferry.setup()

                fresh()
                before = requests([a, b])
                runs = [usage(cmd)]
                reqs = requests([a, b]) - before
                for _ in range(args.runs - 1):
                    fresh()
                    runs.append(usage(cmd))
                cpu = statistics.median(r[0] for r in runs)
                flt = statistics.median(r[1] for r in runs)
                csw = statistics.median(r[2] for r in runs)
                line = (f"   {label}: cpu {cpu * 1000:8.1f} ms  minflt {flt:7.0f}  nvcsw {csw:6.0f}  "
                        f"requests {sum(reqs.values()):4d} {dict(sorted(reqs.items()))}")
                if args.callgrind:
                    fresh()
                    line += f"\n        instructions {instructions(cmd) / 1e6:.2f} M"
                if not args.no_strace:
                    fresh()
                    sc_counts = syscalls(cmd)
                    top = sorted(sc_counts.items(), key=lambda kv: -kv[1])[:8]
                    line += f"\n        syscalls {sum(sc_counts.values())}: " + " ".join(f"{k}={v}" for k, v in top)
                    for k in ("fsync", "fdatasync", "renameat2", "rename", "openat", "sendto", "write", "connect"):
                        if k in sc_counts and k not in dict(top):
                            line += f" {k}={sc_counts[k]}"
                print(line, flush=True)
    finally:
        a.stop()
        b.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
