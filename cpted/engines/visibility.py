"""Visibility engine: exact 2D isovists and visibility queries between points.

The isovist of a point is the polygon of space visible from it (Benedikt 1979). This engine
computes it exactly by an angular sweep over the occluder edges near the observer (see
:mod:`cpted.engines._sweep`, compiled with numba), optionally limited to a view radius, and
answers "which of these target points does each observer see?" from the same sweep.

A :class:`Scene` (occluder segments, noded, with a grid index) is prepared once and reused
for every query on a site.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from cpted.engines import _kernels, _lattice, _sweep
from cpted.errors import GeometryError, InputError
from cpted.prepare.crs import require_projected, require_same_crs

__all__ = ["Scene", "prepare_scene", "isovists", "count_visible", "isovists_and_counts", "visible_pairs", "inside_obstacles",
           "ISOVIST_COLUMNS"]

#: Measure columns of :func:`isovists`.
ISOVIST_COLUMNS = (
    "isovist_area", "isovist_perimeter", "isovist_compactness", "isovist_occlusivity", "isovist_min_radial",
    "isovist_max_radial", "isovist_drift",
)
_NUDGE = 1e-6  # metres: observers on a wall are moved this far into open space


@dataclass(frozen=True)
class Scene:
    """Occluders prepared for visibility queries: noded segments and a grid index.

    Attributes
    ----------
    segments
        (m, 4) array of segment end points x1, y1, x2, y2, meeting only at their ends.
    obstacles
        The occluding polygons (observers inside them see nothing).
    extent
        Polygon whose outline also bounds the view (needed when no radius is given), or None.
    crs
        The projected metre CRS of everything.
    """

    segments: np.ndarray
    obstacles: np.ndarray
    extent: shapely.Polygon | None
    crs: object
    cell: float
    origin: tuple[float, float]
    shape: tuple[int, int]
    start: np.ndarray
    items: np.ndarray
    tree: shapely.STRtree
    wall_tree: shapely.STRtree

    @property
    def index(self) -> tuple:
        """The grid index arguments of the compiled kernels."""
        return (self.segments, self.start, self.items, self.cell, self.shape[0], self.shape[1], *self.origin)


def _grid(x0, y0, x1, y1, cell, bounds):
    gx0, gy0, gx1, gy1 = bounds
    nx = max(1, int(np.ceil((gx1 - gx0) / cell)))
    ny = max(1, int(np.ceil((gy1 - gy0) / cell)))
    start, items = _sweep.build_grid_index(
        np.ascontiguousarray(x0, dtype=float), np.ascontiguousarray(y0, dtype=float),
        np.ascontiguousarray(x1, dtype=float), np.ascontiguousarray(y1, dtype=float),
        float(cell), nx, ny, float(gx0), float(gy0),
    )
    return start, items, (nx, ny)


def prepare_scene(
    obstacles: gpd.GeoDataFrame | gpd.GeoSeries,
    *,
    extent=None,
    cell: float = 25.0,
) -> Scene:
    """Prepare occluders (polygons, and lines such as walls or high hedges) for visibility queries.

    Polygon outlines and lines are noded together (overlapping buildings and touching walls
    become segments that meet only at their ends), then indexed on a grid of ``cell`` metres.

    Parameters
    ----------
    obstacles
        Polygons (buildings) and/or lines (opaque barriers), in a projected metre CRS.
        Invalid polygons are rejected with their feature id; empty ones are ignored.
    extent
        A polygon whose outline bounds the view, needed for isovists with no radius; observers
        outside it see nothing. None: no bound but the radius.
    cell
        Grid index cell size in metres.

    Returns
    -------
    Scene

    Examples
    --------
    >>> from shapely import box
    >>> scene = prepare_scene(gpd.GeoSeries([box(0, 0, 10, 10), box(5, 5, 15, 15)], crs=2154))
    >>> len(scene.segments)  # two squares' outlines, split where they cross
    12
    >>> len(prepare_scene(gpd.GeoSeries([box(0, 0, 10, 10)], crs=2154), extent=box(-5, -5, 20, 20)).segments)
    8
    """
    geoms = obstacles.geometry if isinstance(obstacles, gpd.GeoDataFrame) else obstacles
    crs = require_projected(geoms.crs, layer="obstacles")
    values = geoms.values
    keep = ~(shapely.is_missing(values) | shapely.is_empty(values))
    values, labels = values[keep], geoms.index[keep]
    invalid = ~shapely.is_valid(values)
    if invalid.any():
        first = labels[invalid][0]
        msg = (
            f"obstacles have {int(invalid.sum())} invalid geometries (feature {first}: "
            f"{shapely.is_valid_reason(values[invalid][0])}); repair them with shapely.make_valid "
            f"or QGIS 'Fix geometries'"
        )
        raise GeometryError(msg)
    dims = shapely.get_dimensions(values)
    if (dims == 0).any():
        msg = f"obstacles must be polygons or lines; features {list(labels[dims == 0][:5])} are points"
        raise GeometryError(msg)
    polygons = values[dims == 2]
    lines = np.concatenate([shapely.boundary(polygons), values[dims == 1]]) if len(values) else values
    if extent is not None:
        lines = np.concatenate([lines, [shapely.boundary(extent)]])
    noded = shapely.union_all(lines)  # nodes the linework: segments meet only at their ends
    parts = shapely.get_parts(noded)
    coords, owner = shapely.get_coordinates(parts, return_index=True)
    same = owner[1:] == owner[:-1]
    segs = np.column_stack([coords[:-1][same], coords[1:][same]])
    segs = segs[(segs[:, 0] != segs[:, 2]) | (segs[:, 1] != segs[:, 3])]
    x0, x1 = np.minimum(segs[:, 0], segs[:, 2]), np.maximum(segs[:, 0], segs[:, 2])
    y0, y1 = np.minimum(segs[:, 1], segs[:, 3]), np.maximum(segs[:, 1], segs[:, 3])
    bounds = _bounds(segs, extent)
    start, items, shape = _grid(x0, y0, x1, y1, cell, bounds)
    return Scene(
        segments=np.ascontiguousarray(segs),
        obstacles=polygons,
        extent=extent,
        crs=crs,
        cell=float(cell),
        origin=(float(bounds[0]), float(bounds[1])),
        shape=shape,
        start=start,
        items=items,
        tree=shapely.STRtree(polygons),  # built once, for every inside / on-a-wall test
        wall_tree=shapely.STRtree(shapely.boundary(polygons)),
    )


def _bounds(segs: np.ndarray, extent) -> tuple[float, float, float, float]:
    if extent is not None:
        return extent.bounds
    if not len(segs):
        return (0.0, 0.0, 1.0, 1.0)
    return (segs[:, [0, 2]].min(), segs[:, [1, 3]].min(), segs[:, [0, 2]].max(), segs[:, [1, 3]].max())


def inside_obstacles(points: gpd.GeoSeries | gpd.GeoDataFrame, scene: Scene) -> np.ndarray:
    """True for the points strictly inside an obstacle of ``scene``, farther than 0.1 µm from that
    obstacle's outline (a point that close is on the outline, whichever side rounding puts it: it
    is moved into open space and sees and is seen, as an observer and as a target alike).

    Examples
    --------
    >>> from shapely import Point, box
    >>> scene = prepare_scene(gpd.GeoSeries([box(0, 0, 10, 10)], crs=2154))
    >>> inside_obstacles(gpd.GeoSeries([Point(5, 5), Point(20, 5)], crs=2154), scene).tolist()
    [True, False]
    """
    geoms = points.geometry.values if isinstance(points, gpd.GeoDataFrame) else points.values
    out = np.zeros(len(geoms), dtype=bool)
    if len(scene.obstacles) and len(geoms):
        hit, poly = scene.tree.query(geoms, predicate="within")
        deep = shapely.distance(geoms[hit], shapely.boundary(scene.obstacles[poly])) > _NUDGE / 10
        out[hit[deep]] = True
    return out


def _observer_xy(observers, scene: Scene, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Observer coordinates (nudged off walls) and a mask of those inside an obstacle."""
    geoms = observers.geometry if isinstance(observers, gpd.GeoDataFrame) else observers
    require_same_crs((name, geoms), ("obstacles", gpd.GeoSeries([], crs=scene.crs)))
    values = geoms.values
    if len(values) and not (shapely.get_type_id(values) == 0).all():
        msg = f"{name} must be points; use .centroid or .representative_point() for other shapes"
        raise GeometryError(msg)
    xy = shapely.get_coordinates(values).astype(float)
    if len(xy) != len(values):
        msg = f"{name} has empty points; drop them first"
        raise GeometryError(msg)
    inside = inside_obstacles(geoms, scene)
    _nudge_off_walls(xy, inside, scene, values)
    if scene.extent is not None and len(xy):
        inside |= ~shapely.contains_xy(scene.extent, xy[:, 0], xy[:, 1])
    return xy, inside


