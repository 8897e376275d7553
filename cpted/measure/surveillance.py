"""Natural surveillance: to see and be seen.

Measures, each per place (grid cell) unless said otherwise:

- **Visual field** (Benedikt 1979; Turner et al. 2001): the isovist measures of each place and
  its visual connectivity (places visible within a radius).
- **Eyes on the street** (Desyllas, Connoly & Hebbert 2003; van Asten et al. 2023): the openings
  (entrances, and windows of the floors at most 9 m up) with a clear sightline to the place,
  within 15 m ("reliable") and 43 m ("dependable"), seen within 90° of their façade's normal.
- **Lighting** (:mod:`cpted.measure.lighting`) and **night surveillance**: places both lit and
  overseen.
- **Blind spots, entrapment spots and recesses** (METRAC 1989; the project's own operational
  definitions, below): places next to a walked route that no opening oversees; of those, the
  enclosed ones; and narrow pockets of open space off a route.

Everything works in the site's projected metre CRS.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from cpted.config import STOREY_HEIGHT
from cpted.engines.visibility import (ISOVIST_COLUMNS, Scene, inside_obstacles, isovists, isovists_and_counts,
                                      prepare_scene, visible_pairs)
from cpted.measure._result import MeasureResult, need, need_attribute
from cpted.measure.lighting import illuminance, lighting_class, lit_way_share
from cpted.prepare.crs import require_projected, require_same_crs
from cpted.prepare.grid import union_cells

__all__ = [
    "RELIABLE",
    "DEPENDABLE",
    "VIEW_RADIUS",
    "LIT_LUX",
    "occluders",
    "openings",
    "eyes_on_street",
    "visual_field",
    "blind_spots",
    "recesses",
    "surveillance",
]

#: Sightline length of a "reliable" eye (van Asten et al. 2023), metres.
RELIABLE = 15.0
#: Sightline length of a "dependable" eye (van Asten et al. 2023), metres.
DEPENDABLE = 43.0
#: View radius of the visual field (isovists and connectivity), metres.
VIEW_RADIUS = 100.0
#: Illuminance (lux) above which a place counts as lit: the EN 13201 P4 minimum.
LIT_LUX = 1.0
#: Opaque barriers that hide what is behind them when at least eye height (1.6 m) tall.
OPAQUE_BARRIERS = ("wall", "city_wall", "hedge", "retaining_wall")
EYE_HEIGHT = 1.6


def occluders(buildings: gpd.GeoDataFrame, barriers: gpd.GeoDataFrame | None = None) -> gpd.GeoSeries:
    """What blocks sightlines: building footprints, plus walls and hedges at least eye-high.

    Barriers of unknown height are not counted (no height is invented).

    Examples
    --------
    >>> from shapely import LineString, box
    >>> b = gpd.GeoDataFrame(geometry=[box(0, 0, 10, 10)], crs=2154)
    >>> w = gpd.GeoDataFrame({"kind": ["wall", "fence"], "height_m": [2.0, 2.0]},
    ...     geometry=[LineString([(20, 0), (20, 10)]), LineString([(30, 0), (30, 10)])], crs=2154)
    >>> len(occluders(b, w))
    2
    """
    parts = [buildings.geometry]
    if barriers is not None and len(barriers):
        require_same_crs(("buildings", buildings), ("barriers", barriers))
        tall = barriers["kind"].isin(OPAQUE_BARRIERS) & (pd.to_numeric(barriers["height_m"]) >= EYE_HEIGHT)
        parts.append(barriers.geometry[tall])
    return gpd.GeoSeries(pd.concat(parts, ignore_index=True), crs=buildings.crs)


def openings(
    buildings: gpd.GeoDataFrame,
    *,
    entrances: gpd.GeoDataFrame | None = None,
    window_spacing: float = 5.0,
    max_floor_height: float = 9.0,
    storey_height: float = STOREY_HEIGHT,
    offset: float = 0.1,
    snap: float = 5.0,
) -> gpd.GeoDataFrame:
    """Entrances and window points of building façades facing open space.

    Windows are placed every ``window_spacing`` metres along each façade edge that is not a
    party wall (an edge whose outside is another building) nor blank (a building whose optional
    ``blank`` column is true has no window), one point per position carrying the
    number of floors at most ``max_floor_height`` up (floor levels 0, 3, 6, 9 m with the default
    3 m storeys, within the building's height). Entrances are snapped to the nearest façade
    within ``snap`` metres to get its normal. Points sit ``offset`` metres outside the wall.

    Returns
    -------
    geopandas.GeoDataFrame
        Points with ``kind`` (entrance / window), ``floors`` (weight), ``nx``, ``ny`` (outward
        unit normal, NaN for an entrance far from any façade) and ``building`` (row of
        ``buildings``, -1 if none).

    Examples
    --------
    >>> from shapely import box
    >>> b = gpd.GeoDataFrame({"height_m": [12.0]}, geometry=[box(0, 0, 20, 10)], crs=2154)
    >>> o = openings(b)
    >>> len(o), int(o["floors"].iloc[0])  # 4 + 2 + 4 + 2 windows; floors at 0, 3, 6, 9 m
    (12, 4)
    """
    crs = require_projected(buildings.crs, layer="buildings")
    geoms = buildings.geometry.values
    parts, owner = shapely.get_parts(geoms, return_index=True)
    parts = np.array([shapely.geometry.polygon.orient(p, 1.0) for p in parts], dtype=object)
    rings, ring_owner = [], []
    for p, o in zip(parts, owner, strict=True):
        for ring in [p.exterior, *p.interiors]:
            rings.append(ring)
            ring_owner.append(o)
    coords, idx = shapely.get_coordinates(rings, return_index=True) if rings else (np.zeros((0, 2)), np.zeros(0, int))
    same = idx[1:] == idx[:-1]
    a, b = coords[:-1][same], coords[1:][same]
    edge_building = np.asarray(ring_owner, dtype=np.int64)[idx[:-1][same]] if rings else np.zeros(0, np.int64)
    d = b - a
    length = np.hypot(d[:, 0], d[:, 1])
    ok = length > 0
    a, b, d, length, edge_building = a[ok], b[ok], d[ok], length[ok], edge_building[ok]
    normal = np.column_stack([d[:, 1], -d[:, 0]]) / length[:, None]  # right of a CCW exterior: outwards
    probe = shapely.points((a + b) / 2 + 0.5 * normal)
    tree = shapely.STRtree(geoms)
    hit, _ = tree.query(probe, predicate="within")
    facade = np.ones(len(a), dtype=bool)
    facade[hit] = False
    if "blank" in buildings.columns:  # blank façades, where known, give no window
        blank = buildings["blank"].map(lambda v: bool(v) if pd.notna(v) else False).to_numpy(dtype=bool)
        facade &= ~blank[edge_building]
    n_win = np.where(facade, np.floor(length / window_spacing + 1e-9), 0).astype(np.int64)  # robust to rounding
    edge = np.repeat(np.arange(len(a)), n_win)
    rank = np.arange(len(edge)) - np.repeat(np.cumsum(n_win) - n_win, n_win)
    t = (rank + 0.5) / n_win[edge]
    xy = a[edge] + t[:, None] * d[edge] + offset * normal[edge]
    heights = pd.to_numeric(buildings["height_m"], errors="coerce").to_numpy(dtype=float) if "height_m" in buildings else np.full(len(buildings), np.nan)
    levels = np.maximum(1, np.round(np.nan_to_num(heights, nan=storey_height) / storey_height))
    floors = np.minimum(levels, np.floor(max_floor_height / storey_height) + 1)
    windows = pd.DataFrame(
        {"kind": "window", "floors": floors[edge_building[edge]], "nx": normal[edge, 0], "ny": normal[edge, 1],
         "building": edge_building[edge], "x": xy[:, 0], "y": xy[:, 1]}
    )
    frames = [windows]
    if entrances is not None and len(entrances):
        require_same_crs(("buildings", buildings), ("entrances", entrances))
        frames.append(_snap_entrances(entrances, a, b, normal, edge_building, snap, offset))
    table = pd.concat(frames, ignore_index=True)
    return gpd.GeoDataFrame(
        table.drop(columns=["x", "y"]), geometry=shapely.points(table[["x", "y"]].to_numpy()), crs=crs
    )


def _snap_entrances(entrances, a, b, normal, edge_building, snap, offset) -> pd.DataFrame:
    pts = shapely.get_coordinates(entrances.geometry.values)
    out = pd.DataFrame({"kind": "entrance", "floors": 1.0, "nx": np.nan, "ny": np.nan, "building": -1,
                        "x": pts[:, 0], "y": pts[:, 1]})
    if not len(a):
        return out
    segs = shapely.linestrings(np.stack([a, b], axis=1))
    near, dist = shapely.STRtree(segs).query_nearest(shapely.points(pts), max_distance=snap, return_distance=True, all_matches=False)
    e_idx, s_idx = near
    foot = shapely.get_coordinates(shapely.line_interpolate_point(segs[s_idx], shapely.line_locate_point(segs[s_idx], shapely.points(pts[e_idx]))))
    out.loc[e_idx, "nx"] = normal[s_idx, 0]
    out.loc[e_idx, "ny"] = normal[s_idx, 1]
    out.loc[e_idx, "building"] = edge_building[s_idx]
    out.loc[e_idx, "x"] = foot[:, 0] + offset * normal[s_idx, 0]
    out.loc[e_idx, "y"] = foot[:, 1] + offset * normal[s_idx, 1]
    return out


def eyes_on_street(
    places: gpd.GeoSeries | gpd.GeoDataFrame,
    openings: gpd.GeoDataFrame,
    scene: Scene,
    *,
    reliable: float = RELIABLE,
    dependable: float = DEPENDABLE,
) -> pd.DataFrame:
    """Openings that oversee each place: a clear sightline within 15 m / 43 m, seen from in front.

    An opening oversees a place when the segment between them crosses no occluder, is at most
    ``reliable`` (or ``dependable``) metres long, and leaves the façade within 90° of its
    outward normal. Windows weigh their number of floors; entrances weigh 1.

    Returns
    -------
    pandas.DataFrame
        Aligned to ``places``: ``eyes_15``, ``eyes_43`` (all openings) and ``entrances_15``,
        ``entrances_43``, ``windows_15``, ``windows_43``. NaN for places inside an occluder.

    Examples
    --------
    >>> from shapely import Point, box
    >>> b = gpd.GeoDataFrame({"height_m": [3.0]}, geometry=[box(0, 0, 20, 10)], crs=2154)
    >>> scene = prepare_scene(b)
    >>> o = openings(b, window_spacing=10)          # 2 windows on each long side, 1 on each end
    >>> eyes = eyes_on_street(gpd.GeoSeries([Point(10, 20)], crs=2154), o, scene)
    >>> eyes[["eyes_15", "eyes_43"]].values.tolist()  # both north windows within 15 m
    [[2.0, 2.0]]

    Sources: Desyllas, Connoly & Hebbert (2003), Modelling natural surveillance, EPB 30(5);
    van Asten et al. (2023), Eyes on the Street, TU Delft (15 m / 43 m; floors up to 9 m).
    """
    pts = places.geometry if isinstance(places, gpd.GeoDataFrame) else places
    cols = ["eyes_15", "eyes_43", "entrances_15", "entrances_43", "windows_15", "windows_43"]
    out = pd.DataFrame(0.0, index=pts.index, columns=cols)
    if len(openings) and len(pts):
        # sightlines are symmetric (one grazing rule): from the fewer openings, over the grid of places
        dst, src = visible_pairs(openings, pts, scene, radius=dependable)
        pxy = shapely.get_coordinates(pts.values)
        oxy = shapely.get_coordinates(openings.geometry.values)
        v = pxy[src] - oxy[dst]
        dist = np.hypot(v[:, 0], v[:, 1])
        nx, ny = openings["nx"].to_numpy(dtype=float)[dst], openings["ny"].to_numpy(dtype=float)[dst]
        facing = np.isnan(nx) | (v[:, 0] * nx + v[:, 1] * ny > 0)
        weight = openings["floors"].to_numpy(dtype=float)[dst] * facing
        is_entrance = (openings["kind"].to_numpy() == "entrance")[dst]
        for limit, tag in ((reliable, "15"), (dependable, "43")):
            within = dist <= limit
            for name, mask in (("entrances", is_entrance), ("windows", ~is_entrance)):
                out[f"{name}_{tag}"] = np.bincount(src, weights=weight * within * mask, minlength=len(pts))
            out[f"eyes_{tag}"] = out[f"entrances_{tag}"] + out[f"windows_{tag}"]
    inside = inside_obstacles(pts, scene)
    out.loc[inside, :] = np.nan
    return out


def visual_field(
    places: gpd.GeoSeries | gpd.GeoDataFrame,
    scene: Scene,
    *,
    radius: float = VIEW_RADIUS,
    context: gpd.GeoSeries | None = None,
    integration: bool = False,
) -> pd.DataFrame:
    """Isovist measures of each place, its visual connectivity within ``radius`` and, with
    ``integration``, its visual mean depth and integration.

    Columns ``isovist_area``, ``isovist_perimeter``, ``isovist_compactness``,
    ``isovist_occlusivity``, ``isovist_min_radial``, ``isovist_max_radial``, ``isovist_drift``
    (see :func:`cpted.engines.visibility.isovists`); then, on the visibility graph of the places
    *and* the ``context`` places (the open space of the context ring, so that no edge effect
    remains at the site's border), with sightlines up to ``radius`` (:mod:`cpted.engines.vga`,
    Turner et al. 2001): ``connectivity`` (other places visible) and, with ``integration``,
    ``vga_mean_depth`` (visual mean depth) and ``vga_integration_hh`` (visual integration [HH]).
    These two need a breadth-first search over the whole graph from every place: minutes on a
    30,000-cell site with its ring, so they are computed only on request. Without them only the
    context places within ``radius`` of a place can count, and only those are used.

    Examples
    --------
    >>> from shapely import Point
    >>> pts = gpd.GeoSeries([Point(0, 0), Point(50, 0), Point(500, 0)], crs=2154)
    >>> visual_field(pts, prepare_scene(gpd.GeoSeries([], crs=2154)), radius=100)["connectivity"].tolist()
    [1.0, 1.0, 0.0]
    >>> ring = gpd.GeoSeries([Point(-60, 0)], crs=2154)  # one more place, outside the site
    >>> visual_field(pts, prepare_scene(gpd.GeoSeries([], crs=2154)), radius=100, context=ring)["connectivity"].tolist()
    [2.0, 1.0, 0.0]
    """
    from cpted.engines.vga import vga

    pts = places.geometry if isinstance(places, gpd.GeoDataFrame) else places
    ring = gpd.GeoSeries([], crs=pts.crs) if context is None else context
    if not integration and np.isfinite(radius) and len(ring) and len(pts):  # only these can be seen
        near = shapely.STRtree(pts.values).query(ring.values, predicate="dwithin", distance=radius)[0]
        ring = ring.iloc[np.unique(near)]
    both = gpd.GeoSeries(np.concatenate([pts.values, ring.values]), crs=pts.crs)
    inside = inside_obstacles(pts, scene)
    if not integration:  # a count per place, without building the graph; one sweep per place for both
        out, seen = isovists_and_counts(pts, both, scene, radius=radius)
        out["connectivity"] = np.where(inside, np.nan, seen - 1)  # itself among the targets
        return out
    iso = isovists(pts, scene, radius=radius, geometry=False)
    out = pd.DataFrame(iso[list(ISOVIST_COLUMNS)], index=pts.index)
    report = np.arange(len(both)) < len(pts)
    graph = vga(both, scene, radius=radius, report=report, measures=("connectivity", "mean_depth", "integration_hh"))
    out["connectivity"] = np.where(inside, np.nan, graph["connectivity"].to_numpy())
    out["vga_mean_depth"] = graph["mean_depth"].to_numpy()
    out["vga_integration_hh"] = graph["integration_hh"].to_numpy()
    return out


def blind_spots(
    cells: gpd.GeoDataFrame,
    routes: gpd.GeoDataFrame,
    *,
    route_distance: float = 10.0,
    enclosed_area: float = 500.0,
) -> gpd.GeoDataFrame:
    """Blind spots and entrapment spots, merged into polygons.

    A **blind spot** is a cell within ``route_distance`` metres of a walked route that no
    opening oversees (``eyes_43 == 0``); an **entrapment spot** is a blind spot whose isovist
    (``isovist_area``) is smaller than ``enclosed_area`` m²: a small enclosed place beside a
    path, out of sight (METRAC 1989; the thresholds are the project's own defaults).

    Returns polygons with ``kind``, ``area_m2`` and ``cells``.
    """
    require_same_crs(("cells", cells), ("routes", routes))
    near = np.zeros(len(cells), dtype=bool)
    if len(routes):
        hit, _ = shapely.STRtree(routes.geometry.values).query(
            shapely.points(cells["x"].to_numpy(), cells["y"].to_numpy()), predicate="dwithin", distance=route_distance
        )
        near[np.unique(hit)] = True
    blind = near & (cells["eyes_43"].to_numpy() == 0)
    enclosed = blind & (cells["isovist_area"].to_numpy() < enclosed_area)
    cell_area = float(cells.geometry.area.iloc[0]) if len(cells) else 1.0
    frames = []
    for kind, mask in (("blind_spot", blind), ("entrapment_spot", enclosed)):
        merged = shapely.get_parts(union_cells(cells.geometry.values[mask])) if mask.any() else np.array([])
        area = shapely.area(merged) if len(merged) else np.array([])
        frames.append(gpd.GeoDataFrame({"kind": kind, "area_m2": area, "cells": np.round(area / cell_area).astype(int)},
                                       geometry=list(merged), crs=cells.crs))
    return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), geometry="geometry", crs=cells.crs)


def recesses(
    open_space,
    routes: gpd.GeoDataFrame,
    *,
    width: float = 3.0,
    route_distance: float = 10.0,
    min_area: float = 4.0,
) -> gpd.GeoDataFrame:
    """Recesses: pockets of open space narrower than ``width`` metres, next to a walked route.

    The pockets are what a morphological opening (erosion then dilation by a disc of radius
    ``width / 2``) removes from the open space: nooks between façades, setbacks and dead-end
    slots where someone can stand unseen from the path. The project's own operational
    definition of METRAC's "recessed areas".

    Examples
    --------
    >>> from shapely import box
    >>> space = box(0, 0, 30, 10).union(box(10, 10, 12, 16))   # a 2 m wide, 6 m deep nook
    >>> path = gpd.GeoDataFrame(geometry=[shapely.LineString([(0, 5), (30, 5)])], crs=2154)
    >>> r = recesses(space, path)
    >>> len(r), round(float(r["area_m2"].sum()))
    (1, 12)
    """
    opened = open_space.buffer(-width / 2, join_style="mitre").buffer(width / 2, join_style="mitre")
    pockets = shapely.get_parts(open_space.difference(opened))
    pockets = pockets[shapely.area(pockets) >= min_area] if len(pockets) else pockets
    if len(pockets) and len(routes):
        near, _ = shapely.STRtree(routes.geometry.values).query(pockets, predicate="dwithin", distance=route_distance)
        pockets = pockets[np.unique(near)]
    elif not len(routes):
        pockets = pockets[:0]
    return gpd.GeoDataFrame({"kind": "recess", "area_m2": shapely.area(pockets)}, geometry=list(pockets), crs=routes.crs)


#: Cell columns of :func:`surveillance`.
CELL_COLUMNS = ("isovist_area", "isovist_perimeter", "isovist_compactness", "isovist_occlusivity", "isovist_min_radial",
                "isovist_max_radial", "isovist_drift", "connectivity", "eyes_15", "eyes_43", "entrances_15", "entrances_43",
                "windows_15", "windows_43", "lux", "lit", "night_overseen")
#: Cell columns added with ``visual_integration=True`` (global VGA: a search over the whole graph).
INTEGRATION_COLUMNS = ("vga_mean_depth", "vga_integration_hh")
#: Summary values of :func:`surveillance`.
SUMMARY_KEYS = ("buildings_height_share", "lit_way_share", "overseen_share", "reliably_overseen_share", "eyes_43_mean",
                "connectivity_mean", "isovist_area_mean", "lux_avg", "lux_min", "p_class", "lit_share",
                "night_overseen_share", "blind_spot_share", "n_entrapment_spots", "n_recesses")


def surveillance(site, *, view_radius: float = VIEW_RADIUS, isovist_polygons: bool = False,
                 visual_integration: bool = False) -> MeasureResult:
    """Every natural-surveillance measure of a prepared :class:`~cpted.prepare.site.Site`.

    Returns a :class:`~cpted.measure._result.MeasureResult`: ``cells`` (columns to join to the
    site grid), ``layers`` (``openings``, ``blind_spots``, ``lamps``, and ``isovists`` on
    request), ``summary`` (site values) and ``reasons`` (why values are NaN). Each input is
    known, known empty or unknown (:meth:`~cpted.prepare.site.Site.layer_state`):

    ``visual_integration`` adds ``vga_mean_depth`` and ``vga_integration_hh`` (see
    :func:`visual_field`; minutes on a large site, so off by default).

    - buildings unknown: every value is NaN; known empty: open views, no window;
    - lamps unknown: lighting and night surveillance are NaN; known empty: 0 lx everywhere;
    - entrances unknown: ``entrances_*`` are NaN and the eyes count windows only;
    - streets unknown: no blind spot can be placed (its summary values are NaN);
    - barriers unknown: only buildings block sightlines.

    ``buildings_height_share`` is the share of buildings whose height comes from the data
    (not the default); below :data:`~cpted.measure._result.MIN_ATTRIBUTE_SHARE` a reason says
    that the others' windows use the default height.
    """
    cells = site.grid
    columns = CELL_COLUMNS + (INTEGRATION_COLUMNS if visual_integration else ())
    result = MeasureResult.unknown(cells.index, columns, SUMMARY_KEYS)
    out_cells = result.cells
    buildings = need(site, "buildings", result, what="surveillance")
    if buildings is None:
        result.summary = _summary(out_cells, None, result.summary)
        return result
    if len(buildings):  # the share of heights that come from the data, not the default
        source = buildings["height_source"] if "height_source" in buildings else pd.Series("default", index=buildings.index)
        result.summary["buildings_height_share"], _ = need_attribute(
            pd.DataFrame({"height": source.where(source.ne("default"))}), ["height"], result,
            what="window floors (the other buildings use the default height)", features="buildings",
            attribute="a height or levels")
    barriers = need(site, "barriers", result, what="sightlines (walls and hedges do not block views)")
    scene = prepare_scene(occluders(buildings, barriers), extent=None)
    centres = gpd.GeoSeries(shapely.points(cells["x"].to_numpy(), cells["y"].to_numpy()), index=cells.index, crs=site.crs)
    reach = None if visual_integration or not np.isfinite(view_radius) else view_radius  # farther: never seen
    field = visual_field(centres, scene, radius=view_radius, context=_context_places(site, within=reach),
                         integration=visual_integration)
    out_cells[field.columns] = field
    entrances = need(site, "entrances", result, what="entrances_15, entrances_43 (eyes count windows only)")
    ops = openings(buildings, entrances=entrances)
    eyes = eyes_on_street(centres, ops, scene)
    if entrances is None:
        eyes[["entrances_15", "entrances_43"]] = np.nan
    out_cells[eyes.columns] = eyes
    result.layers["openings"] = ops
    lamps = need(site, "lamps", result, what="lighting and night surveillance")
    if lamps is not None:  # known empty: no lamp, no light
        lux, per_lamp = illuminance(centres, lamps, scene)
        out_cells["lux"] = lux
        out_cells["lit"] = (lux >= LIT_LUX).astype(float).where(lux.notna())
        out_cells["night_overseen"] = ((lux >= LIT_LUX) & (out_cells["eyes_43"] >= 1)).astype(float).where(lux.notna())
        result.layers["lamps"] = lamps.join(per_lamp)
    streets = need(site, "streets", result, what="blind spots and recesses")
    if streets is not None:
        spots = blind_spots(cells.join(out_cells[["eyes_43", "isovist_area"]]), streets)
        open_space = site.known_area.difference(shapely.union_all(site.private_land.values)) if len(site.private_land) else site.known_area
        result.layers["blind_spots"] = gpd.GeoDataFrame(pd.concat([spots, recesses(open_space, streets)], ignore_index=True),
                                                        geometry="geometry", crs=site.crs)
        way_share, why = lit_way_share(streets)
        result.summary["lit_way_share"] = way_share
    if isovist_polygons:
        result.layers["isovists"] = isovists(centres, scene, radius=view_radius).assign(cell_id=cells["cell_id"])
    result.summary = _summary(out_cells, result.layers, result.summary)
    return result


def _context_places(site, *, within: float | None = None) -> gpd.GeoSeries:
    """Centres of the cells of the context ring that the grid's rules keep (public ground on foot);
    only those within ``within`` metres of the site when given (the cells are aligned on the CRS,
    so a smaller area gives the same cells, and those of the site are the site's own)."""
    area = site.analysis_area if within is None else site.analysis_area.intersection(site.boundary.buffer(within))
    ring = site.classify(area, without=site.boundary)
    keep = (ring["reason"] == "public").to_numpy()
    return gpd.GeoSeries(shapely.points(ring["x"].to_numpy()[keep], ring["y"].to_numpy()[keep]), crs=site.crs)


def _summary(cells: pd.DataFrame, layers, summary: dict) -> dict:
    """Site-level surveillance values."""
    s = dict(summary)
    s["overseen_share"] = float((cells["eyes_43"] >= 1).mean()) if cells["eyes_43"].notna().any() else np.nan
    s["reliably_overseen_share"] = float((cells["eyes_15"] >= 1).mean()) if cells["eyes_15"].notna().any() else np.nan
    s["eyes_43_mean"] = float(cells["eyes_43"].mean())
    s["connectivity_mean"] = float(cells["connectivity"].mean())
    s["isovist_area_mean"] = float(cells["isovist_area"].mean())
    light = lighting_class(cells["lux"])
    s.update({k: v for k, v in light.items() if not k.startswith("lit_share_")})
    s["lit_share"] = float(cells["lit"].mean()) if cells["lit"].notna().any() else np.nan
    s["night_overseen_share"] = float(cells["night_overseen"].mean()) if cells["night_overseen"].notna().any() else np.nan
    spots = (layers or {}).get("blind_spots")
    if spots is None:
        s.update(blind_spot_share=np.nan, n_entrapment_spots=np.nan, n_recesses=np.nan)
    else:
        area = float(cells.shape[0]) or 1.0
        blind = spots[spots["kind"] == "blind_spot"]
        s["blind_spot_share"] = float(blind["cells"].sum()) / area
        s["n_entrapment_spots"] = int((spots["kind"] == "entrapment_spot").sum())
        s["n_recesses"] = int((spots["kind"] == "recess").sum())
    return s
