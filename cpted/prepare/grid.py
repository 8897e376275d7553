"""The analysis grid: square cells over the public space of a site that people can reach on foot.

A cell of the site is left out of the grid, for the first reason that applies (:data:`REASONS`):

``private``
    its centre is in a building footprint or a private plot;
``water``
    in a water area (the ``water`` layer: rivers, docks, basins, reservoirs);
``railway``
    on railway land (``traffic_land`` polygons);
``motorway``
    on a motorway or trunk carriageway: the ``traffic_land`` lines and the streets' own
    ``highway=motorway|motorway_link|trunk|trunk_link`` edges, buffered by their half-width
    (the ``width_m`` column, else :data:`CARRIAGEWAY_HALF_WIDTH`);
``beyond_data``
    outside the extent of the streets source (``data_extent``: an OSM extract's box, or the
    ``extent`` declared on the streets layer): the data say nothing of the ground there, not
    whether it is public, built or reachable, so no place there is scored;
``beyond_reach``
    farther than :data:`WALK_REACH` from every walkable way (not on a bridge nor in a tunnel),
    entrance and public park / playground area, while within :data:`STREETS_EXTENT` of the
    streets layer. Farther from every street, the streets layer does not cover the ground (a walk
    graph that stops short of the site): the reach is unknown there and the cell is kept.

The cells kept have the reason ``public``.
"""

from __future__ import annotations

from collections.abc import Mapping

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from cpted.config import CELL_SIZE, cell_count_problem
from cpted.errors import InputError
from cpted.prepare.crs import require_projected

__all__ = [
    "analysis_grid",
    "check_grid_size",
    "classify_cells",
    "union_cells",
    "CARRIAGEWAY_HALF_WIDTH",
    "WALK_REACH",
    "STREETS_EXTENT",
    "REASONS",
    "EXCLUDED_REASONS",
]

#: How far from a walkable way, entrance or public park a place still counts as reachable on foot
#: (m). Measured on real sites (docs/methods/scores.md, "Where people can be"): 30 m keeps all the
#: building-free land of central Nantes (Graslin) and 84 % of Le Mans centre (the rest: block
#: interiors), while the middles of the Loire bridges at Île de Nantes, 54-140 m from the nearest
#: quay or path, stay out of reach.
WALK_REACH = 30.0

#: How far from its nearest edge (bridges and tunnels included) a streets layer tells whether ground
#: is reachable (m). Beyond it the layer does not cover the ground (a walk graph that stops short of
#: the site, as the Nantes graphs do at Plaisance), and the walking reach is not applied. 150 m
#: spans the widest arm of the Loire at Île de Nantes from its quays and bridges (about 250 m) and
#: the deepest block.
STREETS_EXTENT = 150.0

#: Half the width of one OSM carriageway way (m), when the way has no ``width``: a motorway way is
#: one direction of 2 lanes of 3.5 m with a 2.5 m hard shoulder and a verge; a trunk way is up to
#: 2 × 2 lanes of 3.5 m less its footways; a slip road is one lane and its shoulders.
CARRIAGEWAY_HALF_WIDTH: dict[str, float] = {
    "motorway": 6.0,
    "trunk": 6.0,
    "motorway_link": 4.0,
    "trunk_link": 4.0,
}

#: Why a cell of the site is in the grid (``public``) or not, in the order they are tested.
REASONS = ("public", "private", "water", "railway", "motorway", "beyond_data", "beyond_reach")
#: The reasons reported as excluded ground (private land is drawn by its buildings already).
EXCLUDED_REASONS = ("water", "railway", "motorway", "beyond_data", "beyond_reach")


def _centres(boundary, cell_size: float) -> tuple[np.ndarray, np.ndarray]:
    xmin, ymin, xmax, ymax = boundary.bounds
    x0 = np.floor(xmin / cell_size) * cell_size
    y0 = np.floor(ymin / cell_size) * cell_size
    xs = np.arange(x0, xmax, cell_size) + cell_size / 2
    ys = np.arange(y0, ymax, cell_size) + cell_size / 2
    cx, cy = (a.ravel() for a in np.meshgrid(xs, ys))
    shapely.prepare(boundary)
    keep = shapely.contains_xy(boundary, cx, cy)
    return cx[keep], cy[keep]