def _nudge_off_walls(xy: np.ndarray, inside: np.ndarray, scene: Scene, points=None) -> None:
    """Move the points (not inside an obstacle) lying on an obstacle's outline into open space, in place
    (``points``: the same points as geometries, if at hand)."""
    if len(scene.obstacles) and len(xy):
        points = shapely.points(xy) if points is None else points
        near, _ = scene.wall_tree.query(points, predicate="dwithin", distance=_NUDGE / 10)
        for i in np.unique(near[~inside[near]]):
            xy[i] = _nudge(xy[i], scene.tree)


def _target_xy(targets, scene: Scene) -> np.ndarray:
    """Target coordinates, nudged off walls as observers are (so that visibility is symmetric)."""
    geoms = targets.geometry if isinstance(targets, gpd.GeoDataFrame) else targets
    xy = shapely.get_coordinates(geoms.values).astype(float)
    if len(xy) == len(geoms):
        _nudge_off_walls(xy, inside_obstacles(geoms, scene), scene, geoms.values)
    return np.ascontiguousarray(xy)


def _nudge(p: np.ndarray, tree: shapely.STRtree) -> np.ndarray:
    """Move a point lying on an obstacle's outline into the open space around it.

    It moves along the middle of the widest free sector of directions: the outward normal
    of a wall, the outward bisector of a corner.
    """
    angles = np.linspace(0, 2 * np.pi, 64, endpoint=False)
    probes = shapely.points(p + _NUDGE * np.column_stack([np.cos(angles), np.sin(angles)]))
    hit, _ = tree.query(probes, predicate="intersects")
    free = np.ones(len(angles), dtype=bool)
    free[hit] = False
    if free.all() or not free.any():
        return p
    # the widest circular run of free directions, scanned from a blocked one so none wraps
    step = 2 * np.pi / len(angles)
    first_blocked = int(np.argmin(free))
    best_len, best_angle, run_start, run_len = 0, 0.0, 0, 0
    for k in range(1, len(angles) + 1):
        i = (first_blocked + k) % len(angles)
        if free[i]:
            run_start, run_len = (i, run_len + 1) if run_len == 0 else (run_start, run_len + 1)
            if run_len > best_len:
                best_len, best_angle = run_len, angles[run_start] + (run_len - 1) / 2 * step
        else:
            run_len = 0
    return p + _NUDGE * np.array([np.cos(best_angle), np.sin(best_angle)])


