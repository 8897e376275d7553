"""Read OSMnx GraphML walk graphs (``.graphml``, ``.graphml.bz2``) into the streets layer.

Edge attributes are read by :mod:`cpted.load.values`, as OSM tags are: ``tunnel``, ``bridge``,
``covered`` and ``lit`` become nullable booleans (an edge without the attribute is unknown),
``access`` and ``foot`` normalised text; unreadable values warn with the edges' way ids.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from cpted.errors import CorruptFileError, DataNotFoundError
from cpted.load.graphml import read_graphml_edges
from cpted.load.osm_tags import walk_kind
from cpted.load.values import read_categories, read_flags, read_text, warn_unreadable

__all__ = ["is_graphml_file", "read_graphml", "edges_to_streets"]


def is_graphml_file(path: str | Path) -> bool:
    """True for ``.graphml`` and ``.graphml.bz2``.

    Examples
    --------
    >>> is_graphml_file("walk.graphml.bz2")
    True
    """
    return str(path).lower().endswith((".graphml", ".graphml.bz2"))


def read_graphml(path: str | Path) -> gpd.GeoDataFrame:
    """Read an OSMnx GraphML graph into a streets layer (undirected edges, graph CRS).

    The file is streamed (:func:`cpted.load.graphml.read_graphml_edges`): the edges are the ones
    ``osmnx.graph_to_gdfs(osmnx.load_graphml(path), nodes=False)`` gives, without building the
    networkx graph. Reciprocal edges of the directed OSMnx graph (u→v and v→u of the same way) become one
    undirected edge. ``u`` and ``v`` keep the OSM node ids so graphs that overlap can be merged.

    Parameters
    ----------
    path
        A GraphML file written by osmnx, optionally bzip2-compressed.

    Returns
    -------
    geopandas.GeoDataFrame
        The canonical streets columns, plus ``u``, ``v`` and ``osmid``.

    Examples
    --------
    >>> streets = read_graphml(DATA / "nantes/streets/walk_nantes_commune.graphml.bz2")
    >>> len(streets)
    27168
    """
    path = Path(path)
    if not path.exists():
        msg = f"graph file {str(path)!r} does not exist; check the path or run `cpted fetch`"
        raise DataNotFoundError(msg)
    try:  # the edges osmnx.graph_to_gdfs(osmnx.load_graphml(path)) gives, streamed without networkx
        edges = read_graphml_edges(path)
    except Exception as exc:  # noqa: BLE001 - expat, bz2, conversion and GraphML errors alike
        msg = (
            f"graph file {str(path)!r} cannot be read as OSMnx GraphML ({type(exc).__name__}: "
            f"{exc}); it is truncated or not GraphML: download it again or save it with "
            f"osmnx.save_graphml"
        )
        raise CorruptFileError(msg) from None
    return edges_to_streets(edges, name=path.name)


def edges_to_streets(edges: gpd.GeoDataFrame, *, name: str = "GraphML") -> gpd.GeoDataFrame:
    """Turn osmnx edges (directed, with ``u``, ``v``, ``osmid``) into undirected streets.

    ``name`` names the source in the warning about unreadable attribute values.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely import LineString
    >>> e = gpd.GeoDataFrame({"u": [1, 2], "v": [2, 1], "key": [0, 0], "osmid": [7, 7],
    ...     "highway": ["footway"] * 2},
    ...     geometry=[LineString([(0, 0), (1, 0)]), LineString([(1, 0), (0, 0)])], crs=2154)
    >>> edges_to_streets(e)[["u", "v", "walk_kind"]].values.tolist()
    [[1, 2, 'footway']]
    >>> edges_to_streets(e)["tunnel"].tolist()  # no tunnel attribute: unknown
    [<NA>]
    >>> s = edges_to_streets(e)  # the geometry runs from u to v
    >>> list(s.geometry.iloc[0].coords)[0]
    (0.0, 0.0)
    """
    e = edges.copy()
    lo = np.minimum(e["u"].to_numpy(), e["v"].to_numpy())
    hi = np.maximum(e["u"].to_numpy(), e["v"].to_numpy())
    osmid = e["osmid"].map(lambda v: ",".join(sorted(map(str, v))) if isinstance(v, list) else str(v))
    # reciprocal edges share their end nodes, way and length (osmnx's "length" attribute,
    # else the geometry's length: the geometry of a reversed edge is reversed)
    if "length" in e.columns:
        length = pd.to_numeric(e["length"]).round(3)
    else:
        length = pd.Series(shapely.length(e.geometry.values), index=e.index).round(9)
    keep = ~pd.DataFrame({"lo": lo, "hi": hi, "osmid": osmid, "len": length}).duplicated().to_numpy()
    e = e.loc[keep]  # u -> v as osmnx has it: the geometry runs from u to v
    col = lambda name: e[name] if name in e.columns else pd.Series(None, index=e.index)  # noqa: E731
    ids = ("way " + osmid.loc[e.index].astype(object)).to_numpy(dtype=object)
    highway = read_text(col("highway").astype(object))
    unreadable = {}
    columns = {
        "highway": highway.to_numpy(dtype=object),
        "name": read_text(col("name").astype(object)).to_numpy(dtype=object),
        "walk_kind": np.array([walk_kind(h) for h in highway], dtype=object),
    }
    for key in ("access", "foot"):
        if key in e.columns or key == "access":
            reading = read_categories(col(key).astype(object), key, ids=ids)
            columns[key], unreadable[key] = reading.values.to_numpy(dtype=object), reading.unreadable
    for key in ("tunnel", "bridge", "covered", "lit"):  # nullable booleans: <NA> is unknown
        if key in e.columns or key in {"tunnel", "bridge"}:
            reading = read_flags(col(key).astype(object), key, ids=ids)
            columns[key], unreadable[key] = reading.values.array, reading.unreadable
    warn_unreadable(unreadable, layer=f"streets ({name})")
    columns.update({"u": e["u"].to_numpy(), "v": e["v"].to_numpy(), "osmid": osmid.loc[e.index].to_numpy(dtype=object)})
    # object columns stay object (None = missing): pandas 3 would infer str with NaN
    columns = {k: pd.Series(v, dtype=object) if isinstance(v, np.ndarray) and v.dtype == object else v
               for k, v in columns.items()}
    out = gpd.GeoDataFrame(columns, geometry=e.geometry.values, crs=edges.crs)
    return out.reset_index(drop=True)
