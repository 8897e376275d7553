"""Access control: how the walking network lets people into, through and out of a site.

- **Entry points**: walkable edges crossing the site boundary, by kind (street / footway /
  steps / gated).
- **Permeability**: intersection density, link-node ratio, share of dead ends, route sinuosity
  (Johnson & Bowers 2010, J. Quant. Criminol. 26:89-111: sinuous cul-de-sacs carry lower burglary
  risk).
- **Through-movement**: the share of a segment's betweenness that comes from pairs whose origin
  and destination both lie outside the site (Davies & Johnson 2015, J. Quant. Criminol. 31:481-507:
  more through-movement, more burglary).
- **Movement predictors** (METRAC 1989): chokepoints of the walk network, i.e. segments whose
  removal forces a detour both ``factor`` times their length and ``min_extra`` metres longer, or
  cut edges (graph-theoretic bridges: no way round) that lead to at least ``min_cut_off`` metres
  of network; and tunnels / underpasses (OSM ``tunnel=*``) and steps.
- **Escape routes**: for a place on a segment, the number (0, 1, 2) of edge-disjoint walking
  routes from it to outside the site.

"Cut edge" is the graph's bridge (an edge whose removal disconnects the network); OSM's
``bridge=*`` (a structure) is a different thing and keeps the name ``bridge`` in the streets layer.
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
from cpted.load.values import known_true
from cpted.measure._result import MeasureResult, need

__all__ = ["entry_points", "permeability", "movement_predictors", "escape_routes", "cut_edges", "DETOUR_FACTOR",
           "DETOUR_EXTRA", "CUT_OFF_LENGTH", "GATES"]

#: A segment is a movement predictor when the way round it is more than this many times its
#: length (going round a square block is 3 times: never flagged) ...
DETOUR_FACTOR = 4.0
#: ... and more than this many metres longer than it (docs/methods/access_control.md).
DETOUR_EXTRA = 250.0
#: A cut edge (no way round) is a movement predictor when the network it cuts off holds at least
#: this many metres of walkways; shorter ones are dead ends (``dead_end_share``).
CUT_OFF_LENGTH = 200.0
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


def cut_edges(net: Network) -> dict[int, float]:
    """The cut edges of the network (graph-theoretic bridges) and the length each cuts off.

    A cut edge is an edge whose removal disconnects the network (parallel edges never are).
    Its value is the total length of the smaller of the two parts its removal leaves (0 for
    the last edge of a dead end).

    Examples
    --------
    >>> from cpted.engines.network import _from_edge_list
    >>> # a triangle 0-1-2, a 10 m link 2-3, a 50 m spur 3-4 and a 5 m spur 3-5
    >>> net = _from_edge_list(list(range(6)), np.array([[0, 1], [1, 2], [2, 0], [2, 3], [3, 4], [3, 5]]),
    ...     np.array([100.0, 100, 100, 10, 50, 5]), np.zeros((6, 2)))
    >>> {int(e): float(v) for e, v in sorted(cut_edges(net).items())}
    {3: 55.0, 4: 0.0, 5: 0.0}
    """
    ok = np.isfinite(net.edge_length)
    g = nx.MultiGraph()
    g.add_nodes_from(range(len(net.xy)))
    for e in np.flatnonzero(ok):
        u, v = net.edges[e]
        g.add_edge(int(u), int(v), key=int(e))
    simple = nx.Graph(g)
    found = {}
    for a, b in nx.bridges(simple) if simple.number_of_edges() else []:
        if g.number_of_edges(a, b) == 1:
            found[(min(a, b), max(a, b))] = next(iter(g[a][b]))
    pruned = g.copy()
    pruned.remove_edges_from([(a, b, k) for (a, b), k in found.items()])
    comp = {}
    for i, nodes in enumerate(nx.connected_components(pruned)):
        comp.update(dict.fromkeys(nodes, i))
    # the bridge tree: components joined by the cut edges; a component weighs its edges' length
    weight = np.zeros(max(comp.values(), default=-1) + 1)
    for a, b, k in pruned.edges(keys=True):
        weight[comp[a]] += net.edge_length[k]
    tree = nx.Graph()
    tree.add_nodes_from(range(len(weight)))
    for (a, b), k in found.items():
        tree.add_edge(comp[a], comp[b], key=k)
    out = {}
    for part in nx.connected_components(tree):
        root = next(iter(part))
        parent = dict(nx.dfs_predecessors(tree, root))
        link = {c: net.edge_length[tree[c][p]["key"]] for c, p in parent.items()}
        total = weight[list(part)].sum() + sum(link.values())
        below = {node: weight[node] for node in part}  # length of the subtree under each component
        for node in reversed(list(nx.dfs_preorder_nodes(tree, root))):
            if node in parent:
                below[parent[node]] += below[node] + link[node]
        for child, par in parent.items():
            out[tree[child][par]["key"]] = float(min(below[child], total - below[child] - link[child]))
    return out


def _links(net: Network) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per edge, the junction-to-junction link it lies on once dead-end branches are pruned.

    Dead-end branches (edges that only lead to dead ends) are pruned repeatedly; the edges left
    are chained through nodes of degree 2. Returns per edge the link's end nodes ``a``, ``b``, its
    length and one of its edges (``first``); -1 / NaN for pruned edges and for closed loops
    (a loop hanging on one junction, or a ring), which are judged segment by segment.
    """
    m, n = len(net.edges), len(net.xy)
    ok = np.isfinite(net.edge_length)
    incident: list[list[int]] = [[] for _ in range(n)]
    for e in np.flatnonzero(ok):
        u, v = net.edges[e]
        incident[u].append(int(e))
        incident[v].append(int(e))
    degree = np.array([len(i) for i in incident])
    alive = ok.copy()
    stack = [x for x in range(n) if degree[x] == 1]
    while stack:  # prune dead-end branches
        x = stack.pop()
        if degree[x] != 1:
            continue
        e = next(f for f in incident[x] if alive[f])
        alive[e] = False
        y = net.edges[e][1] if net.edges[e][0] == x else net.edges[e][0]
        degree[x] -= 1
        degree[y] -= 1
        if degree[y] == 1:
            stack.append(int(y))
    a, b, first = np.full(m, -1), np.full(m, -1), np.full(m, -1)
    length = np.full(m, np.nan)
    seen = np.zeros(m, dtype=bool)
    for e in np.flatnonzero(alive):
        if seen[e]:
            continue
        chain, ends, closed = [int(e)], [], False
        seen[e] = True
        for x in net.edges[e]:
            prev = int(e)
            while degree[x] == 2:
                nxt = next(f for f in incident[x] if alive[f] and f != prev)
                if seen[nxt]:
                    closed = True
                    break
                seen[nxt] = True
                chain.append(nxt)
                x = net.edges[nxt][1] if net.edges[nxt][0] == x else net.edges[nxt][0]
                prev = nxt
            ends.append(int(x))
        if closed or ends[0] == ends[1]:
            continue
        a[chain], b[chain], first[chain] = ends[0], ends[1], e
        length[chain] = net.edge_length[chain].sum()
    return a, b, length, first