def _radii(n: int, radius, scene: Scene) -> np.ndarray:
    if radius is None:
        if scene.extent is None:
            msg = "give a view radius, or prepare the scene with an extent that bounds the view"
            raise InputError(msg)
        x0, y0, x1, y1 = scene.extent.bounds
        return np.full(n, np.hypot(x1 - x0, y1 - y0) * 1.01)
    r = np.broadcast_to(np.asarray(radius, dtype=float), (n,)).copy()
    if (r <= 0).any() or not np.isfinite(r).all():
        msg = f"radius must be positive metres (or None for the scene's extent), got {radius!r}"
        raise InputError(msg)
    return r


def isovists(
    observers: gpd.GeoDataFrame | gpd.GeoSeries,
    obstacles: gpd.GeoDataFrame | gpd.GeoSeries | Scene,
    *,
    radius: float | None = None,
    geometry: bool = True,
    arc_step: float = 1.0,
    cull: bool = True,
) -> gpd.GeoDataFrame:
    """Exact isovists of observer points among obstacles.

    Measures (Benedikt 1979; definitions as in depthmapX): ``isovist_area`` (m²),
    ``isovist_perimeter`` (m), ``isovist_compactness`` = 4πA/P² (1 for a disc),
    ``isovist_occlusivity`` (m: the length of the isovist's boundary that is no physical
    surface, i.e. its occluding radials), ``isovist_min_radial`` and ``isovist_max_radial`` (m:
    nearest and farthest boundary point), ``isovist_drift`` (m: distance from the observer to the
    isovist's centroid). Measures are exact; only the drawn polygon approximates the arcs of a
    finite view radius (every ``arc_step`` degrees). The columns are prefixed so that none is
    mistaken for a GeoPandas property: ``result.area`` is the area of the drawn polygons (0
    without ``geometry``), ``result["isovist_area"]`` the exact one.

    Parameters
    ----------
    observers
        Points, in the same projected CRS as the obstacles.
    obstacles
        Polygons (and opaque lines), or a :class:`Scene` prepared from them.
    radius
        View radius in metres; None bounds the view by the scene's extent only.
    geometry
        Return the isovist polygons (else only the measures, with the observers' points).
    arc_step
        Angular step, in degrees, of the drawn arcs.
    cull
        Sweep only the occluders not hidden behind nearer ones (:mod:`cpted.engines._cull`):
        the same isovists, at a cost that does not grow with the view radius. False sweeps
        every occluder within the radius (for checks).

    Returns
    -------
    geopandas.GeoDataFrame
        Indexed like ``observers``. An observer inside an obstacle (or outside the scene's
        extent) gets an empty geometry and NaN measures.

    Examples
    --------
    >>> from shapely import Point, box
    >>> scene = prepare_scene(gpd.GeoSeries([box(40, 40, 60, 60)], crs=2154),
    ...                       extent=box(0, 0, 100, 100))
    >>> iso = isovists(gpd.GeoSeries([Point(10, 50)], crs=2154), scene).round(6)
    >>> float(iso.loc[0, "isovist_area"])  # the 100 m square less the 20 m one and its shadow
    7600.0
    >>> float(isovists(gpd.GeoSeries([Point(10, 50)], crs=2154), scene, radius=5).loc[0, "isovist_area"])
    78.53981633974483
    """
    scene = obstacles if isinstance(obstacles, Scene) else prepare_scene(
        obstacles, extent=None if radius is not None else _default_extent(observers, obstacles)
    )  # a finite radius bounds the view: no extent, whose outline would clip observers near it
    index = observers.index
    xy, blocked = _observer_xy(observers, scene, "observers")
    r = _radii(len(xy), radius, scene)
    r[blocked] = np.nan
    ws = _kernels.workspace(scene, cull)  # the same for the measures and the polygons
    table = _measure_table(_kernels.isovist_measures(xy, r, *scene.index, *ws), index)
    if geometry:
        step = np.radians(arc_step)
        counts = _kernels.isovist_vertex_counts(xy, r, *scene.index, *ws, step)
        offsets = np.concatenate([[0], np.cumsum(counts)])
        verts = _kernels.isovist_vertices(xy, r, *scene.index, *ws, step, offsets)
        polys = np.array([shapely.Polygon()] * len(xy), dtype=object)
        ok = counts >= 3
        if ok.any():
            rings = shapely.linearrings(verts, indices=np.repeat(np.arange(ok.sum()), counts[ok]))
            polys[ok] = shapely.polygons(rings)
        geoms = polys
    else:
        geoms = shapely.points(xy)
        geoms[blocked] = shapely.Point()
    return gpd.GeoDataFrame(table, geometry=list(geoms), crs=scene.crs, index=index)


