"""Compiled kernels of the visibility engine: an exact angular sweep per observer.

For one observer, every occluder segment within the radius is clipped to the view disc,
oriented counter-clockwise and split where it crosses the ray at angle pi. All segment
end angles are the events of the sweep. Between two consecutive events the set of
segments crossing the ray does not change and, because the segments are noded (they meet
only at their ends), neither does their order along the ray: the nearest one bounds the
isovist over the whole interval. The isovist is thus exactly a sequence of intervals, each
bounded by a straight piece of one segment or by an arc of the view circle; areas,
perimeters and centroids are summed exactly from triangles and circular sectors.

Grazing sightlines (one rule, the same in both directions). A sightline that touches an
occluder without crossing it (through a corner, or along a wall) counts as **blocked**, as in
depthmapX. Only its two ends may touch a wall: a point on a façade sees and is seen. "Touches"
means passes within :data:`TOUCH` (1 nm) of the occluder, so that rounding cannot make a
sightline blocked one way and clear the other. The sweep alone decides a target whose
sightline passes no occluder vertex closer than :data:`_FLAG`; the others (a measure-zero set:
sightlines through a vertex or along a wall) are decided by :func:`sightline_blocked`, which
computes the same floating-point operations whichever end it starts from.

Cost: O(k log k + k * a) per observer for k segments swept and a segments crossing a ray (a is
small: the walls between the observer and the view limit). The segments swept come from a
uniform grid index: every one within the radius (:func:`isovist_ids`), or only those not hidden
behind nearer walls (:mod:`cpted.engines._cull`), which gives the same isovist at a cost that
does not grow with the view radius. The kernels over many observers, in parallel, are in
:mod:`cpted.engines._kernels`.

Everything here is private; :mod:`cpted.engines.visibility` is the API.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

# measure columns of the output array
AREA, PERIMETER, OCCLUSIVITY, MIN_RADIAL, MAX_RADIAL, CX, CY = range(7)
N_MEASURES = 7
_EPS = 1e-12
#: Metres: a sightline passing this close to an occluder (away from its ends) touches it, and is blocked.
TOUCH = 1e-9
_FLAG = 1e-8  # m: sightlines passing a vertex this close go to the exact test
_NEAR = 1e-3  # m: vertices nearer the observer than this are tested for every target


@njit(cache=True)
def _cell_range(x0, y0, x1, y1, cell, nx, ny, gx0, gy0):
    """Grid cells (clamped to the grid) covering the box x0..x1, y0..y1."""
    i0 = max(0, min(nx - 1, int((x0 - gx0) / cell)))
    i1 = max(0, min(nx - 1, int((x1 - gx0) / cell)))
    j0 = max(0, min(ny - 1, int((y0 - gy0) / cell)))
    j1 = max(0, min(ny - 1, int((y1 - gy0) / cell)))
    return i0, i1, j0, j1


@njit(cache=True)
def build_grid_index(x0, y0, x1, y1, cell, nx, ny, gx0, gy0):
    """CSR grid index of boxes (x0..x1, y0..y1): start offsets per cell and item ids."""
    n = x0.shape[0]
    counts = np.zeros(nx * ny + 1, dtype=np.int64)
    for i in range(n):
        i0, i1, j0, j1 = _cell_range(x0[i], y0[i], x1[i], y1[i], cell, nx, ny, gx0, gy0)
        for a in range(i0, i1 + 1):
            for b in range(j0, j1 + 1):
                counts[b * nx + a + 1] += 1
    start = np.cumsum(counts)
    fill = start[:-1].copy()
    items = np.empty(start[-1], dtype=np.int64)
    for i in range(n):
        i0, i1, j0, j1 = _cell_range(x0[i], y0[i], x1[i], y1[i], cell, nx, ny, gx0, gy0)
        for a in range(i0, i1 + 1):
            for b in range(j0, j1 + 1):
                k = b * nx + a
                items[fill[k]] = i
                fill[k] += 1
    return start, items


@njit(cache=True)
def _query(ox, oy, r, start, items, cell, nx, ny, gx0, gy0):
    """Ids of the items whose grid cells meet the box of side 2r around (ox, oy), unique."""
    i0, i1, j0, j1 = _cell_range(ox - r, oy - r, ox + r, oy + r, cell, nx, ny, gx0, gy0)
    total = 0
    for a in range(i0, i1 + 1):
        for b in range(j0, j1 + 1):
            k = b * nx + a
            total += start[k + 1] - start[k]
    found = np.empty(total, dtype=np.int64)
    m = 0
    for a in range(i0, i1 + 1):
        for b in range(j0, j1 + 1):
            k = b * nx + a
            for t in range(start[k], start[k + 1]):
                found[m] = items[t]
                m += 1
    if m == 0:
        return found
    found.sort()
    keep = 1
    for t in range(1, m):
        if found[t] != found[keep - 1]:
            found[keep] = found[t]
            keep += 1
    return found[:keep]


@njit(cache=True)
def _ray_distance(c, s, x1, y1, x2, y2):
    """Distance along the ray (cos, sin) = (c, s) from the origin to the line through the segment."""
    dx = x2 - x1
    dy = y2 - y1
    den = c * dy - s * dx
    if den == 0.0:
        return math.hypot(x1, y1)
    return (x1 * dy - y1 * dx) / den


@njit(cache=True)
def _prepare(ox, oy, r, ids, segs):
    """Observer-relative, disc-clipped, counter-clockwise pieces of the candidate segments.

    Returns an array (n, 6): x1, y1, x2, y2, start angle, end angle, with angles in [-pi, pi]
    and start < end.
    """
    out = np.empty((2 * ids.shape[0], 6))
    n = 0
    r2 = r * r
    for t in range(ids.shape[0]):
        k = ids[t]
        px = segs[k, 0] - ox
        py = segs[k, 1] - oy
        qx = segs[k, 2] - ox
        qy = segs[k, 3] - oy
        dx = qx - px
        dy = qy - py
        # clip to the disc |p + u (q - p)| <= r, u in [0, 1]
        a = dx * dx + dy * dy
        if a == 0.0:
            continue
        b = 2.0 * (px * dx + py * dy)
        cc = px * px + py * py - r2
        disc = b * b - 4.0 * a * cc
        if disc <= 0.0:
            continue
        sq = math.sqrt(disc)
        u0 = max(0.0, (-b - sq) / (2.0 * a))
        u1 = min(1.0, (-b + sq) / (2.0 * a))
        if u1 <= u0:
            continue
        # unclipped ends keep their exact coordinates, so shared vertices give equal angles
        x1, y1 = (px, py) if u0 == 0.0 else (px + u0 * dx, py + u0 * dy)
        x2, y2 = (qx, qy) if u1 == 1.0 else (px + u1 * dx, py + u1 * dy)
        cross = x1 * y2 - y1 * x2
        scale = math.hypot(x1, y1) * math.hypot(x2, y2)
        if abs(cross) <= _EPS * scale or scale == 0.0:
            continue  # collinear with the observer: it hides nothing
        if cross < 0.0:
            x1, y1, x2, y2 = x2, y2, x1, y1
        a1 = math.atan2(y1, x1)
        a2 = math.atan2(y2, x2)
        if a1 == math.pi:
            a1 = -math.pi
        if a2 == -math.pi:
            a2 = math.pi
        if a1 == a2:
            continue  # no angular width left after rounding
        if a1 < a2:
            out[n, 0] = x1
            out[n, 1] = y1
            out[n, 2] = x2
            out[n, 3] = y2
            out[n, 4] = a1
            out[n, 5] = a2
            n += 1
        else:  # crosses the ray at angle pi: split on the negative x axis
            u = y1 / (y1 - y2)
            mx = x1 + u * (x2 - x1)
            out[n, 0] = x1
            out[n, 1] = y1
            out[n, 2] = mx
            out[n, 3] = 0.0
            out[n, 4] = a1
            out[n, 5] = math.pi
            n += 1
            out[n, 0] = mx
            out[n, 1] = 0.0
            out[n, 2] = x2
            out[n, 3] = y2
            out[n, 4] = -math.pi
            out[n, 5] = a2
            n += 1
    return out[:n]


@njit(cache=True)
def sweep(ox, oy, r, ids, segs):
    """The isovist of one observer as intervals.

    Returns (events, nearest): ``events`` the sorted distinct angles from -pi to pi, and
    ``nearest[i]`` the row of the piece bounding interval (events[i], events[i+1]) in
    ``pieces``, or -1 where the view circle bounds it; and ``pieces`` itself.
    """
    pieces = _prepare(ox, oy, r, ids, segs)
    n = pieces.shape[0]
    ev = np.empty(2 * n + 2)
    ev[0] = -math.pi
    ev[1] = math.pi
    for i in range(n):
        ev[2 + 2 * i] = pieces[i, 4]
        ev[3 + 2 * i] = pieces[i, 5]
    ev.sort()
    m = 1
    for i in range(1, ev.shape[0]):
        if ev[i] != ev[m - 1]:
            ev[m] = ev[i]
            m += 1
    events = ev[:m]
    nearest = np.full(m - 1, -1, dtype=np.int64)
    order = np.argsort(pieces[:, 4])
    active = np.empty(n, dtype=np.int64)
    n_active = 0
    nxt = 0
    for i in range(m - 1):
        lo = events[i]
        hi = events[i + 1]
        while nxt < n and pieces[order[nxt], 4] <= lo:
            active[n_active] = order[nxt]
            n_active += 1
            nxt += 1
        keep = 0
        for t in range(n_active):
            if pieces[active[t], 5] > lo:
                active[keep] = active[t]
                keep += 1
        n_active = keep
        if n_active == 0:
            continue
        if n_active == 1:
            nearest[i] = active[0]
            continue
        mid = 0.5 * (lo + hi)
        c = math.cos(mid)
        s = math.sin(mid)
        best = -1
        best_d = np.inf
        for t in range(n_active):
            k = active[t]
            d = _ray_distance(c, s, pieces[k, 0], pieces[k, 1], pieces[k, 2], pieces[k, 3])
            if d < best_d:
                best_d = d
                best = k
        nearest[i] = best
    return events, nearest, pieces


@njit(cache=True)
def isovist_ids(ox, oy, r, segs, start, items, cell, nx, ny, gx0, gy0):
    """The isovist of one observer within radius r, output-sensitive, and the segments swept.

    Sweeps the segments within a small radius first and doubles it until every direction is
    blocked by a wall nearer than that radius (then farther walls cannot matter) or the
    radius reaches r. Returns (events, nearest, pieces) as :func:`sweep`, then the ids of the
    segments swept (every segment that can touch a sightline to a point the observer sees).
    """
    reach = min(r, 4.0 * cell)
    while True:
        ids = _query(ox, oy, reach, start, items, cell, nx, ny, gx0, gy0)
        events, nearest, pieces = sweep(ox, oy, reach, ids, segs)
        if reach >= r:
            return events, nearest, pieces, ids
        closed = True
        for i in range(nearest.shape[0]):
            if nearest[i] < 0:
                closed = False
                break
        if closed:
            return events, nearest, pieces, ids
        reach = min(r, 2.0 * reach)


@njit(cache=True)
def isovist(ox, oy, r, segs, start, items, cell, nx, ny, gx0, gy0):
    """The isovist of one observer within radius r: (events, nearest, pieces) of :func:`isovist_ids`."""
    events, nearest, pieces, _ = isovist_ids(ox, oy, r, segs, start, items, cell, nx, ny, gx0, gy0)
    return events, nearest, pieces


@njit(cache=True)
def sightline_blocked(ax, ay, bx, by, ids, segs):
    """Whether an occluder among ``segs[ids]`` crosses or touches the sightline a-b away from its ends.

    The grazing rule of the engine: touching (within :data:`TOUCH`) blocks. The points are put
    in a canonical order first, so the answer is the same bit for bit from either end.
    """
    if bx < ax or (bx == ax and by < ay):
        ax, ay, bx, by = bx, by, ax, ay
    dx = bx - ax
    dy = by - ay
    length = math.hypot(dx, dy)
    if length <= 2.0 * TOUCH:
        return False
    ux = dx / length
    uy = dy / length
    for t in range(ids.shape[0]):
        k = ids[t]
        x1 = segs[k, 0]
        y1 = segs[k, 1]
        x2 = segs[k, 2]
        y2 = segs[k, 3]
        for px, py in ((x1, y1), (x2, y2)):  # an end of the occluder on the sightline
            rx = px - ax
            ry = py - ay
            along = rx * ux + ry * uy
            if abs(rx * uy - ry * ux) <= TOUCH and TOUCH < along < length - TOUCH:
                return True
        o1 = dx * (y1 - ay) - dy * (x1 - ax)
        o2 = dx * (y2 - ay) - dy * (x2 - ax)
        if (o1 > 0.0 and o2 < 0.0) or (o1 < 0.0 and o2 > 0.0):  # a proper crossing
            ex = x2 - x1
            ey = y2 - y1
            o3 = ex * (ay - y1) - ey * (ax - x1)
            o4 = ex * (by - y1) - ey * (bx - x1)
            if (o3 > 0.0 and o4 < 0.0) or (o3 < 0.0 and o4 > 0.0):
                along = o3 / (o3 - o4) * length
                if TOUCH < along < length - TOUCH:
                    return True
    return False


@njit(cache=True)
def _vertex_table(ids, segs, ox, oy):
    """The ends of the segments ``ids`` relative to the observer, sorted by angle, and those
    nearer than :data:`_NEAR` (tested against every target)."""
    n = ids.shape[0]
    vx = np.empty(2 * n)
    vy = np.empty(2 * n)
    for t in range(n):
        k = ids[t]
        vx[2 * t] = segs[k, 0] - ox
        vy[2 * t] = segs[k, 1] - oy
        vx[2 * t + 1] = segs[k, 2] - ox
        vy[2 * t + 1] = segs[k, 3] - oy
    ang = np.arctan2(vy, vx)
    order = np.argsort(ang)
    near = np.flatnonzero(np.hypot(vx, vy) < _NEAR)
    return ang[order], vx[order], vy[order], near, vx[near], vy[near]


@njit(cache=True)
def _on_sightline(tx, ty, d, vx, vy):
    """Whether the vertex (vx, vy) lies within :data:`_FLAG` of the sightline from the origin to (tx, ty)."""
    return abs(tx * vy - ty * vx) <= _FLAG * d and -_FLAG * d < tx * vx + ty * vy < (d + _FLAG) * d


@njit(cache=True)
def _grazes(tx, ty, d, table):
    """Whether a sightline from the observer to (tx, ty), at distance d, passes close to a vertex."""
    return _grazes_at(tx, ty, d, math.atan2(ty, tx), table)


@njit(cache=True)
def _grazes_at(tx, ty, d, ang, table):
    """:func:`_grazes`, the sightline's angle ``ang`` (atan2(ty, tx)) given."""
    vang, vx, vy, near, nx_, ny_ = table
    for j in range(near.shape[0]):
        if _on_sightline(tx, ty, d, nx_[j], ny_[j]):
            return True
    beta = _FLAG / _NEAR  # farther vertices within _FLAG of the sightline lie within beta radians
    for shift in (0.0, -2.0 * math.pi, 2.0 * math.pi):
        if shift != 0.0 and (ang - beta + shift > math.pi or ang + beta + shift < -math.pi):
            continue  # the shifted window holds no angle
        lo = np.searchsorted(vang, ang - beta + shift)
        hi = np.searchsorted(vang, ang + beta + shift, side="right")
        for j in range(lo, hi):
            if _on_sightline(tx, ty, d, vx[j], vy[j]):
                return True
    return False


