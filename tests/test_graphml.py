"""The streamed GraphML reader (cpted.load.graphml) against osmnx: the same edges table as
``osmnx.graph_to_gdfs(osmnx.load_graphml(...), nodes=False, fill_edge_geometry=True)`` (rows,
order, columns, dtypes, values, exact geometries, CRS) on the real Nantes graphs and on
hand-written files, and the same streets layer; the same errors where osmnx fails.
"""

from __future__ import annotations

import bz2

import geopandas as gpd
import osmnx as ox
import numpy as np
import pandas as pd
import pytest
import shapely

from cpted.errors import CorruptFileError, DataNotFoundError
from cpted.load.graph import edges_to_streets, read_graphml
from cpted.load.graphml import read_graphml_edges

REAL = ["walk_nantes_commune.graphml.bz2", "walk_nantes_centre_4km.graphml.bz2"]


def osmnx_edges(path) -> gpd.GeoDataFrame:
    """The reference: osmnx reads the file (the reader cpted used before the streamed one)."""
    path = str(path)
    if path.endswith(".bz2"):
        with bz2.open(path, "rt", encoding="utf-8") as f:
            graph = ox.load_graphml(graphml_str=f.read())
    else:
        graph = ox.load_graphml(path)
    return ox.graph_to_gdfs(graph, nodes=False, fill_edge_geometry=True).reset_index()


def assert_same_edges(got: gpd.GeoDataFrame, ref: gpd.GeoDataFrame) -> None:
    assert got.crs == ref.crs
    assert list(got.columns) == list(ref.columns)
    a, b = got.geometry.values, ref.geometry.values
    assert (shapely.get_type_id(a) == shapely.get_type_id(b)).all()  # (equals_identical needs shapely 2.1)
    assert shapely.equals_exact(a, b, tolerance=0.0).all()  # coordinates exactly
    np.testing.assert_array_equal(shapely.get_coordinates(a, include_z=True), shapely.get_coordinates(b, include_z=True))
    pd.testing.assert_frame_equal(got, ref, check_exact=True)


@pytest.mark.parametrize("name", REAL)
def test_real_graphs_read_as_osmnx_reads_them(data, name):
    path = data / "nantes/streets" / name
    got, ref = read_graphml_edges(path), osmnx_edges(path)
    assert len(got) > 50_000
    assert_same_edges(got, ref)
    assert got["osmid"].map(type).eq(list).any() and got["highway"].map(type).eq(list).any()  # lists read as lists
    pd.testing.assert_frame_equal(read_graphml(path), edges_to_streets(ref, name=name), check_exact=True)


# a hand-written graph: node 3 declared after the edges, edges out of order, a reciprocal pair
# (3 -> 1 / 1 -> 3, reversed), parallel edges (keys 0 and 1), an edge without id (key from the
# free keys), an edge given twice (attributes updated), list values, text that looks like a list,
# an escaped name, an empty value, an edge geometry and straight ones filled from the nodes
SMALL = """<?xml version='1.0' encoding='utf-8'?>
<graphml xmlns="http://graphml.graphdrawing.org/xmlns">
  <key id="g0" for="graph" attr.name="crs" attr.type="string"/>
  <key id="g1" for="graph" attr.name="simplified" attr.type="string"/>
  <key id="n0" for="node" attr.name="x" attr.type="string"/>
  <key id="n1" for="node" attr.name="y" attr.type="string"/>
  <key id="n2" for="node" attr.name="osmid" attr.type="string"/>
  <key id="n3" for="node" attr.name="street_count" attr.type="string"/>
  <key id="e0" for="edge" attr.name="osmid" attr.type="string"/>
  <key id="e1" for="edge" attr.name="highway" attr.type="string"/>
  <key id="e2" for="edge" attr.name="oneway" attr.type="string"/>
  <key id="e3" for="edge" attr.name="reversed" attr.type="string"/>
  <key id="e4" for="edge" attr.name="length" attr.type="string"/>
  <key id="e5" for="edge" attr.name="geometry" attr.type="string"/>
  <key id="e6" for="edge" attr.name="name" attr.type="string"/>
  <key id="e7" for="edge" attr.name="lit" attr.type="string"/>
  <key id="e8" for="edge" attr.name="tunnel" attr.type="string"/>
  <graph edgedefault="{edgedefault}">
    <data key="g0">epsg:2154</data>
    <data key="g1">True</data>
    <node id="1"><data key="n0">355000.5</data><data key="n1">6689000.25</data><data key="n2">1</data></node>
    <node id="20"><data key="n0">355100</data><data key="n1">6689000</data><data key="n2">20</data>
      <data key="n3">3</data></node>
    <edge source="20" target="3" id="0">
      <data key="e0">[101, 102]</data><data key="e1">['footway', 'path']</data><data key="e2">False</data>
      <data key="e3">[False, True]</data><data key="e4">70.125</data><data key="e7">yes</data>
    </edge>
    <edge source="1" target="20" id="0">
      <data key="e0">100</data><data key="e1">residential</data><data key="e2">False</data>
      <data key="e3">False</data><data key="e4">100.5</data><data key="e6">Rue [A] &amp; B</data>
      <data key="e5">LINESTRING (355000.5 6689000.25, 355050 6689010, 355100 6689000)</data>
    </edge>
    <edge source="1" target="3" id="0">
      <data key="e0">103</data><data key="e1">service</data><data key="e2">False</data>
      <data key="e3">False</data><data key="e4">50.0</data><data key="e6">[Rue du Port]</data>
    </edge>
    <edge source="3" target="1" id="0">
      <data key="e0">103</data><data key="e1">service</data><data key="e2">False</data>
      <data key="e3">True</data><data key="e4">50.0</data><data key="e8"></data>
    </edge>
    <edge source="1" target="20" id="1">
      <data key="e0">104</data><data key="e1">steps</data><data key="e2">True</data>
      <data key="e3">False</data><data key="e4">120.0</data><data key="e8">yes</data>
    </edge>
    <edge source="1" target="20">
      <data key="e0">105</data><data key="e1">path</data><data key="e2">True</data>
      <data key="e3">False</data><data key="e4">130.0</data>
    </edge>
    <edge source="20" target="3" id="0">
      <data key="e4">71.5</data><data key="e6">Allée</data>
    </edge>
    <node id="3"><data key="n0">355000</data><data key="n1">6689050.5</data><data key="n2">3</data></node>
  </graph>
</graphml>
"""


