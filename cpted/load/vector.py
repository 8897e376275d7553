"""Read vector files (GeoPackage, GeoJSON, Shapefile, FlatGeobuf...) through pyogrio."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pyogrio
import shapely

from cpted.errors import (
    CorruptFileError,
    CRSError,
    DataNotFoundError,
    GeometryError,
    NotAFileError,
    UnreadableFileError,
    feature_ids,
)

__all__ = ["read_vector", "check_readable", "looks_like_degrees"]

_VECTOR_SUFFIXES = (".gpkg", ".geojson", ".json", ".shp", ".fgb", ".gml", ".kml", ".csv", ".gdb", ".osm", ".pbf")


def check_readable(path: str | Path, *, what: str = "file") -> Path:
    """Refuse, each with its own error, a path that does not exist, a folder and a file that
    this user may not read.

    A folder that GDAL reads as one dataset (a FileGDB ``.gdb``, a folder of shapefiles) is
    accepted when ``what`` is a vector file.

    Examples
    --------
    >>> import tempfile
    >>> check_readable(tempfile.mkdtemp(), what="buildings layer")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    cpted.errors.NotAFileError: buildings layer '...' is a folder, not a file; ...
    """
    path = Path(path)
    if not path.exists():
        msg = f"{what} {str(path)!r} does not exist; check the path (relative paths resolve against the data directory)"
        raise DataNotFoundError(msg)
    if path.is_dir():
        if path.suffix.lower() == ".gdb" or any(path.glob("*.shp")):
            return path
        inside = sorted(p.name for p in path.iterdir() if p.suffix.lower() in _VECTOR_SUFFIXES)[:5]
        hint = f"; it holds {', '.join(inside)}" if inside else ""
        msg = f"{what} {str(path)!r} is a folder, not a file; give the path of the file inside it{hint}"
        raise NotAFileError(msg)
    try:
        with open(path, "rb") as f:
            f.read(1)
    except PermissionError:
        msg = (f"{what} {str(path)!r} cannot be read: permission denied for this user; give read access "
               f"(chmod a+r {str(path)!r}) or copy the file somewhere readable")
        raise UnreadableFileError(msg) from None
    except IsADirectoryError:  # pragma: no cover - raced
        msg = f"{what} {str(path)!r} is a folder, not a file; give the path of the file inside it"
        raise NotAFileError(msg) from None
    return path


def looks_like_degrees(bounds, crs) -> bool:
    """True when ``bounds`` labelled with the projected ``crs`` are most likely longitudes and
    latitudes: they are within [-180, 180] x [-90, 90] and, read as degrees, fall in the area
    where ``crs`` is used, while read as metres of ``crs`` they fall outside it.

    Examples
    --------
    >>> looks_like_degrees((-1.56, 47.20, -1.54, 47.22), "EPSG:2154")  # Nantes in degrees
    True
    >>> looks_like_degrees((355000, 6688000, 355400, 6688400), "EPSG:2154")
    False
    """
    from pyproj import CRS, Transformer

    crs = CRS.from_user_input(crs)
    xmin, ymin, xmax, ymax = (float(b) for b in bounds)
    if not crs.is_projected or not (-180 <= xmin <= xmax <= 180 and -90 <= ymin <= ymax <= 90):
        return False
    area = crs.area_of_use
    if area is None:
        return False
    margin = 1.0  # degrees
    as_degrees = (area.west - margin <= xmin and xmax <= area.east + margin
                  and area.south - margin <= ymin and ymax <= area.north + margin)
    lon, lat = Transformer.from_crs(crs, crs.geodetic_crs, always_xy=True).transform((xmin + xmax) / 2,
                                                                                     (ymin + ymax) / 2)
    as_metres = area.west <= lon <= area.east and area.south <= lat <= area.north
    return as_degrees and not as_metres


def _bad_geometries(path: Path, layer, where) -> list[int]:
    """Features whose geometry GEOS cannot build (e.g. an unclosed polygon ring)."""
    _, _, wkb, _ = pyogrio.raw.read(path, layer=layer, where=where, read_geometry=True, columns=[])
    parsed = shapely.from_wkb(wkb, on_invalid="ignore")
    return [i for i, (raw, geom) in enumerate(zip(wkb, parsed, strict=True)) if raw is not None and geom is None]


def read_vector(path: str | Path, *, layer: str | None = None, where: str | None = None) -> gpd.GeoDataFrame:
    """Read one layer of a vector file, with errors that say how to fix the file.

    Z and M coordinates are dropped. The CRS must be declared in the file, and coordinates
    that look like degrees in a projected CRS are refused.

    Parameters
    ----------
    path
        Any file GDAL's vector drivers read.
    layer
        Layer name for multi-layer files (GeoPackage); the first layer by default.
    where
        An OGR SQL ``WHERE`` clause, e.g. ``"n_buildings > 0"``.

    Returns
    -------
    geopandas.GeoDataFrame

    Examples
    --------
    >>> b = read_vector(DATA / "nantes/ile_de_nantes_bdtopo_buildings.geojson")
    >>> b.crs.to_epsg(), len(b)
    (2154, 1543)
    """
    path = check_readable(path)
    named = f"{str(path)!r}{f' (layer {layer!r})' if layer else ''}"
    try:
        gdf = pyogrio.read_dataframe(path, layer=layer, where=where)
    except shapely.errors.GEOSException as exc:  # GDAL read the file, GEOS cannot build a geometry
        bad = _bad_geometries(path, layer, where)
        which = f"features {feature_ids(bad)}" if bad else "a feature"
        msg = (
            f"file {named}: {which} have a geometry that cannot be built ({exc}); "
            f"a polygon ring must end where it starts and have 4 positions or more: correct these features' "
            f"coordinates, or repair the layer (QGIS: Vector > Geometry Tools > Fix Geometries) and save it"
        )
        raise GeometryError(msg) from None
    except Exception as exc:  # pyogrio's DataSourceError, DataLayerError, GDAL errors
        text = str(exc)
        if "GeoJSON" in text and ("line" in text or "JSON" in text):
            msg = (f"file {named} is not valid GeoJSON: {text}. Fix the JSON there (a bracket, comma or quote "
                   f"missing, or a truncated file), or export the layer again")
        else:
            msg = (
                f"file {named} cannot be read: {text}. It is corrupt, truncated or not a vector file: export it "
                f"again (QGIS: Export > Save Features As... GeoPackage)"
            )
        raise CorruptFileError(msg) from None
    if gdf.crs is None:
        msg = (
            f"file {str(path)!r} declares no CRS; declare it (QGIS: Layer > Set CRS then save; "
            f"shapefiles: add the .prj; geopandas: gdf.set_crs(...).to_file(...))"
        )
        raise CRSError(msg)
    if shapely.has_z(gdf.geometry.values).any():
        gdf = gdf.set_geometry(shapely.force_2d(gdf.geometry.values))
    bounds = gdf.total_bounds if len(gdf) else None
    if bounds is not None and all(map(_finite, bounds)) and looks_like_degrees(bounds, gdf.crs):
        rounded = [round(float(b), 4) for b in bounds]
        msg = (
            f"file {named} is labelled {gdf.crs.to_string()} ({gdf.crs.name}), but its coordinates {rounded} "
            f"look like degrees of longitude and latitude: it is most likely in EPSG:4326. Declare that CRS "
            f"(QGIS: Layer > Set CRS > EPSG:4326 then save; geopandas: "
            f"gdf.set_crs(4326, allow_override=True).to_file(...)), or reproject the data for real"
        )
        raise CRSError(msg)
    return gdf


def _finite(v) -> bool:
    return v == v and abs(v) != float("inf")  # noqa: PLR0124 - NaN test without numpy
