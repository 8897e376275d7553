"""How complete a site's data is: feature counts, network coverage, buildings against a reference."""

from __future__ import annotations

import numpy as np
import shapely

from cpted.config import COVERAGE_DISTANCE
from cpted.load.schema import LAYER_KINDS
from cpted.prepare.site import Site

__all__ = ["completeness", "network_coverage", "building_completeness", "source_warnings"]


def network_coverage(site: Site, *, distance: float = COVERAGE_DISTANCE) -> tuple[float, str | None]:
    """Share of grid cells within ``distance`` metres of a walkable edge.

    Returns
    -------
    tuple
        The share in [0, 1] and None, or NaN and the reason it cannot be computed.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely import box, LineString
    >>> s = gpd.GeoDataFrame(geometry=[LineString([(0, 5), (200, 5)])], crs=2154)
    >>> site = Site.from_layers("demo", box(0, 0, 200, 100), crs=2154,
    ...                         layers={"streets": s}, cell_size=10)
    >>> network_coverage(site, distance=20)  # cells within the 30 m walking reach: y = 5..35; 5..25 within 20 m
    (0.75, None)
    """
    if not site.has("streets"):
        return np.nan, "no streets layer given"
    cells = site.grid
    if cells.empty:
        return np.nan, "the site has no open-space cell"
    streets = site.layer("streets")
    if streets.empty:
        return 0.0, "no walkable street in the site's area"
    centres = shapely.points(cells["x"].to_numpy(), cells["y"].to_numpy())
    hit, _ = shapely.STRtree(streets.geometry.values).query(centres, predicate="dwithin", distance=distance)
    return len(np.unique(hit)) / len(cells), None


def building_completeness(site: Site) -> tuple[float, float, str | None]:
    """Loaded buildings in the site divided by the reference count in the site.

    The reference count sums each reference polygon's ``n_buildings`` weighted by the share
    of its area inside the site. Loaded buildings are counted by their centroid.

    Returns
    -------
    tuple
        (ratio, reference count, reason when the ratio is NaN)
    """
    if site.reference_buildings is None:
        return np.nan, np.nan, "no reference building grid given"
    ref = site.reference_buildings
    geoms = ref.geometry.values
    share = shapely.area(shapely.intersection(geoms, site.boundary)) / shapely.area(geoms)
    expected = float(np.nansum(ref["n_buildings"].to_numpy(dtype=float) * share))
    if expected <= 0:
        return np.nan, expected, "the reference grid counts no building in the site"
    loaded = 0
    if site.has("buildings") and len(site.layers["buildings"]):
        centroids = shapely.centroid(site.layers["buildings"].geometry.values)
        shapely.prepare(site.boundary)
        loaded = int(shapely.contains(site.boundary, centroids).sum())
    return loaded / expected, expected, None


def completeness(site: Site) -> dict[str, object]:
    """Completeness figures of a site, one flat dict (the completeness columns of the outputs).

    Keys: ``n_<kind>`` for every layer kind (features meeting the site; NaN when the kind is
    unknown: no source, or a source with nothing of that kind in the site's area; 0 when it is
    known empty), ``n_cells``, ``network_coverage``, ``building_completeness``,
    ``reference_buildings``, and ``notes``: the reasons behind NaNs, then the warnings of the
    sources read (``Site.sources``: duplicates dropped, unreadable heights...; see
    :func:`cpted.load.layers.tidy_layer`), each once, ``; ``-separated.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely import box
    >>> site = Site.from_layers("demo", box(0, 0, 50, 50), crs=2154, cell_size=10,
    ...                         sources={"lamps": [{"warnings": ["layer 'l': 2 implausible height values"]}]})
    >>> completeness(site)["notes"].split("; ")[-1]
    "layer 'l': 2 implausible height values"
    """
    out: dict[str, object] = {}
    notes = []
    for kind in LAYER_KINDS:
        # unknown (no source, or a source with nothing of that kind in the area): NaN, not a counted zero
        known = site.layer_state(kind)[0] != "unknown"
        out[f"n_{kind}"] = len(site.layer(kind, within_site=True)) if known else np.nan
    out["n_cells"] = len(site.grid)
    cov, why = network_coverage(site)
    out["network_coverage"] = cov
    if why:
        notes.append(f"network coverage: {why}")
    ratio, expected, why = building_completeness(site)
    out["building_completeness"] = ratio
    out["reference_buildings"] = expected
    if why:
        notes.append(f"building completeness: {why}")
    missing = [k for k in LAYER_KINDS if not site.has(k)]
    if missing:
        fetchable = [k for k in missing if k != "reports"]  # what `cpted fetch` brings from OpenStreetMap
        hint = f" (`cpted fetch` fills {', '.join(fetchable)} from OpenStreetMap)" if fetchable else ""
        notes.append(f"no source for {', '.join(missing)}{hint}")
    notes += source_warnings(site)
    out["notes"] = "; ".join(dict.fromkeys(notes))
    return out


def source_warnings(site: Site) -> list[str]:
    """The warnings of every source read for the site (``info["warnings"]`` of the loaders), each once."""
    found = [w for facts in site.sources.values() for info in facts for w in info.get("warnings", ())]
    return list(dict.fromkeys(found))