def _measure_table(raw: np.ndarray, index) -> pd.DataFrame:
    """The isovist columns of :func:`isovists` from the kernels' measures."""
    area, perim = raw[:, _sweep.AREA], raw[:, _sweep.PERIMETER]
    with np.errstate(invalid="ignore", divide="ignore"):
        return pd.DataFrame(
            {
                "isovist_area": area,
                "isovist_perimeter": perim,
                "isovist_compactness": 4 * np.pi * area / perim**2,
                "isovist_occlusivity": raw[:, _sweep.OCCLUSIVITY],
                "isovist_min_radial": raw[:, _sweep.MIN_RADIAL],
                "isovist_max_radial": raw[:, _sweep.MAX_RADIAL],
                "isovist_drift": np.hypot(raw[:, _sweep.CX], raw[:, _sweep.CY]),
            },
            index=index,
        )


def isovists_and_counts(observers, targets, scene: Scene, *, radius: float) -> tuple[pd.DataFrame, np.ndarray]:
    """The measures of :func:`isovists` (``geometry=False``, as a DataFrame) and the counts of
    :func:`count_visible` (one column), from one sweep per observer when the targets lie on a
    lattice (else both functions, one after the other): the same values either way.

    Examples
    --------
    >>> from shapely import Point, box
    >>> scene = prepare_scene(gpd.GeoSeries([box(4, -1, 6, 1)], crs=2154))
    >>> pts = gpd.GeoSeries([Point(0, 0), Point(10, 0), Point(0, 5)], crs=2154)
    >>> table, seen = isovists_and_counts(pts, pts, scene, radius=20)
    >>> seen.tolist(), table["isovist_area"].round(1).tolist()
    ([2.0, 2.0, 3.0], [1162.6, 1162.6, 1185.7])
    """
    txy = _target_xy(targets, scene)
    lattice = _target_lattice(txy)
    if lattice is None:
        table = pd.DataFrame(isovists(observers, scene, radius=radius, geometry=False)[list(ISOVIST_COLUMNS)])
        return table, count_visible(observers, targets, scene, radius=radius)[:, 0]
    xy, blocked = _observer_xy(observers, scene, "observers")
    r = _radii(len(xy), radius, scene)
    r[blocked] = np.nan
    counts, raw = _lattice.lattice_counts(xy, r, *scene.index, *_kernels.workspace(scene), *lattice, txy, False, True)
    return _measure_table(raw, observers.index), np.where(counts < 0, np.nan, counts).astype(float)


