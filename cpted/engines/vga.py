"""Visibility graph analysis (VGA): the measures of depthmapX, on exact sightlines.

The visibility graph of a set of places (grid cell centres) links two places when each sees the
other (Turner, Doxa, O'Sullivan & Penn 2001, *From isovists to visibility graphs*, EPB
28:103-121). Sightlines follow the engine's one grazing rule (:mod:`cpted.engines._sweep`), so
the graph is undirected. The measures and their definitions are those of depthmapX (Turner 2001,
*Depthmap: a program to perform visibility graph analysis*, 3rd Space Syntax Symposium), read from
its source, with N(i) the places i sees (i itself excluded) and k_i = |N(i)|:

``connectivity``
    k_i.
``first_moment``, ``second_moment``
    point first and second moment of inertia: the sums over N(i) of the distance d_ij and of d_ij²
    (metres, m²).
``clustering``
    sum over j in N(i) of |N(j) ∩ N(i)|, over k_i (k_i - 1): the share of pairs of i's neighbours
    that see each other (Watts & Strogatz 1998). NaN when k_i < 2.
``control``
    sum over j in N(i) of 1 / k_j (Hillier & Hanson 1984). NaN when k_i < 2, as depthmapX.
``controllability``
    k_i over the number of places seen from some j in N(i) (i's two-step neighbourhood, i
    included). NaN when k_i < 2, as depthmapX.
``node_count``
    the places reachable from i in the graph, i included (n).
``mean_depth``
    visual mean depth: the mean number of sightline steps from i to the n - 1 others
    (Hillier & Hanson 1984, *The social logic of space*, p. 108). NaN when n < 2.
``integration_hh``
    visual integration [HH] = D_n / RA, RA = 2 (MD - 1) / (n - 2) and D_n = 2 (n (log2((n + 2) / 3)
    - 1) + 1) / ((n - 1)(n - 2)) (Hillier & Hanson 1984, with the diamond value of Krüger 1989, as
    depthmapX). NaN unless n > 2 and MD > 1 (depthmapX writes -1 there).

Depths come from a breadth-first search run for 64 sources at once, one bit each
(bit-parallel BFS): a place's 64-bit word holds which of the 64 sources have reached it, and
one pass over the edges moves every search one step.
"""

from __future__ import annotations

import math

import geopandas as gpd
import numba
import numpy as np
import pandas as pd
import shapely
from numba import njit, prange

from cpted.engines import _kernels
from cpted.engines import _lattice as _lattice_mod
from cpted.engines.visibility import Scene, _observer_xy, _radii, visible_pairs

__all__ = ["VGA_COLUMNS", "LOCAL", "GLOBAL", "visibility_graph", "vga"]

#: Measures of :func:`vga` computed from each place's neighbourhood.
LOCAL = ("connectivity", "first_moment", "second_moment", "clustering", "control", "controllability")
#: Measures of :func:`vga` computed from breadth-first searches over the whole graph.
GLOBAL = ("node_count", "mean_depth", "integration_hh")
#: Every measure of :func:`vga`, in order.
VGA_COLUMNS = LOCAL + GLOBAL


