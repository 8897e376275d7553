"""Compiled kernels: the places an observer sees, when the places lie on a square lattice (grid cells).

Output-sensitive: instead of testing every place within the radius, each interval of the exact
isovist (a sector between two sweep events, bounded by one wall piece or the view circle) is
scanned row by row of the lattice. On a row the sector is one run of x between its two radials,
cut by its wall (a half-plane) or its arc; the lattice places strictly inside the run are seen.
The places within a small tolerance of a run's end (on or next to an occluding radial, a wall
or the view circle), the places of the observer's own row, the places beyond a wall lying in
line with the observer, and the places off the lattice (nudged off a wall) are decided one by one
by the exact test of :mod:`cpted.engines._sweep` (the grazing rule included). The result is the
same set of places as that test gives for every place; the cost is that of the visible places
plus the rows each sector spans.

Everything here is private; :func:`cpted.engines.vga.visibility_graph` uses it.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

import numba

from cpted.engines._cull import isovist_ids
from cpted.engines._sweep import _EPS, N_MEASURES, _bound, _grazes_at, _vertex_table, measures, sightline_blocked

_TOL = 2e-6  # m: places this close to a run's end (perpendicular) are tested exactly
_ON = 1e-7  # m: a place this close to a lattice node is on the lattice
_HALF = 2e-3  # m: half scans sweep the occluders reaching x >= the observer's x less this (> _sweep._NEAR)


def lattice_of(xy: np.ndarray):
    """When most places lie on a square lattice (grid cell centres): the lattice of place ids
    (-1: none), its origin and step, and the places off it (e.g. moved off a wall); else None.

    The step is the most common gap between consecutive distinct coordinates, and a place is on
    the lattice only within :data:`_ON` of a node: far below the tolerance of the row scans
    (:data:`_TOL`), so that a place moved off a wall by a micrometre is tested exactly, as a place
    off the lattice, and cannot skew the lattice's step.
    """
    ux = np.unique(xy[:, 0])
    uy = np.unique(xy[:, 1])
    steps = np.concatenate([np.diff(ux), np.diff(uy)])
    steps = steps[steps > 1e-3]
    if not len(steps):
        return None
    values, counts = np.unique(steps, return_counts=True)
    cell = float(values[np.argmax(counts)])
    values, counts = np.unique(xy[:, 0], return_counts=True)
    x_ref = values[np.argmax(counts)]
    values, counts = np.unique(xy[:, 1], return_counts=True)
    y_ref = values[np.argmax(counts)]
    ci = np.round((xy[:, 0] - x_ref) / cell)
    cj = np.round((xy[:, 1] - y_ref) / cell)
    # the step over the whole lattice (a gap between neighbours carries the rounding of two coordinates)
    far = np.concatenate([(xy[:, 0] - x_ref)[ci != 0] / ci[ci != 0], (xy[:, 1] - y_ref)[cj != 0] / cj[cj != 0]])
    if len(far):
        cell = float(np.median(far))
    on = (np.abs(x_ref + ci * cell - xy[:, 0]) <= _ON) & (np.abs(y_ref + cj * cell - xy[:, 1]) <= _ON)
    if on.mean() < 0.5:
        return None
    i0, j0 = ci[on].min(), cj[on].min()
    nx_, ny_ = int(ci[on].max() - i0) + 1, int(cj[on].max() - j0) + 1
    if nx_ * ny_ > 4 * len(xy) + 1_000_000:
        return None
    ids = np.flatnonzero(on)
    node = (cj[on] - j0).astype(np.int64) * nx_ + (ci[on] - i0).astype(np.int64)
    first = np.zeros(len(ids), dtype=bool)
    first[np.unique(node, return_index=True)[1]] = True  # places at the same node: one on the lattice, the others off
    on[ids[~first]] = False
    lat = np.full(ny_ * nx_, -1, dtype=np.int64)
    lat[node[first]] = ids[first]
    lat = lat.reshape(ny_, nx_)
    off = np.flatnonzero(~on).astype(np.int64)
    return lat, float(x_ref + i0 * cell), float(y_ref + j0 * cell), cell, off


@njit(cache=True)
def _mask_one(events, nearest, pieces, r, ang, d):
    """Whether the point at angle ``ang`` and distance d > 0 from the observer is inside its isovist."""
    m = nearest.shape[0]
    i = np.searchsorted(events, ang, side="right") - 1
    i = max(0, min(m - 1, i))
    bound = _bound(ang, nearest[i], pieces, r)
    if ang == events[i]:
        j = i - 1 if i > 0 else m - 1
        bound = max(bound, _bound(ang, nearest[j], pieces, r))
    return d <= bound * (1.0 + 1e-9) + 1e-9


@njit(cache=True)
def _sees(ox, oy, px, py, r, events, nearest, pieces, ids, table, segs):
    """The exact test of one place (as :func:`cpted.engines._sweep._visible_candidates`)."""
    tx = px - ox
    ty = py - oy
    d = math.hypot(tx, ty)
    if d > r * (1.0 + 1e-12):
        return False
    if d == 0.0:
        return True
    ang = math.atan2(ty, tx)
    if ids.shape[0] and _grazes_at(tx, ty, d, ang, table):
        return not sightline_blocked(ox, oy, px, py, ids, segs)
    return _mask_one(events, nearest, pieces, r, ang, d)


@njit(cache=True)
def _x_at(yr, ang):
    """x of the ray at angle ``ang`` on the row y = yr (relative), +-inf where the ray is horizontal."""
    s = math.sin(ang)
    if s == 0.0:
        return np.inf if math.cos(ang) > 0.0 else -np.inf  # toward angle 0 the row runs to +inf, toward pi to -inf
    return yr * math.cos(ang) / s


@njit(cache=True)
def _push(buf, n, value):
    if n == buf.shape[0]:
        grown = np.empty(2 * buf.shape[0] + 16, dtype=np.int64)
        grown[:n] = buf[:n]
        buf = grown
    buf[n] = value
    return buf, n + 1


@njit(cache=True)
def _near_cols(buf, n, j, x_rel, tol, ox, lx0, lcell, lnx):
    """Queue the lattice columns of row j within tol of x_rel (relative) for the exact test."""
    if not math.isfinite(x_rel):
        return buf, n
    c0 = int(max(0.0, math.ceil((ox + x_rel - tol - lx0) / lcell)))
    c1 = int(min(lnx - 1.0, math.floor((ox + x_rel + tol - lx0) / lcell)))
    for c in range(c0, c1 + 1):
        buf, n = _push(buf, n, j * lnx + c)
    return buf, n


@njit(cache=True)
def lattice_visible(ox, oy, r, segs, start, items, cell, nx, ny, gx0, gy0, tree, f, g, cull,
                    lat, lx0, ly0, lcell, off, tgt, bits, half=False, meas=None):
    """The places an observer sees: marked in the bit set ``bits`` (place p: bit p % 64 of word
    p // 64; all clear on entry), each once; returns their number. ``meas``: also the measures of
    the (whole) isovist into this row (:func:`cpted.engines._sweep.measures`; None or an empty row: not).

    ``lat`` (rows, cols) holds the place on each lattice node (x = lx0 + c * lcell,
    y = ly0 + j * lcell) or -1; ``off`` the places off the lattice; ``tgt`` every place's xy.
    ``tree``, ``f``, ``g``, ``cull``: as :func:`cpted.engines._cull.isovist_ids`.

    ``half``: only the places after the observer's node in column order (a later column, or the
    same column and a later row), for an observer on a lattice node and no place off the lattice;
    the isovist is then swept only over the occluders reaching the half-plane of those places
    (x >= the observer's x less :data:`_HALF`). Every pair of places is decided once, by its
    first place, with the same answer as in full (the sweep is exact in that half-plane).
    """
    lny, lnx = lat.shape
    xmin = ox - _HALF if half else -np.inf
    events, nearest, pieces, ids = isovist_ids(ox, oy, r, segs, start, items, cell, nx, ny, gx0, gy0, tree, f, g, cull,
                                               xmin)
    if meas is not None and meas.shape[0]:
        measures(events, nearest, pieces, r, meas)
    table = _vertex_table(ids, segs, ox, oy)
    found = 0
    near = np.empty(64, dtype=np.int64)
    n_near = 0
    jo = int(round((oy - ly0) / lcell))
    co = int(round((ox - lx0) / lcell))  # half: the observer's column
    own_row = -1
    if 0 <= jo < lny and abs(ly0 + jo * lcell - oy) <= _TOL:
        own_row = jo  # the rays along the row are radials: every place of the row is tested exactly
        c0 = int(max(0.0, math.ceil((ox - r - _TOL - lx0) / lcell)))
        c1 = int(min(lnx - 1.0, math.floor((ox + r + _TOL - lx0) / lcell)))
        if half:
            c0 = max(c0, co + 1)
        for c in range(c0, c1 + 1):
            near, n_near = _push(near, n_near, jo * lnx + c)
    inline = np.empty(16, dtype=np.int64)
    n_inline = 0
    # walls in line with the observer hide the ray beyond them: its places are tested exactly
    r2 = r * r
    for t in range(ids.shape[0]):
        q = ids[t]
        x1 = segs[q, 0] - ox
        y1 = segs[q, 1] - oy
        x2 = segs[q, 2] - ox
        y2 = segs[q, 3] - oy
        scale = math.hypot(x1, y1) * math.hypot(x2, y2)
        if abs(x1 * y2 - y1 * x2) > _EPS * scale * 1e3 and scale > 0.0:
            continue
        if x1 * x1 + y1 * y1 > r2 and x2 * x2 + y2 * y2 > r2:
            continue
        d1 = math.hypot(x1, y1)
        d2 = math.hypot(x2, y2)
        vx, vy = (x1, y1) if (d1 <= d2 and d1 > 0.0) or d2 == 0.0 else (x2, y2)
        dv = math.hypot(vx, vy)
        if dv == 0.0:
            continue
        ang = math.atan2(vy, vx)
        sn = abs(math.sin(ang))
        if sn == 0.0:
            continue  # along the observer's own row: tested exactly already
        y_far = r * math.sin(ang)
        lo_y = min(vy, y_far)
        hi_y = max(vy, y_far)
        j0 = int(max(0.0, math.ceil((oy + lo_y - _TOL - ly0) / lcell)))
        j1 = int(min(lny - 1.0, math.floor((oy + hi_y + _TOL - ly0) / lcell)))
        for j in range(j0, j1 + 1):
            yr = ly0 + j * lcell - oy
            tol = (_TOL + 4.0 * 1e-8 * abs(yr) / sn / dv) / sn
            inline, n_inline = _near_cols(inline, n_inline, j, _x_at(yr, ang), tol, ox, lx0, lcell, lnx)
    hidden = np.unique(inline[:n_inline])  # never counted inside a run: tested exactly
    left = lx0 - ox - 2.0 * lcell  # the lattice's x range, relative, with a margin
    right = lx0 + (lnx + 1) * lcell - ox
    m = nearest.shape[0]
    i_next = 0
    while i_next < m:
        # one sector per run of intervals bounded by the same wall piece (or the circle): the events
        # inside it come from walls behind that piece, whose radials bound nothing here
        i = i_next
        k = nearest[i]
        i_next = i + 1
        while i_next < m and nearest[i_next] == k:
            i_next += 1
        lo = events[i]
        hi = events[i_next]
        if half and (lo >= 0.5 * math.pi or hi <= -0.5 * math.pi):
            continue  # wholly left of the observer's column
        if k < 0:
            y_lo = r * math.sin(lo)
            y_hi = r * math.sin(hi)
            ymax = max(y_lo, y_hi, 0.0)
            ymin = min(y_lo, y_hi, 0.0)
            if lo < 0.5 * math.pi < hi:
                ymax = r
            if lo < -0.5 * math.pi < hi:
                ymin = -r
        else:
            y_lo = _bound(lo, k, pieces, r) * math.sin(lo)
            y_hi = _bound(hi, k, pieces, r) * math.sin(hi)
            ymax = max(y_lo, y_hi, 0.0)
            ymin = min(y_lo, y_hi, 0.0)
        # nearest boundary at each radial: the fan of sightlines grazing a vertex there widens with distance
        rho_lo = _bound(lo, k, pieces, r)
        rho_hi = _bound(hi, k, pieces, r)
        j0 = int(max(0.0, math.ceil((oy + ymin - _TOL - ly0) / lcell)))
        j1 = int(min(lny - 1.0, math.floor((oy + ymax + _TOL - ly0) / lcell)))
        # the sector's radials in the upper and the lower half-plane: x on a row is y * cot(angle)
        a_up, b_up = max(lo, 0.0), min(hi, math.pi)
        a_dn, b_dn = max(lo, -math.pi), min(hi, 0.0)
        xa_up, xb_up = _x_at(1.0, a_up), _x_at(1.0, b_up)
        xa_dn, xb_dn = _x_at(-1.0, a_dn), _x_at(-1.0, b_dn)
        sa_up, sb_up = abs(math.sin(a_up)), abs(math.sin(b_up))
        sa_dn, sb_dn = abs(math.sin(a_dn)), abs(math.sin(b_dn))
        # tolerances at the radials, a + b |y| on a row: (_TOL + 4e-8 |y| / (s rho)) / s
        ta0_up, ta1_up = _TOL / max(sa_up, 1e-300), 4e-8 / max(sa_up, 1e-300) / max(sa_up, 1e-300) / max(rho_lo, 1e-12)
        tb0_up, tb1_up = _TOL / max(sb_up, 1e-300), 4e-8 / max(sb_up, 1e-300) / max(sb_up, 1e-300) / max(rho_hi, 1e-12)
        ta0_dn, ta1_dn = _TOL / max(sa_dn, 1e-300), 4e-8 / max(sa_dn, 1e-300) / max(sa_dn, 1e-300) / max(rho_lo, 1e-12)
        tb0_dn, tb1_dn = _TOL / max(sb_dn, 1e-300), 4e-8 / max(sb_dn, 1e-300) / max(sb_dn, 1e-300) / max(rho_hi, 1e-12)
        if k >= 0:  # the wall's line: x = p1x + (y - p1y) ex / ey on a row
            p1x = pieces[k, 0]
            p1y = pieces[k, 1]
            ex = pieces[k, 2] - p1x
            ey = pieces[k, 3] - p1y
            side0 = ex * (0.0 - p1y) - ey * (0.0 - p1x)  # the observer's side of the wall
            keep_left = (side0 > 0.0) == (ey > 0.0)  # inside: x <= x_cut
            slope = ex / ey if ey != 0.0 else 0.0
            stretch = math.hypot(ex, ey) / abs(ey) if ey != 0.0 else 0.0
        for j in range(j0, j1 + 1):
            if j == own_row:
                continue
            yr = ly0 + j * lcell - oy
            if yr > 0.0:
                if a_up >= b_up:
                    continue
                xa_ = xa_up * yr if math.isfinite(xa_up) else xa_up
                xb_ = xb_up * yr if math.isfinite(xb_up) else xb_up
                ta = ta0_up + ta1_up * yr
                tb = tb0_up + tb1_up * yr
            else:
                if a_dn >= b_dn:
                    continue
                xa_ = -xa_dn * yr if math.isfinite(xa_dn) else xa_dn
                xb_ = -xb_dn * yr if math.isfinite(xb_dn) else xb_dn
                ta = ta0_dn - ta1_dn * yr
                tb = tb0_dn - tb1_dn * yr
            if xa_ <= xb_:
                xa, xb, tol_a, tol_b = xa_, xb_, ta, tb
            else:
                xa, xb, tol_a, tol_b = xb_, xa_, tb, ta
            if k < 0:
                if abs(yr) > r:
                    continue
                s = math.sqrt(r * r - yr * yr)
                # the run's end for a circle of radius r -+ delta (bounded at the tangent rows, where s = 0)
                delta = _TOL + 1e-9 * r
                tol_c = max(math.sqrt((r + delta) ** 2 - yr * yr) - s, s - math.sqrt(max(0.0, (r - delta) ** 2 - yr * yr)))
                if -s > xa:
                    xa, tol_a = -s, tol_c
                if s < xb:
                    xb, tol_b = s, tol_c
            else:
                if ey == 0.0:
                    if abs(yr - p1y) <= _TOL and math.isfinite(xa) and math.isfinite(xb):
                        mid = 0.5 * (xa + xb)  # places on a wall along the row: tested exactly
                        near, n_near = _near_cols(near, n_near, j, mid, 0.5 * (xb - xa) + tol_a + tol_b, ox, lx0, lcell, lnx)
                        continue
                    if (yr - p1y) * (0.0 - p1y) <= 0.0:
                        continue  # the row lies beyond a wall parallel to it
                else:
                    x_cut = p1x + (yr - p1y) * slope
                    tol_c = (_TOL + 1e-9 * (abs(x_cut) + abs(yr))) * stretch  # |x| + |y| >= the distance
                    if keep_left:
                        if x_cut < xb:
                            xb, tol_b = x_cut, tol_c
                    elif x_cut > xa:
                        xa, tol_a = x_cut, tol_c
            if xa > xb + tol_a + tol_b:
                continue
            if not xa + tol_a > left:  # beyond the lattice's left edge (or a ray along the row): no end here
                xa, tol_a = -np.inf, 0.0
            if not xb - tol_b < right:
                xb, tol_b = np.inf, 0.0
            near, n_near = _near_cols(near, n_near, j, xa, tol_a, ox, lx0, lcell, lnx)
            near, n_near = _near_cols(near, n_near, j, xb, tol_b, ox, lx0, lcell, lnx)
            lo_x = xa + tol_a
            hi_x = xb - tol_b
            c0 = int(max(0.0, math.floor((ox + lo_x - lx0) / lcell) + 1.0)) if math.isfinite(lo_x) else 0
            c1 = int(min(lnx - 1.0, math.ceil((ox + hi_x - lx0) / lcell) - 1.0)) if math.isfinite(hi_x) else lnx - 1
            if half:
                c0 = max(c0, co if j > jo else co + 1)
            for c in range(c0, c1 + 1):
                p = lat[j, c]
                if p >= 0:
                    if hidden.shape[0]:
                        h = np.searchsorted(hidden, j * lnx + c)
                        if h < hidden.shape[0] and hidden[h] == j * lnx + c:
                            continue
                    bits[p >> 6] |= np.uint64(1) << np.uint64(p & 63)
                    found += 1
    # the exact test: places near a run's end (each once, and only if not counted inside a run) and off the lattice
    for t in range(hidden.shape[0]):
        near, n_near = _push(near, n_near, hidden[t])
    cand = np.unique(near[:n_near])
    for t in range(cand.shape[0]):
        j = cand[t] // lnx
        c = cand[t] - j * lnx
        p = lat[j, c]
        if p < 0 or (half and not (c > co or (c == co and j > jo))) or bits[p >> 6] & (np.uint64(1) << np.uint64(p & 63)):
            continue  # the other half's, or counted inside a run already (near the end of a neighbouring sector's run)
        if _sees(ox, oy, tgt[p, 0], tgt[p, 1], r, events, nearest, pieces, ids, table, segs):
            bits[p >> 6] |= np.uint64(1) << np.uint64(p & 63)
            found += 1
    for t in range(0 if half else off.shape[0]):
        p = off[t]
        if _sees(ox, oy, tgt[p, 0], tgt[p, 1], r, events, nearest, pieces, ids, table, segs):
            bits[p >> 6] |= np.uint64(1) << np.uint64(p & 63)
            found += 1
    return found


@njit(parallel=True, cache=True)
def lattice_counts(obs, radius, segs, start, items, cell, nx, ny, gx0, gy0, tree, f, g, cull, lat, lx0, ly0, lcell, off, tgt,
                   half=False, with_measures=False):
    """The number of places each observer sees (-1 where its radius is NaN), and with
    ``with_measures`` its isovist's measures from the same sweep (an (n, N_MEASURES) array, rows of
    NaN where the radius is NaN; else (n, 0)). ``half``: as :func:`lattice_visible` (counts only).
    Callers give both flags, so that numba compiles one version of it."""
    n = obs.shape[0]
    counts = np.zeros(n, dtype=np.int64)
    out = np.full((n, N_MEASURES if with_measures else 0), np.nan)
    bits = np.zeros((max(1, f.shape[0]), (tgt.shape[0] + 63) // 64), dtype=np.uint64)  # each place counted once
    for i in prange(n):
        r = radius[i]
        if not r > 0.0:
            counts[i] = -1
            continue
        tid = numba.get_thread_id()
        counts[i] = lattice_visible(obs[i, 0], obs[i, 1], r, segs, start, items, cell, nx, ny, gx0, gy0,
                                    tree, f[tid], g[tid], cull, lat, lx0, ly0, lcell, off, tgt, bits[tid], half, out[i])
        bits[tid, :] = 0
    return counts, out


@njit(cache=True)
def _drain(bits, skip, out):
    """Write the places marked in ``bits`` (but ``skip``) to ``out`` in increasing order, if it is
    long enough, and clear ``bits``; returns their number."""
    m = 0
    for w in range(bits.shape[0]):
        word = bits[w]
        if word == 0:
            continue
        bits[w] = 0
        base = w << 6
        while word:
            low = word & (~word + np.uint64(1))  # lowest set bit
            p = base + bit_index(low)
            word ^= low
            if p == skip:
                continue
            if m < out.shape[0]:
                out[m] = p
            m += 1
    return m


@njit(cache=True, inline="always")
def bit_index(x):
    """Position of the single set bit of the uint64 x (unrolled binary search)."""
    k = 0
    if x >= np.uint64(1) << np.uint64(32):
        x >>= np.uint64(32)
        k += 32
    if x >= np.uint64(1) << np.uint64(16):
        x >>= np.uint64(16)
        k += 16
    if x >= np.uint64(1) << np.uint64(8):
        x >>= np.uint64(8)
        k += 8
    if x >= np.uint64(1) << np.uint64(4):
        x >>= np.uint64(4)
        k += 4
    if x >= np.uint64(1) << np.uint64(2):
        x >>= np.uint64(2)
        k += 2
    if x >= np.uint64(2):
        k += 1
    return k


@njit(parallel=True, cache=True)
def lattice_rows(obs, radius, segs, start, items, cell, nx, ny, gx0, gy0, tree, f, g, cull, lat, lx0, ly0, lcell, off, tgt, cap,
                 half=False):
    """The places each observer sees but itself, in increasing order, in one pass (``half``: only
    those after it, as :func:`lattice_visible`).

    Each thread appends its observers' rows to its own buffer of ``cap`` places. Returns
    (buffers, thread, offset, count) per observer; offset -1 where the row did not fit (or the
    radius is NaN: count 0), to be redone with :func:`lattice_fill`.
    """
    n = obs.shape[0]
    n_threads = max(1, f.shape[0])
    buf = np.empty((n_threads, cap), dtype=np.int64)
    fill = np.zeros((n_threads, 8), dtype=np.int64)  # one row per thread (padded)
    bits = np.zeros((n_threads, (tgt.shape[0] + 63) // 64), dtype=np.uint64)
    thread = np.zeros(n, dtype=np.int64)
    offset = np.full(n, -1, dtype=np.int64)
    count = np.zeros(n, dtype=np.int64)
    for i in prange(n):
        r = radius[i]
        if not r > 0.0:
            continue
        tid = numba.get_thread_id()
        lattice_visible(obs[i, 0], obs[i, 1], r, segs, start, items, cell, nx, ny, gx0, gy0,
                        tree, f[tid], g[tid], cull, lat, lx0, ly0, lcell, off, tgt, bits[tid], half)
        at = fill[tid, 0]
        m = _drain(bits[tid], i, buf[tid, at:])
        thread[i] = tid
        count[i] = m
        if at + m <= cap:
            offset[i] = at
            fill[tid, 0] = at + m
    return buf, thread, offset, count


@njit(parallel=True, cache=True)
def lattice_fill(obs, radius, segs, start, items, cell, nx, ny, gx0, gy0, tree, f, g, cull, lat, lx0, ly0, lcell, off, tgt,
                 buf, thread, offset, count):
    """The CSR arrays (indptr, indices) of the rows of :func:`lattice_rows`, the rows that did not
    fit computed again."""
    n = obs.shape[0]
    indptr = np.zeros(n + 1, dtype=np.int64)
    for i in range(n):
        indptr[i + 1] = indptr[i] + count[i]
    indices = np.empty(indptr[n], dtype=np.int64)
    bits = np.zeros((max(1, f.shape[0]), (tgt.shape[0] + 63) // 64), dtype=np.uint64)
    for i in prange(n):
        row = indices[indptr[i]:indptr[i + 1]]
        if offset[i] >= 0:
            row[:] = buf[thread[i], offset[i]:offset[i] + count[i]]
        elif count[i] > 0:
            tid = numba.get_thread_id()
            lattice_visible(obs[i, 0], obs[i, 1], radius[i], segs, start, items, cell, nx, ny, gx0, gy0,
                            tree, f[tid], g[tid], cull, lat, lx0, ly0, lcell, off, tgt, bits[tid])
            _drain(bits[tid], i, row)
    return indptr, indices


@njit(parallel=True, cache=True)
def lattice_pairs(obs, radius, segs, start, items, cell, nx, ny, gx0, gy0, tree, f, g, cull, lat, lx0, ly0, lcell, off, tgt,
                  offsets):
    """The places each observer sees (itself included if it is one), in increasing order: rows
    offsets[i]:offsets[i + 1] of the result (``offsets`` from the counts of :func:`lattice_counts`)."""
    n = obs.shape[0]
    pairs = np.empty(offsets[n], dtype=np.int64)
    bits = np.zeros((max(1, f.shape[0]), (tgt.shape[0] + 63) // 64), dtype=np.uint64)
    for i in prange(n):
        r = radius[i]
        if not r > 0.0 or offsets[i + 1] == offsets[i]:
            continue
        tid = numba.get_thread_id()
        lattice_visible(obs[i, 0], obs[i, 1], r, segs, start, items, cell, nx, ny, gx0, gy0,
                        tree, f[tid], g[tid], cull, lat, lx0, ly0, lcell, off, tgt, bits[tid])
        _drain(bits[tid], -1, pairs[offsets[i]:offsets[i + 1]])
    return pairs


@njit(cache=True, inline="always")
def _half_row(i, buf, thread, offset, count, extra, extra_at):
    """Place i's half row: in its thread's buffer, or among those computed again (:func:`mirror_fill`)."""
    if offset[i] >= 0:
        return buf[thread[i], offset[i]:offset[i] + count[i]]
    return extra[extra_at[i]:extra_at[i] + count[i]]


@njit(cache=True)
def mirror_fill(obs, radius, segs, start, items, cell, nx, ny, gx0, gy0, tree, f, g, cull, lat, lx0, ly0, lcell, off, tgt,
                buf, thread, offset, count):
    """The CSR arrays (indptr, indices) of the symmetric graph whose half rows (each place's
    neighbours after it, :func:`lattice_rows` with ``half``) are given: row i holds the places
    whose half rows hold i, then its own half row, merged in increasing order. Half rows that
    did not fit are computed again."""
    n = obs.shape[0]
    n_words = (tgt.shape[0] + 63) // 64
    bits = np.zeros(n_words, dtype=np.uint64)
    f0 = f[0]
    g0 = g[0]
    # half rows that did not fit the buffers, computed again
    n_extra = 0
    for i in range(n):
        if offset[i] < 0:
            n_extra += count[i]
    extra = np.empty(n_extra, dtype=np.int64)
    extra_at = np.full(n, -1, dtype=np.int64)
    at = 0
    for i in range(n):
        if offset[i] < 0 and count[i] > 0:
            lattice_visible(obs[i, 0], obs[i, 1], radius[i], segs, start, items, cell, nx, ny, gx0, gy0,
                            tree, f0, g0, cull, lat, lx0, ly0, lcell, off, tgt, bits, True)
            _drain(bits, i, extra[at:at + count[i]])
            extra_at[i] = at
            at += count[i]
    lower = np.zeros(n, dtype=np.int64)  # the places whose half rows hold i
    for i in range(n):
        row = _half_row(i, buf, thread, offset, count, extra, extra_at)
        for t in range(row.shape[0]):
            lower[row[t]] += 1
    indptr = np.zeros(n + 1, dtype=np.int64)
    for i in range(n):
        indptr[i + 1] = indptr[i] + lower[i] + count[i]
    indices = np.empty(indptr[n], dtype=np.int64)
    fill = indptr[:n].copy()
    for i in range(n):  # increasing i: each row's lower part comes sorted
        row = _half_row(i, buf, thread, offset, count, extra, extra_at)
        for t in range(row.shape[0]):
            p = row[t]
            indices[fill[p]] = i
            fill[p] += 1
    tmp = np.empty(0, dtype=np.int64)
    for i in range(n):
        row = _half_row(i, buf, thread, offset, count, extra, extra_at)
        a = indptr[i]
        m = lower[i]
        k = row.shape[0]
        out = indices[a:a + m + k]
        if m == 0 or k == 0 or out[m - 1] < row[0]:
            out[m:] = row
            continue
        if tmp.shape[0] < m:
            tmp = np.empty(2 * m, dtype=np.int64)
        tmp[:m] = out[:m]
        x = 0
        y = 0
        for t in range(m + k):
            if y == k or (x < m and tmp[x] < row[y]):
                out[t] = tmp[x]
                x += 1
            else:
                out[t] = row[y]
                y += 1
    return indptr, indices