def _default_extent(observers, obstacles):
    geoms = obstacles.geometry if isinstance(obstacles, gpd.GeoDataFrame) else obstacles
    obs = observers.geometry if isinstance(observers, gpd.GeoDataFrame) else observers
    bounds = shapely.total_bounds(np.concatenate([geoms.values, obs.values]))
    if not np.isfinite(bounds).all():
        return None
    return shapely.box(*bounds).buffer(1.0, join_style="mitre")


def _target_lattice(txy: np.ndarray):
    """The lattice the targets lie on (:func:`cpted.engines._lattice.lattice_of`), or None: none,
    or too many targets off it (each costs an exact test per observer)."""
    lattice = _lattice.lattice_of(txy) if len(txy) else None
    return lattice if lattice is not None and len(lattice[4]) <= 64 + len(txy) // 100 else None


def _targets_index(targets_xy: np.ndarray, scene: Scene, cell: float):
    x, y = targets_xy[:, 0], targets_xy[:, 1]
    bounds = (x.min(), y.min(), x.max(), y.max()) if len(x) else (0.0, 0.0, 1.0, 1.0)
    start, items, shape = _grid(x, y, x, y, cell, bounds)
    return (np.ascontiguousarray(targets_xy), start, items, float(cell), shape[0], shape[1], float(bounds[0]), float(bounds[1]))


