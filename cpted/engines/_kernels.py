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


def workspace(segs, start, items, cell, nx, ny, gx0, gy0, cull=True):
    """The arguments (tree, f, g, cull) of the kernels: the occluders' quadtree
    (:func:`cpted.engines._cull.build_tree`, leaves of ``cell`` * LEAF) and one workspace per thread
    (numba's current number of threads), or empty ones without ``cull``."""
    n_threads = numba.get_num_threads()
    if not cull:
        return empty_tree(), np.zeros((n_threads, 1)), np.zeros((n_threads, 1), dtype=np.int64), False
    tree = build_tree(segs, cell * LEAF)
    f, g = new_workspace(n_threads, tree[0][-1], segs.shape[0])
    return tree, f, g, True


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
