"""Maintenance and image: signs of neglect invite disorder (Wilson & Kelling 1982).

- **Disorder reports** (O'Brien & Sampson 2015, JRCD 52(4)): point observations (service
  requests, GUSP walking diagnostics, women's exploratory walks) by category, with time decay.
- **Waste points** (containers, bulky-waste points): infrastructure, counted apart from neglect.
- **Vacancy and dereliction** from OSM (``disused:*``, ``abandoned:*``, ``building=ruins``,
  brownfield land).
- **Vegetation that blocks sightlines**: vegetation 0.5–2.5 m high next to paths, from a
  canopy-height (or DSM − DTM) raster.
- **Walk-audit template**: an empty GeoPackage with the documented schema, for QGIS / QField.
"""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Transformer

from cpted.config import REPORT_CATEGORIES
from cpted.load.raster import Raster
from cpted.measure._result import MeasureResult, need

__all__ = [
    "HALF_LIFE_DAYS",
    "report_density",
    "reports_per_100m",
    "points_within",
    "vegetation_obstruction",
    "WALK_AUDIT_FIELDS",
    "write_walk_audit_template",
]

#: Half-life of a report's weight, days: a report a year old weighs 0.5.
HALF_LIFE_DAYS = 365.0


def _weights(reports: gpd.GeoDataFrame, reference, half_life: float) -> np.ndarray:
    """exp(-ln 2 · age / half_life); undated reports weigh 1 (no age is invented)."""
    dates = pd.to_datetime(reports["date"], errors="coerce") if "date" in reports else pd.Series(pd.NaT, index=reports.index)
    if reference is None:
        reference = dates.max() if dates.notna().any() else None
    if reference is None:
        return np.ones(len(reports))
    age = (pd.Timestamp(reference) - dates).dt.total_seconds().to_numpy() / 86400.0
    w = np.exp(-math.log(2) * np.clip(age, 0, None) / half_life)
    return np.where(np.isfinite(w), w, 1.0)


def report_density(
    places_xy: np.ndarray,
    reports: gpd.GeoDataFrame,
    *,
    radius: float = 50.0,
    half_life: float = HALF_LIFE_DAYS,
    reference=None,
) -> np.ndarray:
    """Time-decayed disorder reports per hectare within ``radius`` metres of each place.

    .. math:: \\rho(p) = \\frac{10^4}{\\pi r^2} \\sum_{i: d(p, i) \\le r} 2^{-a_i / T}

    with :math:`a_i` the age of report *i* in days at the ``reference`` date (default: the
    newest report) and *T* the half-life. Undated reports weigh 1.

    Examples
    --------
    >>> from shapely import Point
    >>> r = gpd.GeoDataFrame({"date": pd.to_datetime(["2025-01-01", "2026-01-01"])},
    ...     geometry=[Point(10, 0), Point(500, 0)], crs=2154)
    >>> rho = report_density(np.array([[0.0, 0.0]]), r, radius=50)
    >>> round(float(rho[0]), 4)  # one report 10 m away, 365 days old: weight 1/2, over 0.785 ha
    0.6366
    """
    out = np.zeros(len(places_xy))
    if len(reports) == 0 or len(places_xy) == 0:
        return out
    w = _weights(reports, reference, half_life)
    p, r = shapely.STRtree(reports.geometry.values).query(shapely.points(places_xy), predicate="dwithin", distance=radius)
    out = np.bincount(p, weights=w[r], minlength=len(places_xy))
    return out * 1e4 / (math.pi * radius**2)


def reports_per_100m(reports: gpd.GeoDataFrame, streets: gpd.GeoDataFrame, *, distance: float = 20.0) -> float:
    """Reports within ``distance`` metres of a street per 100 m of street.

    Examples
    --------
    >>> from shapely import LineString, Point
    >>> s = gpd.GeoDataFrame(geometry=[LineString([(0, 0), (400, 0)])], crs=2154)
    >>> r = gpd.GeoDataFrame(geometry=[Point(10, 5), Point(50, 50)], crs=2154)
    >>> reports_per_100m(r, s)
    0.25
    """
    total = float(streets.length.sum())
    if total == 0:
        return np.nan
    if len(reports) == 0:
        return 0.0
    hit, _ = shapely.STRtree(streets.geometry.values).query(reports.geometry.values, predicate="dwithin", distance=distance)
    return 100.0 * len(np.unique(hit)) / total


def points_within(places_xy: np.ndarray, points: gpd.GeoDataFrame, *, radius: float) -> np.ndarray:
    """Number of ``points`` within ``radius`` metres of each place."""
    if len(points) == 0 or len(places_xy) == 0:
        return np.zeros(len(places_xy))
    p, _ = shapely.STRtree(points.geometry.values).query(shapely.points(places_xy), predicate="dwithin", distance=radius)
    return np.bincount(p, minlength=len(places_xy)).astype(float)


