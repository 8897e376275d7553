"""Benchmark: the interactive map of a site report, its size and how fast Chromium makes it usable.

Run on demand (not part of the tests):

    python benchmarks/bench_report.py [--cells 30000 0] [--loads 3] [--data-dir ../shared/data]

The site is Île de Nantes (sample_sites/nantes_renewal.toml: BD TOPO buildings, the Nantes walk
graph) at 5 m cells, its grid cut from the west to ``--cells`` cells (0: the whole site, about
72,700 cells). Its metrics are synthetic but shaped by the real geometry (eyes from the
buildings within 15 / 43 m, the view from the distance to the nearest building, depth from the
distance to the nearest street; lighting, activity and escape routes drawn at random;
disorder unknown, so maintenance is n/a everywhere and territoriality partly so); the scores,
drivers and problem places come from the real scoring (cpted.score.scores). Only the map is
measured, in a page of its own.

Prints, per size: the bytes the map adds to the report (MB), the time Python takes to write it,
and in headless Chromium (network refused, tests/cdp.py) the time from navigation to the map
being ready (data inflated, first frame drawn; median of ``--loads`` fresh loads), the time to
switch the score layer (a full redraw with a new layer image) and to answer a click. The
targets: a 30k-cell site adds well under 3 MB and is ready in under 2 s.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import shapely

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the DevTools client


def load(data: Path):
    from cpted.load.sites_file import read_sites_file
    from cpted.pipeline import load_site

    spec = read_sites_file(ROOT / "sample_sites" / "nantes_renewal.toml", data_dir=data).site("ile_de_nantes")
    return load_site(spec)


def synthetic_result(site, n_cells: int):
    """The site cut to its ``n_cells`` westernmost cells, scored from geometry-shaped metrics."""
    from cpted.score.scores import problem_places, score_cells

    grid = site.grid.sort_values(["x", "y"])
    if n_cells:
        grid = grid.iloc[:n_cells]
    x0, y0, x1, y1 = site.boundary.bounds
    boundary = shapely.box(x0, y0, grid["x"].max() + site.cell_size / 2, y1).intersection(site.boundary)
    rng = np.random.default_rng(16)
    points = shapely.points(grid["x"].to_numpy(), grid["y"].to_numpy())
    fronts = shapely.STRtree(site.layers["buildings"].geometry.values)
    near = {r: np.bincount(fronts.query(points, predicate="dwithin", distance=r)[0], minlength=len(points))
            for r in (15, 43)}
    building_gap = fronts.query_nearest(points, return_distance=True, all_matches=False)[1]
    street_gap = shapely.STRtree(site.layers["streets"].geometry.values).query_nearest(points, return_distance=True, all_matches=False)[1]
    n = len(grid)
    cells = grid.assign(
        eyes_43=near[43] * 0.6, eyes_15=near[15] * 0.8, isovist_area=np.clip(building_gap, 0, 60) ** 2 * 3,
        mix_d1_800=rng.uniform(1, 7, n), lux=rng.gamma(1.5, 1.5, n), night_pois_800=rng.poisson(3, n),
        depth_m=street_gap * 3, ambiguous=(rng.random(n) < 0.1).astype(float),
        boundary_marked=np.where(rng.random(n) < 0.6, np.nan, rng.integers(0, 2, n)),
        through_share_800=rng.uniform(0, 0.4, n), escape_routes=rng.integers(1, 4, n).astype(float),
        disorder_density=np.nan)
    cells = cells.join(score_cells(cells))
    places = problem_places(cells, streets=site.layers["streets"])
    view = SimpleNamespace(boundary=boundary, cell_size=site.cell_size, crs=site.crs, layers=site.layers)
    return SimpleNamespace(site=view, layers={"cells": cells, "streets": site.layers["streets"], "problem_places": places},
                           summary={"attribution": "© OpenStreetMap contributors, ODbL 1.0; IGN BD TOPO, Licence Ouverte 2.0"})


def measure(result, loads: int, work: Path) -> dict:
    from cdp import Chromium

    from cpted.report.interactive import interactive_map

    start = time.perf_counter()
    fragment = interactive_map(result)
    python_s = time.perf_counter() - start
    page = work / "map.html"
    page.write_text(f'<!doctype html><html lang="en"><meta charset="utf-8"><body>{fragment}</body></html>', encoding="utf-8")
    ready, switch, click = [], [], []
    for k in range(loads):
        with Chromium(work / f"profile{k}") as browser:
            browser.open(page.as_uri())
            ready.append(browser.until("window.cptedMap && cptedMap.ready && cptedMap.readyAt"))
            switch.append(browser.evaluate("(() => { const t = performance.now(); cptedMap.setLayer('surveillance'); "
                                           "return performance.now() - t; })()"))
            click.append(browser.evaluate("(() => { const c = cptedMap.canvas, t = performance.now(); "
                                          "cptedMap.clickAt(c.clientWidth / 2, c.clientHeight / 2); return performance.now() - t; })()"))
            assert not browser.exceptions(), browser.exceptions()
            assert all(u.startswith(("file:", "data:")) for u in browser.requests())
    return {"cells": len(result.layers["cells"]), "places": len(result.layers["problem_places"]),
            "mb": len(fragment.encode("utf-8")) / 1e6, "python_s": python_s, "ready_ms": statistics.median(ready),
            "switch_ms": statistics.median(switch), "click_ms": statistics.median(click)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cells", type=int, nargs="+", default=[30000, 0], help="grid cells kept (0: all)")
    parser.add_argument("--loads", type=int, default=3)
    parser.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data")
    args = parser.parse_args()
    site = load(args.data_dir)
    rows = []
    with tempfile.TemporaryDirectory() as work:
        for n in args.cells:
            rows.append(measure(synthetic_result(site, n), args.loads, Path(work)))
            print(rows[-1], file=sys.stderr)
    print("\n| cells | problem places | map size (MB) | Python (s) | load to ready (ms) | layer switch (ms) | click (ms) |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['cells']:,} | {r['places']} | {r['mb']:.2f} | {r['python_s']:.2f} | {r['ready_ms']:.0f} | "
              f"{r['switch_ms']:.0f} | {r['click_ms']:.1f} |")
    base = rows[0]
    for r in rows[1:]:
        print(f"{r['cells']:,} cells against {base['cells']:,}: {r['cells'] / base['cells']:.2f}x the cells, "
              f"{r['mb'] / base['mb']:.2f}x the size, {r['ready_ms'] / base['ready_ms']:.2f}x the time to ready")
    print("targets for 30k cells: < 3 MB, ready < 2000 ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
