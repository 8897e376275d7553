"""Read any supported source into the canonical layer of a given kind."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from cpted.config import POI_CATEGORIES, REPORT_CATEGORIES
from cpted.errors import InputError, MissingColumnsError
from cpted.load.graph import is_graphml_file, read_graphml
from cpted.load.heights import ISSUE_COLUMN, building_heights, read_heights
from cpted.load.nantes import BDTOPO_HEIGHT_FIELDS, BDTOPO_LEVELS_FIELDS, nantes_category
from cpted.load.osm import is_osm_file, osm_extent, read_osm
from cpted.load.schema import LAYER_KINDS, conform
from cpted.load.vector import check_readable, read_vector
from cpted.prepare.clean import check_geometries, layer_hygiene

__all__ = ["read_layer", "as_layer", "tidy_layer", "LAYER_OPTIONS", "FRAME_OPTIONS"]

#: Options a layer may take in the sites file or in :func:`read_layer`.
LAYER_OPTIONS = {
    "layer": "layer name inside a multi-layer file (GeoPackage)",
    "where": "OGR SQL filter, e.g. \"n_buildings > 0\"",
    "fields": "table canonical column -> source column, e.g. {height_m = \"H\"}",
    "height_field": "buildings, barriers, lamps, trees: source column of heights (12, \"12.5 m\", \"40 ft\"...)",
    "levels_field": "buildings: source column of storey counts (4, \"R+4\"...)",
    "category": "pois / reports: one category for every feature (e.g. \"waste\")",
    "category_field": "pois / reports: source column holding the category",
    "category_map": "pois / reports: table source value -> category",
    "date_field": "reports: source column of observation dates",
    "repair": "true to drop empty and fix invalid geometries instead of failing",
    "attribution": "attribution text carried into outputs",
}


def read_layer(path: str | Path, kind: str, **options: Any) -> tuple[gpd.GeoDataFrame, dict]:
    """Read a file into the canonical layer ``kind``.

    Parameters
    ----------
    path
        A vector file, an OSM file (the layer of that kind is taken from it) or, for
        ``streets``, an OSMnx GraphML file.
    kind
        One of :data:`cpted.load.schema.LAYER_KINDS`.
    **options
        See :data:`LAYER_OPTIONS`.

    Returns
    -------
    tuple
        The canonical GeoDataFrame (in the file's CRS) and a dict of facts about the read
        (``source``, ``format``, ``dropped_empty``, ``repaired_invalid``, and ``warnings``: the
        layer's hygiene warnings, see :func:`tidy_layer`).

    Examples
    --------
    >>> b, info = read_layer(DATA / "nantes/ile_de_nantes_bdtopo_buildings.geojson",
    ...                      "buildings")
    >>> info["format"], int((b["height_source"] == "bdtopo").sum()), int(b["height_m"].isna().sum())
    ('bdtopo', 1508, 35)
    """
    _check(kind, options, LAYER_OPTIONS)
    path = check_readable(path, what=f"{kind} layer")  # a folder or an unreadable file: its own error
    name = f"{kind} ({path.name})"
    info: dict[str, Any] = {"source": str(path)}
    if is_osm_file(path):
        gdf, info["format"] = read_osm(path)[kind], "osm"
        info.update(osm_extent(path))
        repair = options.get("repair", True)  # OSM topology is often imperfect
    elif is_graphml_file(path):
        if kind != "streets":
            msg = f"GraphML file {str(path)!r} holds streets only, not {kind}; give a {kind} file"
            raise InputError(msg)
        gdf, info["format"], repair = read_graphml(path), "graphml", options.get("repair", False)
    else:
        gdf = read_vector(path, layer=options.get("layer"), where=options.get("where"))
        frame_options = {k: v for k, v in options.items() if k in FRAME_OPTIONS}
        gdf, more = as_layer(gdf, kind, name=name, **frame_options)
        info.update(more)
        return gdf, info
    gdf, counts = check_geometries(gdf, layer=name, repair=repair)
    info.update(counts)
    return tidy_layer(gdf, kind, name=name, info=info)


#: The options of :data:`LAYER_OPTIONS` that apply to a GeoDataFrame already read.
FRAME_OPTIONS = ("fields", "height_field", "levels_field", "category", "category_field", "category_map", "date_field",
                 "repair")


def as_layer(gdf: gpd.GeoDataFrame, kind: str, *, name: str | None = None, **options: Any) -> tuple[gpd.GeoDataFrame, dict]:
    """Map a GeoDataFrame's own columns onto the canonical layer ``kind``.

    What :func:`read_layer` does after reading a vector file, for frames that come from
    elsewhere (a QGIS layer, a notebook). The caller's frame is not modified.

    Parameters
    ----------
    gdf
        The features, with a CRS.
    kind
        One of :data:`cpted.load.schema.LAYER_KINDS`.
    name
        How to name the layer in messages (e.g. the QGIS layer's name).
    **options
        Those of :data:`LAYER_OPTIONS` listed in :data:`FRAME_OPTIONS`, e.g. ``height_field``.

    Returns
    -------
    tuple
        The canonical GeoDataFrame and facts about it (``format``, ``dropped_empty``,
        ``repaired_invalid``, ``warnings``).

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely import box
    >>> b = gpd.GeoDataFrame({"H": [12.0]}, geometry=[box(0, 0, 10, 10)], crs=2154)
    >>> layer, info = as_layer(b, "buildings", height_field="H")
    >>> layer[["height_m", "height_source"]].values.tolist()
    [[12.0, 'attribute']]
    """
    _check(kind, options, FRAME_OPTIONS)
    name = name or kind
    info: dict[str, Any] = {}
    gdf, info["format"] = _adapt(gdf, kind, name, options)
    gdf, counts = check_geometries(gdf, layer=name, repair=options.get("repair", False))
    info.update(counts)
    return tidy_layer(gdf, kind, name=name, info=info)


def tidy_layer(
    gdf: gpd.GeoDataFrame, kind: str, *, name: str, info: dict | None = None
) -> tuple[gpd.GeoDataFrame, dict]:
    """Conform a layer to its schema and apply the input hygiene rules.

    The last step of every loader (:func:`read_layer`, :func:`as_layer`, the OSM files and
    fetch caches of a sites file): :func:`cpted.load.schema.conform`, then
    :func:`cpted.prepare.clean.layer_hygiene` (exact duplicates, streets drawn twice, walk
    kinds, height issues). Its warnings go to ``info["warnings"]``, which the site keeps in
    ``Site.sources`` and :func:`cpted.prepare.completeness.completeness` puts in the notes.

    Returns
    -------
    tuple
        The canonical layer, and ``info`` (a new dict) with ``warnings`` added.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely import box
    >>> b = gpd.GeoDataFrame({"height_m": [12.0, 12.0]}, geometry=[box(0, 0, 10, 10)] * 2, crs=2154)
    >>> layer, info = tidy_layer(b, "buildings", name="b.gpkg")
    >>> len(layer), info["warnings"]
    (1, ["layer 'b.gpkg': 1 exact duplicate feature (same geometry and attributes) dropped (features 1)"])
    """
    out, warnings = layer_hygiene(conform(gdf, kind, name=name), kind, name=name)
    info = dict(info or {})
    info["warnings"] = [*info.get("warnings", []), *warnings]
    return out, info


def _check(kind: str, options: Mapping[str, Any], allowed) -> None:
    unknown = set(options) - set(allowed)
    if unknown:
        msg = f"unknown option(s) {sorted(unknown)} for layer {kind!r}; use {sorted(allowed)}"
        raise InputError(msg)
    if kind not in LAYER_KINDS:
        msg = f"unknown layer kind {kind!r}; use one of {', '.join(LAYER_KINDS)}"
        raise InputError(msg)


def _rename(gdf: gpd.GeoDataFrame, fields: Mapping[str, str], name: str) -> gpd.GeoDataFrame:
    missing = [src for src in fields.values() if src not in gdf.columns]
    if missing:
        msg = (
            f"layer {name!r} has no column(s) {missing} named in 'fields'; "
            f"its columns are {[c for c in gdf.columns if c != gdf.geometry.name]}"
        )
        raise MissingColumnsError(msg)
    return gdf.rename(columns={src: dst for dst, src in fields.items()})


def _column(gdf, option: str | None, name: str, what: str) -> pd.Series | None:
    if option is None:
        return None
    if option not in gdf.columns:
        msg = (
            f"layer {name!r} has no column {option!r} for {what}; "
            f"its columns are {[c for c in gdf.columns if c != gdf.geometry.name]}"
        )
        raise MissingColumnsError(msg)
    return gdf[option]


def _adapt(gdf: gpd.GeoDataFrame, kind: str, name: str, options: dict) -> tuple[gpd.GeoDataFrame, str]:
    """Map a vector file's own columns onto the canonical ones."""
    gdf = _rename(gdf, options.get("fields", {}), name)
    fmt = "vector"
    if kind == "buildings":
        gdf, fmt = _building_heights(gdf, name, options)
    elif kind in {"barriers", "lamps", "trees"}:
        gdf = _heights(gdf, name, options)
    elif kind in {"pois", "reports"}:
        gdf, fmt = _categories(gdf, kind, name, options)
    if kind == "pois" and (gdf.geom_type != "Point").any():
        points = gdf.geometry.where(gdf.geom_type == "Point", gdf.geometry.representative_point())
        gdf = gdf.set_geometry(points)
    if kind == "reports":
        dates = _column(gdf, options.get("date_field"), name, "dates")
        if dates is not None:
            gdf = gdf.assign(date=pd.to_datetime(dates, errors="coerce"))
    return gdf, fmt


def _building_heights(gdf, name, options) -> tuple[gpd.GeoDataFrame, str]:
    """Heights of a vector layer: its height column, else its storey count column
    (× ``STOREY_HEIGHT``), both read as text too (:mod:`cpted.load.heights`)."""
    height = _column(gdf, options.get("height_field"), name, "heights")
    levels = _column(gdf, options.get("levels_field"), name, "storey counts")
    fmt, prefix = "vector", "attribute"
    if height is None:
        bd = next((f for f in BDTOPO_HEIGHT_FIELDS if f in gdf.columns), None)
        if bd is not None:
            height, fmt, prefix = gdf[bd], "bdtopo", "bdtopo"
        elif "height_m" in gdf.columns:
            height = gdf["height_m"]
    if levels is None:
        lv = next((f for f in BDTOPO_LEVELS_FIELDS if f in gdf.columns), None)
        levels = gdf[lv] if lv else gdf.get("levels")
    out = gdf.copy()
    if height is not None or levels is not None:
        chain = building_heights(height, levels, index=gdf.index, prefix=prefix)
        for col in chain.columns:
            out[col] = chain[col]
    return out, fmt


def _heights(gdf, name, options) -> gpd.GeoDataFrame:
    """Heights of barriers, lamps or trees: ``height_field`` or ``height_m``, read as text too."""
    height = _column(gdf, options.get("height_field"), name, "heights")
    if height is None and "height_m" in gdf.columns:
        height = gdf["height_m"]
    if height is None:
        return gdf
    out = gdf.copy()
    out["height_m"], out[ISSUE_COLUMN] = read_heights(height)
    return out


def _categories(gdf, kind, name, options) -> tuple[gpd.GeoDataFrame, str]:
    vocabulary = POI_CATEGORIES if kind == "pois" else REPORT_CATEGORIES
    fmt, own = "vector", options.get("category_field") == "category"  # own: the layer's category column is used
    if "category" in options:
        values = pd.Series(options["category"], index=gdf.index)
    elif options.get("category_field"):
        values = _column(gdf, options["category_field"], name, "categories").astype("object")
        if options.get("category_map"):
            values = values.map(options["category_map"]).fillna("other")
    elif kind == "pois" and {"LIBTHEME", "LIBCATEGORIE"} <= set(gdf.columns):
        values, fmt = nantes_category(gdf), "nantes_equipements"
    elif "category" in gdf.columns:
        values, own = gdf["category"], True
    else:
        msg = (
            f"layer {name!r} ({kind}) has no category: set category_field (and category_map) or "
            f"category = \"...\" for it in the sites file; categories are {', '.join(vocabulary)}"
        )
        raise MissingColumnsError(msg)
    values = pd.Series(values, index=gdf.index)
    bad = sorted(set(values.dropna()) - set(vocabulary))
    if bad and kind == "reports":  # observations are kept: unknown categories become "other"
        unknown = values.isin(bad)
        warnings.warn(
            f"layer {name!r}: {int(unknown.sum())} reports with categories outside the vocabulary "
            f"({', '.join(map(str, bad[:8]))}) were mapped to 'other'; map them with category_map",
            stacklevel=3,
        )
        values = values.where(~unknown, "other")
        bad = []
    if bad:
        msg = (
            f"layer {name!r} ({kind}) has categories outside the vocabulary: {bad[:8]}; map them "
            f"with category_map = {{...}} onto {', '.join(vocabulary)}"
        )
        raise InputError(msg)
    out = gdf.copy()
    if "category" in out.columns and not own:  # the layer's own column is kept, unless it is the one used
        out = out.drop(columns=["source_category"], errors="ignore").rename(columns={"category": "source_category"})
    out["category"] = values.where(values.notna(), "other")
    return out, fmt
