"""Compiled kernels: the occluders an observer can see, found without looking at the others.

With an unlimited view every occluder of the scene lies within the radius, while an observer
sees a few dozen of them. This module walks the cells of the scene's grid index outward from the
observer (nearest first, each cell reached from a neighbour that is not hidden) and keeps an
angular table of where the view is already blocked: for each of :data:`N_BINS` angular bins, a
distance beyond which every sightline of the bin has met a wall. A wall piece that spans a whole
bin blocks it at the farther of its two ends (the distance along a segment is largest at an end);
pieces meeting at a vertex inside a bin block it together, chained from the bin's two sides.

A cell is **hidden** when every bin its box spans (grown by :data:`_MARGIN`) is blocked nearer
than the box's nearest point (less :data:`_SLACK`): then every point of the cell lies strictly
behind a wall. Its occluders are dropped and its neighbours are not reached through it. Only such
occluders are dropped, so the exact sweep of :mod:`cpted.engines._sweep` on the ones kept gives
the same isovist, the same visible places and the same grazing decisions as the sweep over all of
them: no dropped occluder is ever the nearest wall in any direction, none touches a sightline to a
point the observer sees, and every target near a dropped vertex lies behind a kept wall.

Cells of the grid's outer ring that hold occluders reaching outside the grid are never hidden
(parts of their occluders lie outside every cell's box).

Angles are pseudo-angles (the "diamond angle", from 0 to 4, monotone in the true angle), cheaper
than atan2; the table is only ever compared with itself.

Everything here is private; the kernels of :mod:`cpted.engines._kernels` use it.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from cpted.engines._paths import _pop, _push
from cpted.engines._sweep import isovist_ids as _all_ids
from cpted.engines._sweep import sweep

#: Angular bins of the occlusion table (pseudo-angle 0..4).
N_BINS = 1024
_BW = 4.0 / N_BINS
_GROUP = 16  # bins per group of the table's coarse level (an upper bound of the group's distances)
_N_GROUPS = N_BINS // _GROUP
_MARGIN = 1e-3  # m: cell boxes are grown by this much before testing whether they are hidden
_SPAN = 1e-6  # pseudo-angle: a wall's span is grown by this much before testing whether it is hidden
_SLACK = 1e-5  # m: a box is hidden only if blocked this much (plus 1e-7 relative) nearer than its nearest point
_NEAR_WALL = 1e-7  # m: walls passing this close to the observer block nothing in the table
# layout of a thread's float row: block, left reach, left distance, right reach, right distance (by bin),
# the coarse level (by group), then heap keys (by cell)
_LR, _LD, _RR, _RD, _GR = (N_BINS, 2 * N_BINS, 3 * N_BINS, 4 * N_BINS, 5 * N_BINS)
_KEYS = 5 * N_BINS + _N_GROUPS


@njit(cache=True, inline="always")
def _pseudo(x, y):
    """Diamond angle of (x, y): 0 along +x, increasing counter-clockwise, in [0, 4)."""
    s = abs(x) + abs(y)
    if s == 0.0:
        return 0.0
    if y >= 0.0:
        return y / s if x >= 0.0 else 1.0 - x / s
    v = 2.0 - y / s if x < 0.0 else 3.0 + x / s
    return v if v < 4.0 else 0.0


@njit(cache=True, inline="always")
def _bin(p):
    b = int(p * (N_BINS / 4.0))
    return min(max(b, 0), N_BINS - 1)


@njit(cache=True)
def new_workspace(n_threads, n_cells, n_segs):
    """Per-thread buffers: a float row (the occlusion table and heap keys) and an int row (cell
    marks, heap values, the observer stamp, occluder marks)."""
    f = np.empty((n_threads, _KEYS + n_cells))
    g = np.full((n_threads, 2 * n_cells + 1 + n_segs), -1, dtype=np.int64)
    g[:, 2 * n_cells] = 0
    return f, g


@njit(cache=True)
def spill_cells(segs, start, items, cell, nx, ny, gx0, gy0):
    """Cells of the grid index holding an occluder that reaches outside the grid (never hidden)."""
    out = np.zeros(nx * ny, dtype=np.bool_)
    x1g = gx0 + nx * cell
    y1g = gy0 + ny * cell
    for k in range(nx * ny):
        for t in range(start[k], start[k + 1]):
            q = items[t]
            if (min(segs[q, 0], segs[q, 2]) < gx0 or max(segs[q, 0], segs[q, 2]) > x1g
                    or min(segs[q, 1], segs[q, 3]) < gy0 or max(segs[q, 1], segs[q, 3]) > y1g):
                out[k] = True
                break
    return out


@njit(cache=True)
def _cover(f, b, s, e, d):
    """Bin b is covered by a wall over pseudo-angles s..e (within the bin) at distances <= d."""
    if f[b] <= d:
        return  # already blocked nearer
    if s <= b * _BW and e >= (b + 1) * _BW:
        f[b] = d
        return
    if s <= f[_LR + b] and e > f[_LR + b]:  # extends the chain from the bin's low side
        f[_LR + b] = e
        f[_LD + b] = max(f[_LD + b], d)
    if e >= f[_RR + b] and s < f[_RR + b]:  # extends the chain from the bin's high side
        f[_RR + b] = s
        f[_RD + b] = max(f[_RD + b], d)
    if f[_LR + b] >= f[_RR + b]:
        f[b] = min(f[b], max(f[_LD + b], f[_RD + b]))


@njit(cache=True)
def _cover_range(f, s, e, d):
    b0 = _bin(s)
    b1 = _bin(e)
    _cover(f, b0, s, min(e, (b0 + 1) * _BW), d)
    if b1 > b0:
        for b in range(b0 + 1, b1):  # bins spanned whole
            f[b] = min(f[b], d)
        # groups spanned whole: their upper bound drops to d
        for gi in range((b0 + _GROUP) // _GROUP, b1 // _GROUP):
            f[_GR + gi] = min(f[_GR + gi], d)
        _cover(f, b1, b1 * _BW, e, d)


@njit(cache=True)
def _add_wall(f, px, py, qx, qy):
    """Enter one wall (coordinates relative to the observer) in the occlusion table."""
    cross = px * qy - py * qx
    dp = math.hypot(px, py)
    dq = math.hypot(qx, qy)
    if abs(cross) <= 1e-12 * dp * dq:
        return  # in line with the observer: no angular width
    if _seg_dist(px, py, qx, qy) <= _NEAR_WALL:
        return
    if cross < 0.0:
        px, py, qx, qy = qx, qy, px, py
    d = max(dp, dq)
    s = _pseudo(px, py)
    e = _pseudo(qx, qy)
    if s <= e:
        _cover_range(f, s, e, d)
    else:  # across pseudo-angle 0 (the +x axis)
        _cover_range(f, s, 4.0, d)
        _cover_range(f, 0.0, e, d)


@njit(cache=True, inline="always")
def _seg_dist(px, py, qx, qy):
    """Distance from the origin to the segment p-q."""
    ex = qx - px
    ey = qy - py
    ll = ex * ex + ey * ey
    u = 0.0 if ll == 0.0 else min(1.0, max(0.0, -(px * ex + py * ey) / ll))
    return math.hypot(px + u * ex, py + u * ey)


@njit(cache=True)
def _blocked_before(f, s, e, dmin):
    """Whether every bin over pseudo-angles s..e is blocked nearer than dmin (with slack)."""
    limit = (dmin - _SLACK) / (1.0 + 1e-7)
    b0 = _bin(s)
    b1 = _bin(e)
    b = b0
    while b <= b1:
        gi = b // _GROUP
        if b == gi * _GROUP and b + _GROUP - 1 <= b1:  # a whole group
            if f[_GR + gi] < limit:
                b += _GROUP
                continue
            top = 0.0
            for q in range(b, b + _GROUP):
                top = max(top, f[q])
            f[_GR + gi] = top
            if not top < limit:
                return False
            b += _GROUP
            continue
        if not f[b] < limit:
            return False
        b += 1
    return True


@njit(cache=True)
def _span_hidden(f, s, e, dmin):
    """Whether the pseudo-angles from s counter-clockwise to e (grown by _SPAN) are blocked nearer than dmin."""
    s -= _SPAN
    e += _SPAN
    if s < 0.0:
        if not _blocked_before(f, s + 4.0, 4.0, dmin):
            return False
        s = 0.0
    if e > 4.0:
        if not _blocked_before(f, 0.0, e - 4.0, dmin):
            return False
        e = 4.0
    if s <= e:
        return _blocked_before(f, s, e, dmin)
    return _blocked_before(f, s, 4.0, dmin) and _blocked_before(f, 0.0, e, dmin)


@njit(cache=True)
def _hidden(f, x0, y0, x1, y1):
    """Whether the box x0..x1, y0..y1 (relative to the observer) lies wholly behind walls of the table."""
    if x0 <= 0.0 <= x1 and y0 <= 0.0 <= y1:
        return False
    dx = x0 if x0 > 0.0 else (-x1 if x1 < 0.0 else 0.0)
    dy = y0 if y0 > 0.0 else (-y1 if y1 < 0.0 else 0.0)
    dmin = math.hypot(dx, dy)
    p00 = _pseudo(x0, y0)
    p10 = _pseudo(x1, y0)
    p01 = _pseudo(x0, y1)
    p11 = _pseudo(x1, y1)
    if x0 > 0.0 and y0 <= 0.0 <= y1:  # across the +x axis: corners below are near 4, above near 0
        hi_above = max(p01, p11) if y1 > 0.0 else 0.0
        if y0 < 0.0:
            if not _blocked_before(f, min(p00, p10), 4.0, dmin):
                return False
        else:
            hi_above = max(hi_above, p00, p10)
        return _blocked_before(f, 0.0, hi_above, dmin)
    lo = min(min(p00, p10), min(p01, p11))
    hi = max(max(p00, p10), max(p01, p11))
    return _blocked_before(f, lo, hi, dmin)


@njit(cache=True)
def _cell_dmin(ox, oy, a, b, cell, gx0, gy0):
    x0 = gx0 + a * cell - ox - _MARGIN
    y0 = gy0 + b * cell - oy - _MARGIN
    x1 = x0 + cell + 2 * _MARGIN
    y1 = y0 + cell + 2 * _MARGIN
    dx = x0 if x0 > 0.0 else (-x1 if x1 < 0.0 else 0.0)
    dy = y0 if y0 > 0.0 else (-y1 if y1 < 0.0 else 0.0)
    return math.hypot(dx, dy)


@njit(cache=True)
def visible_ids(ox, oy, r, segs, start, items, cell, nx, ny, gx0, gy0, spill, f, g):
    """Ids (sorted) of the occluders within r of an observer that are not hidden behind nearer
    ones: a superset of every occluder the observer sees (module docstring).

    ``f``, ``g`` one thread's rows of :func:`new_workspace`; ``spill`` from :func:`spill_cells`.
    """
    n_cells = nx * ny
    f[:N_BINS] = np.inf
    for b in range(N_BINS):
        f[_LR + b] = b * _BW
        f[_RR + b] = (b + 1) * _BW
    f[_LD:_RR] = 0.0
    f[_RD:_GR] = 0.0
    f[_GR:_KEYS] = np.inf
    keys = f[_KEYS:]
    mark = g[:n_cells]
    vals = g[n_cells:2 * n_cells]
    seg_mark = g[2 * n_cells + 1:]
    g[2 * n_cells] += 1
    stamp = g[2 * n_cells]
    x1g = gx0 + nx * cell
    y1g = gy0 + ny * cell
    n_heap = 0
    if gx0 <= ox <= x1g and gy0 <= oy <= y1g:
        a = min(nx - 1, max(0, int((ox - gx0) / cell)))
        b = min(ny - 1, max(0, int((oy - gy0) / cell)))
        mark[b * nx + a] = stamp
        n_heap = _push(keys, vals, n_heap, 0.0, b * nx + a)
    else:  # outside the grid: sightlines enter it through its outer ring
        for k in range(n_cells):
            b = k // nx
            a = k - b * nx
            if a == 0 or b == 0 or a == nx - 1 or b == ny - 1:
                dmin = _cell_dmin(ox, oy, a, b, cell, gx0, gy0)
                if dmin <= r:
                    mark[k] = stamp
                    n_heap = _push(keys, vals, n_heap, dmin, k)
    ids = np.empty(64, dtype=np.int64)
    n_ids = 0
    while n_heap:
        _, k, n_heap = _pop(keys, vals, n_heap)
        b = k // nx
        a = k - b * nx
        if not spill[k]:
            x0 = gx0 + a * cell - ox - _MARGIN
            y0 = gy0 + b * cell - oy - _MARGIN
            if _hidden(f, x0, y0, x0 + cell + 2 * _MARGIN, y0 + cell + 2 * _MARGIN):
                continue
        for t in range(start[k], start[k + 1]):
            q = items[t]
            if seg_mark[q] == stamp:
                continue
            seg_mark[q] = stamp
            if n_ids == ids.shape[0]:
                grown = np.empty(2 * n_ids, dtype=np.int64)
                grown[:n_ids] = ids[:n_ids]
                ids = grown
            ids[n_ids] = q
            n_ids += 1
            _add_wall(f, segs[q, 0] - ox, segs[q, 1] - oy, segs[q, 2] - ox, segs[q, 3] - oy)
        for da in range(-1, 2):
            for db in range(-1, 2):
                a2 = a + da
                b2 = b + db
                if a2 < 0 or b2 < 0 or a2 >= nx or b2 >= ny:
                    continue
                k2 = b2 * nx + a2
                if mark[k2] == stamp:
                    continue
                dmin = _cell_dmin(ox, oy, a2, b2, cell, gx0, gy0)
                if dmin > r:
                    continue
                mark[k2] = stamp
                n_heap = _push(keys, vals, n_heap, dmin, k2)
    # second look with the whole table: occluders wholly behind nearer walls are dropped too
    keep = 0
    for t in range(n_ids):
        q = ids[t]
        px = segs[q, 0] - ox
        py = segs[q, 1] - oy
        qx = segs[q, 2] - ox
        qy = segs[q, 3] - oy
        cross = px * qy - py * qx
        if cross != 0.0:
            if cross < 0.0:
                px, py, qx, qy = qx, qy, px, py
            if _span_hidden(f, _pseudo(px, py), _pseudo(qx, qy), _seg_dist(px, py, qx, qy)):
                continue
        ids[keep] = q
        keep += 1
    return np.sort(ids[:keep])


@njit(cache=True)
def isovist_ids(ox, oy, r, segs, start, items, cell, nx, ny, gx0, gy0, spill, f, g, cull):
    """The isovist of one observer within radius r and the ids of the occluders swept.

    With ``cull``, and a radius beyond four cells of the grid index, the occluders are those
    :func:`visible_ids` keeps; otherwise every one within the radius, gathered by
    :func:`cpted.engines._sweep.isovist_ids` (at a short radius, culling costs more than it saves).
    Both give the same isovist.
    """
    if not cull or r <= 4.0 * cell:
        return _all_ids(ox, oy, r, segs, start, items, cell, nx, ny, gx0, gy0)
    ids = visible_ids(ox, oy, r, segs, start, items, cell, nx, ny, gx0, gy0, spill, f, g)
    events, nearest, pieces = sweep(ox, oy, r, ids, segs)
    return events, nearest, pieces, ids
