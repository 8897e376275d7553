"""Read vector files (GeoPackage, GeoJSON, Shapefile, FlatGeobuf...) through pyogrio."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pyogrio
import shapely

from cpted.errors import CorruptFileError, CRSError, DataNotFoundError

__all__ = ["read_vector"]


def read_vector(path: str | Path, *, layer: str | None = None, where: str | None = None) -> gpd.GeoDataFrame:
    """Read one layer of a vector file, with errors that say how to fix the file.

    Z and M coordinates are dropped. The CRS must be declared in the file.

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
    path = Path(path)
    if not path.exists():
        msg = f"file {str(path)!r} does not exist; check the path (relative paths resolve against the data directory)"
        raise DataNotFoundError(msg)
    try:
        gdf = pyogrio.read_dataframe(path, layer=layer, where=where)
    except Exception as exc:  # pyogrio's DataSourceError, DataLayerError, GDAL errors
        msg = (
            f"file {str(path)!r}{f' (layer {layer!r})' if layer else ''} cannot be read: {exc}. "
            f"It is corrupt, truncated or not a vector file: export it again "
            f"(QGIS: Export > Save Features As... GeoPackage)"
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
    return gdf