def _cell_ids(x0: np.ndarray, y0: np.ndarray) -> list[str]:
    """``"x_y"`` of each cell's lower-left corner (``%.10g``): each of the few distinct columns
    and rows is formatted once (Île de Nantes: 600 columns and 220 rows for 132,000 cells).

    Example
    -------
    >>> _cell_ids(np.array([0.0, 5.0, 5.0]), np.array([-2.5, -2.5, 1e6]))
    ['0_-2.5', '5_-2.5', '5_1000000']
    """
    xs, ix = np.unique(x0, return_inverse=True)
    ys, iy = np.unique(y0, return_inverse=True)
    left = np.array([f"{v:.10g}_" for v in xs], dtype=object)
    right = np.array([f"{v:.10g}" for v in ys], dtype=object)
    return (left[ix.ravel()] + right[iy.ravel()]).tolist()


def _geoms(layer) -> np.ndarray:
    if layer is None:
        return np.array([], dtype=object)
    values = layer.geometry.values if hasattr(layer, "geometry") else layer.values
    values = np.asarray(values, dtype=object)
    return values[~(shapely.is_missing(values) | shapely.is_empty(values))]


def _inside(points: np.ndarray, geoms: np.ndarray, *, distance: float = 0.0) -> np.ndarray:
    """Which points lie in (or within ``distance`` of) any of ``geoms``.

    Within a distance, the points are first taken by tiles of side ``distance / 4``: a tile whose
    points' box lies, by the triangle inequality, wholly within (or wholly beyond) ``distance`` of
    the nearest geometry decides all its points at once, with a margin of 1e-6 m; only the points
    of the tiles near the limit are tested one by one (``dwithin``, as before). The same answer as
    the test of every point, in a fraction of the time: the 150 m reach of the streets over the
    132,000 cells of Île de Nantes found 6.9 million (point, street) pairs to say which points have
    one.
    """
    hit = np.zeros(len(points), dtype=bool)
    if not (len(geoms) and len(points)):
        return hit
    tree = shapely.STRtree(geoms)
    if not distance > 0:
        idx, _ = tree.query(points, predicate="intersects")
        hit[idx] = True
        return hit
    xy = shapely.get_coordinates(points)
    side = distance / 4
    span = np.ptp(xy, axis=0) / side + 1
    if span[0] * span[1] * 8 > len(points):  # tiles of a few points (a short distance): tested one by one
        idx, _ = tree.query(points, predicate="dwithin", distance=distance)
        hit[idx] = True
        return hit
    keys = np.floor(xy / side).astype(np.int64)
    _, tile = np.unique(keys, axis=0, return_inverse=True)
    tile = tile.ravel()
    n = tile.max() + 1
    lo = np.full((n, 2), np.inf)
    hi = np.full((n, 2), -np.inf)
    np.minimum.at(lo, tile, xy)
    np.maximum.at(hi, tile, xy)
    centre = (lo + hi) / 2
    half = np.hypot(*((hi - lo) / 2).T)
    (ti, gi), near = tree.query_nearest(shapely.points(centre), return_distance=True, all_matches=False)
    nearest = np.full(n, np.inf)
    nearest[ti] = near
    margin = 1e-6 * max(1.0, distance)
    within = nearest + half <= distance - margin  # every point of the tile
    beyond = nearest - half > distance + margin  # no point of the tile
    hit[within[tile]] = True
    unsure = np.flatnonzero(~(within | beyond)[tile])
    if len(unsure):
        idx, _ = tree.query(points[unsure], predicate="dwithin", distance=distance)
        hit[unsure[idx]] = True
    return hit


