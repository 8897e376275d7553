"""Lighting: horizontal illuminance from street lamps, EN 13201 P-classes, lit-way coverage.

Part of natural surveillance (:mod:`cpted.measure.surveillance`): a place is overseen at night
only where it is lit.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

from cpted.engines.visibility import Scene, inside_obstacles, visible_pairs
from cpted.load.values import read_flags

__all__ = [
    "LAMP_HEIGHT",
    "LAMP_INTENSITY",
    "LAMP_RADIUS",
    "P_CLASSES",
    "illuminance",
    "lighting_class",
    "lit_way_share",
]

#: Mounting height of a lamp with no ``height_m``, metres (a common residential column).
LAMP_HEIGHT = 6.0
#: Luminous intensity towards the ground of a lamp with no ``intensity_cd``, candela.
#: About a 3,000-4,000 lm LED residential luminaire; with it a lamp at 6 m gives 27.8 lx below.
LAMP_INTENSITY = 1000.0
#: Lamps farther than this from a place (metres) are ignored: at 50 m a default lamp adds < 0.05 lx.
LAMP_RADIUS = 50.0
#: EN 13201-2 P-classes for pedestrian areas: (average lx, minimum lx), best first.
P_CLASSES = {"P1": (15.0, 3.0), "P2": (10.0, 2.0), "P3": (7.5, 1.5), "P4": (5.0, 1.0), "P5": (3.0, 0.6), "P6": (2.0, 0.4)}


def illuminance(
    points: gpd.GeoSeries | gpd.GeoDataFrame,
    lamps: gpd.GeoDataFrame,
    scene: Scene,
    *,
    radius: float = LAMP_RADIUS,
) -> tuple[pd.Series, pd.DataFrame]:
    """Horizontal illuminance at ground points from point lamps, with occlusion.

    .. math:: E(p) = \\sum_l I_l \\cos^3\\theta_l / h_l^2 = \\sum_l I_l h_l / (h_l^2 + d_l^2)^{3/2}

    where :math:`d_l` is the horizontal distance from lamp *l* to *p*, :math:`h_l` its mounting
    height and :math:`\\theta_l` the angle from the vertical. A lamp counts only where the line
    from its foot to *p* crosses no occluder of ``scene`` (a 2D test: buildings and opaque
    barriers hide the lamp's light). The lamp is treated as isotropic downwards (intensity
    :math:`I_l`), the usual first approximation when photometric files are absent.

    Parameters
    ----------
    points
        Ground points (e.g. cell centres), projected metre CRS.
    lamps
        Lamp points; ``height_m`` and ``intensity_cd`` columns are used where present
        (defaults :data:`LAMP_HEIGHT`, :data:`LAMP_INTENSITY`).
    scene
        Occluders (:func:`cpted.engines.visibility.prepare_scene`).
    radius
        Lamps farther than this (metres) are ignored.

    Returns
    -------
    tuple
        ``lux`` (Series aligned to ``points``; NaN for points inside a building) and, per
        lamp (aligned to ``lamps``), ``lit_cells`` (points receiving ≥ 1 lx from it) and
        ``mean_lux`` (its mean contribution over the points it reaches).

    Examples
    --------
    >>> from shapely import Point
    >>> from cpted.engines.visibility import prepare_scene
    >>> scene = prepare_scene(gpd.GeoSeries([], crs=2154))
    >>> pts = gpd.GeoSeries([Point(0, 0), Point(5, 0), Point(10, 0)], crs=2154)
    >>> lamp = gpd.GeoDataFrame({"height_m": [6.0]}, geometry=[Point(0, 0)], crs=2154)
    >>> lux, _ = illuminance(pts, lamp, scene)
    >>> lux.round(3).tolist()  # 1000 cd at 6 m: 1000/36, then 1000*6/61**1.5, 1000*6/136**1.5
    [27.778, 12.594, 3.783]

    Source: CIE / EN 13201-3 point-source illuminance; P-classes of EN 13201-2.
    """
    index = points.index
    lux = np.zeros(len(points))
    per_lamp = pd.DataFrame({"lit_cells": 0, "mean_lux": 0.0}, index=lamps.index)
    h = _column(lamps, "height_m", LAMP_HEIGHT)
    intensity = _column(lamps, "intensity_cd", LAMP_INTENSITY)
    if len(lamps) and len(points):
        src, dst = visible_pairs(points, lamps, scene, radius=radius)
        pxy = np.column_stack([points.geometry.x, points.geometry.y]) if isinstance(points, gpd.GeoDataFrame) else np.column_stack([points.x, points.y])
        lxy = np.column_stack([lamps.geometry.x, lamps.geometry.y])
        d2 = ((pxy[src] - lxy[dst]) ** 2).sum(axis=1)
        e = intensity[dst] * h[dst] / (h[dst] ** 2 + d2) ** 1.5
        lux = np.bincount(src, weights=e, minlength=len(points))
        reached = np.bincount(dst, minlength=len(lamps))
        per_lamp["lit_cells"] = np.bincount(dst, weights=(e >= 1.0), minlength=len(lamps)).astype(int)
        with np.errstate(invalid="ignore", divide="ignore"):
            per_lamp["mean_lux"] = np.bincount(dst, weights=e, minlength=len(lamps)) / reached
    inside = inside_obstacles(points, scene)
    lux = np.where(inside, np.nan, lux)
    return pd.Series(lux, index=index, name="lux"), per_lamp


def _column(gdf: gpd.GeoDataFrame, name: str, default: float) -> np.ndarray:
    if name not in gdf.columns:
        return np.full(len(gdf), default)
    values = pd.to_numeric(gdf[name], errors="coerce").to_numpy(dtype=float)
    return np.where(np.isfinite(values) & (values > 0), values, default)


def lighting_class(lux: pd.Series) -> dict[str, object]:
    """Average and minimum illuminance of a set of places and the best EN 13201 P-class met.

    Returns ``lux_avg``, ``lux_min``, ``p_class`` (best class whose average and minimum are
    both met, or ``"below P6"``) and ``lit_share_<class>`` (share of places at or above each
    class minimum).

    Examples
    --------
    >>> lighting_class(pd.Series([12.0, 8.0, 2.5]))["p_class"]  # average 7.5, minimum 2.5
    'P3'
    """
    values = lux.dropna()
    out: dict[str, object] = {"lux_avg": np.nan, "lux_min": np.nan, "p_class": None}
    if values.empty:
        return out
    avg, low = float(values.mean()), float(values.min())
    out["lux_avg"], out["lux_min"] = avg, low
    out["p_class"] = next((name for name, (a, m) in P_CLASSES.items() if avg >= a and low >= m), "below P6")
    for name, (_, m) in P_CLASSES.items():
        out[f"lit_share_{name}"] = float((values >= m).mean())
    return out


def lit_way_share(streets: gpd.GeoDataFrame) -> tuple[float, str | None]:
    """Coarse lighting where no lamps are mapped: the length share of ways tagged ``lit=yes``
    among those with a ``lit`` tag (OSM). NaN with a reason when no way carries the tag.

    Examples
    --------
    >>> from shapely import LineString
    >>> s = gpd.GeoDataFrame({"lit": ["yes", "no", None]}, geometry=[LineString([(0, 0), (30, 0)]),
    ...     LineString([(0, 0), (0, 10)]), LineString([(0, 0), (5, 5)])], crs=2154)
    >>> lit_way_share(s)
    (0.75, None)
    """
    if "lit" not in streets.columns:
        return np.nan, "the streets carry no lit tag"
    lit = read_flags(streets["lit"], "lit").values  # unknown (<NA>) ways are left out
    tagged = lit.notna().to_numpy()
    if not tagged.any():
        return np.nan, "no street has a lit tag"
    lengths = streets.length.to_numpy()[tagged]
    return float(lengths[lit.to_numpy(dtype=bool, na_value=False)[tagged]].sum() / lengths.sum()), None