@njit(cache=True)
def _bound(angle, k, pieces, r):
    """Distance to the isovist boundary at ``angle`` in an interval bounded by piece k (or the circle)."""
    if k < 0:
        return r
    return _ray_distance(math.cos(angle), math.sin(angle), pieces[k, 0], pieces[k, 1], pieces[k, 2], pieces[k, 3])


@njit(cache=True)
def _sliver(lo, hi, r):
    """Whether the interval (lo, hi) of an isovist is narrower than :data:`TOUCH` even at the view
    radius: a gap between two walls (meeting at nearly the same vertex) that no sightline passes
    without touching them, or a thin wall seen within TOUCH of edge-on. It is left out of the
    measures and the polygon: the view through the gap (to a wall behind, or to the circle when
    culling dropped that wall as a back face) is a needle of the floating-point, not a view, and a
    wall seen edge-on counts as an exactly radial one always did, as no boundary."""
    return (hi - lo) * r < TOUCH


@njit(cache=True)
def measures(events, nearest, pieces, r, out):
    """Exact area, perimeter, occlusivity, min/max radial and centroid (relative) into ``out``."""
    area = 0.0
    perim = 0.0
    occl = 0.0
    rmin = np.inf
    rmax = 0.0
    mx = 0.0
    my = 0.0
    m = nearest.shape[0]
    first_r = -1.0
    prev_r = -1.0
    ce = np.cos(events)  # each event's direction, once (the same values as _bound computes)
    se = np.sin(events)
    for i in range(m):
        lo = events[i]
        hi = events[i + 1]
        if _sliver(lo, hi, r):
            continue
        k = nearest[i]
        if k < 0:
            r0 = r
            r1 = r
        else:
            r0 = _ray_distance(ce[i], se[i], pieces[k, 0], pieces[k, 1], pieces[k, 2], pieces[k, 3])
            r1 = _ray_distance(ce[i + 1], se[i + 1], pieces[k, 0], pieces[k, 1], pieces[k, 2], pieces[k, 3])
        if first_r < 0.0:
            first_r = r0
        else:
            occl += abs(r0 - prev_r)
        prev_r = r1
        if k < 0:
            dth = hi - lo
            a = 0.5 * r * r * dth
            perim += r * dth
            # centroid of a circular sector: 4 r sin(dth / 2) / (3 dth) along the bisector
            dist = 4.0 * r * math.sin(0.5 * dth) / (3.0 * dth)
            mid = 0.5 * (lo + hi)
            mx += a * dist * math.cos(mid)
            my += a * dist * math.sin(mid)
            area += a
            rmin = min(rmin, r)
            rmax = max(rmax, r)
        else:
            x0 = r0 * ce[i]
            y0 = r0 * se[i]
            x1 = r1 * ce[i + 1]
            y1 = r1 * se[i + 1]
            a = 0.5 * (x0 * y1 - y0 * x1)
            area += a
            mx += a * (x0 + x1) / 3.0
            my += a * (y0 + y1) / 3.0
            perim += math.hypot(x1 - x0, y1 - y0)
            rmax = max(rmax, r0, r1)
            # nearest point of the piece's line inside the interval
            ex = pieces[k, 2] - pieces[k, 0]
            ey = pieces[k, 3] - pieces[k, 1]
            ll = ex * ex + ey * ey
            u = -(pieces[k, 0] * ex + pieces[k, 1] * ey) / ll
            fx = pieces[k, 0] + u * ex
            fy = pieces[k, 1] + u * ey
            # strictly inside the interval (narrower than pi: a piece spans less), by the sides of its radials
            if ce[i] * fy - se[i] * fx > 0.0 and fx * se[i + 1] - fy * ce[i + 1] > 0.0:
                rmin = min(rmin, math.hypot(fx, fy))
            else:
                rmin = min(rmin, r0, r1)
    if first_r >= 0.0:
        occl += abs(first_r - prev_r)  # across the ray at angle pi
    out[AREA] = area
    out[PERIMETER] = perim + occl
    out[OCCLUSIVITY] = occl
    out[MIN_RADIAL] = rmin
    out[MAX_RADIAL] = rmax
    out[CX] = mx / area if area > 0 else 0.0
    out[CY] = my / area if area > 0 else 0.0


