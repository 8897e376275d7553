"""Read OSM files (.osm, .osm.gz, .osm.bz2, .osm.pbf) with GDAL's OSM driver.

GDAL assembles way and multipolygon geometries; cpted keeps every tag
(see ``osmconf.ini``) and applies its own rules in :mod:`cpted.load.osm_tags`.
"""

from __future__ import annotations

import bz2
import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio

from cpted.errors import CorruptFileError, DataNotFoundError
from cpted.load.osm_header import osm_header_bounds
from cpted.load.osm_tags import osm_layers, parse_hstore
from cpted.load.vector import check_readable

__all__ = ["OSM_SUFFIXES", "is_osm_file", "read_osm_raw", "read_osm", "osm_extent"]

OSM_SUFFIXES = (".osm", ".osm.gz", ".osm.bz2", ".osm.pbf", ".pbf")
_CONFIG = Path(__file__).with_name("osmconf.ini")
_LAYERS = {"points": "node", "lines": "way", "multipolygons": None}


def is_osm_file(path: str | Path) -> bool:
    """True for the OSM file suffixes cpted reads.

    Examples
    --------
    >>> is_osm_file("a/lorient.osm.gz"), is_osm_file("b.gpkg")
    (True, False)
    """
    return str(path).lower().endswith(OSM_SUFFIXES)


@contextlib.contextmanager
def _gdal_path(path: Path) -> Iterator[str]:
    """A path GDAL's OSM driver can open: /vsigzip/ for .gz, a temp copy for .bz2."""
    name = path.name.lower()
    if name.endswith(".gz"):
        yield f"/vsigzip/{path}"
    elif name.endswith(".bz2"):
        with tempfile.TemporaryDirectory(prefix="cpted-osm-") as tmp:
            target = Path(tmp) / path.name[: -len(".bz2")]
            try:
                with bz2.open(path, "rb") as src, open(target, "wb") as dst:
                    shutil.copyfileobj(src, dst)
            except (OSError, EOFError) as exc:
                msg = f"OSM file {str(path)!r} is not a readable bzip2 file ({exc}); download it again"
                raise CorruptFileError(msg) from None
            yield str(target)
    else:
        yield str(path)


@contextlib.contextmanager
def _osm_config() -> Iterator[None]:
    previous = pyogrio.get_gdal_config_option("OSM_CONFIG_FILE")
    pyogrio.set_gdal_config_options({"OSM_CONFIG_FILE": str(_CONFIG)})
    try:
        yield
    finally:
        pyogrio.set_gdal_config_options({"OSM_CONFIG_FILE": previous})


def read_osm_raw(path: str | Path) -> gpd.GeoDataFrame:
    """Read every tagged node, way and multipolygon of an OSM file.

    Parameters
    ----------
    path
        An ``.osm``, ``.osm.gz``, ``.osm.bz2`` or ``.osm.pbf`` file.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``osm_type`` (node / way / relation), ``osm_id`` (int), ``tags`` (dict) and
        the geometry, in EPSG:4326. Closed ways with area tags and multipolygon relations
        are polygons, other ways lines.

    Examples
    --------
    >>> raw = read_osm_raw(DATA / "france/le_mans_centre.osm.pbf")
    >>> sorted(raw["osm_type"].unique())
    ['node', 'relation', 'way']
    """
    path = Path(path)
    if not path.exists():
        msg = f"OSM file {str(path)!r} does not exist; check the path or run `cpted fetch`"
        raise DataNotFoundError(msg)
    check_readable(path, what="OSM file")  # a folder or an unreadable file: its own error, not "corrupt"
    frames = []
    with _gdal_path(path) as source, _osm_config():
        for layer, osm_type in _LAYERS.items():
            try:
                df = pyogrio.read_dataframe(source, layer=layer)
            except Exception as exc:  # pyogrio raises DataSourceError and friends
                msg = (
                    f"OSM file {str(path)!r} cannot be read (layer {layer}: {exc}); the file "
                    f"is truncated or not OSM data: download or export it again"
                )
                raise CorruptFileError(msg) from None
            if osm_type is None:  # multipolygons: from a closed way or a relation
                way = df["osm_way_id"].notna()
                types = way.map({True: "way", False: "relation"})
                ids = df["osm_way_id"].where(way, df["osm_id"])
            else:
                types = pd.Series(osm_type, index=df.index)
                ids = df["osm_id"]
            frames.append(
                gpd.GeoDataFrame(
                    {
                        "osm_type": types.to_numpy(dtype=object),
                        "osm_id": pd.to_numeric(ids).astype("int64").to_numpy(),
                        "tags": df["all_tags"].map(parse_hstore).to_numpy(dtype=object),
                    },
                    geometry=df.geometry.values,
                    crs=df.crs or "EPSG:4326",
                )
            )
    raw = pd.concat(frames, ignore_index=True)
    if raw.empty:
        msg = f"OSM file {str(path)!r} holds no tagged features; check the extract's area"
        raise CorruptFileError(msg)
    return gpd.GeoDataFrame(raw, geometry="geometry", crs="EPSG:4326")


def read_osm(path: str | Path) -> dict[str, gpd.GeoDataFrame]:
    """Read an OSM file into canonical layers (EPSG:4326), see :mod:`cpted.load.osm_tags`.

    Examples
    --------
    >>> layers = read_osm(DATA / "france/le_mans_centre.osm.pbf")
    >>> sorted(layers)
    ['barriers', 'buildings', 'entrances', 'lamps', 'landuse', 'pois', 'streets', 'traffic_land', 'trees', 'water']
    """
    return osm_layers(read_osm_raw(path), name=Path(path).name)


def osm_extent(path: str | Path) -> dict:
    """Where an OSM file holds data, as facts of its layers: ``osm_bounds``, the lon/lat box its
    header declares (:func:`osm_header_bounds`); no fact when it declares none. (The box of its
    features is no substitute: ways and relations reach far beyond where an extract was cut.)

    Examples
    --------
    >>> osm_extent(DATA / "france/le_mans_centre.osm.pbf")
    {'osm_bounds': [0.19768, 48.00928, 0.20574, 48.01281]}
    >>> osm_extent(DATA / "france/lorient_centre.osm.pbf")
    {}
    """
    bounds = osm_header_bounds(path)
    return {} if bounds is None else {"osm_bounds": [float(v) for v in bounds]}
