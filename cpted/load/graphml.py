"""Stream an OSMnx GraphML file into its edges table, as osmnx reads it, without networkx.

``osmnx.load_graphml`` builds the whole XML tree, then a networkx ``MultiDiGraph``, before
``osmnx.graph_to_gdfs`` makes the edges table: several hundred MB for a commune. Here expat reads
the (optionally bzip2) stream once and keeps only each node's ``x``/``y`` and each edge's attribute
dict; the edges table is then built by the same pandas/geopandas calls as ``graph_to_gdfs``.

What is reproduced, so that the table is the one osmnx gives (tests/test_graphml.py checks it
against osmnx on the real Nantes graphs and on hand-written files):

- networkx's GraphML reading: ``<key>`` types (``string``, ``int``, ``double``, ``boolean``...),
  node ids as ``int``, the edge key from the ``id`` attribute (``int`` when it reads as one, else
  the text; without it the ``key`` attribute, else the lowest free integer), a repeated edge
  ``(u, v, key)`` updating the first one, the order of ``G.edges``: by source node in node order,
  then by target in order of first edge, then by key; undirected graphs (``edgedefault``) as a
  ``MultiGraph`` lists them;
- osmnx's conversions: ``"[...]"`` / ``"{...}"`` values evaluated as Python literals, the node
  and edge dtypes (``osmid`` int, ``length`` float, ``oneway``/``reversed`` ``"True"``/``"False"``,
  lists item by item), the ``id`` edge attribute dropped, ``geometry`` read as WKT, a missing
  geometry filled with the straight line between the end nodes.

Not supported (an error, :class:`GraphMLError`): yFiles data with sub-elements, nested graphs,
hyperedges, a ``<key>`` declared after the data that use it, typed (non-string) node or edge
attributes (which osmnx cannot read either), a node without ``x``/``y``, a graph without edges or
without a ``crs`` attribute.
"""

from __future__ import annotations

import ast
import bz2
import contextlib
import pyexpat
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

__all__ = ["GraphMLError", "read_graphml_edges"]

NS = "http://graphml.graphdrawing.org/xmlns"
_TYPES = {"integer": int, "int": int, "long": int, "float": float, "double": float, "boolean": bool,
          "string": str, "yfiles": str}  # networkx's reading of attr.type
_BOOLS = {"true": True, "false": False, "0": False, "1": True}  # networkx: lower-cased text


class GraphMLError(ValueError):
    """The file is not a GraphML graph this reader (and osmnx) can read."""


def _bool_string(value):
    """osmnx's ``_convert_bool_string``: ``"True"``/``"False"`` (or a bool) to a bool."""
    if isinstance(value, bool):
        return value
    if value in {"True", "False"}:
        return value == "True"
    msg = f"Invalid literal for boolean: {value!r}."
    raise ValueError(msg)


_GRAPH_DTYPES = {"consolidated": _bool_string, "simplified": _bool_string}
_NODE_DTYPES = {"elevation": float, "elevation_res": float, "osmid": int, "street_count": int, "x": float, "y": float}
_EDGE_DTYPES = {"bearing": float, "grade": float, "grade_abs": float, "length": float, "oneway": _bool_string,
                "osmid": int, "reversed": _bool_string, "speed_kph": float, "travel_time": float}


def _literals(data: dict) -> None:
    """Evaluate stringified lists, dicts and sets in place, as osmnx does."""
    for attr, value in data.items():
        first = value[:1]  # value.startswith("[") and value.endswith("]"), or "{" and "}", cheaper
        if (first == "[" and value[-1:] == "]") or (first == "{" and value[-1:] == "}"):
            with contextlib.suppress(SyntaxError, ValueError):
                data[attr] = ast.literal_eval(value)


def _typed(kind, text: str | None):
    """A ``<data>`` value read with its key's type, as networkx reads it (no text: ``""``)."""
    if text is None:
        return ""
    if kind is bool:
        return _BOOLS[text.lower()]
    return kind(text)


