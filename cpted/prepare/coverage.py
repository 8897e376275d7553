"""Where the buildings layer is complete: one flag per place (analysis cell).

A buildings layer that covers only part of a site (an extract cut at a tile edge, OSM mapped
street by street) would make every place outside it look like open ground: long views, no
eyes, no frontage. These are wrong answers, not missing ones. :func:`building_coverage` says,
cell by cell, whether the loaded buildings can be trusted there; the measures that depend on
buildings are then NaN, with the reason, where they cannot
(:func:`cpted.measure.coverage.restrict_to_coverage`). The rule and its thresholds are
documented in ``docs/methods/completeness.md``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from cpted.errors import InputError
from cpted.load.vector import read_vector
from cpted.prepare.crs import to_crs

__all__ = [
    "MIN_LOCAL_COMPLETENESS",
    "MISSING_TOLERANCE",
    "NO_REFERENCE_DISTANCE",
    "NEIGHBOUR_DISTANCE",
    "COVERAGE_COLUMNS",
    "reference_completeness",
    "source_extent",
    "extent_names",
    "building_coverage",
    "read_extent",
]

#: A reference cell is complete when at least this share of its reference building count is
#: loaded (footprints counted by centroid). The reference counts come from another source
#: (OSM + BD TOPO) that splits buildings differently: complete extracts score 0.6-1.3 there,
#: missing ones 0-0.3 (measured on Île de Nantes and Rezé, docs/methods/completeness.md).
MIN_LOCAL_COMPLETENESS = 0.5
#: ...or when at most this many of its reference buildings are missing (tiny counts: one
#: building more or less in a ~150 m cell cannot be told from a different split).
MISSING_TOLERANCE = 1
#: Where no reference cell holds a place and the layer is known to be partial, the place is
#: complete only when a loaded building lies within this distance (m).
NO_REFERENCE_DISTANCE = 50.0
#: Reference cells closer than this (m) are neighbours (reprojected grid cells do not touch exactly).
NEIGHBOUR_DISTANCE = 1.0
#: The per-cell columns :func:`building_coverage` returns.
COVERAGE_COLUMNS = ("building_completeness_local", "buildings_complete", "coverage_reason")


def reference_completeness(
    reference: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame | None,
    *,
    area=None,
    min_completeness: float = MIN_LOCAL_COMPLETENESS,
    tolerance: int = MISSING_TOLERANCE,
) -> pd.DataFrame:
    """Loaded buildings against the reference count, reference cell by reference cell.

    Loaded footprints are counted by centroid in each reference polygon. When ``area`` (where
    buildings were loaded, e.g. the site and its context ring) cuts a reference polygon, its
    count is scaled by the share of its area inside ``area``. A reference cell is **complete**
    when ``n_loaded >= min_completeness * n_reference``, or when at most ``tolerance`` buildings
    are missing. A cell that counts no building has nothing to miss, but its places are seen
    from and overseen by its neighbours' buildings: it is complete when every neighbouring
    reference cell (within :data:`NEIGHBOUR_DISTANCE`) that counts buildings is complete.

    Returns
    -------
    pandas.DataFrame
        Indexed like ``reference``: ``n_reference``, ``n_loaded``, ``completeness`` (the ratio;
        NaN when the reference counts no building), ``complete`` and ``reason`` (why not).

    Examples
    --------
    >>> from shapely import box
    >>> ref = gpd.GeoDataFrame({"n_buildings": [4, 10, 0, 1]},
    ...     geometry=[box(0, 0, 100, 100), box(100, 0, 200, 100), box(0, 100, 100, 200),
    ...               box(100, 100, 200, 200)], crs=2154)
    >>> b = gpd.GeoDataFrame(geometry=[box(10 + 20 * i, 10, 15 + 20 * i, 15) for i in range(4)]
    ...                      + [box(110, 10, 115, 15)], crs=2154)
    >>> reference_completeness(ref, b)[["n_loaded", "completeness", "complete"]].values.tolist()
    [[4, 1.0, True], [1, 0.1, False], [0, nan, False], [0, 0.0, True]]

    The third cell counts no building but touches the second (a corner), which is incomplete;
    the fourth misses one building of one (within the tolerance).
    """
    geoms = reference.geometry.values
    expected = pd.to_numeric(reference["n_buildings"], errors="coerce").to_numpy(dtype=float)
    if area is not None:
        expected = expected * shapely.area(shapely.intersection(geoms, area)) / shapely.area(geoms)
    loaded = np.zeros(len(reference), dtype=np.int64)
    if buildings is not None and len(buildings) and len(reference):
        centroids = shapely.centroid(buildings.geometry.values)
        ri, _ = shapely.STRtree(centroids).query(geoms, predicate="contains")
        loaded = np.bincount(ri, minlength=len(reference)).astype(np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(expected > 0, loaded / expected, np.nan)
    counted = expected > 0
    complete = ~counted | (loaded >= min_completeness * expected) | (expected - loaded <= tolerance)
    reason = np.array([
        "" if ok else f"buildings incomplete here: {k} of {e:.0f} reference buildings loaded in its reference cell "
                      f"(needs {min_completeness:.0%})"
        for ok, k, e in zip(complete, loaded, expected, strict=True)
    ], dtype=object)
    if (~counted).any() and not complete.all():  # empty cells take the status of their neighbours
        i, j = shapely.STRtree(geoms).query(geoms, predicate="dwithin", distance=NEIGHBOUR_DISTANCE)
        broken = (i != j) & ~counted[i] & counted[j] & ~complete[j]
        empty_bad = np.unique(i[broken])
        complete[empty_bad] = False
        reason[empty_bad] = "its reference cell counts no building, but a neighbouring reference cell is incomplete"
    return pd.DataFrame({"n_reference": expected, "n_loaded": loaded, "completeness": ratio, "complete": complete,
                         "reason": pd.Series(reason, index=reference.index, dtype=object)}, index=reference.index)


def read_extent(facts: dict, crs, get: Callable | None = None, *, kind: str = "buildings") -> None:
    """Set ``facts["extent"]`` (where a ``kind`` source, buildings or streets, is complete) to a
    polygon in ``crs``, and ``facts["extent_source"]`` to what it comes from.

    A declared extent (a path, from the sites file) is read: the union of its polygons. Without
    one, an OSM file's extent is its own (``facts["osm_bounds"]``, lon/lat: the box its header
    declares; :func:`cpted.load.osm.osm_extent`): beyond it the extract holds nothing, which is
    no proof of open ground. Unlike a declared extent, it does not vouch for the buildings inside
    it (``facts["extent_vouches"]`` False; rule 4 of :func:`building_coverage` still applies).
    ``get(key, read)`` memoises the read (:meth:`cpted.prepare.sources.SourceCache.get`).

    Raises
    ------
    InputError
        When the extent file holds no polygon.

    Examples
    --------
    >>> facts = {"source": "x/le_mans.osm.pbf", "osm_bounds": [0.0, 48.0, 0.01, 48.01]}
    >>> read_extent(facts, 2154)
    >>> [round(v) for v in facts["extent"].bounds], facts["extent_source"]
    ([476315, 6770845, 477102, 6771984], 'le_mans.osm.pbf: the bounding box its header declares')
    """
    path = facts.get("extent")
    if path is None and facts.get("osm_bounds") is not None:
        west, south, east, north = facts["osm_bounds"]  # west < east, south < north (osm_header_bounds)
        step = min(east - west, north - south) / 16  # a box in degrees bends in a metre CRS
        box = gpd.GeoSeries([shapely.box(west, south, east, north).segmentize(step)], crs=4326)
        facts["extent"] = to_crs(box.to_frame("geometry"), crs, layer=f"extent of {facts.get('source')}").geometry.iloc[0]
        facts["extent_source"] = f"{Path(str(facts.get('source', ''))).name}: the bounding box its header declares"
        facts["extent_vouches"] = False  # where the extract reaches, not where its buildings are all mapped
        return
    if not isinstance(path, str | Path):
        return

    def read():
        shapes = read_vector(path)
        polygons = shapes[shapes.geom_type.isin(["Polygon", "MultiPolygon"])] if len(shapes) else shapes
        if polygons.empty:
            msg = (f"extent {str(path)!r} of the {kind} layer {facts.get('source')!r} holds no polygon; "
                   f"give a polygon file (the area where the layer is complete)")
            raise InputError(msg)
        return shapely.union_all(to_crs(polygons, crs, layer=f"extent {Path(path).name}").geometry.values)

    facts["extent"] = (get or (lambda _key, f: f()))(("extent", str(path), str(crs)), read)
    facts["extent_source"] = str(path)


def extent_names(site, kind: str) -> str:
    """What the extents of the site's ``kind`` sources are (``extent_source``), for a reason or a note."""
    return "; ".join(dict.fromkeys(str(f["extent_source"]) for f in site.sources.get(kind, []) if f.get("extent_source")))


