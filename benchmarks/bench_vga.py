"""Benchmark: VGA and isovists with an unlimited view, cpted against depthmapX and CGAL, side by side.

Run on demand (not part of the tests):

    python benchmarks/bench_vga.py [--side 800] [--cell 5] [--depthmapx PATH] [--dmx-integration]

Scene: a square window of Île de Nantes (IGN BD TOPO buildings, ../shared/data), the buildings
inside it as occluders, the window's outline bounding the view. The cells are depthmapX's own
5 m grid of the open space (VISPREP, filled from a seed point), so that both tools work on the
same places; cpted's connectivity is checked against depthmapX's on every cell.

Everything runs on one thread (numba set to 1 thread; depthmapX is single-threaded), in one run,
and the ratios are printed, for wall time and for CPU time (this process's for cpted, the
children's ``getrusage`` for depthmapX): on a shared machine the CPU times are the fairer
comparison. The load average is printed. Timed:

- the visibility graph, unlimited view: depthmapX VISPREP (grid + graph, its "Make graph" time)
  against cpted's :func:`cpted.engines.vga.visibility_graph` (graph only: the grid is given);
- visual integration [HH] (global visual measures): depthmapX ``VGA -vm visibility -vg -vr n``
  (only with ``--dmx-integration``: it takes tens of minutes on this scene) against cpted's
  breadth-first searches over the graph;
- isovists, unlimited view: depthmapX ``VGA -vm isovist`` (measures per cell), pyvispoly (CGAL,
  polygons) when installed, and cpted's :func:`cpted.engines.visibility.isovists` with
  ``geometry=False`` (measures only, as depthmapX).

depthmapX is built from source as /work/shared/notes/depthmapx.md says (about 20 minutes on two
cores): ``cmake .. -DCMAKE_BUILD_TYPE=Release && make depthmapXcli``; pass the binary with
``--depthmapx`` or ``DEPTHMAPX``.
"""

from __future__ import annotations

import argparse
import csv
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_isovists import DATA, edges, scene_window  # noqa: E402

from cpted.engines.vga import vga, visibility_graph  # noqa: E402
from cpted.engines.visibility import isovists, prepare_scene  # noqa: E402

DEFAULT_DMX = "/work/tools/depthmapX-src/build/depthmapXcli/depthmapXcli"


def timed(fn):
    """(wall seconds, CPU seconds of this process, result)."""
    start, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - start, time.process_time() - cpu, out


