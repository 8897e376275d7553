"""Building heights in the documented order of precedence."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely

from cpted.config import DEFAULT_BUILDING_HEIGHT, STOREY_HEIGHT
from cpted.load.heights import MAX_HEIGHT
from cpted.prepare.crs import require_same_crs

__all__ = ["assign_heights"]


def assign_heights(
    buildings: gpd.GeoDataFrame,
    *,
    reference: gpd.GeoDataFrame | None = None,
    default: float = DEFAULT_BUILDING_HEIGHT,
) -> gpd.GeoDataFrame:
    """Fill missing building heights along the documented chain; ``height_source`` says which.

    1. the building's own height (``osm:height``, ``attribute``, ``bdtopo``), and
    2. its storeys × :data:`~cpted.config.STOREY_HEIGHT` (``osm:levels``, ``attribute:levels``...),
       both read by the loader (:func:`cpted.load.heights.building_heights`); a storey count
       the loader left without height (a frame built by hand) is used here
       (``attribute:levels``);
    3. the height of the reference (BD TOPO) building that overlaps the footprint most
       (``bdtopo``);
    4. ``default`` (``height_source = "default"``).

    A height that is not above 0 m or is over :data:`~cpted.load.heights.MAX_HEIGHT` is
    implausible: it counts as unknown at every step (the loaders report such values in the
    layer's warnings), and so does an implausible reference height.

    Parameters
    ----------
    buildings
        Canonical buildings layer (projected CRS).
    reference
        Canonical buildings with heights (e.g. BD TOPO) in the same CRS.
    default
        Height in metres given to buildings with no other information.

    Returns
    -------
    geopandas.GeoDataFrame
        A copy with ``height_m`` and ``height_source`` filled everywhere.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely import box
    >>> b = gpd.GeoDataFrame({"height_m": [12.0, None], "height_source": ["osm:height", None]},
    ...                      geometry=[box(0, 0, 10, 10), box(20, 0, 30, 10)], crs=2154)
    >>> ref = gpd.GeoDataFrame({"height_m": [30.0]}, geometry=[box(21, 1, 29, 9)], crs=2154)
    >>> out = assign_heights(b, reference=ref)
    >>> out["height_m"].tolist(), out["height_source"].tolist()
    ([12.0, 30.0], ['osm:height', 'bdtopo'])
    """
    out = buildings.copy()
    height = _plausible(out["height_m"].to_numpy(dtype=float))
    source = out["height_source"].to_numpy(dtype=object).copy()
    source[np.isnan(height)] = None
    if "levels" in out.columns:
        from_levels = _plausible(out["levels"].to_numpy(dtype=float) * STOREY_HEIGHT)
        use = np.isnan(height) & ~np.isnan(from_levels)
        height[use] = from_levels[use]
        source[use] = "attribute:levels"
    missing = np.isnan(height)
    if reference is not None:
        require_same_crs(("buildings", out), ("reference buildings", reference))
    if reference is not None and missing.any() and len(reference):
        ref = reference[~np.isnan(_plausible(reference["height_m"].to_numpy(dtype=float)))]
        geoms = out.geometry.values[missing]
        left, right = ref.sindex.query(geoms, predicate="intersects")
        if len(left):
            overlap = shapely.area(shapely.intersection(geoms[left], ref.geometry.values[right]))
            best = {}
            for i, j, a in zip(left, right, overlap, strict=True):
                if a > 0 and a > best.get(i, (None, 0.0))[1]:
                    best[i] = (j, a)
            rows = np.flatnonzero(missing)
            for i, (j, _) in best.items():
                height[rows[i]] = ref["height_m"].iat[j]
                source[rows[i]] = "bdtopo"
    still = np.isnan(height)
    height[still] = default
    source[still] = "default"
    out["height_m"] = height
    out["height_source"] = source
    return out


def _plausible(height: np.ndarray) -> np.ndarray:
    """A copy of ``height`` with values not above 0 or over MAX_HEIGHT made NaN."""
    with np.errstate(invalid="ignore"):
        return np.where((height > 0) & (height <= MAX_HEIGHT), height, np.nan)