def check_grid_size(boundary, cell_size: float, *, name: str = "site") -> None:
    """Refuse a grid of more than :data:`cpted.config.MAX_CELLS` cells before building it.

    Parameters
    ----------
    boundary
        The site polygon, in a metre CRS.
    cell_size
        Cell side in metres.
    name
        The site, as the message names it.

    Raises
    ------
    InputError
        Naming ``cell_size`` and the smallest size the site allows.

    Examples
    --------
    >>> from shapely import box
    >>> check_grid_size(box(0, 0, 200, 150), 5.0)
    >>> check_grid_size(box(0, 0, 200, 150), 0.05, name="site 'x'")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    cpted.errors.InputError: site 'x': cell_size 0.05 m gives 12,000,000 cells (most allowed: 1,000,000); ...
    """
    if not cell_size > 0:
        msg = f"{name}: cell_size must be a positive number of metres, got {cell_size!r}"
        raise InputError(msg)
    xmin, ymin, xmax, ymax = boundary.bounds
    problem = cell_count_problem(boundary.area, (xmax - xmin) * (ymax - ymin), cell_size)
    if problem is not None:
        msg = f"{name}: {problem} (set it in the sites file, [defaults] or the site's table)"
        raise InputError(msg)


def classify_cells(
    boundary,
    *,
    crs,
    cell_size: float = CELL_SIZE,
    private: gpd.GeoSeries | None = None,
    unwalkable: Mapping[str, gpd.GeoSeries] | None = None,
    reach_from: gpd.GeoSeries | None = None,
    reach: float = WALK_REACH,
    streets: gpd.GeoSeries | None = None,
    extent: float = STREETS_EXTENT,
    data_extent=None,
    without=None,
) -> gpd.GeoDataFrame:
    """Every cell of the site with the reason it is in the grid or not (:data:`REASONS`).

    Parameters
    ----------
    boundary
        The site polygon, in ``crs``.
    crs
        A projected metre CRS.
    cell_size
        Cell side in metres.
    private
        Building footprints and private plots.
    unwalkable
        Reason (``water``, ``railway``, ``motorway``) -> areas where no one walks, in ``crs``
        (lines must already be buffered to their width).
    reach_from
        The walkable ways (without bridges and tunnels), entrances and public park areas; None when
        the site has no streets layer: then no cell is ``beyond_reach``.
    reach
        The walking reach (m), :data:`WALK_REACH`.
    streets
        Every edge of the streets layer (bridges and tunnels included): the reach is applied only
        within ``extent`` of them. None: everywhere.
    extent
        :data:`STREETS_EXTENT` (m).
    data_extent
        Where the streets source holds data (a polygon in ``crs``); the cells outside it are
        ``beyond_data``. None: unknown, no cell is.
    without
        A polygon whose cells (centre inside it) are left out: the site, when classifying its
        context ring. None: none.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``cell_id``, ``x``, ``y``, ``reason``, ``reach_known`` (False where the walking
        reach could not be applied) and the square geometry.

    Examples
    --------
    >>> from shapely import box, LineString
    >>> water = gpd.GeoSeries([box(0, 0, 100, 20)], crs=2154)
    >>> path = gpd.GeoSeries([LineString([(0, 25), (100, 25)])], crs=2154)
    >>> c = classify_cells(box(0, 0, 100, 100), crs=2154, cell_size=10,
    ...                    unwalkable={"water": water}, reach_from=path, reach=30)
    >>> c["reason"].value_counts().to_dict()
    {'public': 40, 'beyond_reach': 40, 'water': 20}

    Where the streets source ends (an extract cut at ``y = 60``), the ground is unknown:

    >>> c = classify_cells(box(0, 0, 100, 100), crs=2154, cell_size=10, data_extent=box(-1000, -1000, 1000, 60))
    >>> c["reason"].value_counts().to_dict()
    {'public': 60, 'beyond_data': 40}
    """
    require_projected(crs, layer="site boundary")
    check_grid_size(boundary, cell_size)
    if not reach > 0:
        msg = f"the walking reach must be a positive number of metres, got {reach!r}"
        raise ValueError(msg)
    cx, cy = _centres(boundary, cell_size)
    if without is not None:
        keep = ~shapely.contains_xy(without, cx, cy)
        cx, cy = cx[keep], cy[keep]
    points = shapely.points(cx, cy)
    reason = np.full(len(cx), "public", dtype=object)
    open_ = np.ones(len(cx), dtype=bool)

    def mark(hit: np.ndarray, why: str) -> None:
        hit = hit & open_
        reason[hit] = why
        open_[hit] = False

    mark(_inside(points, _geoms(private)), "private")
    for why in ("water", "railway", "motorway"):
        mark(_inside(points, _geoms((unwalkable or {}).get(why))), why)
    if data_extent is not None:
        mark(~shapely.contains_xy(data_extent, cx, cy), "beyond_data")
    known = np.full(len(cx), reach_from is not None)
    if reach_from is not None:
        if streets is not None:
            known = _inside(points, _geoms(streets), distance=extent)
        mark(~_inside(points, _geoms(reach_from), distance=reach) & known, "beyond_reach")
    half = cell_size / 2
    ids = _cell_ids(cx - half, cy - half)
    return gpd.GeoDataFrame(
        {"cell_id": ids, "x": cx, "y": cy, "reason": pd.array(reason, dtype=object), "reach_known": known},
        geometry=shapely.box(cx - half, cy - half, cx + half, cy + half),
        crs=crs,
    )