@pytest.mark.parametrize("edgedefault", ["directed", "undirected"])
@pytest.mark.parametrize("suffix", [".graphml", ".graphml.bz2"])
def test_small_graph_reads_as_osmnx_reads_it(tmp_path, edgedefault, suffix):
    text = SMALL.format(edgedefault=edgedefault)
    path = tmp_path / f"small{suffix}"
    path.write_bytes(bz2.compress(text.encode()) if suffix.endswith(".bz2") else text.encode())
    got, ref = read_graphml_edges(path), osmnx_edges(path)
    assert_same_edges(got, ref)
    # the repeated 20 -> 3 edge updated the first one; undirected, 1 -> 3 and 3 -> 1 are one edge
    assert len(got) == (6 if edgedefault == "directed" else 5)
    first = got.iloc[0]
    assert (first["u"], first["v"], first["key"]) == (1, 20, 0)  # node 1 first, then its targets
    assert got["oneway"].dtype == bool and not first["oneway"]
    assert got["key"].tolist().count(2) == 1  # the edge without id: the free key 2
    assert got.loc[(got["u"] == 1) & (got["v"] == 20), "key"].tolist() == [0, 1, 2]
    assert got["osmid"].map(type).eq(list).sum() == 1 and got["length"].dtype == float
    straight = got[got["osmid"].map(lambda o: o == 103)]
    assert len(straight) == (2 if edgedefault == "directed" else 1)  # a reciprocal pair, one in a MultiGraph
    pd.testing.assert_frame_equal(read_graphml(path), edges_to_streets(ref, name=path.name), check_exact=True)


def _variant(tmp_path, old: str, new: str):
    path = tmp_path / "variant.graphml"
    text = SMALL.format(edgedefault="directed")
    assert old in text
    path.write_text(text.replace(old, new, 1))
    return path


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("<data key=\"e2\">False</data>", "<data key=\"e2\">no</data>"),  # not a boolean osmnx reads
        ("<data key=\"e4\">100.5</data>", "<data key=\"e4\">seventy</data>"),  # not a float (70.125 is updated)
        ("attr.name=\"length\" attr.type=\"string\"", "attr.name=\"length\" attr.type=\"double\""),  # typed
        ("<data key=\"e7\">yes</data>", "<data key=\"e9\">yes</data>"),  # an undeclared key
        ("<node id=\"20\">", "<node id=\"twenty\">"),  # a node id that is not an integer
        ("LINESTRING (355000.5", "LINESTRING (oops"),  # bad WKT
        ("</graph>\n</graphml>", ""),  # truncated
        ("<graphml xmlns=\"http://graphml.graphdrawing.org/xmlns\">", "<graphml xmlns=\"urn:other\">"),  # not GraphML
    ],
)
def test_files_osmnx_cannot_read_are_corrupt(tmp_path, old, new):
    path = _variant(tmp_path, old, new)
    with pytest.raises(Exception):  # noqa: B017, PT011 - the reference fails, whatever its error
        osmnx_edges(path)
    with pytest.raises(CorruptFileError, match="cannot be read as OSMnx GraphML"):
        read_graphml(path)


def test_bare_graphml_root_reads_as_networkx_reads_it(tmp_path):
    """networkx reads a <graphml> without namespace (it adds the namespace and reads again)."""
    path = _variant(tmp_path, "<graphml xmlns=\"http://graphml.graphdrawing.org/xmlns\">", "<graphml>")
    assert_same_edges(read_graphml_edges(path), osmnx_edges(path))


def test_missing_and_non_graphml_files(tmp_path):
    with pytest.raises(DataNotFoundError, match="does not exist"):
        read_graphml(tmp_path / "absent.graphml.bz2")
    (tmp_path / "text.graphml").write_text("not xml at all")
    with pytest.raises(CorruptFileError, match=r"ExpatError"):
        read_graphml(tmp_path / "text.graphml")
    (tmp_path / "plain.graphml.bz2").write_text("<graphml/>")  # not bzip2
    with pytest.raises(CorruptFileError, match=r"OSError"):
        read_graphml(tmp_path / "plain.graphml.bz2")