def dmx(binary: str, *args: str, cwd: Path) -> dict[str, float]:
    """Run depthmapXcli with timings; returns its own timings (seconds per action) and, under
    "CPU", the CPU seconds of the whole run (user + system, from getrusage of the children)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([binary, *args, "-t", "times.csv"], cwd=cwd, check=True, capture_output=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(cwd / "times.csv") as f:
        out = {row["action"]: float(row["duration"]) for row in csv.DictReader(f)}
    out["CPU"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return out


def load_average() -> str:
    return ", ".join(f"{v:.2f}" for v in os.getloadavg())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--side", type=float, default=800.0, help="window side, metres")
    ap.add_argument("--cell", type=float, default=5.0, help="grid spacing, metres")
    ap.add_argument("--depthmapx", default=os.environ.get("DEPTHMAPX", DEFAULT_DMX))
    ap.add_argument("--dmx-integration", action="store_true", help="also time depthmapX's global VGA (slow)")
    args = ap.parse_args()
    if not DATA.is_dir():
        print(f"data not found at {DATA}; set CPTED_DATA_DIR", file=sys.stderr)
        return 1
    if not Path(args.depthmapx).is_file():
        print(f"depthmapXcli not found at {args.depthmapx}: build it (see the module docstring)", file=sys.stderr)
        return 1
    import numba

    numba.set_num_threads(1)
    obstacles, window = scene_window(args.side)
    work = Path(tempfile.mkdtemp(prefix="bench_vga_"))
    segs = edges(obstacles, window)
    pd.DataFrame({"Ref": np.arange(len(segs)), "x1": segs[:, 0, 0], "y1": segs[:, 0, 1], "x2": segs[:, 1, 0],
                  "y2": segs[:, 1, 1]}).to_csv(work / "lines.csv", index=False)
    free = window.buffer(-1).difference(shapely.union_all(obstacles.values))
    seed = shapely.point_on_surface(max(shapely.get_parts(free), key=lambda p: p.area))
    dmx(args.depthmapx, "-m", "IMPORT", "-f", "lines.csv", "-o", "drawing.graph", cwd=work)
    prep = dmx(args.depthmapx, "-m", "VISPREP", "-f", "drawing.graph", "-o", "prep.graph", "-pg", f"{args.cell:g}",
               "-pp", f"{seed.x},{seed.y}", "-pm", cwd=work)
    dmx(args.depthmapx, "-m", "EXPORT", "-f", "prep.graph", "-o", "prep.csv", "-em", "pointmap-data-csv", cwd=work)
    cells = pd.read_csv(work / "prep.csv")
    iso_dmx = dmx(args.depthmapx, "-m", "VGA", "-f", "prep.graph", "-o", "iso.graph", "-vm", "isovist", cwd=work)
    print(f"scene: {args.side:g} m window of Île de Nantes, {len(obstacles)} buildings, {len(segs)} occluder edges; "
          f"depthmapX's {args.cell:g} m grid: {len(cells)} cells; unlimited view; 1 thread")
    print(f"depthmapX timings: {prep} (VISPREP); {iso_dmx} (isovists)")

    scene = prepare_scene(obstacles, extent=window)
    places = gpd.GeoSeries(shapely.points(cells["x"], cells["y"]), crs=2154)
    visibility_graph(places[:50], scene)  # compile / warm
    vga(places[:50], scene, measures=("node_count", "mean_depth", "integration_hh"))
    isovists(places[:5], scene, geometry=False)
    print(f"load average before cpted: {load_average()}")
    t_graph, c_graph, graph = timed(lambda: visibility_graph(places, scene))
    conn = np.diff(graph[0])
    same = np.mean(conn == cells["Connectivity"].to_numpy())
    t_integ, c_integ, out = timed(lambda: vga(places, scene, graph=graph, measures=("node_count", "mean_depth",
                                                                                    "integration_hh")))
    t_iso, c_iso, _ = timed(lambda: isovists(places, scene, geometry=False))

    # (task, peer wall, peer CPU, cpted wall, cpted CPU); depthmapX's CPU is its whole run (load and write included)
    rows = [("visibility graph (connectivity)", prep.get("Making graph", np.nan), prep["CPU"], t_graph, c_graph)]
    if args.dmx_integration:
        glob = dmx(args.depthmapx, "-m", "VGA", "-f", "prep.graph", "-o", "vis.graph", "-vm", "visibility", "-vg",
                   "-vr", "n", cwd=work)
        rows.append(("visual integration [HH] (given the graph)", glob.get("Run VGA", np.nan), glob["CPU"], t_integ,
                     c_integ))
    else:
        rows.append(("visual integration [HH] (given the graph)", np.nan, np.nan, t_integ, c_integ))
    rows.append(("isovists (measures only, both sides)", iso_dmx.get("Run VGA", np.nan), iso_dmx["CPU"], t_iso, c_iso))
    try:
        from bench_isovists import run_pyvispoly

        cpu = time.process_time()
        t_cgal, _ = run_pyvispoly(obstacles, window, places, None)
        rows.append(("isovists: CGAL (pyvispoly, polygons)", t_cgal, time.process_time() - cpu, t_iso, c_iso))
    except ImportError as exc:
        print(f"CGAL (pyvispoly): skipped ({exc})")
    print(f"load average after: {load_average()}")
    print(f"\ncpted connectivity equals depthmapX's on {same:.2%} of cells "
          f"({int((conn != cells['Connectivity'].to_numpy()).sum())} differ); {len(graph[1]):,} directed edges")
    print(f"\n{'task':<44}{'peer s':>9}{'cpted s':>9}{'ratio':>8}{'peer CPU':>10}{'cpted CPU':>10}{'ratio':>8}")
    for name, peer, peer_cpu, ours, ours_cpu in rows:
        def cell(v, w=9):
            return f"{v:{w}.2f}" if np.isfinite(v) else f"{'not run':>{w}}"
        def ratio(a, b):
            return f"{a / b:7.2f}x" if np.isfinite(a) else f"{'–':>8}"
        print(f"{name:<44}{cell(peer)}{cell(ours)}{ratio(peer, ours)}{cell(peer_cpu, 10)}{cell(ours_cpu, 10)}"
              f"{ratio(peer_cpu, ours_cpu)}")
    print("(ratio: peer / cpted, above 1 when cpted is faster; depthmapX's seconds are its own timings of the step, "
          "its CPU the whole run's)")
    print(f"\ncpted visual integration: median {np.nanmedian(out['integration_hh']):.3f} over {len(out)} cells")
    return 0


if __name__ == "__main__":
    sys.exit(main())
