"""Write audit outputs: one GeoPackage per site and the batch summary CSV, atomically."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio

from cpted import __version__
from cpted.atomic import atomic_path
from cpted.report.styles import write_styles

__all__ = ["write_audit", "write_summary", "context_layers", "CONTEXT_LAYERS"]


#: The input layers written beside the results (as the audit used them), and the columns kept.
CONTEXT_LAYERS = {
    "buildings": ("height_m", "height_source", "levels", "kind"),
    "pois": ("category", "name", "source_category", "opening_hours", "night"),
    "lamps": ("height_m",),
    "water": ("kind",),
}


def context_layers(result) -> dict[str, gpd.GeoDataFrame]:
    """The site's input layers that give the results their context in QGIS: ``buildings`` with the
    heights used and where each comes from (``height_source``), ``pois`` with their category and
    ``night`` (open after 20:00 by their opening hours; empty when unknown), ``lamps`` and ``water``,
    over the site and its context ring. A layer the audit already writes (``lamps``, with the
    light of each lamp) or the site does not have is left out.

    Examples
    --------
    >>> from shapely import LineString, Point, box
    >>> from cpted.pipeline import audit
    >>> from cpted.prepare.site import Site
    >>> streets = gpd.GeoDataFrame({"walk_kind": ["street"]}, geometry=[LineString([(0, 50), (100, 50)])], crs=2154)
    >>> pois = gpd.GeoDataFrame({"category": ["shop"], "opening_hours": ["Mo-Su 08:00-23:00"]},
    ...                         geometry=[Point(20, 55)], crs=2154)
    >>> site = Site.from_layers("demo", box(0, 0, 100, 100), crs=2154, layers={"streets": streets, "pois": pois},
    ...                         cell_size=10)
    >>> layers = context_layers(audit(site, measures=["access_control"]))
    >>> list(layers), layers["pois"]["night"].tolist()
    (['pois'], ['yes'])
    """
    out = {}
    for kind, columns in CONTEXT_LAYERS.items():
        if kind in result.layers or kind not in result.site.layers or not len(result.site.layers[kind]):
            continue
        layer = result.site.layers[kind]
        if kind == "pois":
            from cpted.measure.activity import open_at_night

            hours = layer["opening_hours"] if "opening_hours" in layer else pd.Series(None, index=layer.index, dtype=object)
            night = open_at_night(hours)
            layer = layer.assign(opening_hours=hours,
                                 night=night.map(lambda v: "yes" if v is True else "no" if v is False else None))
        kept = [c for c in columns if c in layer]
        out[kind] = gpd.GeoDataFrame(layer[kept].reset_index(drop=True), geometry=layer.geometry.reset_index(drop=True),
                                     crs=layer.crs)
    return out


def _arrow_writes() -> bool:
    """Whether pyogrio writes through Arrow here (pyogrio 0.8+ on GDAL 3.8+; not Debian's GDAL 3.6
    under QGIS 3.22): the same layers, about twice as fast."""
    version = tuple(int(part) for part in pyogrio.__version__.split(".")[:2] if part.isdigit())
    return version >= (0, 8) and tuple(pyogrio.__gdal_version__) >= (3, 8)


@contextlib.contextmanager
def _unsynced_sqlite():
    """GDAL's SQLite (GeoPackage) writes without a disk sync at each commit, within the block: the
    file is a temporary one, synced once and renamed when complete (half the time of a site's
    GeoPackage, which waited on a dozen syncs)."""
    before = pyogrio.get_gdal_config_option("OGR_SQLITE_SYNCHRONOUS")
    pyogrio.set_gdal_config_options({"OGR_SQLITE_SYNCHRONOUS": "OFF"})
    try:
        yield
    finally:
        pyogrio.set_gdal_config_options({"OGR_SQLITE_SYNCHRONOUS": before})


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_audit(result, path: str | Path) -> Path:
    """Write an :class:`~cpted.pipeline.AuditResult`'s layers into one GeoPackage.

    The file is written beside ``path`` under a temporary name and renamed when complete,
    so a failure never leaves a partial GeoPackage (and an older one stays as it was).
    The data attribution is stored as dataset metadata and in the ``site`` layer. The input
    layers that give the results their context follow (:func:`context_layers`); every layer
    with a default style carries it in ``layer_styles``.
    """
    path = Path(path)
    metadata = {
        "generator": f"cpted {__version__}",
        "site_id": result.site.id,
        "attribution": " | ".join(result.site.attribution),
    }
    layers = {**result.layers, **context_layers(result)}
    arrow = _arrow_writes()
    with atomic_path(path) as tmp, _unsynced_sqlite():
        for i, (name, gdf) in enumerate(layers.items()):
            pyogrio.write_dataframe(
                gdf,
                tmp,
                layer=name,
                driver="GPKG",
                append=i > 0,
                metadata=metadata if i == 0 else None,
                promote_to_multi=False,
                **({"use_arrow": True} if arrow else {}),  # pyogrio 0.7 takes an unknown keyword for a GDAL option
            )
        write_styles(tmp, list(layers))  # QGIS opens the result layers styled
        _fsync(tmp)  # once, before the rename, instead of at each layer's commit
    return path


def write_summary(summary: pd.DataFrame, path: str | Path) -> Path:
    """Write the batch summary (one row per site) as UTF-8 CSV, atomically."""
    with atomic_path(path) as tmp:
        summary.to_csv(tmp, index=False, encoding="utf-8")
    return Path(path)
