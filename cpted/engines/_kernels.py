"""Compiled kernels over many observers, in parallel: isovist measures and polygons, visible targets.

Each observer's isovist is swept over the occluders :mod:`cpted.engines._cull` keeps (``cull``
true, the default of the API) or over every occluder within its radius (``cull`` false); both
give the same isovists and the same visible targets (the grazing rule of
:mod:`cpted.engines._sweep` included). Each thread has its own workspace
(:func:`workspace`, indexed by numba's thread id).

The workspace is made per call, from numba's current number of threads; kernels must not be
called with more threads than that.

Everything here is private; :mod:`cpted.engines.visibility` is the API.
"""

from __future__ import annotations

import math

import numba
import numpy as np
import shapely
from numba import njit, prange

from cpted.engines._cull import LEAF, build_tree, empty_tree, isovist_ids, new_workspace
from cpted.engines._sweep import (
    N_MEASURES,
    _grazes,
    _query,
    _vertex_table,
    boundary_points,
    measures,
    sightline_blocked,
    visible_mask,
)


def workspace(scene, cull=True):
    """The arguments (tree, f, g, cull) of the kernels for a :class:`cpted.engines.visibility.Scene`:
    the occluders' quadtree (:func:`cpted.engines._cull.build_tree`, leaves of the index cell times
    LEAF, with each occluder's solid side) and one workspace per thread (numba's current number of
    threads), or empty ones without ``cull``."""
    segs = scene.segments
    n_threads = numba.get_num_threads()
    if not cull:
        return empty_tree(), np.zeros((n_threads, 1)), np.zeros((n_threads, 1), dtype=np.int64), False
    tree = build_tree(segs, scene.cell * LEAF, solid_sides(segs, scene.tree, len(scene.obstacles)))
    f, g = new_workspace(n_threads, tree[0][-1], segs.shape[0])
    return tree, f, g, True


def solid_sides(segs, polygons, n_polygons, delta=1e-6):
    """For each occluder, the side where an obstacle (polygon of the STRtree ``polygons``) lies and
    open space the other: +1 left (of the way from its first end to its second), -1 right, 0 neither
    (a line such as a wall or a hedge, the extent's outline, a wall inside overlapping buildings) or
    unsure (another occluder within 2 ``delta`` of its middle). Read at ``delta`` (m) from its middle:
    a noded occluder borders one face of the plane on each side along its whole length."""
    out = np.zeros(segs.shape[0], dtype=np.int8)
    if not n_polygons or not segs.shape[0]:
        return out
    mx = 0.5 * (segs[:, 0] + segs[:, 2])
    my = 0.5 * (segs[:, 1] + segs[:, 3])
    ex = segs[:, 2] - segs[:, 0]
    ey = segs[:, 3] - segs[:, 1]
    length = np.hypot(ex, ey)
    nx, ny = -ey / length, ex / length
    inside = []
    for sign in (1.0, -1.0):
        hit, _ = polygons.query(shapely.points(mx + sign * delta * nx, my + sign * delta * ny), predicate="within")
        flag = np.zeros(segs.shape[0], dtype=bool)
        flag[hit] = True
        inside.append(flag)
    lines = shapely.STRtree(shapely.linestrings(segs.reshape(-1, 2, 2)))
    near, _ = lines.query(shapely.points(mx, my), predicate="dwithin", distance=2 * delta)
    crowded = np.bincount(near, minlength=segs.shape[0]) > 1
    out[inside[0] & ~inside[1] & ~crowded] = 1
    out[inside[1] & ~inside[0] & ~crowded] = -1
    return out


@njit(parallel=True, cache=True)
def isovist_measures(obs, radius, segs, start, items, cell, nx, ny, gx0, gy0, tree, f, g, cull):
    """Measures of every observer's isovist (rows of NaN where radius is NaN)."""
    n = obs.shape[0]
    out = np.full((n, N_MEASURES), np.nan)
    for i in prange(n):
        r = radius[i]
        if not r > 0.0:
            continue
        tid = numba.get_thread_id()
        events, nearest, pieces, _ = isovist_ids(obs[i, 0], obs[i, 1], r, segs, start, items, cell, nx, ny, gx0, gy0,
                                                 tree, f[tid], g[tid], cull)
        measures(events, nearest, pieces, r, out[i])
    return out


@njit(parallel=True, cache=True)
def isovist_vertex_counts(obs, radius, segs, start, items, cell, nx, ny, gx0, gy0, tree, f, g, cull, arc_step):
    """Number of polygon vertices of each observer's isovist (first pass of two)."""
    n = obs.shape[0]
    counts = np.zeros(n, dtype=np.int64)
    for i in prange(n):
        r = radius[i]
        if not r > 0.0:
            continue
        tid = numba.get_thread_id()
        events, nearest, pieces, _ = isovist_ids(obs[i, 0], obs[i, 1], r, segs, start, items, cell, nx, ny, gx0, gy0,
                                                 tree, f[tid], g[tid], cull)
        counts[i] = boundary_points(events, nearest, pieces, r, arc_step).shape[0]
    return counts


