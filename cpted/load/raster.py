"""Read rasters (GeoTIFF, ESRI ASCII grid, ... optionally gzip-compressed) through rasterio."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pyproj import CRS

from cpted.errors import CorruptFileError, CRSError, DataNotFoundError

__all__ = ["Raster", "read_raster", "is_raster_file"]

RASTER_SUFFIXES = (".tif", ".tiff", ".asc", ".asc.gz", ".tif.gz", ".vrt", ".img", ".nc")


def is_raster_file(path: str | Path) -> bool:
    """True for the raster suffixes cpted reads.

    Examples
    --------
    >>> is_raster_file("dem.asc.gz"), is_raster_file("b.gpkg")
    (True, False)
    """
    return str(path).lower().endswith(RASTER_SUFFIXES)


@dataclass(frozen=True)
class Raster:
    """A single-band raster in memory: values (NaN where no data), affine transform and CRS."""

    values: np.ndarray
    transform: object
    crs: CRS

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(xmin, ymin, xmax, ymax) in the raster CRS."""
        rows, cols = self.values.shape
        t = self.transform
        xs = [t.c, t.c + t.a * cols]
        ys = [t.f, t.f + t.e * rows]
        return min(xs), min(ys), max(xs), max(ys)


def _sidecar_crs(path: Path) -> CRS | None:
    """The CRS of a ``.prj`` beside a compressed grid (``dem.asc.gz`` -> ``dem.prj``)."""
    stem = path.name.split(".")[0]
    for candidate in (path.with_name(stem + ".prj"), path.with_name(path.name + ".prj")):
        if candidate.exists():
            return CRS.from_wkt(candidate.read_text())
    return None


def read_raster(path: str | Path, *, band: int = 1) -> Raster:
    """Read one band of a raster; gzip-compressed files (``.gz``) are read in place.

    Parameters
    ----------
    path
        A raster file. For ``name.asc.gz`` a ``name.prj`` beside it gives the CRS.
    band
        1-based band number.

    Returns
    -------
    Raster

    Examples
    --------
    >>> dem = read_raster(DATA / "rasters/dem_ancenis_15m_l93.asc.gz")
    >>> dem.values.shape, dem.crs.to_epsg()
    ((383, 514), 2154)
    """
    import rasterio  # heavy: imported when used

    path = Path(path)
    if not path.exists():
        msg = f"raster {str(path)!r} does not exist; check the path"
        raise DataNotFoundError(msg)
    source = f"/vsigzip/{path}" if path.name.lower().endswith(".gz") else str(path)
    try:
        with rasterio.open(source) as ds:
            values = ds.read(band, masked=True).astype("float64").filled(np.nan)
            transform, crs = ds.transform, ds.crs
    except Exception as exc:  # rasterio.errors.RasterioIOError and GDAL errors
        msg = f"raster {str(path)!r} cannot be read ({exc}); it is corrupt or not a raster: export it again"
        raise CorruptFileError(msg) from None
    crs = CRS.from_user_input(crs.to_wkt()) if crs is not None else _sidecar_crs(path)
    if crs is None:
        msg = f"raster {str(path)!r} declares no CRS; add a .prj file beside it or a CRS to the file"
        raise CRSError(msg)
    return Raster(values=values, transform=transform, crs=crs)
