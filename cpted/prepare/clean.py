"""Geometry checks and repair, and the hygiene of input layers.

:func:`check_geometries` rejects (or mends) null, empty and invalid geometries with errors
that name the layer and the features. :func:`layer_hygiene` applies the rules below to every
layer a loader returns, and words a warning for each rule that fired (the layer, the count
and the first feature ids); the warnings end in the site's ``notes``.

=====================  ===================================================================
exact duplicates       features with the same geometry (same vertices in the same order) and
                       the same attributes: the first is kept (every layer kind)
streets drawn twice    lines with the same geometry, in the same or the reverse direction
                       (A→B and B→A) but other attributes: merged, the first kept
walk kind              street lines without ``walk_kind`` get it from ``highway``
                       (:func:`cpted.load.osm_tags.walk_kind`); lines without either get
                       :data:`DEFAULT_WALK_KIND`
height issues          unreadable or implausible heights / storey counts (see
                       :mod:`cpted.load.heights`), which the loader made unknown
=====================  ===================================================================
"""

from __future__ import annotations

import ast

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from cpted.errors import GeometryError, feature_ids
from cpted.load.heights import ISSUE_COLUMN
from cpted.load.osm_tags import walk_kind

__all__ = ["check_geometries", "layer_hygiene", "drop_duplicates", "merge_street_twins", "DEFAULT_WALK_KIND"]

#: The walk kind of a street line that has neither ``walk_kind`` nor ``highway``.
DEFAULT_WALK_KIND = "street"


def check_geometries(
    gdf: gpd.GeoDataFrame, *, layer: str, repair: bool = False
) -> tuple[gpd.GeoDataFrame, dict[str, int]]:
    """Reject (or, with ``repair``, mend) null, empty and invalid geometries.

    Parameters
    ----------
    gdf
        The layer; it is not modified.
    layer
        Name used in error messages.
    repair
        Drop null/empty geometries and fix invalid ones with ``shapely.make_valid``
        (keeping the part of the layer's own dimension) instead of raising.

    Returns
    -------
    tuple
        The checked copy, and counts ``{"dropped_empty": n, "repaired_invalid": n}``.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely import Polygon
    >>> bowtie = Polygon([(0, 0), (1, 1), (1, 0), (0, 1)])
    >>> g = gpd.GeoDataFrame(geometry=[bowtie], crs=2154)
    >>> fixed, counts = check_geometries(g, layer="demo", repair=True)
    >>> counts["repaired_invalid"], round(float(fixed.area.sum()), 2)
    (1, 0.5)
    """
    geoms = gdf.geometry.values
    empty = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    counts = {"dropped_empty": int(empty.sum()), "repaired_invalid": 0}
    if empty.any() and not repair:
        ids = feature_ids(gdf.index[empty])
        msg = (
            f"layer {layer!r} has {int(empty.sum())} null or empty geometries (features {ids}); "
            f"delete them (geopandas: gdf[~gdf.geometry.is_empty & gdf.geometry.notna()]; "
            f"QGIS: select by expression 'is_empty_or_null($geometry)' and delete), "
            f"or set repair = true for this layer in the sites file"
        )
        raise GeometryError(msg)
    out = gdf.loc[~empty].copy()
    geoms = out.geometry.values
    invalid = ~shapely.is_valid(geoms)
    if invalid.any():
        if not repair:
            first = out.index[invalid][0]
            reason = shapely.is_valid_reason(geoms[invalid][0])
            msg = (
                f"layer {layer!r} has {int(invalid.sum())} invalid geometries (features "
                f"{feature_ids(out.index[invalid])}; feature {first}: {reason}); fix them with "
                f"shapely.make_valid / QGIS 'Fix geometries', or set repair = true for this "
                f"layer in the sites file"
            )
            raise GeometryError(msg)
        dims = shapely.get_dimensions(geoms[invalid])
        fixed = shapely.make_valid(geoms[invalid])
        fixed = [_keep_dimension(g, d) for g, d in zip(fixed, dims, strict=True)]
        out.loc[out.index[invalid], out.geometry.name] = fixed
        counts["repaired_invalid"] = int(invalid.sum())
        still = shapely.is_empty(out.geometry.values)
        counts["dropped_empty"] += int(still.sum())
        out = out.loc[~still]
    return out, counts


