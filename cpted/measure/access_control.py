"""Access control: how the walking network lets people into, through and out of a site.

- **Entry points**: walkable edges crossing the site boundary, by kind (street / footway /
  steps / gated).
- **Permeability**: intersection density, link-node ratio, share of dead ends, route sinuosity
  (Johnson & Bowers 2010, J. Quant. Criminol. 26:89-111: sinuous cul-de-sacs carry lower burglary
  risk).
- **Through-movement**: the share of a segment's betweenness that comes from pairs whose origin
  and destination both lie outside the site (Davies & Johnson 2015, J. Quant. Criminol. 31:481-507:
  more through-movement, more burglary).
- **Movement predictors** (METRAC 1989): segments whose removal disconnects the network or
  forces a detour longer than ``factor`` times their length, and tunnels, underpasses, steps.
- **Escape routes**: for a place on a segment, the number (0, 1, 2) of edge-disjoint walking
  routes from it to outside the site.
"""

from __future__ import annotations

import math

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import shapely

from cpted.engines import _paths
from cpted.config import column_name
from cpted.engines.network import RADII, Network
from cpted.measure._result import MeasureResult, need

__all__ = ["entry_points", "permeability", "movement_predictors", "escape_routes", "DETOUR_FACTOR", "GATES"]

#: A segment is a movement predictor when avoiding it costs more than this factor of its length.
DETOUR_FACTOR = 1.5
#: Barrier kinds that gate an entry point.
GATES = ("gate", "lift_gate", "swing_gate", "entrance", "turnstile")
_STREET_KINDS = {"street", "service"}


def entry_points(
    boundary, streets: gpd.GeoDataFrame, *, barriers: gpd.GeoDataFrame | None = None, gate_distance: float = 5.0
) -> gpd.GeoDataFrame:
    """Points where walkable edges cross the site boundary.

    ``kind``: ``gated`` when the edge's access is private / no or a gate barrier lies within
    ``gate_distance`` metres; else ``steps``, ``street`` (streets and service roads) or
    ``footway`` (footways, paths, pedestrian areas, tracks).

    Examples
    --------
    >>> from shapely import LineString, box
    >>> s = gpd.GeoDataFrame({"walk_kind": ["street", "footway"], "access": [None, None]},
    ...     geometry=[LineString([(-10, 5), (5, 5)]), LineString([(5, -10), (5, 3)])], crs=2154)
    >>> entry_points(box(0, 0, 10, 10), s)["kind"].tolist()
    ['street', 'footway']
    """
    ring = boundary.boundary
    geoms = streets.geometry.values
    hits = shapely.intersection(geoms, ring)
    rows, points = [], []
    for i, h in enumerate(hits):
        for p in shapely.get_parts(h):
            if p.geom_type == "Point":
                rows.append(i)
                points.append(p)
    sub = streets.iloc[rows].reset_index(drop=True)
    kinds = np.where(sub["walk_kind"].eq("steps"), "steps",
                     np.where(sub["walk_kind"].isin(_STREET_KINDS), "street", "footway")).astype(object)
    gated = sub["access"].isin(["private", "no"]).to_numpy().copy() if "access" in sub else np.zeros(len(sub), bool)
    if barriers is not None and len(barriers) and len(points):
        gates = barriers[barriers["kind"].isin(GATES)]
        if len(gates):
            near, _ = shapely.STRtree(gates.geometry.values).query(np.array(points, dtype=object), predicate="dwithin", distance=gate_distance)
            gated[np.unique(near)] = True
    kinds[gated] = "gated"
    return gpd.GeoDataFrame(
        {"kind": kinds, "walk_kind": sub["walk_kind"].to_numpy(), "name": sub["name"].to_numpy() if "name" in sub else None,
         "segment": np.asarray(rows, dtype=np.int64)},
        geometry=points, crs=streets.crs,
    )


def _inside_nodes(net: Network, boundary) -> np.ndarray:
    return shapely.contains_xy(boundary, net.xy[:, 0], net.xy[:, 1])


