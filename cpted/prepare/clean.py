"""Geometry checks and repair, with errors that name the layer and the features."""

from __future__ import annotations

import geopandas as gpd
import shapely

from cpted.errors import GeometryError, feature_ids

__all__ = ["check_geometries"]


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
