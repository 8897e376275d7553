"""Benchmark: angular segment analysis of cpted against depthmapX (built from source) and cityseer, one thread.

Run on demand (not part of the tests):

    python benchmarks/bench_angular.py [--depthmapx PATH] [--build-depthmapx SRC] [--skip-cityseer] [--skip-exact]
        [--reference] [--sample N]

Scene: the Nantes walk graph (OSMnx GraphML in ../shared/data, Lambert-93), the streets that meet a 2 × 2 km window
around (47.2138, -1.5553), cut into their straight pieces: every piece is a segment, as depthmapX's segment map
makes them (about 13,900 segments). Task: node count, total depth and choice at radii 400, 800, 1200 m and n.

- depthmapX: ``-m SEGMENT -st tulip -stb 1024 -srt metric -sr 400,800,1200,n -sic`` (its only fast mode; single
  threaded); the time of that step alone, as measured around the process.
- cpted: ``segment_centrality(tulip_bins=1024)`` (bucket queue) and the exact default (heap), numba at 1 thread,
  after a warm-up call that compiles the kernel; ``--reference`` also times the uncontracted kernel (the slow path
  the contracted one is tested against) and checks that both give the same values.
- cityseer: ``node_centrality_simplest`` (angular) on the dual graph, ``RAYON_NUM_THREADS=1``, radius n as 100 km.
  Its definitions differ (its radius is measured on the dual graph, its ties are relative 1e-4), so only its time is
  compared.

Everything runs in the same process, one after the other, so the ratios are measured side by side; wall-clock and
CPU times are both printed (on a shared machine the CPU time is the steadier of the two). With
``--sample N`` every tool except depthmapX runs on N sources only and its time is scaled (depthmapX has no such
option): use it for a quick look, not for the reported ratio. The script also checks that cpted's tulip node
count and total depth at radius n equal depthmapX's.

Measured 2026-11-30 on the shared 2-core machine (other jobs running), one thread, all 13,942 sources:

- with ``--reference --skip-cityseer`` (load 6.8 at the start, 8.0 at the end): depthmapX 364.1 s wall / 204.5 s CPU;
  cpted tulip 1024 137.0 s / 83.8 s (2.66x wall, 2.44x CPU); cpted's uncontracted kernel 267.9 s / 161.9 s (1.26x
  CPU: the parity measured before the contraction), with identical node count and total depth at every radius and
  choice within 2.8e-16; cpted exact 150.7 s / 89.5 s (2.28x CPU);
- an earlier run of a slightly slower build (load 7.6-9.7): depthmapX 306.9 s / 184.0 s, cpted tulip 165.2 s / 93.8 s
  (1.86x wall, 1.96x CPU), exact 162.9 s / 103.1 s, cityseer 736.1 s / 334.3 s.

cpted searches the directed segment graph with its chains of degree-2 segments contracted
(:mod:`cpted.engines._angular_chains`). Radius n node count equals depthmapX's on all 13,942 segments and total depth
agrees to 2.6e-8 (median), except one segment that is isolated in both graphs (its ends meet no other segment: the
nearest end is 21 m away): cpted gives its total depth as 0, depthmapX as -1 (its "no value"; checked on a
16-segment extract around it, where depthmapX also gives connectivity 0 and node count 1).

depthmapX: pass the built ``depthmapXcli`` (``--depthmapx``), or let the script build it from a checkout of
SpaceGroupUCL/depthmapX (``--build-depthmapx SRC``: cmake + make, about 20 minutes on 2 cores; the GUI and test
subdirectories are left out, see ../shared/notes/depthmapx.md). Without either, it looks under
/work/tools/depthmapX-src/build.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("NUMBA_NUM_THREADS", "1")
os.environ.setdefault("RAYON_NUM_THREADS", "1")
os.environ.setdefault("CITYSEER_QUIET_MODE", "1")

import geopandas as gpd  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import shapely  # noqa: E402

DATA = Path(os.environ.get("CPTED_DATA_DIR") or Path(__file__).resolve().parents[2] / "shared" / "data")
RADII = [400.0, 800.0, 1200.0, math.inf]
CENTRE = (-1.5553, 47.2138)
HALF = 1000.0


def pieces() -> np.ndarray:
    """(n, 4) straight pieces x1, y1, x2, y2 of the streets meeting the window (coordinates rounded to 1 mm)."""
    from cpted.load.graph import read_graphml

    streets = read_graphml(DATA / "nantes/streets/walk_nantes_centre_4km.graphml.bz2").to_crs(2154)
    c = gpd.GeoSeries([shapely.Point(*CENTRE)], crs=4326).to_crs(2154).iloc[0]
    s = streets[streets.intersects(shapely.box(c.x - HALF, c.y - HALF, c.x + HALF, c.y + HALF))]
    out = []
    for g in s.geometry.values:
        xy = np.round(np.asarray(g.coords)[:, :2], 3)
        for a, b in zip(xy[:-1], xy[1:], strict=True):
            if not np.array_equal(a, b):
                out.append((*a, *b))
    return np.unique(np.array(out), axis=0)


def find_depthmapx(path: str | None, build: str | None) -> str | None:
    if path:
        return path
    if build:
        return build_depthmapx(Path(build))
    hits = sorted(Path("/work/tools/depthmapX-src/build").glob("**/depthmapXcli"))
    hits = [h for h in hits if h.is_file() and os.access(h, os.X_OK)]
    return str(hits[0]) if hits else shutil.which("depthmapXcli")


def build_depthmapx(src: Path) -> str:
    """Build depthmapXcli from a depthmapX checkout (only the command-line tool)."""
    cmake = src / "CMakeLists.txt"
    text = cmake.read_text()
    for sub in ("genlibTest", "mgraph440Test", "salaTest", "cliTest", "depthmapXTest", "depthmapX", "GuiUnitTest",
                "moduleTest"):
        text = re.sub(rf"^(\s*add_subdirectory\({sub}\))", r"# \1", text, flags=re.M)
    cmake.write_text(text)
    build = src / "build"
    build.mkdir(exist_ok=True)
    subprocess.run(["cmake", "..", "-DCMAKE_BUILD_TYPE=Release"], cwd=build, check=True)
    subprocess.run(["make", "-j2", "depthmapXcli"], cwd=build, check=True)
    return str(next(p for p in build.glob("**/depthmapXcli") if p.is_file()))


def _children_cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_depthmapx(exe: str, xy: np.ndarray, work: Path) -> tuple[tuple[float, float], pd.DataFrame]:
    lines = work / "lines.csv"
    pd.DataFrame({"Ref": np.arange(len(xy)), "x1": xy[:, 0], "y1": xy[:, 1], "x2": xy[:, 2], "y2": xy[:, 3]}).to_csv(
        lines, index=False, float_format="%.3f")

    def cli(*args):
        subprocess.run([exe, *args], check=True, stdout=subprocess.DEVNULL)

    cli("-m", "IMPORT", "-f", str(lines), "-o", str(work / "drawing.graph"))
    cli("-m", "MAPCONVERT", "-f", str(work / "drawing.graph"), "-o", str(work / "seg.graph"), "-co", "segment",
        "-con", "seg")
    t, cpu = time.perf_counter(), _children_cpu()
    cli("-m", "SEGMENT", "-f", str(work / "seg.graph"), "-o", str(work / "out.graph"), "-st", "tulip", "-stb", "1024",
        "-srt", "metric", "-sr", "400,800,1200,n", "-sic")
    elapsed = (time.perf_counter() - t, _children_cpu() - cpu)
    cli("-m", "EXPORT", "-f", str(work / "out.graph"), "-o", str(work / "out.csv"), "-em", "shapegraph-map-csv")
    return elapsed, pd.read_csv(work / "out.csv")


def cpted_inputs(xy: np.ndarray):
    from cpted.engines.network import network_from_streets

    key = [f"{x:.3f},{y:.3f}" for x, y in np.vstack([xy[:, :2], xy[:, 2:]])]
    s = gpd.GeoDataFrame({"u": key[: len(xy)], "v": key[len(xy):]},
                         geometry=shapely.linestrings(xy.reshape(-1, 2, 2)), crs=2154)
    return s, network_from_streets(s)


def run_cpted(s, net, tulip_bins, sources) -> tuple[tuple[float, float], pd.DataFrame]:
    from cpted.engines.angular import segment_centrality

    segment_centrality(s, net, radii=[400.0], tulip_bins=tulip_bins, sources=[0, 1])  # compile (cached on disk)
    t, cpu = time.perf_counter(), time.process_time()
    out = segment_centrality(s, net, radii=RADII, tulip_bins=tulip_bins, sources=sources)
    return (time.perf_counter() - t, time.process_time() - cpu), out


def run_reference(s, net, sources, binned: pd.DataFrame) -> tuple[float, float]:
    """The uncontracted kernel (tulip 1024): its time, and a check that it gives the contracted kernel's values."""
    from cpted.engines.angular import _run

    rows = np.flatnonzero(np.isfinite(net.edge_length)) if sources is None else np.asarray(sources)
    _run(s, net, np.array([400.0]), rows[:2], 1024, contract=False)  # compile
    t, cpu = time.perf_counter(), time.process_time()
    reach, depth, choice, scale = _run(s, net, np.array(RADII), rows, 1024, contract=False)
    elapsed = (time.perf_counter() - t, time.process_time() - cpu)
    worst = 0.0
    for j, r in enumerate(RADII):
        tag = "inf" if math.isinf(r) else str(int(r))
        same = (np.array_equal(binned[f"angular_reach_{tag}"].to_numpy()[rows], reach[:, j])
                and np.array_equal(binned[f"angular_depth_{tag}"].to_numpy()[rows], depth[:, j] / scale))
        ch = binned[f"angular_choice_ordered_{tag}"].to_numpy()
        worst = max(worst, float(np.nanmax(np.abs(ch - choice[:, j]) / np.maximum(1.0, np.abs(choice[:, j])))))
        print(f"  radius {tag}: node count and total depth {'identical' if same else 'DIFFERENT'} to the uncontracted "
              f"kernel")
    print(f"  choice: largest relative difference {worst:.1e}")
    return elapsed