def permeability(net: Network, boundary, *, circuity: np.ndarray | None = None) -> dict[str, float]:
    """Site permeability from the network's nodes inside the boundary.

    Returns ``intersection_density`` (nodes of degree ≥ 3 per km²), ``link_node_ratio`` (edges
    with an end inside ÷ nodes inside), ``dead_end_share`` (degree-1 nodes ÷ nodes inside) and
    ``sinuosity`` (mean over nodes inside of network ÷ straight-line distance to the nodes
    within 800 m, given as ``circuity``).

    Examples
    --------
    >>> from cpted.engines.network import _from_edge_list
    >>> net = _from_edge_list([0, 1, 2, 3], np.array([[0, 1], [1, 2], [1, 3]]), np.ones(3) * 100,
    ...                       np.array([[0, 0], [100, 0], [200, 0], [100, 100]]))
    >>> p = permeability(net, shapely.box(-1, -1, 201, 101))
    >>> p["dead_end_share"], p["link_node_ratio"]
    (0.75, 0.75)
    """
    inside = _inside_nodes(net, boundary)
    degree = np.diff(net.indptr)
    n_in = int(inside.sum())
    out = {"intersection_density": np.nan, "link_node_ratio": np.nan, "dead_end_share": np.nan, "sinuosity": np.nan}
    if n_in == 0:
        return out
    touching = inside[net.edges[:, 0]] | inside[net.edges[:, 1]]
    area_km2 = boundary.area / 1e6
    out["intersection_density"] = float((degree[inside] >= 3).sum() / area_km2)
    out["link_node_ratio"] = float(touching.sum() / n_in)
    out["dead_end_share"] = float((degree[inside] == 1).mean())
    if circuity is not None:
        out["sinuosity"] = float(np.nanmean(circuity[inside])) if np.isfinite(circuity[inside]).any() else np.nan
    return out


def movement_predictors(
    streets: gpd.GeoDataFrame, net: Network, rows: np.ndarray, *, factor: float = DETOUR_FACTOR
) -> gpd.GeoDataFrame:
    """Segments with no good alternative: bridges of the graph, long detours, tunnels, steps.

    Parameters
    ----------
    streets
        The noded streets layer the network was built from.
    net
        Its network.
    rows
        Street rows to examine (e.g. the segments inside the site).
    factor
        A segment is a predictor when the shortest way around it is longer than ``factor``
        times its length (or there is none: a bridge of the graph).

    Returns
    -------
    geopandas.GeoDataFrame
        One row per predictor: ``segment`` (street row), ``reason`` (bridge, detour, tunnel,
        steps; several joined by ``+``), ``detour_ratio`` (inf for bridges).
    """
    reasons, ratios, kept = [], [], []
    tunnel = streets["tunnel"].to_numpy(dtype=bool) if "tunnel" in streets else np.zeros(len(streets), bool)
    steps = (streets["walk_kind"] == "steps").to_numpy() if "walk_kind" in streets else np.zeros(len(streets), bool)
    for e in rows:
        length = net.edge_length[e]
        if not np.isfinite(length):
            continue
        u, v = net.edges[e]
        around = _paths.detour(net.indptr, net.nbr, net.length, net.eid, int(u), int(v), int(e), factor * length)
        why = []
        if math.isinf(around):
            full = _paths.detour(net.indptr, net.nbr, net.length, net.eid, int(u), int(v), int(e), np.inf)
            why.append("bridge" if math.isinf(full) else "detour")
            ratio = full / length
        else:
            ratio = around / length
        if tunnel[e]:
            why.append("tunnel")
        if steps[e]:
            why.append("steps")
        if why:
            reasons.append("+".join(why))
            ratios.append(ratio)
            kept.append(e)
    return gpd.GeoDataFrame(
        {"segment": np.asarray(kept, dtype=np.int64), "reason": reasons, "detour_ratio": ratios},
        geometry=list(streets.geometry.values[np.asarray(kept, dtype=np.int64)]) if kept else [],
        crs=streets.crs,
    )


def escape_routes(net: Network, boundary) -> np.ndarray:
    """Per edge: edge-disjoint walking routes (0, 1 or 2) from a point on it to outside the site.

    All nodes outside the boundary are merged into one exit. A point inside an edge leaves by
    its two ends, so it has 2 routes when the edge lies on a cycle through the exit (no single
    edge cut separates it from outside), 1 when one edge cut does (a dead-end branch, a bridge),
    0 when it cannot get out at all. Computed from the bridges of the merged graph.

    Examples
    --------
    >>> from cpted.engines.network import _from_edge_list
    >>> # a loop 0-1-2 with exits at 0 (to outside node 3) and 2 (to outside node 5), a spur 1-4
    >>> net = _from_edge_list(list(range(6)), np.array([[0, 1], [1, 2], [2, 0], [0, 3], [1, 4], [2, 5]]),
    ...     np.ones(6), np.array([[0, 0], [1, 0], [1, 1], [-5, 0], [2, 0], [1, 5]]))
    >>> escape_routes(net, shapely.box(-0.5, -0.5, 3, 2)).tolist()
    [2, 2, 2, 2, 1, 2]
    """
    inside = _inside_nodes(net, boundary)
    exit_node = -1
    g = nx.MultiGraph()
    g.add_node(exit_node)
    g.add_nodes_from(np.flatnonzero(inside).tolist())
    for e, (u, v) in enumerate(net.edges):
        if not np.isfinite(net.edge_length[e]):
            continue
        a = int(u) if inside[u] else exit_node
        b = int(v) if inside[v] else exit_node
        if a == b == exit_node:
            continue
        g.add_edge(a, b, key=e)
    bridges = set()
    simple = nx.Graph(g)
    multi = {(min(a, b), max(a, b)) for a, b, k in g.edges(keys=True) if g.number_of_edges(a, b) > 1}
    for a, b in nx.bridges(simple) if simple.number_of_edges() else []:
        if (min(a, b), max(a, b)) not in multi:
            bridges.add((min(a, b), max(a, b)))
    pruned = simple.copy()
    pruned.remove_edges_from(bridges)
    comp = {}
    for i, nodes in enumerate(nx.connected_components(pruned)):
        for node in nodes:
            comp[node] = i
    reach = nx.node_connected_component(simple, exit_node)
    out = np.zeros(len(net.edges), dtype=np.int64)
    for e, (u, v) in enumerate(net.edges):
        a = int(u) if inside[u] else exit_node
        b = int(v) if inside[v] else exit_node
        if not np.isfinite(net.edge_length[e]) or (a == b == exit_node):
            out[e] = 2 if a == b == exit_node else 0
            continue
        if a not in reach:
            continue
        key = (min(a, b), max(a, b))
        out[e] = 2 if key not in bridges and comp[a] == comp[exit_node] else 1
    return out


