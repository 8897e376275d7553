"""Street-network engine: radius centralities on the primal (metric) and segment (angular) graphs.

A :class:`Network` is the walk graph of a site in compact array form (CSR), prepared once.
:func:`node_centrality` is the researcher's entry point on any networkx graph.

Definitions (all within a network radius r, in metres):

- ``reach_r``: nodes within r, the source excluded (node count, NC);
- ``farness_r``: the sum of their distances; ``harmonic_r``: the sum of their inverse distances;
- ``betweenness_r``: for every unordered pair (s, t) with d(s, t) ≤ r, the share of the s–t
  shortest paths through the node (endpoints excluded, ties split equally). With r = ∞ this is
  networkx's ``betweenness_centrality(G, normalized=False)`` exactly.
- angular segment analysis (NC, TD, choice, NACH, NAIN): see :mod:`cpted.engines.angular`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import shapely

from cpted.config import column_name
from cpted.engines import _paths
from cpted.errors import InputError
from cpted.prepare.crs import require_projected

__all__ = ["RADII", "Network", "network_from_graph", "network_from_streets", "node_centrality", "segment_centrality", "nearest_edge", "chunks"]

#: Default radii of centralities, metres.
RADII = (400.0, 800.0, 1200.0)


def chunks(n: int, per_thread: int = 8) -> np.ndarray:
    """Chunk boundaries splitting n sources for the parallel kernels."""
    import numba

    parts = max(1, min(n, numba.get_num_threads() * per_thread))
    return np.linspace(0, n, parts + 1).round().astype(np.int64)


@dataclass(frozen=True)
class Network:
    """An undirected graph in CSR form.

    Attributes
    ----------
    indptr, nbr, length, eid
        Adjacency: the neighbours of node i are ``nbr[indptr[i]:indptr[i + 1]]``, through edge
        ``eid`` of metric ``length``.
    xy
        Node coordinates (n, 2).
    edges
        (m, 2) node pairs of the edges; ``edge_length`` their lengths.
    nodes
        The original node labels, in CSR order.
    """

    indptr: np.ndarray
    nbr: np.ndarray
    length: np.ndarray
    eid: np.ndarray
    xy: np.ndarray
    edges: np.ndarray
    edge_length: np.ndarray
    nodes: np.ndarray

    @property
    def n(self) -> int:
        return len(self.indptr) - 1


def _csr(n: int, edges: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, ...]:
    """CSR adjacency of an undirected edge list (each edge in both directions)."""
    u = np.concatenate([edges[:, 0], edges[:, 1]])
    v = np.concatenate([edges[:, 1], edges[:, 0]])
    w = np.concatenate([weights, weights])
    e = np.concatenate([np.arange(len(edges)), np.arange(len(edges))])
    order = np.lexsort((v, u))
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.add.at(indptr, u + 1, 1)
    return np.cumsum(indptr), v[order].astype(np.int64), w[order].astype(float), e[order].astype(np.int64)


def _from_edge_list(labels, edges, lengths, xy) -> Network:
    indptr, nbr, length, eid = _csr(len(labels), edges, lengths)
    return Network(indptr, nbr, length, eid, np.ascontiguousarray(xy, dtype=float), edges, lengths, np.asarray(labels))


def network_from_graph(graph: nx.Graph, *, weight: str = "length") -> Network:
    """A :class:`Network` from an undirected networkx graph with metric edge weights.

    Parallel edges keep their shortest; self-loops are dropped (they are on no shortest path).
    Zero or negative weights are rejected: contract zero-length edges first.
    """
    if graph.is_directed():
        msg = "the graph is directed; pass graph.to_undirected() (walk networks are undirected)"
        raise InputError(msg)
    crs = graph.graph.get("crs")
    if crs is not None:
        require_projected(crs, layer="graph")
    labels = list(graph.nodes)
    index = {node: i for i, node in enumerate(labels)}
    best: dict[tuple[int, int], float] = {}
    for u, v, data in graph.edges(data=True):
        if u == v:
            continue
        w = data.get(weight)
        if w is None or not math.isfinite(float(w)):
            msg = f"edge ({u!r}, {v!r}) has no finite {weight!r}; give every edge a metric weight"
            raise InputError(msg)
        if float(w) <= 0:
            msg = f"edge ({u!r}, {v!r}) has {weight} = {w}; contract zero-length edges (e.g. osmnx.simplification.consolidate_intersections) or drop them"
            raise InputError(msg)
        key = (min(index[u], index[v]), max(index[u], index[v]))
        best[key] = min(best.get(key, math.inf), float(w))
    edges = np.array(list(best), dtype=np.int64).reshape(-1, 2)
    lengths = np.array(list(best.values()), dtype=float)
    xy = np.array([(graph.nodes[n].get("x", 0.0), graph.nodes[n].get("y", 0.0)) for n in labels], dtype=float).reshape(-1, 2)
    return _from_edge_list(labels, edges, lengths, xy)


def network_from_streets(streets: gpd.GeoDataFrame) -> Network:
    """A :class:`Network` from a noded streets layer (``u``, ``v``; lengths from the geometry).

    Self-loops are dropped; edges shorter than 1 mm are contracted (their ends merged).
    Edge ``i`` of the network is row ``i`` of ``streets`` (dropped rows get no edge).
    """
    require_projected(streets.crs, layer="streets")
    missing = [c for c in ("u", "v") if c not in streets]
    if missing:
        msg = (f"layer 'streets': no {' nor '.join(missing)} column: a network needs a noded streets layer "
               "(each line's end nodes u and v); read it with cpted.load (GraphML, OSM) or node it with "
               "cpted.prepare.network.node_streets")
        raise InputError(msg)
    geoms = streets.geometry.values
    lengths = shapely.length(geoms)
    first = shapely.get_coordinates(shapely.get_point(geoms, 0))
    last = shapely.get_coordinates(shapely.get_point(geoms, -1))
    u_lab = streets["u"].to_numpy()
    v_lab = streets["v"].to_numpy()
    labels, inverse = np.unique(np.concatenate([u_lab, v_lab]), return_inverse=True)
    u, v = inverse[: len(u_lab)], inverse[len(u_lab):]
    xy = np.zeros((len(labels), 2))
    xy[u], xy[v] = first, last
    # contract edges shorter than 1 mm: union-find on their ends
    parent = np.arange(len(labels))

    def find(a):
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for a, b in zip(u[lengths < 1e-3], v[lengths < 1e-3], strict=True):
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    root = np.array([find(a) for a in range(len(labels))], dtype=np.int64)
    u, v = root[u], root[v]
    keep = (u != v) & (lengths >= 1e-3)
    edges = np.column_stack([u, v])
    # dropped rows keep their place (edge i stays street row i) with a NaN length, and no adjacency
    indptr, nbr, length, eid = _csr(len(labels), edges[keep], lengths[keep])
    return Network(indptr, nbr, length, np.flatnonzero(keep)[eid], np.ascontiguousarray(xy), edges,
                   np.where(keep, lengths, np.nan), np.asarray(labels))


def _radii_sources(net: Network, radii, sources) -> tuple[np.ndarray, np.ndarray]:
    """Sorted radii (None and non-finite: inf), checked positive; source positions (all by default)."""
    radii = np.asarray(sorted(float(r) if r is not None and math.isfinite(r) else np.inf for r in radii))
    if (radii <= 0).any():
        msg = f"radii must be positive metres, got {list(radii)}"
        raise InputError(msg)
    return radii, np.arange(net.n) if sources is None else np.asarray(sources, dtype=np.int64)


def _run(net: Network, cost: np.ndarray, radii, sources, outside) -> tuple:
    """The general kernel on an undirected graph: every node a target, none terminal, each its own group."""
    radii, sources = _radii_sources(net, radii, sources)
    outside = np.zeros(net.n, dtype=np.bool_) if outside is None else np.asarray(outside, dtype=np.bool_)
    terminal = np.zeros(net.n, dtype=np.bool_)
    target = np.ones(net.n, dtype=np.bool_)
    group = np.arange(net.n, dtype=np.int64)
    # metric: the shortest paths within r are those of any larger bound, so every radius is read off one search
    return radii, sources, _paths.centrality(net.indptr, net.nbr, cost, net.length, net.eid, len(net.edges), net.xy,
                                             radii, sources, outside, chunks(len(sources)),
                                             net.indptr, net.nbr, cost, net.eid, terminal, target, group)


def node_centrality(
    graph: nx.Graph | Network,
    *,
    radii=RADII,
    weight: str = "length",
    sources=None,
) -> pd.DataFrame:
    """Metric radius centralities of every node: harmonic closeness, betweenness, reach.

    Parameters
    ----------
    graph
        An undirected networkx graph with metric edge weights (or a prepared :class:`Network`).
    radii
        Radii in metres; pairs count when their shortest-path distance is ≤ r. ``math.inf``
        gives the global measures.
    weight
        The edge attribute holding lengths.
    sources
        Compute closeness only for these node positions (betweenness then counts only
        paths from them); all nodes by default.

    Returns
    -------
    pandas.DataFrame
        Indexed by node: ``harmonic_<r>``, ``betweenness_<r>``, ``reach_<r>``, ``farness_<r>``.
        Betweenness counts each unordered pair once, excludes the endpoints and splits ties
        equally among equal shortest paths.

    Examples
    --------
    >>> g = nx.path_graph(4)
    >>> nx.set_edge_attributes(g, 100.0, "length")
    >>> c = node_centrality(g, radii=[250, math.inf])
    >>> c[["reach_250", "betweenness_250", "betweenness_inf"]].values.tolist()
    [[2.0, 0.0, 0.0], [3.0, 1.0, 2.0], [3.0, 1.0, 2.0], [2.0, 0.0, 0.0]]
    """
    from cpted.engines import _metric

    net = graph if isinstance(graph, Network) else network_from_graph(graph, weight=weight)
    radii, sources = _radii_sources(net, radii, sources)
    per, node_btw = _metric.node_centrality(net.indptr, net.nbr, net.length, radii, sources, chunks(len(sources)))
    table = {}
    for j, r in enumerate(radii):
        tag = "inf" if math.isinf(r) else f"{int(r)}" if r == int(r) else f"{r:g}"
        harmonic = np.full(net.n, np.nan)
        reach = np.full(net.n, np.nan)
        far = np.full(net.n, np.nan)
        harmonic[sources] = per[:, j, _metric.HARMONIC]
        reach[sources] = per[:, j, _metric.REACH]
        far[sources] = per[:, j, _metric.FARNESS]
        table[f"harmonic_{tag}"] = harmonic
        table[f"betweenness_{tag}"] = node_btw[:, j] / 2.0
        table[f"reach_{tag}"] = reach
        table[f"farness_{tag}"] = far
    return pd.DataFrame(table, index=pd.Index(net.nodes, name="node"))


def nearest_edge(points: np.ndarray, streets: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each point: the nearest street row, the position along it (metres from its start)
    and the distance to it. Rows are positions in ``streets``."""
    geoms = streets.geometry.values
    pts = shapely.points(points)
    (pi, ei), dist = shapely.STRtree(geoms).query_nearest(pts, return_distance=True, all_matches=False)
    order = np.argsort(pi)
    edge = np.asarray(ei)[order]
    along = shapely.line_locate_point(geoms[edge], pts)
    return edge, along, np.asarray(dist)[order]


