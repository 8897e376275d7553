"""Territoriality: does each place clearly belong to someone?

- **Boundary definition**: the share of the edge between public open space and private plots
  that a barrier marks, by kind (fence / wall / hedge / gate / other) and class (low,
  see-through, high-opaque; the Space Syntax Toolkit's frontage classes).
- **Frontage and doors** (constitutedness: Hillier & Hanson 1984; Shu 2000; van Nes & López 2010):
  entrances per 100 m of street, the share of street edge lined by building fronts, and the
  front-to-front intervisibility of entrances.
- **Depth from the public network** (Newman 1972): network distance and steps from the nearest
  public street to each entrance and place.
- **Ambiguous space** ("space left over after planning"): open space far from any entrance or
  front façade and not a street, square, park or playground.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from cpted.engines.network import Network, nearest_edge
from cpted.engines.visibility import prepare_scene, visible_pairs
from cpted.measure._result import MeasureResult, need
from cpted.prepare.crs import require_same_crs
from cpted.prepare.grid import union_cells

__all__ = [
    "clip_lines",
    "site_streets",
    "private_plots",
    "boundary_definition",
    "frontage",
    "entrance_intervisibility",
    "public_depths",
    "depth_from_public",
    "ambiguous_space",
    "PUBLIC_STREETS",
]

#: Walk kinds that count as public streets for depth (footways, paths, service ways are deeper).
PUBLIC_STREETS = ("street", "pedestrian")
#: Land-use categories that are clearly public places (never ambiguous).
PUBLIC_PLACES = ("park", "playground", "sport")
_PRIVATE_ACCESS = ("private", "no", "residents", "customers")
_PLOT_MAX_AREA = 1e4  # m²: larger residential areas are neighbourhoods, not plots
_OPAQUE = ("wall", "city_wall", "retaining_wall", "hedge")


def private_plots(landuse: gpd.GeoDataFrame) -> gpd.GeoSeries:
    """Private plots: land-use areas with private access, and residential areas up to 1 ha
    (smaller ones are plots; larger ones in OSM cover whole neighbourhoods with their streets).
    The project's own rule.

    Examples
    --------
    >>> from shapely import box
    >>> lu = gpd.GeoDataFrame({"category": ["residential", "residential", "park"], "access": [None, None, "private"]},
    ...     geometry=[box(0, 0, 50, 50), box(0, 0, 500, 500), box(0, 0, 10, 10)], crs=2154)
    >>> len(private_plots(lu))
    2
    """
    private = landuse["access"].isin(_PRIVATE_ACCESS) | (
        (landuse["category"] == "residential") & (landuse.geometry.area <= _PLOT_MAX_AREA)
    )
    return landuse.geometry[private]


def _barrier_class(kind: str, height: float) -> str:
    if kind in _OPAQUE and not (height < 1.6):
        return "high_opaque"
    if np.isfinite(height) and height < 1.2:
        return "low"
    if kind in ("fence", "gate", "lift_gate", "swing_gate", "guard_rail", "handrail"):
        return "see_through"
    return "low" if kind in ("kerb", "bollard", "block") else "high_opaque" if kind in _OPAQUE else "see_through"


def boundary_definition(
    plots: gpd.GeoSeries,
    open_space,
    barriers: gpd.GeoDataFrame | None,
    *,
    piece: float = 5.0,
    tolerance: float = 2.0,
) -> gpd.GeoDataFrame:
    """The public/private edge cut into pieces of ``piece`` metres, each classified.

    The edge is the part of the plots' outlines that borders public open space. A piece is
    **marked** when a barrier lies within ``tolerance`` metres of its middle; ``kind`` is that
    barrier's kind (fence, wall, hedge, gate, ...; ``none`` when unmarked) and ``class`` low /
    see_through / high_opaque (Space Syntax Toolkit classes; walls and hedges from 1.6 m are
    opaque, barriers below 1.2 m low).

    Returns
    -------
    geopandas.GeoDataFrame
        Lines with ``marked``, ``kind``, ``class`` and ``length_m``.

    Examples
    --------
    >>> from shapely import LineString, box
    >>> plot = gpd.GeoSeries([box(0, 0, 40, 40)], crs=2154)
    >>> fence = gpd.GeoDataFrame({"kind": ["fence"], "height_m": [1.8]},
    ...     geometry=[LineString([(0, 0), (40, 0), (40, 40)])], crs=2154)
    >>> edges = boundary_definition(plot, box(-20, -20, 60, 60).difference(box(0, 0, 40, 40)), fence)
    >>> round(float(edges.loc[edges["marked"], "length_m"].sum() / edges["length_m"].sum()), 3)
    0.5
    """
    if len(plots) == 0:
        return gpd.GeoDataFrame({"marked": [], "kind": [], "class": [], "length_m": []}, geometry=[], crs=plots.crs)
    outline = shapely.union_all(shapely.boundary(plots.values))
    edge = shapely.intersection(outline, shapely.buffer(open_space, 0.01)) if open_space is not None else outline
    lines = [p for p in shapely.get_parts(shapely.line_merge(edge)) if p.geom_type == "LineString" and p.length > 0]
    pieces = []
    for line in lines:
        n = max(1, int(round(line.length / piece)))
        cuts = np.linspace(0, line.length, n + 1)
        pieces += [shapely.ops.substring(line, a, b) for a, b in zip(cuts[:-1], cuts[1:], strict=True)]
    pieces = np.array(pieces, dtype=object)
    mids = shapely.line_interpolate_point(pieces, 0.5, normalized=True)
    kind = np.full(len(pieces), "none", dtype=object)
    klass = np.full(len(pieces), "none", dtype=object)
    if barriers is not None and len(barriers) and len(pieces):
        require_same_crs(("plots", plots), ("barriers", barriers))
        (pi, bi), _ = shapely.STRtree(barriers.geometry.values).query_nearest(mids, max_distance=tolerance, return_distance=True, all_matches=False)
        kinds = barriers["kind"].to_numpy(dtype=object)
        heights = pd.to_numeric(barriers["height_m"], errors="coerce").to_numpy(dtype=float)
        kind[pi] = kinds[bi]
        klass[pi] = [_barrier_class(k, h) for k, h in zip(kinds[bi], heights[bi], strict=True)]
    return gpd.GeoDataFrame(
        {"marked": kind != "none", "kind": kind, "class": klass, "length_m": shapely.length(pieces)},
        geometry=list(pieces), crs=plots.crs,
    )


def clip_lines(lines, area) -> np.ndarray:
    """``shapely.intersection(lines, area)``, the same geometries, without the overlay where its
    answer is known: a line that meets ``area`` nowhere gives an empty line, and a simple
    LineString with no repeated point inside ``area`` (not touching its boundary) is itself.

    The overlay of a line with a large polygon (the covered places of a site, tens of thousands
    of vertices) costs a pass over the polygon per line: 6 s for the 2,170 streets of Île de
    Nantes, against 0.5 s here, where only the lines that cross the area's boundary are cut.
    Lines that are not simple or repeat a point go through the overlay, which splits them at
    their crossings and drops the repeats.

    Examples
    --------
    >>> from shapely import LineString, box
    >>> lines = np.array([LineString([(1, 1), (2, 2)]), LineString([(5, 1), (15, 1)]),
    ...                   LineString([(20, 20), (30, 30)])])
    >>> [g.wkt for g in clip_lines(lines, box(0, 0, 10, 10))]
    ['LINESTRING (1 1, 2 2)', 'LINESTRING (5 1, 10 1)', 'LINESTRING EMPTY']
    """
    lines = np.asarray(lines, dtype=object)
    out = np.empty(len(lines), dtype=object)
    if not len(lines):
        return out
    shapely.prepare(area)
    away = shapely.disjoint(area, lines)
    out[away] = shapely.from_wkt("LINESTRING EMPTY")
    inside = ~away & shapely.contains_properly(area, lines)
    inside &= shapely.get_type_id(lines) == shapely.GeometryType.LINESTRING
    inside[inside] = shapely.is_simple(lines[inside]) & shapely.equals_exact(
        lines[inside], shapely.remove_repeated_points(lines[inside], 0.0))
    out[inside] = lines[inside]
    cut = ~away & ~inside
    out[cut] = shapely.intersection(lines[cut], area)
    return out


def site_streets(site, area) -> gpd.GeoDataFrame:
    """The site's streets that meet ``area`` (a polygon in the site CRS), cut to it: the street
    length that site values per metre of street count (:func:`frontage`)."""
    streets = site.layers["streets"]
    local = streets.iloc[streets.sindex.query(area, predicate="intersects")]
    local = local.set_geometry(clip_lines(local.geometry.values, area), crs=local.crs)
    return local[~local.geometry.is_empty & (local.geometry.length > 0)]


def frontage(
    streets: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    entrances: gpd.GeoDataFrame | None,
    *,
    distance: float = 15.0,
    step: float = 5.0,
) -> dict[str, float]:
    """Entrances per 100 m of street and the share of street edge lined by building fronts.

    A street point (every ``step`` metres) is **fronted** when a building that is not blank lies
    within ``distance`` metres, **blank** when only blank buildings do, and **open** otherwise.
    Entrances count when within ``distance`` of a street.

    Examples
    --------
    >>> from shapely import LineString, Point, box
    >>> s = gpd.GeoDataFrame(geometry=[LineString([(0, 0), (200, 0)])], crs=2154)
    >>> b = gpd.GeoDataFrame(geometry=[box(0, 5, 100, 20)], crs=2154)
    >>> e = gpd.GeoDataFrame(geometry=[Point(50, 5)], crs=2154)
    >>> f = frontage(s, b, e)
    >>> f["entrances_per_100m"], f["fronted_share"]  # 23 of the 40 street points within 15 m
    (0.5, 0.575)
    """
    out = {"entrances_per_100m": np.nan, "fronted_share": np.nan, "blank_share": np.nan}
    total = float(streets.length.sum())
    if total == 0:
        return out
    pts = []
    for line in streets.geometry.values:
        n = max(1, int(line.length // step))
        pts.append(shapely.line_interpolate_point(line, (np.arange(n) + 0.5) / n, normalized=True))
    pts = np.concatenate(pts)
    fronted = np.zeros(len(pts), dtype=bool)
    blank_near = np.zeros(len(pts), dtype=bool)
    if len(buildings):
        blank = buildings["blank"].map(lambda v: bool(v) if pd.notna(v) else False).to_numpy(dtype=bool) if "blank" in buildings else np.zeros(len(buildings), bool)
        p, b = shapely.STRtree(buildings.geometry.values).query(pts, predicate="dwithin", distance=distance)
        fronted[p[~blank[b]]] = True
        blank_near[p[blank[b]]] = True
    out["fronted_share"] = float(fronted.mean())
    out["blank_share"] = float((blank_near & ~fronted).mean())
    if entrances is not None:
        near = 0
        if len(entrances):
            e, _ = shapely.STRtree(streets.geometry.values).query(entrances.geometry.values, predicate="dwithin", distance=distance)
            near = len(np.unique(e))
        out["entrances_per_100m"] = 100.0 * near / total
    return out


def entrance_intervisibility(entrances: gpd.GeoDataFrame, buildings: gpd.GeoDataFrame, *, radius: float = 43.0) -> pd.Series:
    """For each entrance, the number of other entrances it sees within ``radius`` metres
    (front-to-front intervisibility across a space), using the visibility engine.

    Entrances are moved 0.1 m off their façade so that their own building does not hide them.
    """
    if len(entrances) == 0:
        return pd.Series([], dtype=float, name="entrances_in_view")
    pts = entrances.geometry.values
    if len(buildings):
        walls = shapely.boundary(buildings.geometry.values)
        (ei, wi), _ = shapely.STRtree(walls).query_nearest(pts, max_distance=1.0, return_distance=True, all_matches=False)
        moved = np.array(pts, dtype=object)
        for i, w in zip(ei, wi, strict=True):
            foot = shapely.line_interpolate_point(walls[w], shapely.line_locate_point(walls[w], pts[i]))
            d = np.asarray(pts[i].coords[0]) - np.asarray(foot.coords[0])
            norm = np.hypot(*d)
            if norm < 1e-9:  # on the wall: step outwards, away from the footprint's centre
                d = np.asarray(pts[i].coords[0]) - np.asarray(buildings.geometry.values[w].centroid.coords[0])
                norm = np.hypot(*d)
            moved[i] = shapely.Point(np.asarray(pts[i].coords[0]) + 0.1 * d / norm)
        pts = moved
    scene = prepare_scene(buildings.geometry)
    points = gpd.GeoSeries(list(pts), crs=entrances.crs)
    obs, tgt = visible_pairs(points, points, scene, radius=radius)
    counts = np.bincount(obs[obs != tgt], minlength=len(points)).astype(float)
    return pd.Series(counts, index=entrances.index, name="entrances_in_view")


def public_depths(streets: gpd.GeoDataFrame, net: Network) -> tuple[dict, dict]:
    """Per network node: walking distance (m) and steps (segments) from the nearest public street.

    Public streets are the segments whose ``walk_kind`` is in :data:`PUBLIC_STREETS`.
    """
    import networkx as nx

    public = streets["walk_kind"].isin(PUBLIC_STREETS).to_numpy()
    ok = np.isfinite(net.edge_length)
    g = nx.Graph()
    for e in np.flatnonzero(ok):
        u, v = net.edges[e]
        g.add_edge(int(u), int(v), length=float(net.edge_length[e]))
    seeds = {int(n) for e in np.flatnonzero(public & ok) for n in net.edges[e]}
    if not seeds:
        return {}, {}
    metric = nx.multi_source_dijkstra_path_length(g, seeds, weight="length")
    hops, frontier, seen, depth = {}, set(seeds), set(seeds), 0
    while frontier:
        for n in frontier:
            hops[n] = depth
        nxt = {m for n in frontier for m in g.neighbors(n)} - seen
        seen |= nxt
        frontier, depth = nxt, depth + 1
    return metric, hops


def depth_from_public(points_xy: np.ndarray, streets: gpd.GeoDataFrame, net: Network, depths: tuple[dict, dict] | None = None,
                      attachment: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> pd.DataFrame:
    """Network distance (m) and steps (segments) from the nearest public street to each point.

    A point attaches to its nearest segment; on a public street its depth is its offset and 0
    steps; elsewhere the walk to either end of its segment plus that node's depth
    (:func:`public_depths`, computed here unless given). Points that cannot reach any public
    street get NaN. ``attachment``: :func:`~cpted.engines.network.nearest_edge` of the points on
    ``streets``, when the caller has it already.
    """
    metric, hops = depths if depths is not None else public_depths(streets, net)
    public = streets["walk_kind"].isin(PUBLIC_STREETS).to_numpy()
    edge, along, offset = nearest_edge(points_xy, streets) if attachment is None else attachment
    length = net.edge_length[edge]
    u, v = net.edges[edge, 0], net.edges[edge, 1]
    dm = np.array([metric.get(int(a), np.inf) for a in u]), np.array([metric.get(int(b), np.inf) for b in v])
    dh = np.array([hops.get(int(a), np.inf) for a in u]), np.array([hops.get(int(b), np.inf) for b in v])
    on_public = public[edge]
    dist = np.where(on_public, offset, offset + np.minimum(along + dm[0], length - along + dm[1]))
    steps = np.where(on_public, 0.0, np.minimum(dh[0], dh[1]) + 1.0)
    dist = np.where(np.isfinite(dist), dist, np.nan)
    steps = np.where(np.isfinite(steps), steps, np.nan)
    return pd.DataFrame({"depth_m": dist, "depth_steps": steps})


def ambiguous_space(
    cells: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    entrances: gpd.GeoDataFrame | None,
    streets: gpd.GeoDataFrame,
    landuse: gpd.GeoDataFrame | None,
    *,
    distance: float = 30.0,
    street_width: float = 6.0,
) -> tuple[np.ndarray, gpd.GeoDataFrame]:
    """Cells of space "left over after planning": farther than ``distance`` metres from any
    entrance or (non-blank) façade, more than ``street_width`` metres from a street or
    pedestrian way, and outside parks, playgrounds and sports grounds. The project's own
    operational definition; the thresholds are defaults.

    Returns the per-cell flag and the merged polygons (``area_m2``).

    Examples
    --------
    >>> from shapely import LineString, box
    >>> cells = gpd.GeoDataFrame({"x": [30.0, 90.0], "y": [10.0, 10.0]},
    ...     geometry=[box(25, 5, 35, 15), box(85, 5, 95, 15)], crs=2154)
    >>> b = gpd.GeoDataFrame(geometry=[box(0, 0, 20, 20)], crs=2154)
    >>> s = gpd.GeoDataFrame({"walk_kind": ["street"]}, geometry=[LineString([(0, -50), (200, -50)])], crs=2154)
    >>> flag, _ = ambiguous_space(cells, b, None, s, None)
    >>> flag.tolist()  # the cell 70 m from the building is left over
    [False, True]
    """
    pts = shapely.points(cells["x"].to_numpy(), cells["y"].to_numpy())
    claimed = np.zeros(len(pts), dtype=bool)

    def near(geoms, dist):
        if len(geoms) == 0:
            return
        p, _ = shapely.STRtree(np.asarray(geoms)).query(pts, predicate="dwithin", distance=dist)
        claimed[p] = True

    fronts = buildings
    if "blank" in buildings:
        fronts = buildings[~buildings["blank"].map(lambda v: bool(v) if pd.notna(v) else False).to_numpy(dtype=bool)]
    near(fronts.geometry.values, distance)
    if entrances is not None:
        near(entrances.geometry.values, distance)
    ways = streets[streets["walk_kind"].isin(("street", "pedestrian", "service", "footway"))]
    near(ways.geometry.values, street_width)
    if landuse is not None and len(landuse):
        parks = landuse[landuse["category"].isin(PUBLIC_PLACES)]
        if len(parks):
            p, _ = shapely.STRtree(parks.geometry.values).query(pts, predicate="within")
            claimed[p] = True
    flag = ~claimed
    merged = shapely.get_parts(union_cells(cells.geometry.values[flag])) if flag.any() else np.array([])
    polys = gpd.GeoDataFrame({"area_m2": shapely.area(merged) if len(merged) else []}, geometry=list(merged), crs=cells.crs)
    return flag, polys


#: Summary values of :func:`territoriality`.
SUMMARY_KEYS = ("boundary_defined_share", "boundary_high_opaque_share", "boundary_see_through_share",
                "boundary_low_share", "entrances_per_100m", "fronted_share", "blank_share",
                "entrances_intervisible_share", "entrance_depth_mean", "cell_depth_mean", "ambiguous_share")


def territoriality(site, net: Network | None, *,
                   attachment: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> MeasureResult:
    """Every territoriality measure of a prepared site.

    Returns a :class:`~cpted.measure._result.MeasureResult`: ``cells``, ``layers``
    (``boundaries``, ``ambiguous_space``, ``entrances``), ``summary`` and ``reasons``. Values
    whose inputs are unknown (buildings, barriers, land use, entrances, streets, the network)
    are NaN with the reason; known-empty inputs count as nothing there (no barrier: every
    public/private edge unmarked; no entrance: no door). ``attachment``: the grid cells'
    :func:`~cpted.engines.network.nearest_edge` on the site's streets, when known.
    """
    cells = site.grid
    xy = cells[["x", "y"]].to_numpy()
    result = MeasureResult.unknown(cells.index, ["boundary_marked", "boundary_distance", "depth_m", "depth_steps", "ambiguous"],
                                   SUMMARY_KEYS)
    summary, out, layers = result.summary, result.cells, result.layers
    buildings = need(site, "buildings", result, what="frontage and ambiguous space")
    entrances = need(site, "entrances", result, what="doors (entrances per 100 m, their intervisibility and depth)")
    streets = need(site, "streets", result, what="frontage and ambiguous space")
    landuse = need(site, "landuse", result, what="boundary definition")
    barriers = need(site, "barriers", result, what="boundary definition")
    # boundary definition
    plots = private_plots(landuse) if landuse is not None else gpd.GeoSeries([], crs=site.crs)
    if landuse is not None and len(plots) == 0:
        result.missing("boundary definition", "no private plots (private or residential land use) in the area")
    elif landuse is not None and barriers is not None:
        open_space = site.known_area.difference(shapely.union_all(site.private_land.values)) if len(site.private_land) else site.known_area
        edges = boundary_definition(plots, open_space, barriers)
        edges = edges[edges.intersects(site.known_area)] if len(edges) else edges
        layers["boundaries"] = edges
        total = edges["length_m"].sum()
        if total > 0:
            summary["boundary_defined_share"] = float(edges.loc[edges["marked"], "length_m"].sum() / total)
            for klass in ("high_opaque", "see_through", "low"):
                summary[f"boundary_{klass}_share"] = float(edges.loc[edges["class"] == klass, "length_m"].sum() / total)
            (ci, ei), dist = shapely.STRtree(edges.geometry.values).query_nearest(shapely.points(xy), return_distance=True, all_matches=False)
            out.loc[cells.index[ci], "boundary_marked"] = edges["marked"].to_numpy()[ei].astype(float)
            out.loc[cells.index[ci], "boundary_distance"] = dist
        else:
            result.missing("boundary definition", "no public/private edge inside the site")
    # frontage and doors
    if buildings is not None and streets is not None:
        summary.update(frontage(site_streets(site, site.known_area.buffer(site.cell_size)), buildings, entrances))
    entrance_layer = None
    if entrances is not None and len(entrances) and buildings is not None:
        seen = entrance_intervisibility(entrances, buildings)
        inside = shapely.contains_xy(site.known_area, entrances.geometry.x.to_numpy(), entrances.geometry.y.to_numpy())
        entrance_layer = entrances.assign(entrances_in_view=seen.to_numpy())[inside]
        if inside.any():
            summary["entrances_intervisible_share"] = float((seen[inside] >= 1).mean())
    # depth from the public network
    if net is not None:
        node_depths = public_depths(streets, net)  # once, for the cells and the entrances
        depth = depth_from_public(xy, streets, net, node_depths, attachment=attachment)
        out["depth_m"] = depth["depth_m"].to_numpy()
        out["depth_steps"] = depth["depth_steps"].to_numpy()
        summary["cell_depth_mean"] = float(np.nanmean(depth["depth_m"])) if depth["depth_m"].notna().any() else np.nan
        if entrance_layer is not None and len(entrance_layer):
            e_depth = depth_from_public(np.column_stack([entrance_layer.geometry.x, entrance_layer.geometry.y]), streets, net,
                                        node_depths)
            entrance_layer = entrance_layer.assign(depth_m=e_depth["depth_m"].to_numpy(), depth_steps=e_depth["depth_steps"].to_numpy())
            summary["entrance_depth_mean"] = float(np.nanmean(e_depth["depth_m"])) if e_depth["depth_m"].notna().any() else np.nan
    else:
        result.missing("depth", "no usable walk network")
    # ambiguous space
    if buildings is not None and streets is not None:
        flag, polys = ambiguous_space(cells, buildings, entrances, streets, landuse)
        out["ambiguous"] = flag.astype(float)
        summary["ambiguous_share"] = float(flag.mean())
        layers["ambiguous_space"] = polys
    if entrance_layer is not None:
        layers["entrances"] = entrance_layer
    return result
