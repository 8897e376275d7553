"""The measures that depend on buildings, kept only where the buildings are complete.

:func:`restrict_to_coverage` runs once, after the measures and before the scores
(:func:`cpted.pipeline.audit`): in the places where :func:`cpted.prepare.coverage.building_coverage`
finds the buildings layer incomplete, every measure that depends on buildings becomes NaN with
the reason, the layers drawn from them are cut to the covered places, and the site values are
computed again over the covered places only. :func:`scored_shares` then gives the share of the
site each principle was scored on. The rule: ``docs/methods/completeness.md``.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from cpted.measure.lighting import lighting_class
from cpted.measure.surveillance import blind_spots
from cpted.measure.territoriality import frontage, site_streets
from cpted.prepare.coverage import COVERAGE_COLUMNS
from cpted.prepare.grid import union_cells

__all__ = ["BUILDING_COLUMNS", "restrict_to_coverage", "scored_shares"]

#: Per principle, the cell columns that depend on the buildings layer. Visibility (isovists,
#: connectivity, eyes, and lamp light, which buildings block), boundaries (the public/private
#: edge follows the footprints) and ambiguous space (distance to façades). Cell depth from the
#: public network uses the streets only and is kept.
BUILDING_COLUMNS = {
    "surveillance": ("isovist_area", "isovist_perimeter", "isovist_compactness", "isovist_occlusivity",
                     "isovist_min_radial", "isovist_max_radial", "isovist_drift", "connectivity", "vga_mean_depth",
                     "vga_integration_hh", "eyes_15", "eyes_43",
                     "entrances_15", "entrances_43", "windows_15", "windows_43", "lux", "lit", "night_overseen"),
    "territoriality": ("boundary_marked", "boundary_distance", "ambiguous"),
}


def _nearest_complete(geoms, cells: gpd.GeoDataFrame, complete: np.ndarray) -> np.ndarray:
    """For each geometry, whether the analysis cell nearest to its representative point is complete."""
    if len(geoms) == 0 or len(cells) == 0:
        return np.zeros(len(geoms), dtype=bool)
    centres = shapely.points(cells["x"].to_numpy(dtype=float), cells["y"].to_numpy(dtype=float))
    points = shapely.point_on_surface(np.asarray(geoms, dtype=object))
    (gi, ci) = shapely.STRtree(centres).query_nearest(points, all_matches=False)
    out = np.zeros(len(geoms), dtype=bool)
    out[gi] = complete[ci]
    return out


def restrict_to_coverage(
    site,
    cells: gpd.GeoDataFrame,
    layers: dict[str, gpd.GeoDataFrame],
    summary: dict[str, object],
    coverage: pd.DataFrame,
) -> tuple[gpd.GeoDataFrame, dict[str, gpd.GeoDataFrame], dict[str, object]]:
    """The building measures of a site's audit, kept only where its buildings are complete.

    Parameters
    ----------
    site
        The prepared site.
    cells
        The grid with every measure joined (before scoring).
    layers
        The measures' own layers (``blind_spots``, ``boundaries``, ``ambiguous_space``,
        ``entrances``, ``isovists``...).
    summary
        The site values so far (completeness facts and the measures' summaries).
    coverage
        :func:`cpted.prepare.coverage.building_coverage` of the site.

    Returns
    -------
    tuple
        New ``cells`` (with the :data:`~cpted.prepare.coverage.COVERAGE_COLUMNS`), ``layers``
        and ``summary`` (``buildings_complete_share``; the building-dependent site values over
        the covered cells only; the reasons appended to ``notes``). Nothing is changed when
        every cell is complete. The inputs are not modified.

    Examples
    --------
    >>> from shapely import box
    >>> cells = gpd.GeoDataFrame({"x": [5.0, 15.0], "y": [5.0, 5.0], "eyes_43": [2.0, 0.0]},
    ...                          geometry=[box(0, 0, 10, 10), box(10, 0, 20, 10)], crs=2154)
    >>> cov = pd.DataFrame({"building_completeness_local": [1.0, 0.0], "buildings_complete": [True, False],
    ...                     "coverage_reason": ["", "no building loaded"]})
    >>> out, _, s = restrict_to_coverage(None, cells, {}, {"notes": ""}, cov)
    >>> out["eyes_43"].tolist(), s["buildings_complete_share"]
    ([2.0, nan], 0.5)
    """
    complete = coverage["buildings_complete"].to_numpy(dtype=bool)
    cells = cells.join(coverage[list(COVERAGE_COLUMNS)])
    summary = dict(summary)
    summary["buildings_complete_share"] = float(complete.mean()) if len(complete) else np.nan
    layers = dict(layers)
    if complete.all() or all(c not in cells for cols in BUILDING_COLUMNS.values() for c in cols):
        return cells, layers, summary
    uncovered = ~complete
    notes = []
    for principle, cols in BUILDING_COLUMNS.items():
        present = [c for c in cols if c in cells]
        if present and cells.loc[uncovered, present].notna().any().any():
            notes.append(f"{principle}: values that depend on buildings are NaN in {uncovered.mean():.0%} of the site, "
                         f"where the buildings layer is incomplete (coverage_reason)")
        cells.loc[uncovered, present] = np.nan
    covered_cells = cells[complete]
    optional = {"vga_mean_depth", "vga_integration_hh"}  # only with visual_integration
    if set(BUILDING_COLUMNS["surveillance"]) - optional <= set(cells):  # the surveillance measure ran
        summary.update(_surveillance_summary(site, cells, covered_cells, layers))
    if set(BUILDING_COLUMNS["territoriality"]) <= set(cells):  # the territoriality measure ran
        summary.update(_territoriality_summary(site, cells, complete, layers))
    if "isovists" in layers and "cell_id" in layers["isovists"]:
        layers["isovists"] = layers["isovists"][layers["isovists"]["cell_id"].isin(covered_cells["cell_id"])]
    summary["notes"] = "; ".join(n for n in [summary.get("notes", ""), *notes] if n)
    return cells, layers, summary


def _share(flag: pd.Series, values: pd.Series) -> float:
    return float(flag.mean()) if values.notna().any() else np.nan


def _surveillance_summary(site, cells, covered, layers) -> dict[str, object]:
    """The site values of natural surveillance over the covered cells (as in
    :func:`cpted.measure.surveillance.surveillance`)."""
    s: dict[str, object] = {
        "overseen_share": _share(covered["eyes_43"] >= 1, covered["eyes_43"]),
        "reliably_overseen_share": _share(covered["eyes_15"] >= 1, covered["eyes_15"]),
        "eyes_43_mean": float(covered["eyes_43"].mean()),
        "connectivity_mean": float(covered["connectivity"].mean()),
        "isovist_area_mean": float(covered["isovist_area"].mean()),
    }
    light = lighting_class(covered["lux"])
    s.update({k: v for k, v in light.items() if not k.startswith("lit_share_")})
    s["lit_share"] = _share(covered["lit"], covered["lit"])
    s["night_overseen_share"] = _share(covered["night_overseen"], covered["night_overseen"])
    spots = layers.get("blind_spots")
    if spots is not None:
        streets = site.layers.get("streets") if site is not None else None
        routes = streets if streets is not None else gpd.GeoDataFrame(geometry=[], crs=cells.crs)
        recesses = spots[spots["kind"] == "recess"]
        recesses = recesses[_nearest_complete(recesses.geometry.values, cells, cells["buildings_complete"].to_numpy())]
        new = blind_spots(cells[["x", "y", "eyes_43", "isovist_area", "geometry"]], routes)
        spots = gpd.GeoDataFrame(pd.concat([new, recesses], ignore_index=True), geometry="geometry", crs=cells.crs)
        layers["blind_spots"] = spots
        blind = spots[spots["kind"] == "blind_spot"]
        s["blind_spot_share"] = float(blind["cells"].sum()) / len(covered) if len(covered) else np.nan
        s["n_entrapment_spots"] = int((spots["kind"] == "entrapment_spot").sum()) if len(covered) else np.nan
        s["n_recesses"] = int((spots["kind"] == "recess").sum()) if len(covered) else np.nan
    return s


def _territoriality_summary(site, cells, complete, layers) -> dict[str, object]:
    """The building-dependent site values of territoriality over the covered places (as in
    :func:`cpted.measure.territoriality.territoriality`)."""
    s: dict[str, object] = {}
    covered = cells[complete]
    if cells["ambiguous"].notna().any() or "ambiguous_space" in layers:
        s["ambiguous_share"] = float(covered["ambiguous"].mean()) if covered["ambiguous"].notna().any() else np.nan
        flag = (cells["ambiguous"] == 1).to_numpy()
        merged = shapely.get_parts(union_cells(cells.geometry.values[flag])) if flag.any() else np.array([])
        layers["ambiguous_space"] = gpd.GeoDataFrame({"area_m2": shapely.area(merged) if len(merged) else []},
                                                     geometry=list(merged), crs=cells.crs)
    edges = layers.get("boundaries")
    if edges is not None:
        edges = edges[_nearest_complete(edges.geometry.values, cells, complete)]
        layers["boundaries"] = edges
        total = edges["length_m"].sum()
        keys = ("boundary_defined_share", "boundary_high_opaque_share", "boundary_see_through_share", "boundary_low_share")
        s.update(dict.fromkeys(keys, np.nan))
        if total > 0:
            s["boundary_defined_share"] = float(edges.loc[edges["marked"], "length_m"].sum() / total)
            for klass in ("high_opaque", "see_through", "low"):
                s[f"boundary_{klass}_share"] = float(edges.loc[edges["class"] == klass, "length_m"].sum() / total)
    entrances = layers.get("entrances")
    if entrances is not None:
        entrances = entrances[_nearest_complete(entrances.geometry.values, cells, complete)]
        layers["entrances"] = entrances
        s["entrances_intervisible_share"] = (float((entrances["entrances_in_view"] >= 1).mean()) if len(entrances)
                                             else np.nan)
        if "depth_m" in entrances:
            s["entrance_depth_mean"] = (float(np.nanmean(entrances["depth_m"])) if entrances["depth_m"].notna().any()
                                        else np.nan)
    buildings = site.layers.get("buildings") if site is not None else None
    streets = site.layers.get("streets") if site is not None else None
    if buildings is not None and len(buildings) and streets is not None and len(streets):
        covered_area = union_cells(covered.geometry.values).buffer(site.cell_size) if len(covered) else None
        local = site_streets(site, covered_area) if covered_area is not None else streets.iloc[:0]
        s.update(frontage(local, buildings, site.layers.get("entrances")))
    return s


def scored_shares(cells: pd.DataFrame) -> dict[str, float]:
    """Share of the site's cells that have a score, per principle (``score_*`` column) and for
    the CPTED index: ``scored_share_<principle>`` and ``scored_share_index``.

    Examples
    --------
    >>> cells = pd.DataFrame({"score_surveillance": [50.0, np.nan, 20.0, np.nan]})
    >>> scored_shares(cells)["scored_share_surveillance"]
    0.5
    """
    names = [(c.removeprefix("score_"), c) for c in cells.columns if c.startswith("score_")]
    if "cpted_index" in cells:
        names.append(("index", "cpted_index"))
    return {f"scored_share_{n}": float(cells[c].notna().mean()) if len(cells) else np.nan for n, c in names}