def _keep_dimension(geom, dim: int):
    """From a make_valid result, keep the parts of the original dimension."""
    if shapely.get_dimensions(geom) == dim and geom.geom_type != "GeometryCollection":
        return geom
    parts = [p for p in shapely.get_parts(geom) if shapely.get_dimensions(p) == dim]
    if not parts:
        return shapely.Point()  # empty: dropped by the caller
    return shapely.union_all(parts) if len(parts) > 1 else parts[0]


def layer_hygiene(gdf: gpd.GeoDataFrame, kind: str, *, name: str) -> tuple[gpd.GeoDataFrame, list[str]]:
    """Apply the hygiene rules (module docstring) to a canonical layer.

    Parameters
    ----------
    gdf
        A canonical layer (:func:`cpted.load.schema.conform`); it is not modified.
    kind
        Its layer kind.
    name
        How to name the layer in the warnings.

    Returns
    -------
    tuple
        The cleaned copy (without the transient ``height_issue`` column) and the warnings.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely import LineString
    >>> s = gpd.GeoDataFrame({"highway": ["footway", "footway", None]},
    ...     geometry=[LineString([(0, 0), (1, 0)]), LineString([(1, 0), (0, 0)]),
    ...               LineString([(1, 0), (1, 1)])], crs=2154)
    >>> out, warnings = layer_hygiene(s, "streets", name="paths.gpkg")
    >>> out["walk_kind"].tolist(), len(warnings)
    (['footway', 'street'], 2)
    >>> print(warnings[0])
    layer 'paths.gpkg': 1 street line drawn twice (the same line, reversed or with other attributes) merged, the first kept (features 1)
    """
    warnings: list[str] = []
    out, note = drop_duplicates(gdf, name=name)
    warnings += note
    if kind == "streets":
        out, note = merge_street_twins(out, name=name)
        warnings += note
        out, note = _walk_kinds(out, name=name)
        warnings += note
    if ISSUE_COLUMN in out.columns:
        warnings += _height_warnings(out, kind, name)
        out = out.drop(columns=ISSUE_COLUMN)
    return out, warnings


def _ids(gdf: gpd.GeoDataFrame, mask, most: int = 5) -> str:
    """The first ``most`` feature ids of the rows in ``mask``, then "…" (OSM ids when known)."""
    rows = np.flatnonzero(np.asarray(mask, dtype=bool))
    if {"osm_type", "osm_id"} <= set(gdf.columns):
        first = rows[:most]
        ids = [f"{t}/{i}" for t, i in zip(gdf["osm_type"].iloc[first], gdf["osm_id"].iloc[first], strict=True)]
    else:
        ids = [str(i) for i in gdf.index[rows[:most]]]
    return ", ".join(ids) + (", …" if len(rows) > most else "")


def _hashable(values: pd.Series) -> pd.Series:
    if values.dtype != object:
        return values
    return pd.Series([repr(v) if isinstance(v, list | dict | set | tuple | np.ndarray) else v for v in values],
                     index=values.index, dtype=object)


def _geometry_keys(gdf: gpd.GeoDataFrame) -> np.ndarray:
    """The normalized WKB of each geometry: equal for the same shape whatever its vertex order."""
    return shapely.to_wkb(shapely.normalize(gdf.geometry.values))


def drop_duplicates(gdf: gpd.GeoDataFrame, *, name: str) -> tuple[gpd.GeoDataFrame, list[str]]:
    """Drop exact duplicates (same geometry, same attributes), keeping the first.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely import box
    >>> b = gpd.GeoDataFrame({"height_m": [9.0, 9.0, 12.0]}, geometry=[box(0, 0, 1, 1)] * 3, crs=2154)
    >>> out, warnings = drop_duplicates(b, name="b")
    >>> out.index.tolist(), warnings
    ([0, 2], ["layer 'b': 1 exact duplicate feature (same geometry and attributes) dropped (features 1)"])
    """
    if len(gdf) < 2:
        return gdf, []
    keys = pd.DataFrame({c: _hashable(gdf[c]) for c in gdf.columns if c != gdf.geometry.name}, index=gdf.index)
    keys["__geometry"] = shapely.to_wkb(gdf.geometry.values)
    twin = keys.duplicated().to_numpy()
    if not twin.any():
        return gdf, []
    n = int(twin.sum())
    msg = (f"layer {name!r}: {n} exact duplicate feature{'s' if n > 1 else ''} (same geometry and attributes) "
           f"dropped (features {_ids(gdf, twin)})")
    return gdf.loc[~twin], [msg]


