"""The analysis grid: square cells over a site's public open space."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely

from cpted.config import CELL_SIZE, cell_count_problem
from cpted.errors import InputError
from cpted.prepare.crs import require_projected

__all__ = ["analysis_grid", "check_grid_size"]


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


def analysis_grid(
    boundary,
    *,
    crs,
    cell_size: float = CELL_SIZE,
    exclude: gpd.GeoSeries | None = None,
) -> gpd.GeoDataFrame:
    """Square cells whose centres lie inside ``boundary`` and outside ``exclude``.

    Cells are aligned on multiples of ``cell_size`` in the CRS, so two designs of one site
    (or two overlapping sites) share the same cells.

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
    require_projected(crs, layer="site boundary")
    check_grid_size(boundary, cell_size)
    xmin, ymin, xmax, ymax = boundary.bounds
    x0 = np.floor(xmin / cell_size) * cell_size
    y0 = np.floor(ymin / cell_size) * cell_size
    xs = np.arange(x0, xmax, cell_size) + cell_size / 2
    ys = np.arange(y0, ymax, cell_size) + cell_size / 2
    cx, cy = (a.ravel() for a in np.meshgrid(xs, ys))
    shapely.prepare(boundary)
    keep = shapely.contains_xy(boundary, cx, cy)
    cx, cy = cx[keep], cy[keep]
    if exclude is not None and len(exclude):
        points = shapely.points(cx, cy)
        private = exclude.geometry.values if hasattr(exclude, "geometry") else exclude.values
        hit, _ = shapely.STRtree(private).query(points, predicate="within")
        free = np.ones(len(cx), dtype=bool)
        free[hit] = False
        cx, cy = cx[free], cy[free]
    half = cell_size / 2
    ids = [f"{x - half:.10g}_{y - half:.10g}" for x, y in zip(cx, cy, strict=True)]
    return gpd.GeoDataFrame(
        {"cell_id": ids, "x": cx, "y": cy},
        geometry=shapely.box(cx - half, cy - half, cx + half, cy + half),
        crs=crs,
    )
