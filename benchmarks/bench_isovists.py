"""Benchmark: exact isovists of cpted against its peers, side by side on one real scene.

Run on demand (not part of the tests):

    python benchmarks/bench_isovists.py [--observers 1000] [--radius 100]

Scene: a ~1 km² window of Île de Nantes (IGN BD TOPO buildings, ../shared/data), observers at
random in open space. Peers, each timed on the same observers:

- pyvispoly (CGAL, exact; unlimited view, then cut by the view disc),
- VisiLibity (PyPI ``visilibity``, exact, unlimited view),
- pysovist (exact wedge sweep, in-process),
- a plain shapely ray-casting baseline with 360 rays (approximate: its area error is printed).

It prints isovists per second and cpted's speed-up over each peer, on 1 and on all cores,
and cpted's cost per isovist as the scene grows (it should stay flat).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

from cpted.engines.visibility import isovists, prepare_scene

DATA = Path(os.environ.get("CPTED_DATA_DIR") or Path(__file__).resolve().parents[2] / "shared" / "data")


def scene_window(side: float) -> tuple[gpd.GeoSeries, shapely.Polygon]:
    b = gpd.read_file(DATA / "nantes/ile_de_nantes_bdtopo_buildings.geojson")
    b = b.set_geometry(shapely.force_2d(b.geometry.values))
    cx, cy = 356200.0, 6688300.0
    window = shapely.box(cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2)
    merged = [shapely.Polygon(p.exterior) for p in shapely.get_parts(shapely.union_all(shapely.make_valid(b.geometry.values)))
              if p.geom_type == "Polygon"]
    inside = [p for p in merged if p.within(window)]
    return gpd.GeoSeries(inside, crs=2154), window


def free_points(obstacles: gpd.GeoSeries, window, n: int, seed: int = 0) -> gpd.GeoSeries:
    free = window.buffer(-5).difference(shapely.union_all(obstacles.values))
    rng = np.random.default_rng(seed)
    x0, y0, x1, y1 = window.bounds
    pts = shapely.points(rng.uniform((x0, y0), (x1, y1), (20 * n, 2)))
    return gpd.GeoSeries(pts[shapely.contains(free, pts)][:n], crs=2154)


def edges(obstacles: gpd.GeoSeries, window) -> np.ndarray:
    rings = list(shapely.boundary(obstacles.values)) + [window.exterior]
    coords, owner = shapely.get_coordinates(rings, return_index=True)
    same = owner[1:] == owner[:-1]
    return np.stack([coords[:-1][same], coords[1:][same]], axis=1)


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def run_cpted(obstacles, window, observers, radius, threads):
    import numba

    numba.set_num_threads(threads)
    scene = prepare_scene(obstacles, extent=window)
    isovists(observers[:5], scene, radius=radius, geometry=False)  # compile / warm
    return timed(lambda: isovists(observers, scene, radius=radius, geometry=False)["isovist_area"].to_numpy())


def oriented(coords, clockwise: bool) -> np.ndarray:
    """A closed ring's vertices (without the repeated last one), turning the asked way."""
    pts = np.asarray(coords)[:-1]
    twice_area = np.sum(pts[:, 0] * np.roll(pts[:, 1], -1) - np.roll(pts[:, 0], -1) * pts[:, 1])
    return pts[::-1] if (twice_area < 0) != clockwise else pts


def run_pyvispoly(obstacles, window, observers, radius):
    import pyvispoly as pv

    def ring(coords, clockwise):
        return pv.Polygon([pv.Point(float(x), float(y)) for x, y in oriented(coords, clockwise)])

    domain = pv.PolygonWithHoles(ring(window.exterior.coords, False), [ring(p.exterior.coords, True) for p in obstacles])
    calc = pv.VisibilityPolygonCalculator(domain)

    def go():
        return [shapely.Polygon([(float(q.x()), float(q.y())) for q in calc.compute_visibility_polygon(pv.Point(p.x, p.y)).boundary()])
                for p in observers]

    t, polygons = timed(go)
    return t, _cut(polygons, observers, radius)


def _cut(polygons, observers, radius) -> np.ndarray:
    """Areas of unlimited isovists within the view disc (outside the timing; a 16,384-gon disc)."""
    polygons = np.array(polygons, dtype=object)
    if not radius:
        return shapely.area(polygons)
    return shapely.area(shapely.intersection(polygons, shapely.buffer(observers.values, radius, quad_segs=4096)))