def merge_street_twins(streets: gpd.GeoDataFrame, *, name: str) -> tuple[gpd.GeoDataFrame, list[str]]:
    """Merge street lines drawn twice (A→B and B→A, or the same line with other attributes).

    The first line is kept. Graph edges are merged alike (so a graph and its edges as plain
    lines give the same streets): the Nantes commune graph has two such pairs, a footway and
    steps mapped as two OSM ways over the same two nodes.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely import LineString
    >>> s = gpd.GeoDataFrame({"oneway": [True, False]},
    ...     geometry=[LineString([(0, 0), (5, 5)]), LineString([(5, 5), (0, 0)])], crs=2154)
    >>> out, warnings = merge_street_twins(s, name="s")
    >>> out.index.tolist(), len(warnings)
    ([0], 1)
    """
    if len(streets) < 2:
        return streets, []
    twin = pd.Series(_geometry_keys(streets)).duplicated().to_numpy()
    if not twin.any():
        return streets, []
    n = int(twin.sum())
    msg = (f"layer {name!r}: {n} street line{'s' if n > 1 else ''} drawn twice (the same line, reversed or "
           f"with other attributes) merged, the first kept (features {_ids(streets, twin)})")
    return streets.loc[~twin], [msg]


def _first_highway(value):
    """A highway value, or the first of a list (osmnx writes lists as text: "['steps', 'footway']")."""
    if isinstance(value, str) and value.startswith("["):
        try:
            value = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            return value
    if isinstance(value, list | tuple):
        value = value[0] if value else None
    return value if isinstance(value, str) and value.strip() else None


def _walk_kinds(streets: gpd.GeoDataFrame, *, name: str) -> tuple[gpd.GeoDataFrame, list[str]]:
    """Fill missing walk kinds from ``highway``, else :data:`DEFAULT_WALK_KIND` (with a warning)."""
    kinds = streets["walk_kind"].to_numpy(dtype=object) if "walk_kind" in streets else np.full(len(streets), None)
    missing = pd.isna(kinds)
    if not missing.any():
        return streets, []
    highway = [_first_highway(h) for h in streets["highway"]] if "highway" in streets else [None] * len(streets)
    from_highway = np.array([walk_kind(h) if h is not None else None for h in highway], dtype=object)
    filled = np.where(missing, from_highway, kinds)
    default = missing & pd.isna(from_highway)
    filled[default] = DEFAULT_WALK_KIND
    out = streets.copy()
    out["walk_kind"] = pd.Series(filled, index=streets.index, dtype=object)
    if not default.any():
        return out, []
    n = int(default.sum())
    msg = (f"layer {name!r}: {n} street line{'s' if n > 1 else ''} without 'highway' or 'walk_kind' taken as "
           f"walk_kind {DEFAULT_WALK_KIND!r} (features {_ids(streets, default)}); give a 'highway' column with "
           f"OSM values (footway, steps, residential...) or a 'walk_kind' column")
    return out, [msg]


def _height_warnings(gdf: gpd.GeoDataFrame, kind: str, name: str) -> list[str]:
    """One warning per kind of height issue (unreadable / implausible height / levels)."""
    issues = gdf[ISSUE_COLUMN].to_numpy(dtype=object)
    rows = [(i, p) for i, v in enumerate(issues) if isinstance(v, str) for p in v.split("; ")]
    then = ("its height then comes from the next source (storeys, reference heights, default; see height_source)"
            if kind == "buildings" else "its height is unknown")
    out = []
    for what in ("unreadable height", "implausible height", "unreadable levels", "implausible levels"):
        hit = [(i, p.split(": ", 1)[1]) for i, p in rows if p.startswith(what + ":")]
        if not hit:
            continue
        mask = np.zeros(len(gdf), dtype=bool)
        mask[[i for i, _ in hit]] = True
        examples = ", ".join(dict.fromkeys(v for _, v in hit[:3]))
        rule = ("not read as a number with an optional unit (12, 12.5 m, 12,5, 40 ft)" if what == "unreadable height"
                else "not read as a storey count (4, 4.5, R+4, RDC)" if what == "unreadable levels"
                else "not above 0 or over 350 m")
        out.append(f"layer {name!r}: {len(hit)} {what} value{'s' if len(hit) > 1 else ''} ({rule}; e.g. {examples}) "
                   f"made unknown, {then} (features {_ids(gdf, mask)})")
    return out