def street_centrality(streets: gpd.GeoDataFrame, net: Network, *, outside: np.ndarray, radii=RADII) -> tuple[pd.DataFrame, np.ndarray]:
    """Metric and angular centralities per street row, and each node's circuity within 800 m.

    Per street row and radius r: ``harmonic_<r>``, ``reach_<r>`` (means of the two end nodes),
    ``betweenness_<r>`` (edge betweenness, pairs once), ``through_share_<r>`` (the part of it from
    pairs whose ends both have ``outside`` set ÷ all of it; NaN where no path crosses), and the
    angular measures of :func:`segment_centrality`.
    """
    radii_arr, _, (per, _, edge_btw, _, edge_thru) = _run(net, net.length, radii, None, outside)
    u, v = net.edges[:, 0], net.edges[:, 1]
    table = {}
    for j, r in enumerate(radii_arr):
        table[column_name("harmonic", r)] = (per[u, j, _paths.HARMONIC] + per[v, j, _paths.HARMONIC]) / 2
        table[column_name("reach", r)] = (per[u, j, _paths.REACH] + per[v, j, _paths.REACH]) / 2
        btw = edge_btw[:, j] / 2.0
        table[column_name("betweenness", r)] = btw
        with np.errstate(invalid="ignore", divide="ignore"):
            table[column_name("through_share", r)] = np.where(btw > 0, edge_thru[:, j] / 2.0 / np.where(btw > 0, btw, 1), np.nan)
    frame = pd.DataFrame(table, index=streets.index)
    missing = ~np.isfinite(net.edge_length)
    frame.loc[missing, :] = np.nan
    from cpted.engines.angular import segment_centrality

    angular = segment_centrality(streets, net, radii=radii)  # ordered choice (NACH's convention)
    j800 = int(np.argmin(np.abs(radii_arr - 800.0)))
    with np.errstate(invalid="ignore", divide="ignore"):
        circuity = per[:, j800, _paths.FARNESS] / per[:, j800, _paths.EUCLID_SUM]
    return frame.join(angular), circuity


def __getattr__(name: str):
    """``segment_centrality`` lives in :mod:`cpted.engines.angular` (which builds on this module)."""
    if name == "segment_centrality":
        from cpted.engines.angular import segment_centrality

        return segment_centrality
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