#: Segment columns copied onto the cells (from their nearest segment), per radius.
CELL_SEGMENT_COLUMNS = ("harmonic", "reach", "betweenness", "through_share", "nach", "nain")


#: Summary values of :func:`access_control`.
SUMMARY_KEYS = ("n_entry_points", "n_entry_street", "n_entry_footway", "n_entry_steps", "n_entry_gated",
                "intersection_density", "link_node_ratio", "dead_end_share", "sinuosity", "through_share_800",
                "n_movement_predictors", "n_bridges", "n_long_detours", "n_tunnels", "n_steps", "single_escape_share")


def access_control(site, net: Network | None, segments: pd.DataFrame | None, circuity: np.ndarray | None,
                   nearest: np.ndarray | None, *, radii=RADII, reason: str | None = None) -> MeasureResult:
    """Every access-control measure of a site, from its network and street centralities.

    Returns a :class:`~cpted.measure._result.MeasureResult`: ``cells`` (columns for the grid),
    ``layers`` (``segments``, ``entry_points``, ``movement_predictors``), ``summary`` and
    ``reasons``. With ``net`` None every value is NaN and ``reason`` says why; ``radii`` are
    those of ``segments``. With the barriers unknown, gated entries are found from the
    streets' access tags only (``n_entry_gated`` is then NaN).
    """
    cells = site.grid
    cols = [column_name(c, r) for r in sorted(radii) for c in CELL_SEGMENT_COLUMNS] + ["escape_routes"]
    result = MeasureResult.unknown(cells.index, cols, SUMMARY_KEYS)
    summary = result.summary
    if net is None:
        result.missing("access control", reason or "no usable walk network")
        return result
    streets = site.layer("streets")
    in_site = np.zeros(len(streets), dtype=bool)
    in_site[streets.sindex.query(site.boundary, predicate="intersects")] = True
    escape = escape_routes(net, site.boundary)
    seg = streets.join(segments).assign(escape_routes=escape, in_site=in_site)
    barriers = need(site, "barriers", result, what="gated entry points")
    entries = entry_points(site.boundary, streets, barriers=barriers)
    predictors = movement_predictors(streets, net, np.flatnonzero(in_site))
    seg["movement_predictor"] = seg.index.isin(streets.index[predictors["segment"].to_numpy()])
    summary.update(permeability(net, site.boundary, circuity=circuity))
    summary["n_entry_points"] = len(entries)
    for kind in ("street", "footway", "steps", "gated"):
        summary[f"n_entry_{kind}"] = int((entries["kind"] == kind).sum())
    if barriers is None:  # gates unseen: the count of gated entries is a lower bound
        summary["n_entry_gated"] = np.nan
    inside = seg[in_site]
    if "through_share_800" in inside and inside["through_share_800"].notna().any():
        w = inside.length.to_numpy() * inside["betweenness_800"].fillna(0).to_numpy()
        ok = inside["through_share_800"].notna().to_numpy() & (w > 0)
        summary["through_share_800"] = float(np.average(inside["through_share_800"].to_numpy()[ok], weights=w[ok])) if ok.any() else np.nan
    summary["n_movement_predictors"] = len(predictors)
    for reason, key in (("bridge", "n_bridges"), ("detour", "n_long_detours"), ("tunnel", "n_tunnels"), ("steps", "n_steps")):
        summary[key] = int(predictors["reason"].str.contains(reason).sum())
    cell_cols = [c for c in seg.columns if c.rsplit("_", 1)[0] in CELL_SEGMENT_COLUMNS] + ["escape_routes"]
    values = seg[cell_cols].iloc[nearest].set_index(cells.index)
    summary["single_escape_share"] = float((values["escape_routes"] <= 1).mean())
    result.cells = values
    result.layers = {"segments": seg[in_site], "entry_points": entries, "movement_predictors": predictors}
    return result
