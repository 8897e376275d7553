"""Benchmark: the batch on Dask, 1 worker (in process, no Dask) against 2 workers (LocalCluster).

Run on demand (not part of the tests):

    python benchmarks/bench_dask.py [--repeat 6] [--cell-size 10] [--workers 1 2]

The sites are the sample sites with full data: Lorient, Le Mans and Nantes Graslin (full-tag
OSM) and Île de Nantes (BD TOPO buildings, the Nantes walk graph and facilities), each repeated
``--repeat`` times under another id (24 sites by default), so every run does the same work.
Prints the wall time of each worker count, the speed-up against 1 worker, and per site its
mean audit time and peak resident memory (from summary.csv). Both runs happen side by side in
one invocation, on the same machine.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys
import tempfile
import time
from pathlib import Path


from cpted.load.sites_file import SitesFile, read_sites_file
from cpted.pipeline import batch

ROOT = Path(__file__).resolve().parents[1]


def sites(data: Path, repeat: int, cell_size: float) -> SitesFile:
    osm = read_sites_file(ROOT / "sample_sites" / "france_osm.toml", data_dir=data)
    nantes = read_sites_file(ROOT / "sample_sites" / "nantes_renewal.toml", data_dir=data)
    base = [*osm.sites, nantes.site("ile_de_nantes")]
    specs = [dataclasses.replace(s, id=f"{s.id}_{i}", cell_size=cell_size) for i in range(repeat) for s in base]
    return dataclasses.replace(osm, sites=specs, title=f"{len(specs)} sites")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=6)
    parser.add_argument("--cell-size", type=float, default=10.0)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data")
    args = parser.parse_args()
    logging.getLogger("distributed").setLevel(logging.WARNING)
    todo = sites(args.data_dir, args.repeat, args.cell_size)
    print(f"{len(todo.sites)} sites, {args.cell_size:g} m cells, {os.cpu_count()} cores", file=sys.stderr)
    runs = {}
    for n in args.workers:
        with tempfile.TemporaryDirectory() as out:
            start = time.perf_counter()
            result = batch(todo, out, workers=n)
            runs[n] = (time.perf_counter() - start, result.summary)
        assert (result.summary["status"] == "ok").all(), result.failed
        print(f"{n} worker(s): {runs[n][0]:.1f} s", file=sys.stderr)
    one = runs[args.workers[0]][0]
    print("\n| workers | wall time (s) | speed-up | sites/min |")
    print("|---|---|---|---|")
    for n, (wall, summary) in runs.items():
        print(f"| {n} | {wall:.1f} | {one / wall:.2f}x | {60 * len(summary) / wall:.1f} |")
    for n, (_, summary) in runs.items():
        per = summary.assign(site=summary["site_id"].str.rsplit("_", n=1).str[0]).groupby("site").agg(
            cells=("n_cells", "first"), seconds=("seconds", "mean"), peak_memory_mb=("peak_memory_mb", "max"))
        print(f"\nper site, {n} worker(s) (mean audit time, peak resident memory of the process):")
        print(per.round(1).to_string())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
