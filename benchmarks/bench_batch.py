"""Benchmark: the README's main command, ``cpted batch sample_sites/nantes_renewal.toml``, with a
cold and a warm parsed-source cache, on 1 and 2 workers.

Run on demand (not part of the tests):

    python benchmarks/bench_batch.py [--workers 1 2] [--uncached] [--sites FILE]

Each run is the command as a user types it (a fresh ``python -m cpted.cli batch`` process, so
start-up is counted), in one invocation, side by side: ``cold`` with an empty cache folder
(every source parsed, then written to the cache), ``warm`` with the folder the cold run filled,
and with ``--uncached`` the same command with ``--no-source-cache`` (what every run cost before
the cache). Prints the wall time and the CPU time of each run (the CPU time of the command and its
worker processes: on a machine shared with other jobs the wall time also counts their load), and
per site its time, split into reading the sources (``read_seconds`` of summary.csv: parsing the
files, or reading the cache), preparing the site (``prepare_seconds``: reprojecting, clipping,
noding, the grid) and the audit with the writing of its outputs, the reading share and the peak
memory of its worker. The targets of issue 18:
warm <= 30 s and cold <= 60 s wall on 2 cores, reading < 20 % of every site's time with a warm
cache, peak memory per worker <= 1 GB.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def run(sites: Path, out: Path, cache: Path | None, workers: int) -> tuple[float, float, pd.DataFrame]:
    """Wall and CPU seconds of one ``cpted batch`` command, and its summary."""
    cmd = [sys.executable, "-m", "cpted.cli", "batch", str(sites), "--out", str(out), "--quiet",
           "--workers", str(workers)]
    cmd += ["--no-source-cache"] if cache is None else ["--cache-dir", str(cache)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, pd.read_csv(out / "summary.csv")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--uncached", action="store_true", help="also run without the cache (--no-source-cache)")
    ap.add_argument("--sites", type=Path, default=ROOT / "sample_sites" / "nantes_renewal.toml")
    args = ap.parse_args()
    print(f"{args.sites.name}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the start",
          file=sys.stderr)
    runs = {}
    with tempfile.TemporaryDirectory(prefix="cpted-bench-") as tmp:
        tmp = Path(tmp)
        for n in args.workers:
            cache = tmp / f"cache-{n}"  # each worker count starts from an empty cache
            modes = [("cold", cache), ("warm", cache)] + ([("uncached", None)] if args.uncached else [])
            for mode, folder in modes:
                wall, cpu, summary = run(args.sites, tmp / f"out-{n}-{mode}", folder, n)
                runs[n, mode] = (wall, cpu, summary)
                print(f"{n} worker(s), {mode}: {wall:.1f} s wall, {cpu:.1f} s CPU", file=sys.stderr)
    print("\n| workers | cache | wall (s) | CPU (s) | sites | failed | max reading share | max peak memory (MB) |")
    print("|---|---|---|---|---|---|---|---|")
    for (n, mode), (wall, cpu, s) in runs.items():
        share = (s["read_seconds"] / s["seconds"]).max()
        print(f"| {n} | {mode} | {wall:.1f} | {cpu:.1f} | {len(s)} | {int(s['status'].isin(['failed', 'timed_out']).sum())} "
              f"| {share:.0%} | {s['peak_memory_mb'].max():.0f} |")
    for (n, mode), (_, _, s) in runs.items():
        table = pd.DataFrame({"site": s["site_id"], "status": s["status"], "seconds": s["seconds"],
                              "read": s["read_seconds"], "prepare": s["prepare_seconds"],
                              "audit_and_write": (s["seconds"] - s["read_seconds"] - s["prepare_seconds"]).round(2),
                              "reading_share": (s["read_seconds"] / s["seconds"]).round(3),
                              "peak_memory_mb": s["peak_memory_mb"]})
        print(f"\nper site, {n} worker(s), {mode} cache (seconds = read + prepare + audit and write):")
        print(table.to_string(index=False))
    for n in args.workers:
        if (n, "warm") in runs and (n, "cold") in runs:
            print(f"\n{n} worker(s): warm/cold wall {runs[n, 'warm'][0] / runs[n, 'cold'][0]:.2f}, "
                  f"warm/cold CPU {runs[n, 'warm'][1] / runs[n, 'cold'][1]:.2f}"
                  + (f", warm/uncached wall {runs[n, 'warm'][0] / runs[n, 'uncached'][0]:.2f}"
                     if (n, "uncached") in runs else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