def vegetation_obstruction(
    streets: gpd.GeoDataFrame,
    raster: Raster,
    *,
    low: float = 0.5,
    high: float = 2.5,
    distance: float = 2.0,
    step: float = 2.0,
) -> tuple[gpd.GeoDataFrame, dict[str, float]]:
    """Path pieces with vegetation between ``low`` and ``high`` metres within ``distance`` metres.

    The streets are cut every ``step`` metres; each piece's middle samples the raster cells
    within ``distance`` metres (in the raster's own CRS: the points are reprojected, never the
    raster). A piece is **obstructed** when any sampled height lies in [low, high], **unknown**
    when no valid cell was sampled (outside the raster or no data).

    Returns the pieces (``obstructed``, ``covered``, ``length_m``) and ``vegetation_obstruction``
    (obstructed share of the covered path length) with ``raster_coverage`` (covered share).
    """
    pieces, mids = [], []
    for line in streets.geometry.values:
        n = max(1, int(round(line.length / step)))
        cuts = np.linspace(0, line.length, n + 1)
        for a, b in zip(cuts[:-1], cuts[1:], strict=True):
            pieces.append(shapely.ops.substring(line, a, b))
            mids.append(line.interpolate((a + b) / 2))
    xy = shapely.get_coordinates(np.array(mids, dtype=object)) if mids else np.zeros((0, 2))
    if len(xy) and CRS.from_user_input(streets.crs) != raster.crs:
        xy = np.column_stack(Transformer.from_crs(streets.crs, raster.crs, always_xy=True).transform(xy[:, 0], xy[:, 1]))
    t = raster.transform
    rows_n, cols_n = raster.values.shape
    cell = abs(t.a)
    reach = int(math.ceil(distance / cell))
    obstructed = np.zeros(len(xy), dtype=bool)
    covered = np.zeros(len(xy), dtype=bool)
    for i, (x, y) in enumerate(xy):
        col = int(math.floor((x - t.c) / t.a))
        row = int(math.floor((y - t.f) / t.e))
        r0, r1 = max(0, row - reach), min(rows_n, row + reach + 1)
        c0, c1 = max(0, col - reach), min(cols_n, col + reach + 1)
        if r0 >= r1 or c0 >= c1:
            continue
        window = raster.values[r0:r1, c0:c1]
        cy = t.f + t.e * (np.arange(r0, r1) + 0.5)
        cx = t.c + t.a * (np.arange(c0, c1) + 0.5)
        near = np.hypot(cx[None, :] - x, cy[:, None] - y) <= distance + cell / 2
        values = window[near & np.isfinite(window)]
        if values.size:
            covered[i] = True
            obstructed[i] = bool(((values >= low) & (values <= high)).any())
    lengths = shapely.length(np.array(pieces, dtype=object)) if pieces else np.zeros(0)
    layer = gpd.GeoDataFrame({"obstructed": obstructed, "covered": covered, "length_m": lengths}, geometry=pieces, crs=streets.crs)
    total = lengths.sum()
    cov = lengths[covered].sum()
    return layer, {
        "vegetation_obstruction": float(lengths[obstructed].sum() / cov) if cov > 0 else np.nan,
        "raster_coverage": float(cov / total) if total > 0 else np.nan,
    }


#: The walk-audit GeoPackage schema (layer ``walk_audit``, points): field -> (type, meaning).
WALK_AUDIT_FIELDS = {
    "category": ("str", f"one of {', '.join(REPORT_CATEGORIES)}"),
    "severity": ("int", "1 minor, 2 notable, 3 serious"),
    "date": ("date", "day of the walk"),
    "comment": ("str", "free text, as said on the walk"),
    "photo": ("str", "path of a photo, relative to the GeoPackage"),
    "walk": ("str", "which walk: diagnostic en marchant, marche exploratoire, ..."),
}


def write_walk_audit_template(path, *, crs="EPSG:2154") -> None:
    """Write an empty walk-audit GeoPackage (layer ``walk_audit``) that QGIS / QField can fill in.

    Load the filled file as ``reports`` (``category``, ``date`` and ``severity`` are read as
    such; ``comment``, ``photo`` and ``walk`` are kept).
    """
    import pyogrio

    from cpted.atomic import atomic_path

    empty = gpd.GeoDataFrame(
        {"category": pd.Series([], dtype=object), "severity": pd.Series([], dtype="int32"),
         "date": pd.Series([], dtype="datetime64[ms]"), "comment": pd.Series([], dtype=object),
         "photo": pd.Series([], dtype=object), "walk": pd.Series([], dtype=object)},
        geometry=gpd.GeoSeries([], crs=crs), crs=crs,
    )
    with atomic_path(path) as tmp:
        pyogrio.write_dataframe(empty, tmp, layer="walk_audit", driver="GPKG", geometry_type="Point")