def _scan(stream) -> dict:
    """One pass of expat over ``stream``: keys, graph attributes, nodes' x/y and edges' attributes.

    Only the first ``<graph>`` child of the root is read (as networkx returns the first graph).
    """
    keys, graph_data, nodes, edges = {}, {}, {}, []
    names = {f"{NS} {local}": local for local in ("key", "graph", "node", "edge", "data", "hyperedge")}
    parser = pyexpat.ParserCreate(namespace_separator=" ")
    declared = []
    depth, graphs, inside, directed = 0, 0, False, True
    current = data_key = text = None  # the node or edge being read; the <data> being read, its text

    def chars(data):
        nonlocal text
        text = data if text is None else text + data

    def start(name, attrs):
        nonlocal depth, graphs, inside, directed, current, data_key, text
        depth += 1
        if data_key is not None:  # yFiles content, of which networkx reads labels: not osmnx's
            raise GraphMLError("GraphML data with sub-elements (yFiles) is not supported")
        local = names.get(name)
        if depth == 4 and current is not None:
            if local == "data":
                data_key, text = attrs.get("key"), None
                parser.CharacterDataHandler = chars
            elif local == "graph":
                raise GraphMLError("nested graphs (yFiles group nodes) are not supported")
        elif depth == 3 and inside:
            if local == "node":
                current = ("node", attrs.get("id"), {})
            elif local == "edge":
                way = attrs.get("directed")
                if (directed and way == "false") or (not directed and way == "true"):
                    raise GraphMLError(f"directed={way} edge found in a graph of the other kind.")
                current = ("edge", attrs, {})
            elif local == "data":
                data_key, text = attrs.get("key"), None
                parser.CharacterDataHandler = chars
            elif local == "hyperedge":
                raise GraphMLError("GraphML reader doesn't support hyperedges")
        elif depth == 2:
            if local == "key":
                yfiles = attrs.get("yfiles.type")
                attr, kind = (yfiles, "yfiles") if yfiles is not None else (attrs.get("attr.name"), attrs.get("attr.type"))
                if attr is None:
                    raise GraphMLError(f"Unknown key for id {attrs.get('id')}.")
                keys[attrs.get("id")] = (attr, _TYPES["string" if kind is None else kind])
            elif local == "graph":
                graphs += 1
                inside = graphs == 1
                directed = attrs.get("edgedefault") == "directed"
        elif depth == 1 and name == "graphml" and not attrs and not declared:
            # networkx adds the namespace to a bare <graphml> and reads the file again
            names.update({local: local for local in list(names.values())})

    def end(name):
        nonlocal depth, inside, current, data_key
        depth -= 1
        if data_key is not None:  # a <data> element ends (it has no sub-elements)
            parser.CharacterDataHandler = None
            attr, kind = keys[data_key] if data_key in keys else (None, None)
            if attr is None:
                raise GraphMLError(f"Bad GraphML data: no key {data_key}")
            data_key = None
            if depth == 2:
                graph_data[attr] = _typed(kind, text)
            elif kind is str or text is None:
                current[2][attr] = "" if text is None else text
            else:  # osmnx's conversions need text
                raise GraphMLError(f"typed attribute {attr!r} ({kind.__name__}): osmnx reads string attributes only")
        elif depth == 2 and current is not None:
            what, ident, data = current
            current = None
            if what == "node":
                _literals(data)
                for attr in data.keys() & _NODE_DTYPES.keys():
                    data[attr] = _NODE_DTYPES[attr](data[attr])
                xy = nodes.setdefault(int(ident), [None, None])  # networkx merges a repeated node
                for i, attr in enumerate(("x", "y")):
                    if attr in data:
                        xy[i] = data[attr]
            else:
                edges.append((int(ident.get("source")), int(ident.get("target")), ident.get("id"), data))
        elif depth == 1:
            inside = False

    parser.buffer_text = True
    parser.buffer_size = 1 << 16
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.StartNamespaceDeclHandler = lambda prefix, uri: declared.append(uri) if depth == 0 else None
    parser.ParseFile(stream)
    if not graphs:
        raise GraphMLError("file not successfully read as graphml")
    return {"keys": keys, "graph": graph_data, "nodes": nodes, "edges": edges, "directed": directed}


def _key(ident: str | None, data: dict, keydict: dict | None):
    """The edge key networkx gives: the ``id`` attribute (an int if it reads as one), else the
    ``key`` attribute, else the lowest free integer from the number of edges ``u -> v``."""
    if ident:
        try:
            return int(ident)
        except ValueError:
            return ident
    key = data.get("key")
    if key is None:
        if keydict is None:
            return 0
        key = len(keydict)
        while key in keydict:
            key += 1
    return key