@njit(parallel=True, cache=True)
def isovist_vertices(obs, radius, segs, start, items, cell, nx, ny, gx0, gy0, tree, f, g, cull, arc_step, offsets):
    """Polygon vertices of every isovist, absolute coordinates, rows offsets[i]:offsets[i+1]."""
    n = obs.shape[0]
    out = np.empty((offsets[-1], 2))
    for i in prange(n):
        r = radius[i]
        if not r > 0.0:
            continue
        tid = numba.get_thread_id()
        events, nearest, pieces, _ = isovist_ids(obs[i, 0], obs[i, 1], r, segs, start, items, cell, nx, ny, gx0, gy0,
                                                 tree, f[tid], g[tid], cull)
        pts = boundary_points(events, nearest, pieces, r, arc_step)
        for j in range(pts.shape[0]):
            out[offsets[i] + j, 0] = pts[j, 0] + obs[i, 0]
            out[offsets[i] + j, 1] = pts[j, 1] + obs[i, 1]
    return out


@njit(cache=True)
def _visible_candidates(ox, oy, r, segs, start, items, cell, nx, ny, gx0, gy0, tree, f, g, cull,
                        tgt, t_start, t_items, t_cell, t_nx, t_ny, t_gx0, t_gy0):
    """The targets within r of an observer and which of them it sees (grazing rule of :mod:`cpted.engines._sweep`)."""
    events, nearest, pieces, ids = isovist_ids(ox, oy, r, segs, start, items, cell, nx, ny, gx0, gy0, tree, f, g, cull)
    cand = _query(ox, oy, r, t_start, t_items, t_cell, t_nx, t_ny, t_gx0, t_gy0)
    tx = tgt[cand, 0] - ox
    ty = tgt[cand, 1] - oy
    vis = visible_mask(events, nearest, pieces, r, tx, ty)
    if ids.shape[0] == 0:
        return cand, vis
    table = _vertex_table(ids, segs, ox, oy)
    for j in range(cand.shape[0]):
        d = math.hypot(tx[j], ty[j])
        if d == 0.0 or d > r * (1.0 + 1e-12):
            continue
        if _grazes(tx[j], ty[j], d, table):
            vis[j] = not sightline_blocked(ox, oy, tgt[cand[j], 0], tgt[cand[j], 1], ids, segs)
    return cand, vis


@njit(parallel=True, cache=True)
def visible_targets(obs, radius, segs, start, items, cell, nx, ny, gx0, gy0, tree, f, g, cull,
                    tgt, t_start, t_items, t_cell, t_nx, t_ny, t_gx0, t_gy0, weights):
    """For each observer, the count of visible targets within its radius and weighted sums.

    ``weights`` (n_targets, w): per target a row of weights; the result (n_obs, w + 1) holds
    per observer the count of visible targets, then the weighted sums (NaN rows where the
    radius is NaN).
    """
    n = obs.shape[0]
    w = weights.shape[1]
    out = np.zeros((n, w + 1))
    for i in prange(n):
        r = radius[i]
        if not r > 0.0:
            out[i, :] = np.nan
            continue
        tid = numba.get_thread_id()
        cand, vis = _visible_candidates(obs[i, 0], obs[i, 1], r, segs, start, items, cell, nx, ny, gx0, gy0,
                                        tree, f[tid], g[tid], cull,
                                        tgt, t_start, t_items, t_cell, t_nx, t_ny, t_gx0, t_gy0)
        for j in range(cand.shape[0]):
            if vis[j]:
                out[i, 0] += 1.0
                for c in range(w):
                    out[i, 1 + c] += weights[cand[j], c]
    return out


@njit(parallel=True, cache=True)
def visible_pairs(obs, radius, segs, start, items, cell, nx, ny, gx0, gy0, tree, f, g, cull,
                  tgt, t_start, t_items, t_cell, t_nx, t_ny, t_gx0, t_gy0, offsets):
    """Every (observer, visible target) pair, observer rows offsets[i]:offsets[i+1]
    (offsets from the counts of :func:`visible_targets`)."""
    n = obs.shape[0]
    pairs = np.empty(offsets[-1], dtype=np.int64)
    for i in prange(n):
        r = radius[i]
        if not r > 0.0:
            continue
        tid = numba.get_thread_id()
        cand, vis = _visible_candidates(obs[i, 0], obs[i, 1], r, segs, start, items, cell, nx, ny, gx0, gy0,
                                        tree, f[tid], g[tid], cull,
                                        tgt, t_start, t_items, t_cell, t_nx, t_ny, t_gx0, t_gy0)
        m = offsets[i]
        for j in range(cand.shape[0]):
            if vis[j]:
                pairs[m] = cand[j]
                m += 1
    return pairs