def source_extent(site, kind: str) -> shapely.Geometry | None:
    """Where the site's ``kind`` layer (``"buildings"``, ``"streets"``) is declared complete: the
    union of its sources' ``extent`` polygons (site CRS, :func:`read_extent`), or None when any
    source (or none) declares no extent."""
    facts = site.sources.get(kind, [])
    extents = [f.get("extent") for f in facts]
    if not extents or any(not isinstance(e, shapely.Geometry) for e in extents):
        return None
    return shapely.union_all(extents)


def building_coverage(
    site,
    *,
    min_completeness: float = MIN_LOCAL_COMPLETENESS,
    tolerance: int = MISSING_TOLERANCE,
    distance: float = NO_REFERENCE_DISTANCE,
) -> pd.DataFrame:
    """Whether the buildings layer is complete at each analysis cell of a prepared site.

    The rule (``docs/methods/completeness.md``):

    1. no buildings source at all: no cell is complete (the building measures are NaN already);
    2. with a reference grid (``site.reference_buildings``): a cell is complete when its
       reference cell is (:func:`reference_completeness`, by the cell's centre);
    3. with a declared extent (:func:`source_extent`; an OSM extract's is its own, see
       :func:`read_extent`): a cell outside it is not complete;
    4. without a declared extent (an OSM extract's box does not count), the layer is *known to
       be partial* when rule 2 leaves a cell incomplete; then a cell that no reference cell
       holds is complete only when a loaded building lies within ``distance`` metres (inside a
       declared extent, the extent vouches);
    5. otherwise (no reference, no extent) the layer is trusted: every cell is complete. So is a
       buildings layer declared empty by a design (``attrs["known_empty"]``, as
       :func:`cpted.scenario.compare_designs` marks it).

    Returns
    -------
    pandas.DataFrame
        Aligned to ``site.grid``: ``building_completeness_local`` (loaded / reference count of
        the cell's reference cell; NaN without one), ``buildings_complete`` (bool) and
        ``coverage_reason`` (why not complete; empty when complete).

    Examples
    --------
    >>> from shapely import box
    >>> from cpted.prepare.site import Site
    >>> ref = gpd.GeoDataFrame({"n_buildings": [2, 2]},
    ...     geometry=[box(0, 0, 100, 100), box(100, 0, 200, 100)], crs=2154)
    >>> b = gpd.GeoDataFrame(geometry=[box(20, 20, 30, 30), box(60, 60, 70, 70)], crs=2154)
    >>> site = Site.from_layers("demo", box(0, 0, 200, 100), crs=2154, layers={"buildings": b},
    ...                         reference_buildings=ref, cell_size=10, context=20)
    >>> cov = building_coverage(site)
    >>> cov.groupby(site.grid["x"] > 100)["buildings_complete"].all().tolist()
    [True, False]
    >>> cov["coverage_reason"].iloc[-1]
    'buildings incomplete here: 0 of 2 reference buildings loaded in its reference cell (needs 50%)'
    """
    cells = site.grid
    n = len(cells)
    x, y = cells["x"].to_numpy(dtype=float), cells["y"].to_numpy(dtype=float)
    local = np.full(n, np.nan)
    complete = np.ones(n, dtype=bool)
    reason = np.full(n, "", dtype=object)
    buildings = site.layers.get("buildings")
    if buildings is None:
        return _frame(cells.index, local, np.zeros(n, dtype=bool), np.full(n, "no buildings layer given", dtype=object))
    has_reference = np.zeros(n, dtype=bool)
    ref = site.reference_buildings
    if buildings.attrs.get("known_empty"):  # a design declared without buildings: complete by declaration
        ref = None
    if ref is not None and len(ref) and n:
        table = reference_completeness(ref, buildings, area=site.analysis_area, min_completeness=min_completeness,
                                       tolerance=tolerance)
        hit_cell, hit_ref = shapely.STRtree(ref.geometry.values).query(shapely.points(x, y), predicate="within")
        first = np.unique(hit_cell, return_index=True)[1]  # a centre on a shared edge: its first reference cell
        ci, ri = hit_cell[first], hit_ref[first]
        has_reference[ci] = True
        local[ci] = table["completeness"].to_numpy()[ri]
        bad = ~table["complete"].to_numpy()[ri]
        complete[ci[bad]] = False
        reason[ci[bad]] = table["reason"].to_numpy()[ri][bad]
    partial = not complete.all()  # rule 2 found the layer partial
    extent = source_extent(site, "buildings")
    if extent is not None and n:
        outside = ~shapely.contains_xy(extent, x, y)
        named = extent_names(site, "buildings")
        reason[outside & complete] = ("outside the extent of the buildings layer, nothing is known of its buildings there"
                                      + (f" ({named})" if named else ""))
        complete &= ~outside
    vouches = extent is not None and all(f.get("extent_vouches", True) for f in site.sources.get("buildings", []))
    if not vouches and partial and not has_reference.all():
        lone = complete & ~has_reference
        if lone.any():
            near = np.zeros(n, dtype=bool)
            if len(buildings):
                hit, _ = shapely.STRtree(buildings.geometry.values).query(
                    shapely.points(x[lone], y[lone]), predicate="dwithin", distance=distance)
                near[np.flatnonzero(lone)[np.unique(hit)]] = True
            far = lone & ~near
            reason[far] = (f"no reference count here and no loaded building within {distance:g} m, "
                           f"in a buildings layer known to be partial")
            complete &= ~far
    return _frame(cells.index, local, complete, reason)


def _frame(index, local, complete, reason) -> pd.DataFrame:
    return pd.DataFrame({"building_completeness_local": local.astype(float), "buildings_complete": complete.astype(bool),
                         "coverage_reason": pd.Series(reason, index=index, dtype=object)}, index=index)
