"""Benchmark: reading an OSMnx GraphML walk graph into the streets layer, streamed (cpted's
``read_graphml``) against osmnx (``load_graphml`` + ``graph_to_gdfs``, the reader cpted used before).

Run on demand (not part of the tests):

    python benchmarks/bench_graphml.py [--rounds N] [FILE ...]

Each read runs in a fresh Python process (old and new alternate, file by file): the imports first,
then the kernel's peak (VmHWM) is reset (``/proc/self/clear_refs``) and the read is timed (wall
and CPU). Printed: wall and CPU of the read, the resident memory before it, the peak during it and
the peak above the resident memory (the read's own cost), the process's ``ru_maxrss`` (imports
included) and ``uptime``'s load. The outputs' equality is tested in tests/test_graphml.py.

Measured 2026-12-01 on the shared 2-core machine (load 1.8-1.9), two rounds per file:

- walk_nantes_commune (27,168 streets): osmnx 4.95-5.76 s CPU, peak 586-587 MB (390 MB above the
  197 MB after imports); cpted 2.67-2.90 s, peak 235-236 MB (113 MB above 122-123 MB);
- walk_nantes_centre_4km (28,482 streets): osmnx 5.41-6.31 s, 634 MB (437 MB above 197 MB);
  cpted 2.99-3.07 s, 242-243 MB (120 MB above 122 MB).

Wall equals CPU here (one thread). Of cpted's time about 0.6-0.7 s is the bzip2 decompression,
0.9 s expat and its callbacks, 0.9 s the conversions and the table, 0.2 s edges_to_streets.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("CPTED_DATA_DIR", ROOT.parent / "shared" / "data"))
FILES = ["nantes/streets/walk_nantes_commune.graphml.bz2", "nantes/streets/walk_nantes_centre_4km.graphml.bz2"]

CHILD = r"""
import json, resource, sys, time
from pathlib import Path

def status(field):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024  # MB

which, path = sys.argv[1], Path(sys.argv[2])
from cpted.load.graph import edges_to_streets, read_graphml
if which == "osmnx":
    import bz2
    import osmnx as ox

    def read(path):
        with bz2.open(path, "rt", encoding="utf-8") as f:
            graph = ox.load_graphml(graphml_str=f.read())
        edges = ox.graph_to_gdfs(graph, nodes=False, fill_edge_geometry=True).reset_index()
        return edges_to_streets(edges, name=path.name)
else:
    read = read_graphml
before = status("VmRSS")
try:
    open("/proc/self/clear_refs", "w").write("5")  # VmHWM := VmRSS
    reset = True
except OSError:
    reset = False
wall, cpu = time.perf_counter(), time.process_time()
streets = read(path)
wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
peak = status("VmHWM")
print(json.dumps({"rows": len(streets), "wall": wall, "cpu": cpu, "rss_before": before, "peak": peak,
                  "extra": peak - before if reset else None,
                  "maxrss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def load() -> str:
    return Path("/proc/loadavg").read_text().split()[0]


def run(which: str, path: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", CHILD, which, str(path)], env=env, check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    files = args.files or [DATA / f for f in FILES]
    print(subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    print(f"{'file':38} {'reader':8} {'rows':>6} {'wall s':>7} {'cpu s':>6} {'rss MB':>7} {'peak MB':>8} "
          f"{'extra MB':>9} {'maxrss MB':>10} load")
    for path in files:
        for _ in range(args.rounds):
            for which in ("osmnx", "cpted"):
                r = run(which, path)
                extra = "n/a" if r["extra"] is None else f"{r['extra']:.0f}"
                print(f"{path.name:38} {which:8} {r['rows']:>6} {r['wall']:>7.2f} {r['cpu']:>6.2f} "
                      f"{r['rss_before']:>7.0f} {r['peak']:>8.0f} {extra:>9} {r['maxrss']:>10.0f} {load()}",
                      flush=True)
    print(subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())


if __name__ == "__main__":
    main()