def movement_predictors(
    streets: gpd.GeoDataFrame,
    net: Network,
    rows: np.ndarray,
    *,
    factor: float = DETOUR_FACTOR,
    min_extra: float = DETOUR_EXTRA,
    min_cut_off: float = CUT_OFF_LENGTH,
) -> gpd.GeoDataFrame:
    """Chokepoints: long detours, cut edges leading somewhere, tunnels, steps.

    Parameters
    ----------
    streets
        The noded streets layer the network was built from (``tunnel``: nullable boolean;
        unknown counts as no tunnel).
    net
        Its network.
    rows
        Street rows to examine (e.g. the segments inside the site).
    factor, min_extra
        A segment is a ``detour`` predictor when the shortest way round its link (the street from
        junction to junction it lies on, dead-end branches ignored, so a driveway does not split a
        street) is both more than ``factor`` times the link's length and more than ``min_extra``
        metres longer. A segment on a closed loop is judged alone.
    min_cut_off
        A cut edge (no way round: a bridge of the graph) is a ``cut_edge`` predictor when the
        part of the network it cuts off holds at least ``min_cut_off`` metres of walkways.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per predictor: ``segment`` (street row), ``reason`` (cut_edge, detour, tunnel,
        steps; several joined by ``+``), ``link_m`` (length of its link), ``detour_ratio`` (way
        round ÷ link length; inf for cut edges), ``detour_extra_m`` (way round − link length; inf
        for cut edges), ``cut_off_m`` (length of network a cut edge cuts off; NaN otherwise).

    Examples
    --------
    >>> from cpted.engines.network import _from_edge_list
    >>> # two 100 m square blocks side by side: going round a block edge is 3 times its length
    >>> xy = np.array([[0, 0], [100, 0], [200, 0], [0, 100], [100, 100], [200, 100]])
    >>> pairs = np.array([[0, 1], [1, 2], [3, 4], [4, 5], [0, 3], [1, 4], [2, 5]])
    >>> net = _from_edge_list(list(range(6)), pairs, np.full(7, 100.0), xy)
    >>> s = gpd.GeoDataFrame({"walk_kind": ["street"] * 7}, geometry=[shapely.LineString(xy[p]) for p in pairs])
    >>> len(movement_predictors(s, net, np.arange(7)))
    0
    >>> # with a laxer rule only the middle street 1-4 qualifies: the outer ones are two 300 m
    >>> # links (from junction 1 to junction 4 round a block), each the way round the other
    >>> movement_predictors(s, net, np.arange(7), factor=2, min_extra=150)[["segment", "link_m", "detour_ratio"]].values.tolist()
    [[5.0, 100.0, 3.0]]
    """
    reasons, ratios, extras, cut_off, link_m, kept = [], [], [], [], [], []
    tunnel = known_true(streets["tunnel"], "tunnel") if "tunnel" in streets else np.zeros(len(streets), bool)
    steps = (streets["walk_kind"] == "steps").to_numpy() if "walk_kind" in streets else np.zeros(len(streets), bool)
    cuts = cut_edges(net)
    ends_a, ends_b, link_length, link_first = _links(net)
    way_round: dict[int, float] = {}  # per link (its first edge) or per segment (closed loops)

    def around(u, v, skip, length):
        """Shortest u-v way avoiding edge ``skip``: inf when it is not a long detour, else its length."""
        if skip not in way_round:
            limit = max(factor * length, length + min_extra)
            short = _paths.detour(net.indptr, net.nbr, net.length, net.eid, int(u), int(v), int(skip), limit)
            way_round[skip] = np.inf if math.isinf(short) else -short  # negative: not a detour
        found = way_round[skip]
        if found == np.inf:  # a long detour: measure it
            found = way_round[skip] = _paths.detour(net.indptr, net.nbr, net.length, net.eid, int(u), int(v),
                                                    int(skip), np.inf)
            return found, True
        return abs(found), found > 0

    for e in rows:
        length = net.edge_length[e]
        if not np.isfinite(length):
            continue
        why = []
        if e in cuts:
            if cuts[e] >= min_cut_off:
                why.append("cut_edge")
            way, link = np.inf, length
        else:
            if link_first[e] >= 0:  # the link from junction to junction it lies on
                u, v, skip, link = ends_a[e], ends_b[e], link_first[e], link_length[e]
            else:  # a closed loop: this segment alone
                (u, v), skip, link = net.edges[e], e, length
            way, long = around(u, v, skip, link)
            if long:
                why.append("detour")
        if tunnel[e]:
            why.append("tunnel")
        if steps[e]:
            why.append("steps")
        if why:
            reasons.append("+".join(why))
            ratios.append(way / link if link > 0 else np.inf)
            extras.append(way - link)
            cut_off.append(cuts.get(e, np.nan))
            link_m.append(link)
            kept.append(e)
    kept = np.asarray(kept, dtype=np.int64)
    return gpd.GeoDataFrame(
        {"segment": kept, "reason": pd.Series(reasons, dtype=object), "detour_ratio": np.asarray(ratios, dtype=float),
         "detour_extra_m": np.asarray(extras, dtype=float), "cut_off_m": np.asarray(cut_off, dtype=float),
         "link_m": np.asarray(link_m, dtype=float)},
        geometry=list(streets.geometry.values[kept]) if len(kept) else [],
        crs=streets.crs,
    )


