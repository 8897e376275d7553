"""Coordinate reference systems: checks, automatic choice, and the one place that reprojects."""

from __future__ import annotations

import logging

import geopandas as gpd
from pyproj import CRS
from pyproj.aoi import AreaOfInterest
from pyproj.database import query_utm_crs_info

from cpted.errors import CRSError

__all__ = ["is_projected", "require_projected", "require_same_crs", "choose_crs", "to_crs"]

log = logging.getLogger(__name__)


def is_projected(crs) -> bool:
    """True when ``crs`` is projected with metre units.

    Examples
    --------
    >>> is_projected("EPSG:2154"), is_projected("EPSG:4326"), is_projected(None)
    (True, False, False)
    """
    if crs is None:
        return False
    crs = CRS.from_user_input(crs)
    if not crs.is_projected:
        return False
    units = {axis.unit_name for axis in crs.axis_info}
    return units <= {"metre", "meter", "m"}


def require_projected(crs, *, layer: str) -> CRS:
    """Return ``crs`` as a pyproj CRS, or raise :class:`CRSError` naming the layer and the fix.

    Examples
    --------
    >>> require_projected("EPSG:2154", layer="site").to_epsg()
    2154
    """
    if crs is None:
        msg = (
            f"layer {layer!r} has no CRS; declare it (geopandas: gdf.set_crs(...); "
            f"QGIS: Layer > Set CRS; shapefiles: add the .prj file)"
        )
        raise CRSError(msg)
    crs = CRS.from_user_input(crs)
    if not is_projected(crs):
        msg = (
            f"layer {layer!r} is in {crs.name!r}, which is not a projected metre-based CRS; "
            f"reproject it to a metre-based CRS, e.g. gdf.to_crs('EPSG:2154') (Lambert-93, France) "
            f"or gdf.to_crs(gdf.estimate_utm_crs())"
        )
        raise CRSError(msg)
    return crs


def require_same_crs(*layers: tuple[str, gpd.GeoDataFrame | gpd.GeoSeries]) -> CRS:
    """Check that named layers share one projected CRS and return it.

    Examples
    --------
    >>> import geopandas as gpd
    >>> a = gpd.GeoSeries([], crs=2154)
    >>> require_same_crs(("a", a), ("b", a)).to_epsg()
    2154
    """
    first_name, first = layers[0]
    crs = require_projected(first.crs, layer=first_name)
    for name, gdf in layers[1:]:
        other = require_projected(gdf.crs, layer=name)
        if other != crs:
            msg = (
                f"layers {first_name!r} ({crs.name}) and {name!r} ({other.name}) are in "
                f"different CRSs; reproject {name!r} with .to_crs({first_name}.crs), "
                f"or build a Site, which reprojects every layer to the site CRS"
            )
            raise CRSError(msg)
    return crs


def choose_crs(geometry_lonlat) -> CRS:
    """Choose a UTM CRS for a shape given in longitude/latitude (EPSG:4326).

    Examples
    --------
    >>> from shapely import Point
    >>> choose_crs(Point(-1.55, 47.21)).to_epsg()
    32630
    """
    xmin, ymin, xmax, ymax = geometry_lonlat.bounds
    infos = query_utm_crs_info(
        datum_name="WGS 84",
        area_of_interest=AreaOfInterest(xmin, ymin, xmax, ymax),
    )
    if not infos:
        msg = f"no UTM zone covers the bounds {geometry_lonlat.bounds}; set crs in the sites file"
        raise CRSError(msg)
    return CRS.from_epsg(infos[0].code)


def to_crs(gdf: gpd.GeoDataFrame, crs, *, layer: str) -> gpd.GeoDataFrame:
    """Reproject a layer to ``crs``: the one place in cpted that reprojects.

    A layer with no CRS is rejected; a layer already in ``crs`` is returned as a copy.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely import Point
    >>> g = gpd.GeoDataFrame(geometry=[Point(-1.55, 47.21)], crs=4326)
    >>> round(to_crs(g, 2154, layer="demo").geometry.x.iloc[0])
    355796
    """
    if gdf.crs is None:
        require_projected(None, layer=layer)
    target = CRS.from_user_input(crs)
    if CRS.from_user_input(gdf.crs) == target:
        return gdf.copy()
    log.info("reprojecting layer %r from %s to %s", layer, gdf.crs.name, target.name)
    return gdf.to_crs(target)