def visibility_graph(
    places: gpd.GeoSeries | gpd.GeoDataFrame,
    scene: Scene,
    *,
    radius: float | None = None,
    lattice_path: bool = True,
    cull: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """The visibility graph of ``places`` as CSR arrays (indptr, indices), self-loops left out.

    ``radius`` (m) limits the view; None: unlimited. When the places lie on a square lattice
    (grid cells), each exact isovist is scanned over the lattice row by row
    (:mod:`cpted.engines._lattice`), which costs about the places seen rather than the places
    within the radius; the result is the same as testing each place (``lattice_path=False``).
    When moreover no place is off the lattice or inside an obstacle, each place scans only the
    places after it (column order), over the occluders of that half-plane, and the rows are
    mirrored: the graph is symmetric (:mod:`cpted.engines._sweep`), and each pair is decided once.
    ``cull``: sweep only the occluders not hidden behind nearer ones
    (:mod:`cpted.engines._cull`); the result is the same as sweeping all of them (False).

    Examples
    --------
    >>> from shapely import Point, box
    >>> from cpted.engines.visibility import prepare_scene
    >>> scene = prepare_scene(gpd.GeoSeries([box(4, -1, 6, 1)], crs=2154))
    >>> pts = gpd.GeoSeries([Point(0, 0), Point(10, 0), Point(5, 5)], crs=2154)
    >>> indptr, indices = visibility_graph(pts, scene)
    >>> [indices[indptr[i]:indptr[i + 1]].tolist() for i in range(3)]
    [[2], [2], [0, 1]]
    """
    pts = places.geometry if isinstance(places, gpd.GeoDataFrame) else places
    n = len(pts)
    if radius is None:
        radius = _unlimited(pts)
    xy, blocked = _observer_xy(pts, scene, "places")
    lattice = _lattice_mod.lattice_of(xy) if n else None
    if lattice is None or not lattice_path:
        obs, tgt = visible_pairs(pts, pts, scene, radius=radius, cull=cull, lattice_path=False)
    else:
        lat, lx0, ly0, lcell, off = lattice
        r = _radii(n, radius, scene)
        r[blocked] = np.nan
        args = (xy, r, *scene.index, *_kernels.workspace(scene, cull), lat, lx0, ly0, lcell, off, xy)
        # every place on the lattice and in open space: the graph being symmetric, each place scans only
        # the places after it (column order) and the rows are mirrored (a place inside an obstacle sees
        # nothing, but may be seen, within the grazing tolerance of a wall: not symmetric)
        half = not len(off) and not np.isnan(r).any()
        # each thread's buffer: the rows of a sample of places, scaled up, with a margin (numba gives
        # each thread one contiguous share of the places); rows that do not fit are computed again
        step = max(1, n // 400)
        sample = np.arange(0, n, step)
        seen = np.maximum(_lattice_mod.lattice_counts(xy[sample], r[sample], *args[2:], half, False)[0], 0)
        n_threads = numba.get_num_threads()
        share = np.bincount(sample * n_threads // n, weights=seen, minlength=n_threads)
        cap = int(share.max() * step * 1.2) + 100_000
        rows = _lattice_mod.lattice_rows(*args, cap, half)
        return (_lattice_mod.mirror_fill if half else _lattice_mod.lattice_fill)(*args, *rows)
    keep = obs != tgt
    obs, tgt = obs[keep], tgt[keep]
    order = np.lexsort((tgt, obs))
    indptr = np.concatenate([[0], np.cumsum(np.bincount(obs, minlength=n))]).astype(np.int64)
    return indptr, np.ascontiguousarray(tgt[order], dtype=np.int64)


def _unlimited(pts) -> float:
    """A view radius longer than any distance between the places: no limit."""
    if not len(pts):
        return 1.0
    x0, y0, x1, y1 = shapely.total_bounds(pts.values)
    return float(math.hypot(x1 - x0, y1 - y0)) * 1.01 + 1.0


def vga(
    places: gpd.GeoSeries | gpd.GeoDataFrame,
    scene: Scene,
    *,
    radius: float | None = None,
    report: np.ndarray | None = None,
    measures: tuple[str, ...] = VGA_COLUMNS,
    graph: tuple[np.ndarray, np.ndarray] | None = None,
) -> pd.DataFrame:
    """Visibility graph analysis of ``places``: depthmapX's measures (module docstring).

    Parameters
    ----------
    places
        Points (cell centres) of all the open space the graph spans: the site *and* its
        context ring, so that places near the site's edge keep the views and the paths that
        run outside it.
    scene
        Occluders (:func:`cpted.engines.visibility.prepare_scene`).
    radius
        View radius (m); None: unlimited.
    report
        Boolean mask of the places to report (e.g. the site's cells); None: all. Searches start
        only from these, but run over the whole graph.
    measures
        A subset of :data:`VGA_COLUMNS`.
    graph
        A visibility graph of ``places`` already built (:func:`visibility_graph`).

    Returns
    -------
    pandas.DataFrame
        One row per reported place (indexed as ``places``), one column per measure. A place
        inside an obstacle sees nothing: connectivity 0, node count 1, the rest NaN.

    Examples
    --------
    An L-shaped corridor of three places: the corner sees both ends, the ends do not see
    each other.

    >>> from shapely import Point, box
    >>> from cpted.engines.visibility import prepare_scene
    >>> scene = prepare_scene(gpd.GeoSeries([box(1, 1, 10, 10)], crs=2154))
    >>> pts = gpd.GeoSeries([Point(0, 10), Point(0, 0), Point(10, 0)], crs=2154)
    >>> vga(pts, scene, measures=("connectivity", "clustering", "mean_depth"))
       connectivity  clustering  mean_depth
    0           1.0         NaN         1.5
    1           2.0         0.0         1.0
    2           1.0         NaN         1.5
    """
    unknown = set(measures) - set(VGA_COLUMNS)
    if unknown:
        msg = f"unknown VGA measures {sorted(unknown)}; choose from {VGA_COLUMNS}"
        raise ValueError(msg)
    pts = places.geometry if isinstance(places, gpd.GeoDataFrame) else places
    n = len(pts)
    rows = np.arange(n) if report is None else np.flatnonzero(np.asarray(report, dtype=bool))
    indptr, indices = visibility_graph(pts, scene, radius=radius) if graph is None else graph
    out = pd.DataFrame(index=pts.index[rows])
    k = np.diff(indptr).astype(float)
    if "connectivity" in measures:
        out["connectivity"] = k[rows]
    if {"first_moment", "second_moment"} & set(measures):
        xy = shapely.get_coordinates(pts.values)
        src = np.repeat(np.arange(n), np.diff(indptr))
        d = np.hypot(*(xy[indices] - xy[src]).T)
        if "first_moment" in measures:
            out["first_moment"] = np.bincount(src, weights=d, minlength=n)[rows]
        if "second_moment" in measures:
            out["second_moment"] = np.bincount(src, weights=d * d, minlength=n)[rows]
    if {"clustering", "control", "controllability"} & set(measures):
        local = _local(indptr, indices, rows.astype(np.int64))
        for j, name in enumerate(("clustering", "control", "controllability")):
            if name in measures:
                out[name] = local[:, j]
    if set(GLOBAL) & set(measures):
        count, total = _depths(indptr, indices, rows.astype(np.int64))
        with np.errstate(invalid="ignore", divide="ignore"):
            md = np.where(count > 1, total / (count - 1), np.nan)
            ra = 2.0 * (md - 1.0) / (count - 2)
            dn = 2.0 * (count * (np.log2((count + 2.0) / 3.0) - 1.0) + 1.0) / ((count - 1.0) * (count - 2.0))
            integ = np.where((count > 2) & (md > 1.0), dn / ra, np.nan)
        values = {"node_count": count, "mean_depth": md, "integration_hh": integ}
        for name in GLOBAL:
            if name in measures:
                out[name] = values[name]
    return out[[m for m in VGA_COLUMNS if m in measures]]


@njit(parallel=True, cache=True)
def _local(indptr, indices, rows):
    """Clustering coefficient, control and controllability of the places ``rows``."""
    n = indptr.shape[0] - 1
    out = np.full((rows.shape[0], 3), np.nan)
    n_chunks = min(rows.shape[0], 256)
    for c in prange(n_chunks):
        mark = np.full(n, -1, dtype=np.int64)  # mark[j] == i: j is a neighbour of i
        seen = np.full(n, -1, dtype=np.int64)  # seen[j] == i: j is two steps from i
        for r in range(c, rows.shape[0], n_chunks):
            i = rows[r]
            k = indptr[i + 1] - indptr[i]
            if k < 2:
                continue
            for t in range(indptr[i], indptr[i + 1]):
                mark[indices[t]] = i
            triangles = 0
            control = 0.0
            reach = 0
            for t in range(indptr[i], indptr[i + 1]):
                j = indices[t]
                control += 1.0 / (indptr[j + 1] - indptr[j])
                for s in range(indptr[j], indptr[j + 1]):
                    m = indices[s]
                    if mark[m] == i:
                        triangles += 1
                    if seen[m] != i:
                        seen[m] = i
                        reach += 1
            out[r, 0] = triangles / (k * (k - 1.0))
            out[r, 1] = control
            out[r, 2] = k / reach
    return out


@njit(cache=True)
def _bfs_block(indptr, indices, sources, count, total):
    """Breadth-first searches from up to 64 sources at once, one bit per source.

    A step either pushes the new bits of the places reached last step to their neighbours
    (top-down: a place is expanded only at the few steps at which some of the 64 searches first
    reach it), or, when those places have many edges, lets every place still missing some bits
    collect them from its neighbours, stopping as soon as it has them all (bottom-up; Beamer,
    Asanović & Patterson 2012, *Direction-optimizing breadth-first search*). Both give the same
    depths.
    """
    n = indptr.shape[0] - 1
    b = sources.shape[0]
    full = ~np.uint64(0) if b == 64 else (np.uint64(1) << np.uint64(b)) - np.uint64(1)
    n_edges = indptr[n]
    seen = np.zeros(n, dtype=np.uint64)
    front = np.zeros(n, dtype=np.uint64)
    acc = np.zeros(n, dtype=np.uint64)
    queue = np.empty(n, dtype=np.int64)  # the places with new bits
    touched = np.empty(n, dtype=np.int64)
    is_touched = np.zeros(n, dtype=np.bool_)
    n_queue = 0
    for s in range(b):
        bit = np.uint64(1) << np.uint64(s)
        v = sources[s]
        if front[v] == 0:
            queue[n_queue] = v
            n_queue += 1
        seen[v] |= bit
        front[v] |= bit
        count[s] = 1
        total[s] = 0
    level = 0
    while n_queue:
        level += 1
        n_touched = 0
        out_edges = 0
        for q in range(n_queue):
            u = queue[q]
            out_edges += indptr[u + 1] - indptr[u]
        if out_edges * 16 > n_edges:  # bottom-up
            for v in range(n):
                need = full & ~seen[v]
                if need == 0:
                    continue
                got = np.uint64(0)
                for t in range(indptr[v], indptr[v + 1]):
                    got |= front[indices[t]]
                    if (got & need) == need:
                        break
                got &= need
                if got:
                    acc[v] = got
                    touched[n_touched] = v
                    n_touched += 1
        else:  # top-down
            for q in range(n_queue):
                u = queue[q]
                f = front[u]
                for t in range(indptr[u], indptr[u + 1]):
                    v = indices[t]
                    add = f & ~seen[v]
                    if add:
                        acc[v] |= add
                        if not is_touched[v]:
                            is_touched[v] = True
                            touched[n_touched] = v
                            n_touched += 1
        for q in range(n_queue):
            front[queue[q]] = 0
        n_queue = 0
        for q in range(n_touched):
            v = touched[q]
            is_touched[v] = False
            new = acc[v]
            acc[v] = 0
            seen[v] |= new
            front[v] = new
            queue[n_queue] = v
            n_queue += 1
            while new:
                low = new & (~new + np.uint64(1))
                s = _lattice_mod.bit_index(low)
                count[s] += 1
                total[s] += level
                new ^= low


@njit(parallel=True, cache=True)
def _depths(indptr, indices, rows):
    """Node count (source included) and total depth of a breadth-first search from each of ``rows``."""
    m = rows.shape[0]
    count = np.zeros(m, dtype=np.float64)
    total = np.zeros(m, dtype=np.float64)
    n_blocks = (m + 63) // 64
    for blk in prange(n_blocks):
        lo = blk * 64
        hi = min(m, lo + 64)
        c = np.zeros(hi - lo, dtype=np.int64)
        t = np.zeros(hi - lo, dtype=np.int64)
        _bfs_block(indptr, indices, rows[lo:hi], c, t)
        for s in range(hi - lo):
            count[lo + s] = c[s]
            total[lo + s] = t[s]
    return count, total