#: Raster names read as canopy height (vegetation height above ground, metres).
CANOPY_NAMES = ("canopy", "chm", "vegetation", "canopy_height")


#: Summary values of :func:`maintenance`.
SUMMARY_KEYS = ("n_reports", "n_reports_undated", "reports_per_100m", "disorder_density_mean", "waste_points_per_ha",
                "n_derelict_buildings", "derelict_land_share", "vegetation_obstruction", "raster_coverage")


def maintenance(site) -> MeasureResult:
    """Every maintenance / image measure of a prepared site.

    Returns a :class:`~cpted.measure._result.MeasureResult`: ``cells`` (``disorder_density``,
    ``waste_points_100m``), ``layers`` (``reports``, ``walk_audit`` for the observations of
    walk-audit GeoPackages, ``vegetation_obstruction``), ``summary`` and ``reasons``. Unknown
    reports or POIs leave their values NaN with the reason; known-empty reports (a walk with
    nothing to report) give a density of 0.
    """
    cells = site.grid
    xy = cells[["x", "y"]].to_numpy()
    result = MeasureResult.unknown(cells.index, ["disorder_density", "waste_points_100m"], SUMMARY_KEYS)
    summary, out, layers = result.summary, result.cells, result.layers
    area_ha = site.known_area.area / 1e4
    streets = site.layers.get("streets")
    reports = need(site, "reports", result, what="disorder")
    if reports is not None:
        out["disorder_density"] = report_density(xy, reports)
        summary["disorder_density_mean"] = float(out["disorder_density"].mean())
        inside = reports.iloc[reports.sindex.query(site.known_area, predicate="intersects")] if len(reports) else reports
        summary["n_reports"] = len(inside)
        summary["n_reports_undated"] = int(inside["date"].isna().sum()) if len(inside) else 0
        if streets is not None:
            local = streets.iloc[streets.sindex.query(site.known_area, predicate="intersects")]
            summary["reports_per_100m"] = reports_per_100m(inside, local)
        layers["reports"] = reports
        if "source" in reports and (reports["source"] == "walk_audit").any():
            layers["walk_audit"] = reports[reports["source"] == "walk_audit"]
    pois = need(site, "pois", result, what="waste points")
    if pois is not None:
        waste = pois[pois["category"] == "waste"]
        out["waste_points_100m"] = points_within(xy, waste, radius=100.0)
        inside = shapely.contains_xy(site.known_area, waste.geometry.x.to_numpy(), waste.geometry.y.to_numpy()) if len(waste) else np.zeros(0, bool)
        summary["waste_points_per_ha"] = float(inside.sum() / area_ha) if area_ha > 0 else np.nan  # none known
    buildings, landuse = site.layers.get("buildings"), site.layers.get("landuse")
    if buildings is not None and "derelict" in buildings:
        local = buildings.iloc[buildings.sindex.query(site.known_area, predicate="intersects")] if len(buildings) else buildings
        summary["n_derelict_buildings"] = int(local["derelict"].map(lambda v: bool(v) if pd.notna(v) else False).sum())
    if landuse is not None and "derelict" in landuse:
        derelict = landuse[landuse["derelict"].map(lambda v: bool(v) if pd.notna(v) else False).to_numpy(dtype=bool)]
        if area_ha == 0:  # no ground known
            summary["derelict_land_share"] = np.nan
        elif len(derelict):
            land = shapely.intersection(shapely.union_all(derelict.geometry.values), site.known_area)
            summary["derelict_land_share"] = float(land.area / (area_ha * 1e4))
        else:
            summary["derelict_land_share"] = 0.0
    if np.isnan(summary["n_derelict_buildings"]) and np.isnan(summary["derelict_land_share"]):
        result.missing("dereliction", "no OSM vacancy tags loaded")
    canopy = next((site.rasters[n] for n in CANOPY_NAMES if n in site.rasters), None)
    if canopy is None:
        result.missing("vegetation", "no canopy raster given (rasters = { canopy = ... })")
    elif streets is not None and len(streets):
        local = streets.iloc[streets.sindex.query(site.known_area, predicate="intersects")]
        layer, values = vegetation_obstruction(local, canopy)
        summary.update(values)
        layers["vegetation_obstruction"] = layer
        if values["raster_coverage"] < 1:
            result.missing("vegetation", f"the canopy raster covers {values['raster_coverage']:.0%} of the paths")
    return result