def run_cityseer(xy: np.ndarray, sample: int | None) -> tuple[float, float]:
    import logging

    import networkx as nx
    from cityseer.metrics import networks
    from cityseer.tools import graphs, io

    logging.getLogger("cityseer").setLevel(logging.WARNING)
    g = nx.MultiGraph(crs="EPSG:2154")
    for x1, y1, x2, y2 in xy:
        a, b = f"{x1:.3f},{y1:.3f}", f"{x2:.3f},{y2:.3f}"
        g.add_node(a, x=x1, y=y1)
        g.add_node(b, x=x2, y=y2)
        g.add_edge(a, b, geom=shapely.LineString([(x1, y1), (x2, y2)]))
    dual = graphs.nx_to_dual(g)
    if sample:  # only 'live' nodes are sources
        keep = set(np.linspace(0, dual.number_of_nodes() - 1, sample).astype(int))
        for i, n in enumerate(dual.nodes):
            dual.nodes[n]["live"] = i in keep
    nodes_gdf, _, structure = io.network_structure_from_nx(dual)
    distances = [int(r) if math.isfinite(r) else 100_000 for r in RADII]
    t, cpu = time.perf_counter(), time.process_time()
    networks.node_centrality_simplest(structure, nodes_gdf, distances=distances, compute_closeness=True,
                                      compute_betweenness=True)
    return time.perf_counter() - t, time.process_time() - cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--depthmapx", help="path of a built depthmapXcli")
    ap.add_argument("--build-depthmapx", help="build depthmapXcli from this depthmapX checkout first")
    ap.add_argument("--skip-cityseer", action="store_true")
    ap.add_argument("--skip-exact", action="store_true", help="time cpted with tulip bins only")
    ap.add_argument("--reference", action="store_true", help="also time cpted's uncontracted kernel and compare")
    ap.add_argument("--sample", type=int, help="cpted and cityseer from this many sources, time scaled (quick look)")
    args = ap.parse_args()
    import numba

    numba.set_num_threads(1)
    xy = pieces()
    s, net = cpted_inputs(xy)
    m = len(s)
    print(f"scene: {m} segments (Nantes walk graph, 2 x 2 km around {CENTRE[1]}, {CENTRE[0]}); radii 400/800/1200/n "
          f"with choice; one thread each; machine load {os.getloadavg()[0]:.1f}")
    sources = None if not args.sample else np.linspace(0, m - 1, args.sample).astype(np.int64)
    scale = 1.0 if not args.sample else m / args.sample
    times = {}
    exe = find_depthmapx(args.depthmapx, args.build_depthmapx)
    ref = None
    if exe:
        with tempfile.TemporaryDirectory() as tmp:
            times["depthmapX tulip 1024"], ref = run_depthmapx(exe, xy, Path(tmp))
        print("depthmapX: wall %.1f s, cpu %.1f s" % times["depthmapX tulip 1024"], flush=True)
    else:
        print("depthmapXcli not found: pass --depthmapx or --build-depthmapx")
    t, binned = run_cpted(s, net, 1024, sources)
    times["cpted tulip 1024"] = (t[0] * scale, t[1] * scale)
    print("cpted tulip 1024: wall %.1f s, cpu %.1f s" % times["cpted tulip 1024"], flush=True)
    if args.reference:
        t = run_reference(s, net, sources, binned)
        times["cpted uncontracted tulip"] = (t[0] * scale, t[1] * scale)
        print("cpted uncontracted tulip 1024: wall %.1f s, cpu %.1f s" % times["cpted uncontracted tulip"], flush=True)
    if not args.skip_exact:
        t, _ = run_cpted(s, net, None, sources)
        times["cpted exact"] = (t[0] * scale, t[1] * scale)
        print("cpted exact: wall %.1f s, cpu %.1f s" % times["cpted exact"], flush=True)
    if not args.skip_cityseer:
        try:
            t = run_cityseer(xy, args.sample)
            times["cityseer simplest (dual)"] = (t[0] * scale, t[1] * scale)
        except ImportError:
            print("cityseer not installed: pip install cityseer (benchmark only)")
    print(f"machine load at the end {os.getloadavg()[0]:.1f}")
    base = times.get("depthmapX tulip 1024")
    print(f"\n{'tool (one thread)':28s} {'wall s':>8s} {'cpu s':>8s} {'depthmapX/tool wall':>20s} {'cpu':>6s}")
    for name, (wall, cpu) in times.items():
        ratios = f"{base[0] / wall:20.2f} {base[1] / cpu:6.2f}" if base else ""
        note = "  (sampled, scaled)" if args.sample and "depthmapX" not in name else ""
        print(f"{name:28s} {wall:8.1f} {cpu:8.1f} {ratios}{note}")
    if ref is not None:  # same segments? compare node count and total depth at radius n
        key = {}
        for i, (a, b, c, d) in enumerate(np.round(xy, 3)):  # either orientation (depthmapX may reverse a segment)
            key[(a, b, c, d)] = key[(c, d, a, b)] = i
        rows = [key.get((round(r.x1, 3), round(r.y1, 3), round(r.x2, 3), round(r.y2, 3)), -1) for r in ref.itertuples()]
        ok = np.array(rows) >= 0
        ours = binned.iloc[np.array(rows)[ok]]
        have = ours["angular_reach_inf"].notna().to_numpy()
        nc = ours["angular_reach_inf"].to_numpy()[have]
        td = ours["angular_depth_inf"].to_numpy()[have]
        ref_nc = ref.loc[ok, "T1024 Node Count"].to_numpy()[have] if "T1024 Node Count" in ref else None  # radius n
        ref_td = ref.loc[ok, "T1024 Total Depth"].to_numpy()[have] if "T1024 Total Depth" in ref else None
        print(f"\ndepthmapX segments matched: {ok.sum()} of {len(ref)}")
        if ref_nc is not None:
            print(f"radius n, tulip 1024: node count equal on {np.mean(nc == ref_nc):.2%} of segments; total depth "
                  f"median relative difference {np.median(np.abs(td / ref_td - 1)):.2e}, max {np.max(np.abs(td / ref_td - 1)):.2e}")
        else:
            print("radius n columns not found in depthmapX's export:", [c for c in ref.columns if "T1024" in c][:8])


if __name__ == "__main__":
    sys.exit(main())
