"""The walk network of a site: streets split at junctions, and the undirected walk graph."""

from __future__ import annotations

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import shapely

from cpted.errors import MissingDataError
from cpted.prepare.crs import require_projected

__all__ = ["node_streets", "walk_graph"]


def node_streets(streets: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Split street lines at the vertices they share, and number their end nodes.

    Lines that already carry ``u`` and ``v`` (from a graph) are returned unchanged. Other
    lines (OSM ways, a user's street file) are split wherever a vertex is shared with
    another line or repeated within the line; nodes are numbered by coordinate.

    Parameters
    ----------
    streets
        Canonical streets layer in a projected CRS.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per edge with ``u``, ``v`` and ``length_m`` (the edge's length in the layer's
        CRS units: metres), indexed from 0.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely import LineString
    >>> s = gpd.GeoDataFrame(geometry=[LineString([(0, 0), (10, 0), (20, 0)]),
    ...                                LineString([(10, 0), (10, 10)])], crs=2154)
    >>> node_streets(s)[["u", "v"]].values.tolist()
    [[0, 1], [1, 2], [1, 3]]
    """
    if {"u", "v"} <= set(streets.columns) and streets[["u", "v"]].notna().all().all():
        out = streets.reset_index(drop=True)
        return out.assign(length_m=shapely.length(out.geometry.values))
    lines = streets.explode(index_parts=False).reset_index(drop=True)
    coords, owner = shapely.get_coordinates(lines.geometry.values, return_index=True)
    _, node_of, counts = np.unique(coords.round(6), axis=0, return_inverse=True, return_counts=True)
    node_of = node_of.ravel()
    starts = np.r_[0, np.flatnonzero(np.diff(owner)) + 1]
    ends = np.r_[starts[1:], len(owner)]
    rows, geoms, us, vs = [], [], [], []
    for row, (a, b) in enumerate(zip(starts, ends, strict=True)):
        nodes = node_of[a:b]
        inner = np.flatnonzero(counts[nodes[1:-1]] > 1) + 1
        cuts = np.r_[0, inner, b - a - 1]
        for i, j in zip(cuts[:-1], cuts[1:], strict=True):
            if j > i:
                rows.append(row)
                geoms.append(shapely.linestrings(coords[a + i : a + j + 1]))
                us.append(nodes[i])
                vs.append(nodes[j])
    out = lines.drop(columns=lines.geometry.name).iloc[rows].reset_index(drop=True)
    # renumber nodes densely, in order of first appearance
    codes, _ = pd.factorize(np.ravel(np.column_stack([us, vs])))
    out["u"], out["v"] = codes[0::2], codes[1::2]
    out["length_m"] = shapely.length(geoms)
    return gpd.GeoDataFrame(out, geometry=geoms, crs=streets.crs)


def walk_graph(streets: gpd.GeoDataFrame, *, name: str = "streets") -> nx.MultiGraph:
    """The undirected walk graph of a noded streets layer.

    Nodes carry ``x`` and ``y``; edges carry ``length`` (metres), ``geometry``, ``walk_kind``
    and ``edge`` (the row of the edge in ``streets``).

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely import LineString
    >>> s = gpd.GeoDataFrame({"walk_kind": ["street"]}, geometry=[LineString([(0, 0), (3, 4)])],
    ...                      crs=2154)
    >>> g = walk_graph(node_streets(s))
    >>> g.number_of_nodes(), g.edges[0, 1, 0]["length"]
    (2, 5.0)
    """
    require_projected(streets.crs, layer=name)
    if streets.empty:
        msg = (
            f"layer {name!r} has no walkable street in the analysis area; give a streets layer "
            f"that covers the site (GraphML, OSM or lines) or run `cpted fetch`"
        )
        raise MissingDataError(msg)
    g = nx.MultiGraph(crs=streets.crs)
    geoms = streets.geometry.values
    first = shapely.get_point(geoms, 0)
    last = shapely.get_point(geoms, -1)
    for x, y, node in zip(
        np.r_[shapely.get_x(first), shapely.get_x(last)],
        np.r_[shapely.get_y(first), shapely.get_y(last)],
        np.r_[streets["u"].to_numpy(), streets["v"].to_numpy()],
        strict=True,
    ):
        g.add_node(node, x=x, y=y)
    lengths = shapely.length(geoms)
    kinds = streets["walk_kind"].to_numpy() if "walk_kind" in streets else [None] * len(streets)
    for i, (u, v) in enumerate(zip(streets["u"].to_numpy(), streets["v"].to_numpy(), strict=True)):
        g.add_edge(u, v, length=float(lengths[i]), geometry=geoms[i], walk_kind=kinds[i], edge=i)
    return g