@njit(cache=True)
def boundary_points(events, nearest, pieces, r, arc_step):
    """Vertices of the isovist polygon (relative to the observer), arcs every ``arc_step`` rad."""
    m = nearest.shape[0]
    n_max = 2 * m + 2
    for i in range(m):
        if nearest[i] < 0:
            n_max += int((events[i + 1] - events[i]) / arc_step) + 1
    pts = np.empty((n_max, 2))
    n = 0
    for i in range(m):
        lo = events[i]
        hi = events[i + 1]
        if _sliver(lo, hi, r):
            continue
        k = nearest[i]
        steps = 1
        if k < 0:
            steps = max(1, int(math.ceil((hi - lo) / arc_step)))
        for j in range(steps + 1):
            ang = lo + (hi - lo) * j / steps
            if j == steps:
                ang = hi
            d = _bound(ang, k, pieces, r)
            x = d * math.cos(ang)
            y = d * math.sin(ang)
            if n > 0 and abs(pts[n - 1, 0] - x) < 1e-9 and abs(pts[n - 1, 1] - y) < 1e-9:
                continue
            pts[n, 0] = x
            pts[n, 1] = y
            n += 1
    if n > 1 and abs(pts[n - 1, 0] - pts[0, 0]) < 1e-9 and abs(pts[n - 1, 1] - pts[0, 1]) < 1e-9:
        n -= 1
    return pts[:n]


@njit(cache=True)
def visible_mask(events, nearest, pieces, r, tx, ty):
    """For target points relative to the observer: inside the isovist (boundary included)."""
    out = np.zeros(tx.shape[0], dtype=np.bool_)
    m = nearest.shape[0]
    for t in range(tx.shape[0]):
        d = math.hypot(tx[t], ty[t])
        if d > r * (1.0 + 1e-12):
            continue
        if d == 0.0:
            out[t] = True
            continue
        ang = math.atan2(ty[t], tx[t])
        i = np.searchsorted(events, ang, side="right") - 1
        i = max(0, min(m - 1, i))
        bound = _bound(ang, nearest[i], pieces, r)
        if ang == events[i]:  # on an occluding radial: a sightline grazing a corner counts
            j = i - 1 if i > 0 else m - 1
            bound = max(bound, _bound(ang, nearest[j], pieces, r))
        out[t] = d <= bound * (1.0 + 1e-9) + 1e-9
    return out