def count_visible(
    observers: gpd.GeoSeries | gpd.GeoDataFrame,
    targets: gpd.GeoSeries | gpd.GeoDataFrame,
    scene: Scene,
    *,
    radius: float,
    weights: np.ndarray | None = None,
    cull: bool = True,
    lattice_path: bool = True,
) -> np.ndarray:
    """For each observer, the number of target points it sees within ``radius`` (and weighted sums).

    Returns an array (n_observers, 1 + w): the count, then the sum of each weight column
    over the visible targets. Observers inside obstacles get NaN. ``cull`` as :func:`isovists`
    (the same counts either way). ``lattice_path``: when the targets lie on a square lattice
    (grid cells) and there are no weights, each exact isovist is scanned over the lattice's rows
    (:mod:`cpted.engines._lattice`) instead of testing every target within the radius; the
    counts are the same (False: test every target).

    Examples
    --------
    >>> from shapely import Point, box
    >>> scene = prepare_scene(gpd.GeoSeries([box(4, -1, 6, 1)], crs=2154))
    >>> pts = gpd.GeoSeries([Point(0, 0), Point(10, 0), Point(0, 5)], crs=2154)
    >>> count_visible(pts, pts, scene, radius=20)[:, 0].tolist()  # the box hides (0, 0) from (10, 0)
    [2.0, 2.0, 3.0]
    """
    xy, blocked = _observer_xy(observers, scene, "observers")
    txy = _target_xy(targets, scene)
    r = _radii(len(xy), radius, scene)
    r[blocked] = np.nan
    lattice = _target_lattice(txy) if lattice_path and weights is None else None
    if lattice is not None:  # places on a grid: each isovist scanned over the grid's rows
        counts, _ = _lattice.lattice_counts(xy, r, *scene.index, *_kernels.workspace(scene, cull), *lattice, txy, False, False)
        return np.where(counts < 0, np.nan, counts).astype(float)[:, None]
    w = np.zeros((len(txy), 0)) if weights is None else np.ascontiguousarray(np.asarray(weights, dtype=float).reshape(len(txy), -1))
    tindex = _targets_index(txy, scene, max(float(np.max(radius)) / 4, 5.0))
    return _kernels.visible_targets(xy, r, *scene.index, *_kernels.workspace(scene, cull), *tindex, w)


def visible_pairs(
    observers: gpd.GeoSeries | gpd.GeoDataFrame,
    targets: gpd.GeoSeries | gpd.GeoDataFrame,
    scene: Scene,
    *,
    radius: float | np.ndarray,
    cull: bool = True,
    lattice_path: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Every (observer, target) pair with a clear sightline within the observer's radius.

    Returns two aligned arrays of positions (observer row, target row), by observer and then
    target. ``cull`` as :func:`isovists`, ``lattice_path`` as :func:`count_visible` (the same
    pairs either way).

    Examples
    --------
    >>> from shapely import Point, box
    >>> scene = prepare_scene(gpd.GeoSeries([box(4, -1, 6, 1)], crs=2154))
    >>> obs = gpd.GeoSeries([Point(0, 0)], crs=2154)
    >>> tgt = gpd.GeoSeries([Point(10, 0), Point(3, 0)], crs=2154)
    >>> [a.tolist() for a in visible_pairs(obs, tgt, scene, radius=20)]
    [[0], [1]]
    """
    xy, blocked = _observer_xy(observers, scene, "observers")
    txy = _target_xy(targets, scene)
    r = _radii(len(xy), radius, scene)
    r[blocked] = np.nan
    if not len(txy) or not len(xy):
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    ws = _kernels.workspace(scene, cull)
    lattice = _target_lattice(txy) if lattice_path else None
    if lattice is not None:
        counts = np.maximum(_lattice.lattice_counts(xy, r, *scene.index, *ws, *lattice, txy, False, False)[0], 0)
        offsets = np.concatenate([[0], np.cumsum(counts)])
        tgt = _lattice.lattice_pairs(xy, r, *scene.index, *ws, *lattice, txy, offsets)
        return np.repeat(np.arange(len(xy)), counts), tgt
    tindex = _targets_index(txy, scene, max(float(np.nanmax(r)) / 4, 5.0) if np.isfinite(r).any() else 25.0)
    counts = _kernels.visible_targets(xy, r, *scene.index, *ws, *tindex, np.zeros((len(txy), 0)))[:, 0]
    counts = np.nan_to_num(counts).astype(np.int64)
    offsets = np.concatenate([[0], np.cumsum(counts)])
    tgt = _kernels.visible_pairs(xy, r, *scene.index, *ws, *tindex, offsets)
    return np.repeat(np.arange(len(xy)), counts), tgt