def run_visilibity(obstacles, window, observers, radius):
    import visilibity as vis

    def poly(coords, clockwise):
        return vis.Polygon([vis.Point(float(x), float(y)) for x, y in oriented(coords, clockwise)])

    env = vis.Environment([poly(window.exterior.coords, False)] + [poly(p.exterior.coords, True) for p in obstacles])
    eps = 1e-7

    def go():
        out = []
        for p in observers:
            v = vis.Visibility_Polygon(vis.Point(p.x, p.y), env, eps)
            out.append(shapely.Polygon([(v[i].x(), v[i].y()) for i in range(v.n())]))
        return out

    t, polygons = timed(go)
    return t, _cut(polygons, observers, radius)


def run_pysovist(obstacles, window, observers, radius):
    import pysovist

    plan = pysovist.Plan(edges(obstacles, window))
    origins = shapely.get_coordinates(observers.values)
    kw = {"max_distance": radius} if radius else {}
    pysovist.isovist_field(plan, origins[:5], **kw)
    return timed(lambda: pysovist.isovist_field(plan, origins, **kw)["area"].to_numpy())


def run_rays(obstacles, window, observers, radius, n_rays=360):
    walls = shapely.union_all(list(shapely.boundary(obstacles.values)) + [window.exterior])
    shapely.prepare(walls)
    angles = np.linspace(0, 2 * np.pi, n_rays, endpoint=False)
    d = np.column_stack([np.cos(angles), np.sin(angles)])
    reach = radius or 5000.0

    def go():
        out = []
        for p in observers:
            o = np.array([p.x, p.y])
            rays = shapely.linestrings(np.stack([np.broadcast_to(o, d.shape), o + reach * d], axis=1))
            hits = shapely.intersection(rays, walls)
            dist = np.where(shapely.is_empty(hits), reach, shapely.distance(p, hits))
            out.append(shapely.Polygon(o + dist[:, None] * d).area)
        return np.array(out)

    return timed(go)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--observers", type=int, default=1000)
    ap.add_argument("--radius", type=float, default=100.0)
    ap.add_argument("--side", type=float, default=1000.0, help="scene window side, metres")
    args = ap.parse_args()
    if not DATA.is_dir():
        print(f"data not found at {DATA}; set CPTED_DATA_DIR", file=sys.stderr)
        return 1
    obstacles, window = scene_window(args.side)
    observers = free_points(obstacles, window, args.observers)
    n_edges = len(edges(obstacles, window))
    print(f"scene: {args.side / 1000:.2f} km side, {len(obstacles)} buildings, {n_edges} occluder edges; "
          f"{len(observers)} observers; radius {args.radius:g} m; {os.cpu_count()} cores")
    cores = os.cpu_count() or 1
    t1, ref = run_cpted(obstacles, window, observers, args.radius, 1)
    tn, _ = run_cpted(obstacles, window, observers, args.radius, cores)
    rows = [("cpted (exact, 1 core)", t1, ref), (f"cpted (exact, {cores} cores)", tn, ref)]
    for name, fn in [("pyvispoly / CGAL (exact)", run_pyvispoly), ("VisiLibity (exact)", run_visilibity),
                     ("pysovist (exact)", run_pysovist), ("shapely, 360 rays", run_rays)]:
        try:
            t, areas = fn(obstacles, window, observers, args.radius)
        except ImportError as exc:
            print(f"{name}: skipped ({exc})")
            continue
        rows.append((name, t, areas))
    print(f"\n{'engine':<28}{'seconds':>9}{'isovists/s':>12}{'cpted 1-core speed-up':>23}{'median err':>12}{'max err':>10}")
    for name, t, areas in rows:
        err = np.abs(areas - ref) / ref
        print(f"{name:<28}{t:>9.3f}{len(observers) / t:>12.0f}{t / t1:>22.1f}x{np.median(err):>12.1e}{err.max():>10.1e}")
    print("\ncost per isovist as the scene grows (cpted, 1 core):")
    for side in (500.0, 1000.0, 2000.0, 3000.0):
        obs_s, win_s = scene_window(side)
        pts = free_points(obs_s, win_s, args.observers, seed=1)
        t, _ = run_cpted(obs_s, win_s, pts, args.radius, 1)
        print(f"  {side / 1000:.1f} km side, {len(edges(obs_s, win_s)):>6} edges: {1e6 * t / len(pts):7.1f} µs per isovist")
    return 0


if __name__ == "__main__":
    sys.exit(main())