def _ordered_edges(nodes: dict, edges: list, directed: bool) -> list[tuple]:
    """``(u, v, key, data)`` in the order of networkx's ``G.edges(keys=True, data=True)``."""
    adj = {n: {} for n in nodes}
    for u, v, ident, data in edges:
        for n in (u, v):
            if n not in adj:
                raise GraphMLError(f"edge ({u}, {v}) ends at node {n}, which the file does not declare")
        keydict = adj[u].get(v)
        key = _key(ident, data, keydict)
        if keydict is None:
            adj[u][v] = {key: data}
            if not directed:
                adj[v][u] = adj[u][v]
        elif key in keydict:  # the same edge again: its attributes updated
            keydict[key].update(data)
        else:
            keydict[key] = data
    if directed:
        return [(u, v, k, d) for u, nbrs in adj.items() for v, kd in nbrs.items() for k, d in kd.items()]
    seen, out = set(), []
    for u, nbrs in adj.items():
        out.extend((u, v, k, d) for v, kd in nbrs.items() if v not in seen for k, d in kd.items())
        seen.add(u)
    return out


def read_graphml_edges(path: str | Path) -> gpd.GeoDataFrame:
    """The edges of an OSMnx GraphML file, as ``osmnx.graph_to_gdfs(osmnx.load_graphml(path),
    nodes=False, fill_edge_geometry=True).reset_index()`` gives them.

    Parameters
    ----------
    path
        A GraphML file, optionally bzip2-compressed (``.bz2``).

    Returns
    -------
    geopandas.GeoDataFrame
        ``u``, ``v``, ``key``, then the edge attributes in order of first appearance, with the
        graph's ``crs``.

    Raises
    ------
    GraphMLError
        The file is not a GraphML graph osmnx can read (expat, bz2, ``int``/``float`` and WKT
        errors are raised as they are).
    """
    path = Path(path)
    with (bz2.open(path, "rb") if path.name.lower().endswith(".bz2") else path.open("rb")) as stream:
        scan = _scan(stream)
    graph = scan["graph"]
    for attr in graph.keys() & _GRAPH_DTYPES.keys():
        graph[attr] = _GRAPH_DTYPES[attr](graph[attr])
    if "crs" not in graph:
        raise GraphMLError("the graph has no 'crs' attribute")
    nodes = scan["nodes"]
    for n, (x, y) in nodes.items():
        if x is None or y is None:
            raise GraphMLError(f"node {n} has no {'x' if x is None else 'y'} coordinate")
    ordered = _ordered_edges(nodes, scan["edges"], scan["directed"])
    del scan
    if not ordered:
        raise GraphMLError("the graph has no edges")
    wkt, with_wkt = [], []
    for i, (_, _, _, data) in enumerate(ordered):  # osmnx's conversions, on the merged attributes
        data.pop("id", None)
        _literals(data)
        for attr in data.keys() & _EDGE_DTYPES.keys():
            kind, value = _EDGE_DTYPES[attr], data[attr]
            data[attr] = [kind(item) for item in value] if isinstance(value, list) else kind(value)
        if "geometry" in data:
            wkt.append(data["geometry"])
            with_wkt.append(i)
    geoms = np.empty(len(ordered), dtype=object)
    geoms[with_wkt] = shapely.from_wkt(np.array(wkt, dtype=object)) if wkt else []
    for i in with_wkt:
        ordered[i][3]["geometry"] = geoms[i]
    straight = np.setdiff1d(np.arange(len(ordered)), with_wkt)
    if len(straight):
        ends = np.array([nodes[ordered[i][e]] for i in straight for e in (0, 1)], dtype=float).reshape(-1, 2, 2)
        geoms[straight] = shapely.linestrings(ends)
    u, v, k, data = zip(*ordered, strict=True)
    del ordered
    edges = gpd.GeoDataFrame(data, crs=graph["crs"], geometry=list(geoms))  # as graph_to_gdfs does
    edges["u"], edges["v"], edges["key"] = u, v, k
    return edges.set_index(["u", "v", "key"]).reset_index()
