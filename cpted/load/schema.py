"""Canonical layers: one documented schema per layer kind.

Every loader, whatever the file format, returns a GeoDataFrame that follows the
schema of its kind, so the stages after ``load`` never look at source formats.
The same tables are rendered in ``docs/data_model.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd

from cpted.errors import GeometryError, InputError, MissingColumnsError, feature_ids
from cpted.load.values import read_categories, read_flags, warn_unreadable

__all__ = ["LayerSchema", "SCHEMAS", "LAYER_KINDS", "conform", "empty_layer"]

POINT, LINE, POLYGON = "point", "line", "polygon"
_FAMILY = {
    "Point": POINT,
    "MultiPoint": POINT,
    "LineString": LINE,
    "MultiLineString": LINE,
    "LinearRing": LINE,
    "Polygon": POLYGON,
    "MultiPolygon": POLYGON,
}


@dataclass(frozen=True)
class LayerSchema:
    """Geometry families and columns (name -> dtype) of one layer kind."""

    kind: str
    geometry: tuple[str, ...]
    columns: dict[str, str] = field(default_factory=dict)
    required: tuple[str, ...] = ()
    description: str = ""


SCHEMAS: dict[str, LayerSchema] = {
    s.kind: s
    for s in (
        LayerSchema(
            "streets",
            (LINE,),
            {
                "highway": "str",
                "name": "str",
                "walk_kind": "str",
                "access": "access",
                "tunnel": "flag",
                "bridge": "flag",
                "covered": "flag",
                "lit": "flag",
                "length_m": "float",
            },
            description="Walkable edges of the walk graph. walk_kind: street, footway, "
            "pedestrian, path, steps, cycleway, service, track, other. tunnel, bridge, covered, "
            "lit: nullable booleans, <NA> = unknown (cpted.load.values).",
        ),
        LayerSchema(
            "buildings",
            (POLYGON,),
            {"height_m": "float", "height_source": "str", "levels": "float", "kind": "str"},
            description="Footprints. height_source: osm:height, osm:levels, attribute, "
            "attribute:levels, bdtopo, bdtopo:levels, default.",
        ),
        LayerSchema(
            "entrances",
            (POINT,),
            {"kind": "str", "access": "access"},
            description="Building entrances (OSM entrance=*).",
        ),
        LayerSchema(
            "barriers",
            (POINT, LINE),
            {"kind": "str", "height_m": "float"},
            description="Fences, walls, hedges, gates... kind from config.BARRIER_KINDS.",
        ),
        LayerSchema("lamps", (POINT,), {"height_m": "float"}, description="Street lamps."),
        LayerSchema(
            "pois",
            (POINT,),
            {"category": "str", "name": "str", "source_category": "str"},
            required=("category",),
            description="Points of interest; category from config.POI_CATEGORIES.",
        ),
        LayerSchema(
            "landuse",
            (POLYGON,),
            {"category": "str", "access": "access"},
            required=("category",),
            description="Land-use / leisure areas; access=private marks private plots.",
        ),
        LayerSchema("trees", (POINT,), {"height_m": "float"}, description="Trees."),
        LayerSchema(
            "reports",
            (POINT,),
            {"category": "str", "date": "datetime", "severity": "float"},
            required=("category",),
            description="Point observations; category from config.REPORT_CATEGORIES.",
        ),
        LayerSchema(
            "water",
            (POLYGON,),
            {"kind": "str"},
            description="Water areas (rivers, docks, canals, basins, reservoirs): no analysis cell "
            "lies on them. kind: the OSM value (water, riverbank, dock, basin...) or the source's.",
        ),
        LayerSchema(
            "traffic_land",
            (POLYGON, LINE),
            {"kind": "str", "width_m": "float"},
            description="Ground given over to trains and motor traffic: railway land (polygons, "
            "kind railway) and motorway / trunk carriageways (lines, kind motorway, motorway_link, "
            "trunk, trunk_link; width_m the carriageway width where known).",
        ),
    )
}
LAYER_KINDS: tuple[str, ...] = tuple(SCHEMAS)


def _empty_column(dtype: str, n: int) -> pd.Series:
    if dtype == "float":
        return pd.Series(np.full(n, np.nan), dtype="float64")
    if dtype == "bool":
        return pd.Series(np.zeros(n, dtype=bool))
    if dtype == "flag":  # nullable boolean: absent is unknown, not False
        return pd.Series(pd.array([None] * n, dtype="boolean"))
    if dtype == "datetime":
        return pd.Series(pd.NaT, index=range(n), dtype="datetime64[ns]")
    return pd.Series([None] * n, dtype="object")


def empty_layer(kind: str, crs=None) -> gpd.GeoDataFrame:
    """An empty GeoDataFrame with the columns of ``kind``.

    Examples
    --------
    >>> empty_layer("lamps").columns.tolist()
    ['height_m', 'geometry']
    """
    schema = _schema(kind)
    cols = {c: _empty_column(t, 0) for c, t in schema.columns.items()}
    return gpd.GeoDataFrame(cols, geometry=gpd.GeoSeries([], crs=crs), crs=crs)


def _schema(kind: str) -> LayerSchema:
    try:
        return SCHEMAS[kind]
    except KeyError:
        msg = f"unknown layer kind {kind!r}; use one of {', '.join(LAYER_KINDS)}"
        raise InputError(msg) from None


def conform(gdf: gpd.GeoDataFrame, kind: str, *, name: str | None = None) -> gpd.GeoDataFrame:
    """Check a layer against the schema of its kind and return a conforming copy.

    Required columns must exist; optional ones are added empty. Extra columns are
    kept after the canonical ones. The caller's frame is never modified.

    Parameters
    ----------
    gdf
        The layer.
    kind
        One of :data:`LAYER_KINDS`.
    name
        How to name the layer in error messages (file path or layer name).

    Returns
    -------
    geopandas.GeoDataFrame
        Canonical columns first, then the geometry, then any extra columns.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely import Point
    >>> lamps = gpd.GeoDataFrame(geometry=[Point(0, 0)], crs=2154)
    >>> conform(lamps, "lamps").columns.tolist()
    ['height_m', 'geometry']
    """
    schema = _schema(kind)
    label = name or kind
    missing = [c for c in schema.required if c not in gdf.columns]
    if missing:
        msg = (
            f"layer {label!r} ({kind}) lacks the column(s) {', '.join(missing)}; "
            f"add them, or name the source column in the sites file "
            f"(e.g. category_field = \"...\")"
        )
        raise MissingColumnsError(msg)
    families = {_FAMILY.get(t, t) for t in gdf.geom_type.dropna().unique()}
    wrong = sorted(f for f in families if f not in schema.geometry)
    if wrong:
        bad = gdf.index[gdf.geom_type.map(lambda t: _FAMILY.get(t, t) in wrong)]
        msg = (
            f"layer {label!r} ({kind}) must hold {' or '.join(schema.geometry)} geometries "
            f"but features {feature_ids(bad)} are {', '.join(wrong)}; split the layer by geometry "
            f"type (QGIS: Vector > Geometry Tools > Multipart to singleparts / "
            f"'Split vector layer' on $geometry_type) and pass the right part"
        )
        raise GeometryError(msg)
    out = gpd.GeoDataFrame(index=gdf.index, geometry=gdf.geometry.values, crs=gdf.crs)
    front = {}
    for col, dtype in schema.columns.items():
        if col in gdf.columns:
            front[col] = _coerce(gdf[col], dtype, label, col)
        else:
            front[col] = _empty_column(dtype, len(gdf)).set_axis(gdf.index)
    extra = [c for c in gdf.columns if c not in schema.columns and c != gdf.geometry.name]
    data = pd.DataFrame(front, index=gdf.index)
    out = gpd.GeoDataFrame(
        pd.concat([data, out[["geometry"]], gdf[extra]], axis=1), geometry="geometry", crs=gdf.crs
    )
    return out


def _coerce(values: pd.Series, dtype: str, label: str, col: str) -> pd.Series:
    try:
        if dtype == "float":
            return pd.to_numeric(values, errors="raise").astype("float64")
        if dtype == "bool":
            return values.map(lambda v: bool(v) if pd.notna(v) else False).astype(bool)
        if dtype == "flag":  # yes/no/true/false/1/0 and the tag's own values (cpted.load.values)
            reading = read_flags(values, col)
            warn_unreadable({col: reading.unreadable}, layer=label, stacklevel=5)
            return reading.values
        if dtype == "access":  # OSM access values, normalised (cpted.load.values); None = unknown
            reading = read_categories(values, "access")
            warn_unreadable({col: reading.unreadable}, layer=label, stacklevel=5)
            return reading.values
        if dtype == "datetime":
            return pd.to_datetime(values, errors="raise")
    except (ValueError, TypeError) as exc:
        msg = f"column {col!r} of layer {label!r} must be {dtype}: {exc}; fix or drop the values"
        raise InputError(msg) from None
    return values.astype("object").where(values.notna(), None)