def analysis_grid(
    boundary,
    *,
    crs,
    cell_size: float = CELL_SIZE,
    exclude: gpd.GeoSeries | None = None,
    unwalkable: Mapping[str, gpd.GeoSeries] | None = None,
    reach_from: gpd.GeoSeries | None = None,
    reach: float = WALK_REACH,
) -> gpd.GeoDataFrame:
    """Square cells whose centres lie in ``boundary``, on public ground reachable on foot.

    Cells are aligned on multiples of ``cell_size`` in the CRS, so two designs of one site
    (or two overlapping sites) share the same cells. The rules are those of
    :func:`classify_cells`; without ``unwalkable`` and ``reach_from`` only ``exclude`` is left out.

    Parameters
    ----------
    boundary
        The site polygon, in ``crs``.
    crs
        A projected metre CRS.
    cell_size
        Cell side in metres.
    exclude
        Private land: building footprints and private plots, in ``crs``.
    unwalkable, reach_from, reach
        See :func:`classify_cells`.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``cell_id`` (str, ``"x_y"`` of the lower-left corner in metres), ``x``, ``y``
        (cell centre) and the square geometry, indexed from 0.

    Examples
    --------
    >>> from shapely import box
    >>> g = analysis_grid(box(0, 0, 20, 10), crs=2154, cell_size=5,
    ...                   exclude=gpd.GeoSeries([box(0, 0, 10, 10)], crs=2154))
    >>> len(g), g["cell_id"].iloc[0], float(g["x"].iloc[0])
    (4, '10_0', 12.5)
    """
    cells = classify_cells(
        boundary, crs=crs, cell_size=cell_size, private=exclude, unwalkable=unwalkable,
        reach_from=reach_from, reach=reach,
    )
    public = cells[cells["reason"] == "public"].drop(columns=["reason", "reach_known"])
    return public.reset_index(drop=True)


def union_cells(squares) -> shapely.Geometry:
    """The union of grid cells (squares of one size on one lattice, as :func:`analysis_grid` makes).

    Cells form a coverage (no overlaps, whole shared edges), so their union is a coverage union,
    about ten times faster than a general one (72,000 cells of Île de Nantes: 0.3 s against
    2.5 s). Other polygons get the general union.

    Examples
    --------
    >>> from shapely import box
    >>> union_cells(np.array([box(0, 0, 5, 5), box(5, 0, 10, 5), box(20, 0, 25, 5)])).area
    75.0
    """
    squares = np.asarray(squares, dtype=object)
    if not len(squares):
        return shapely.GeometryCollection()
    b = shapely.bounds(squares)
    side = b[:, 2] - b[:, 0]
    size = side[0]
    grid = (
        size > 0
        and np.allclose(side, size, rtol=0, atol=1e-9 * size)
        and np.allclose(b[:, 3] - b[:, 1], size, rtol=0, atol=1e-9 * size)
        and np.allclose(shapely.area(squares), size * size, rtol=1e-9)  # axis-aligned squares
    )
    if grid:
        steps = (b[:, :2] - b[0, :2]) / size
        node = np.round(steps)
        grid = np.allclose(steps, node, rtol=0, atol=1e-6) and len(np.unique(node, axis=0)) == len(squares)
    return shapely.coverage_union_all(squares) if grid else shapely.union_all(squares)