def escape_routes(net: Network, boundary) -> np.ndarray:
    """Per edge: edge-disjoint walking routes (0, 1 or 2) from a point on it to outside the site.

    All nodes outside the boundary are merged into one exit. A point inside an edge leaves by
    its two ends, so it has 2 routes when the edge lies on a cycle through the exit (no single
    edge cut separates it from outside), 1 when one edge cut does (a dead-end branch, a cut edge),
    0 when it cannot get out at all. Computed from the cut edges (graph bridges) of the merged graph.

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
    cut = set()
    simple = nx.Graph(g)
    multi = {(min(a, b), max(a, b)) for a, b, k in g.edges(keys=True) if g.number_of_edges(a, b) > 1}
    for a, b in nx.bridges(simple) if simple.number_of_edges() else []:
        if (min(a, b), max(a, b)) not in multi:
            cut.add((min(a, b), max(a, b)))
    pruned = simple.copy()
    pruned.remove_edges_from(cut)
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
        out[e] = 2 if key not in cut and comp[a] == comp[exit_node] else 1
    return out


#: Segment columns copied onto the cells (from their nearest segment), per radius.
CELL_SEGMENT_COLUMNS = ("harmonic", "reach", "betweenness", "through_share", "nach", "nain")


#: Summary values of :func:`access_control`.
SUMMARY_KEYS = ("n_entry_points", "n_entry_street", "n_entry_footway", "n_entry_steps", "n_entry_gated",
                "intersection_density", "link_node_ratio", "dead_end_share", "sinuosity", "through_share_800",
                "n_movement_predictors", "n_cut_edges", "n_long_detours", "n_tunnels", "n_steps", "single_escape_share")


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
    escape = escape_routes(net, site.known_area)  # a street running beyond the data is no dead end
    seg = streets.join(segments).assign(escape_routes=escape, in_site=in_site)
    barriers = need(site, "barriers", result, what="gated entry points")
    entries = entry_points(site.boundary, streets, barriers=barriers)
    predictors = movement_predictors(streets, net, np.flatnonzero(in_site))
    seg["movement_predictor"] = seg.index.isin(streets.index[predictors["segment"].to_numpy()])
    summary.update(permeability(net, site.known_area, circuity=circuity))  # per km² of known ground
    summary["n_entry_points"] = len(entries)
    for kind in ("street", "footway", "steps", "gated"):
        summary[f"n_entry_{kind}"] = int((entries["kind"] == kind).sum())
    if barriers is None:  # gates unseen: the count of gated entries is a lower bound
        summary["n_entry_gated"] = np.nan
    unseen = 0.0 if site.data_extent is None else shapely.difference(site.boundary.boundary, site.data_extent).length
    if unseen > site.cell_size:  # the ways crossing the edge there are unknown: the counts are lower bounds
        for key in (k for k in SUMMARY_KEYS if k.startswith("n_entry_")):
            summary[key] = np.nan
        result.missing("entry points", f"{unseen:.0f} m of the site's edge lie beyond the extent of the streets source")
    inside = seg[in_site]
    if "through_share_800" in inside and inside["through_share_800"].notna().any():
        w = inside.length.to_numpy() * inside["betweenness_800"].fillna(0).to_numpy()
        ok = inside["through_share_800"].notna().to_numpy() & (w > 0)
        summary["through_share_800"] = float(np.average(inside["through_share_800"].to_numpy()[ok], weights=w[ok])) if ok.any() else np.nan
    summary["n_movement_predictors"] = len(predictors)
    for reason, key in (("cut_edge", "n_cut_edges"), ("detour", "n_long_detours"), ("tunnel", "n_tunnels"), ("steps", "n_steps")):
        summary[key] = int(predictors["reason"].astype("string").str.contains(reason, na=False).sum())
    cell_cols = [c for c in seg.columns if c.rsplit("_", 1)[0] in CELL_SEGMENT_COLUMNS] + ["escape_routes"]
    values = seg[cell_cols].iloc[nearest].set_index(cells.index)
    summary["single_escape_share"] = float((values["escape_routes"] <= 1).mean())
    result.cells = values
    # the segments layer holds the site's own segments (the streets layer flags them with in_site)
    result.layers = {"segments": seg[in_site].drop(columns="in_site"), "entry_points": entries,
                     "movement_predictors": predictors}
    return result
