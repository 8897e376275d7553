"""Input hygiene: heights written as text, storey counts, duplicates, streets drawn twice, walk kinds.

The first tests are regressions of observed bugs (each fails on the code before the fix);
then the height parser (Hypothesis); then real data (BD TOPO buildings of Île de Nantes and
the Nantes walk graph), against truths read from the files with geopandas / osmnx.
"""

from __future__ import annotations

import bz2

import geopandas as gpd
import numpy as np
import osmnx as ox
import pandas as pd
import pytest
import shapely
from hypothesis import given
from hypothesis import strategies as st
from shapely import LineString, box

from cpted.config import DEFAULT_BUILDING_HEIGHT, STOREY_HEIGHT
from cpted.load.layers import as_layer, read_layer, tidy_layer
from cpted.pipeline import audit
from cpted.prepare.completeness import completeness
from cpted.prepare.site import Site


def _site(layers, sources=None, *, area=box(-10, -10, 110, 110), **options):
    return Site.from_layers("t", area, crs=2154, layers=layers, sources=sources, context=0, cell_size=10, **options)


def _gpkg(tmp_path, gdf, name="layer.gpkg"):
    path = tmp_path / name
    gdf.to_file(path, driver="GPKG")
    return path


# --- regressions: each failed before the fix -------------------------------------------------

def test_text_heights_are_read_not_defaulted(tmp_path):
    b = gpd.GeoDataFrame({"HAUTEUR": ["12.5 m", "12,5", "40 ft", "7"]},
                         geometry=[box(i * 20, 0, i * 20 + 10, 10) for i in range(4)], crs=2154)
    layer, _ = read_layer(_gpkg(tmp_path, b), "buildings", height_field="HAUTEUR")
    site = _site({"buildings": layer})
    heights = site.layers["buildings"].sort_index()["height_m"].tolist()
    assert heights == pytest.approx([12.5, 12.5, 40 * 0.3048, 7.0])
    assert (site.layers["buildings"]["height_source"] == "attribute").all()


def test_levels_field_feeds_heights_of_vector_layers(tmp_path):
    b = gpd.GeoDataFrame({"NB_ETAGES": ["4", "R+4", "RDC", None]},
                         geometry=[box(i * 20, 0, i * 20 + 10, 10) for i in range(4)], crs=2154)
    layer, _ = read_layer(_gpkg(tmp_path, b), "buildings", levels_field="NB_ETAGES")
    site = _site({"buildings": layer})
    out = site.layers["buildings"].sort_index()
    assert out["height_m"].tolist() == [4 * STOREY_HEIGHT, 5 * STOREY_HEIGHT, STOREY_HEIGHT, DEFAULT_BUILDING_HEIGHT]
    assert out["height_source"].tolist() == ["attribute:levels"] * 3 + ["default"]
    assert out["levels"].tolist()[:3] == [4.0, 5.0, 1.0]


def test_exact_duplicate_buildings_count_once(tmp_path):
    one = gpd.GeoDataFrame({"H": [10.0, 20.0]}, geometry=[box(0, 0, 10, 10), box(30, 0, 40, 10)], crs=2154)
    twice = pd.concat([one, one], ignore_index=True)
    layer, info = read_layer(_gpkg(tmp_path, twice), "buildings", height_field="H")
    assert len(layer) == 2
    site = _site({"buildings": layer}, sources={"buildings": [info]})
    facts = completeness(site)
    assert facts["n_buildings"] == 2
    assert "2 exact duplicate features" in facts["notes"] and "features 2, 3" in facts["notes"]


def test_plain_street_lines_get_their_walk_kind_from_highway(tmp_path):
    s = gpd.GeoDataFrame({"highway": ["residential", "footway", "steps"]},
                         geometry=[LineString([(0, 50), (100, 50)]), LineString([(50, 0), (50, 50)]),
                                   LineString([(50, 50), (50, 100)])], crs=2154)
    layer, _ = read_layer(_gpkg(tmp_path, s), "streets")
    assert layer["walk_kind"].tolist() == ["street", "footway", "steps"]


def test_a_street_drawn_both_ways_is_one_street(tmp_path):
    ab = LineString([(0, 50), (50, 50), (100, 50)])
    s = gpd.GeoDataFrame({"highway": ["residential", "residential"]}, geometry=[ab, ab.reverse()], crs=2154)
    layer, info = read_layer(_gpkg(tmp_path, s), "streets")
    site = _site({"streets": layer}, sources={"streets": [info]})
    assert site.graph.number_of_edges() == 1  # one street, not two parallel edges
    assert "1 street line drawn twice" in completeness(site)["notes"]


def test_implausible_heights_are_unknown_then_the_next_source(tmp_path):
    b = gpd.GeoDataFrame({"H": [500.0, -4.0, 15.0], "N": [3, None, None]},
                         geometry=[box(i * 20, 0, i * 20 + 10, 10) for i in range(3)], crs=2154)
    layer, info = read_layer(_gpkg(tmp_path, b), "buildings", height_field="H", levels_field="N")
    out = _site({"buildings": layer}).layers["buildings"].sort_index()
    assert out["height_m"].tolist() == [3 * STOREY_HEIGHT, DEFAULT_BUILDING_HEIGHT, 15.0]
    assert out["height_source"].tolist() == ["attribute:levels", "default", "attribute"]
    (warning,) = info["warnings"]
    assert "2 implausible height values" in warning and "features 0, 1" in warning


def test_two_ways_of_one_osm_way_between_two_nodes_are_both_kept():
    """A way looping between two graph nodes gives two edges with the same u, v and osmid
    (found on Île de Nantes: a 41.6 m and a 51.1 m service way); both are streets."""
    short, long = LineString([(0, 0), (10, 0)]), LineString([(0, 0), (5, 8), (10, 0)])
    s = gpd.GeoDataFrame({"u": [1, 1], "v": [2, 2], "osmid": ["7", "7"], "walk_kind": ["service"] * 2},
                         geometry=[short, long], crs=2154)
    again = s.iloc[[1]]  # a second graph overlapping the first repeats an edge: merged
    site = _site({"streets": [s, again]})
    assert sorted(site.layers["streets"].length.round(3)) == [10.0, round(long.length, 3)]


# --- the parser -------------------------------------------------------------------------------

def test_parser_forms():
    from cpted.load.heights import parse_height, parse_levels

    assert [parse_height(v) for v in ("12", "12 m", "12,5", "12.5m", "12 mètres")] == [12, 12, 12.5, 12.5, 12]
    assert parse_height("40 ft") == pytest.approx(12.192) and parse_height("40'") == pytest.approx(12.192)
    assert [parse_levels(v) for v in ("4", "4.5", "R+4", "RDC", "R", "R+4+C", "R+4+combles", "rdc+2")] == [
        4, 4.5, 5, 1, 1, 5, 5, 3]
    for bad in ("tall", "12 m;15 m", "R+", "12 km", "", "m"):
        assert np.isnan(parse_height(bad)) and np.isnan(parse_levels(bad)), bad


_metres = st.decimals(min_value="0.01", max_value="349.99", places=2)


@given(_metres)
def test_metres_with_unit_and_decimal_comma_parse_back(x):
    from cpted.load.heights import parse_height

    text = format(x, "f")
    assert parse_height(f"{text} m") == float(x)
    assert parse_height(f"{text}m") == float(x)
    assert parse_height(text.replace(".", ",")) == float(x)


@given(_metres)
def test_feet_parse_back_to_metres(x):
    from cpted.load.heights import parse_height

    assert parse_height(f"{format(x, 'f')} ft") == pytest.approx(float(x) * 0.3048, rel=1e-12)


@given(st.integers(0, 100))
def test_french_storeys(n):
    from cpted.load.heights import parse_levels

    assert parse_levels(f"R+{n}") == n + 1 == parse_levels(f"R + {n} + combles")


def test_unreadable_values_are_reported_not_defaulted(tmp_path):
    b = gpd.GeoDataFrame({"H": ["haut", "12 m", "?"], "N": ["R+2", None, None]},
                         geometry=[box(i * 20, 0, i * 20 + 10, 10) for i in range(3)], crs=2154)
    layer, info = as_layer(b, "buildings", name="mine", height_field="H", levels_field="N")
    out = _site({"buildings": layer}).layers["buildings"].sort_index()
    assert out["height_source"].tolist() == ["attribute:levels", "attribute", "default"]
    assert out["height_m"].tolist() == [9.0, 12.0, DEFAULT_BUILDING_HEIGHT]
    (warning,) = info["warnings"]
    assert warning.startswith("layer 'mine': 2 unreadable height values") and "(features 0, 2)" in warning
    assert "height_issue" not in layer.columns


def test_lamp_and_tree_heights_read_as_text():
    pts = [shapely.Point(i, 0) for i in range(3)]
    lamps, info = as_layer(gpd.GeoDataFrame({"h": ["6 m", "20'", "lampadaire"]}, geometry=pts, crs=2154),
                           "lamps", height_field="h")
    assert lamps["height_m"].tolist()[:2] == pytest.approx([6.0, 6.096]) and np.isnan(lamps["height_m"].iloc[2])
    assert "1 unreadable height value" in info["warnings"][0] and "its height is unknown" in info["warnings"][0]
    trees, info = as_layer(gpd.GeoDataFrame({"height_m": [8.0, 900.0, None]}, geometry=pts, crs=2154), "trees")
    assert trees["height_m"].iloc[0] == 8.0 and trees["height_m"].iloc[1:].isna().all()
    assert "1 implausible height value" in info["warnings"][0]


def test_osm_heights_and_levels_with_units_and_issues():
    from cpted.load.osm_tags import osm_layers

    tags = [{"building": "yes", "height": "12,5 m"}, {"building": "yes", "building:levels": "R+3"},
            {"building": "yes", "height": "very"}, {"building": "yes", "height": "1000", "building:levels": "2"}]
    raw = gpd.GeoDataFrame({"osm_type": ["way"] * 4, "osm_id": [11, 12, 13, 14], "tags": tags},
                           geometry=[box(i * 20, 0, i * 20 + 10, 10) for i in range(4)], crs=2154)
    b, info = tidy_layer(osm_layers(raw)["buildings"], "buildings", name="osm")  # as OSM files are read
    out = _site({"buildings": b}).layers["buildings"].sort_index()
    assert out["height_m"].tolist() == [12.5, 12.0, DEFAULT_BUILDING_HEIGHT, 6.0]
    assert out["height_source"].tolist() == ["osm:height", "osm:levels", "default", "osm:levels"]
    assert any("unreadable height" in w and "way/13" in w for w in info["warnings"])
    assert any("implausible height" in w and "way/14" in w for w in info["warnings"])


def test_warnings_reach_the_notes_once(tmp_path):
    s = gpd.GeoDataFrame({"highway": [None, None]}, geometry=[LineString([(0, 50), (100, 50)])] * 2, crs=2154)
    layer, info = read_layer(_gpkg(tmp_path, s), "streets")
    site = _site({"streets": layer}, sources={"streets": [info, info]})  # one source listed twice
    result = audit(site, measures=["access_control"])
    notes = result.layers["site"]["notes"].iloc[0]
    assert notes.count("exact duplicate") == 1 and notes.count("without 'highway'") == 1
    assert "taken as walk_kind 'street'" in notes


# --- real data: BD TOPO buildings of Île de Nantes --------------------------------------------

@pytest.fixture(scope="module")
def bdtopo(data):
    return gpd.read_file(data / "nantes/ile_de_nantes_bdtopo_buildings.geojson")


def _text_heights(h: pd.Series) -> list:
    forms = (lambda v: f"{v} m", lambda v: f"{v}m", lambda v: str(v).replace(".", ","), lambda v: f"{v}",
             lambda v: f"{v / 0.3048!r} ft")
    return [None if np.isnan(v) else forms[i % len(forms)](v) for i, v in enumerate(h)]


def test_bdtopo_text_heights_equal_the_source_numbers(bdtopo, tmp_path):
    truth = bdtopo["HEIGHT"].astype(float)
    gdf = gpd.GeoDataFrame({"ID": bdtopo["ID"], "HAUTEUR_TXT": _text_heights(truth)}, geometry=bdtopo.geometry,
                           crs=bdtopo.crs)
    layer, info = read_layer(_gpkg(tmp_path, gdf), "buildings", height_field="HAUTEUR_TXT")
    assert info["warnings"] == []
    site = _site({"buildings": layer}, area=shapely.box(*bdtopo.total_bounds))
    out = site.layers["buildings"].set_index("ID").loc[bdtopo["ID"]]
    known = truth.notna().to_numpy()
    assert out["height_m"].to_numpy()[known] == pytest.approx(truth.to_numpy()[known], abs=1e-9)
    assert (out["height_source"].to_numpy()[known] == "attribute").all()
    assert (out["height_source"].to_numpy()[~known] == "default").all() and (~known).sum() == 35


def test_bdtopo_storey_counts_give_storeys_times_storey_height(bdtopo, tmp_path):
    storeys = np.maximum(1, np.round(bdtopo["HEIGHT"].to_numpy() / 3))  # NaN stays NaN
    forms = (lambda k: f"R+{k - 1}", lambda k: f"{k}", lambda k: f"R+{k - 1}+C", lambda k: f"{k}.0")
    text = [None if np.isnan(k) else ("RDC" if k == 1 else forms[i % 4](int(k))) for i, k in enumerate(storeys)]
    gdf = gpd.GeoDataFrame({"ID": bdtopo["ID"], "NB_ETAGES": text}, geometry=bdtopo.geometry, crs=bdtopo.crs)
    layer, info = read_layer(_gpkg(tmp_path, gdf), "buildings", levels_field="NB_ETAGES")
    assert info["warnings"] == []
    out = _site({"buildings": layer}, area=shapely.box(*bdtopo.total_bounds)).layers["buildings"]
    out = out.set_index("ID").loc[bdtopo["ID"]]
    known = ~np.isnan(storeys)
    assert out["levels"].to_numpy()[known].tolist() == storeys[known].tolist()
    assert out["height_m"].to_numpy()[known].tolist() == (storeys[known] * STOREY_HEIGHT).tolist()
    assert (out["height_source"].to_numpy()[known] == "attribute:levels").all()


def test_bdtopo_every_building_twice_audits_like_the_original(bdtopo, tmp_path):
    cx, cy = shapely.box(*bdtopo.total_bounds).centroid.coords[0]
    area = shapely.box(cx - 150, cy - 150, cx + 150, cy + 150)
    twice = gpd.GeoDataFrame(pd.concat([bdtopo, bdtopo], ignore_index=True), crs=bdtopo.crs)
    results = {}
    for label, gdf in (("once", bdtopo), ("twice", twice)):
        layer, info = read_layer(_gpkg(tmp_path, gdf, f"{label}.gpkg"), "buildings")
        site = Site.from_layers("t", area, crs=2154, layers={"buildings": layer}, sources={"buildings": [info]},
                                context=50, cell_size=10)
        results[label] = audit(site, measures=["surveillance"]).layers
    assert len(twice) == 2 * len(bdtopo) == 3086
    once, dup = results["once"], results["twice"]
    pd.testing.assert_frame_equal(once["cells"].drop(columns="geometry"), dup["cells"].drop(columns="geometry"))
    s1, s2 = once["site"].iloc[0], dup["site"].iloc[0]
    for col in once["site"].columns.drop(["geometry", "notes"]):
        assert (s1[col] == s2[col]) or (pd.isna(s1[col]) and pd.isna(s2[col])), col
    assert "1543 exact duplicate features" in s2["notes"] and "duplicate" not in s1["notes"]


def test_exact_duplicates_of_real_containers(data):
    """The 2016 waste containers hold records exported twice (same code, address, point)."""
    raw = gpd.read_file(data / "nantes/waste_containers_2016.geojson")
    key = raw.drop(columns="geometry").astype(str).assign(wkb=shapely.to_wkb(raw.geometry.values))
    expected = int(key.duplicated().sum())  # the truth, from pandas on the file itself
    layer, info = read_layer(data / "nantes/waste_containers_2016.geojson", "pois", category="waste")
    assert expected == 686 and len(layer) == len(raw) - expected
    (warning,) = info["warnings"]
    first = raw.index[key.duplicated().to_numpy()][:5].tolist()  # the first ids, then "…"
    assert warning == (f"layer 'pois (waste_containers_2016.geojson)': {expected} exact duplicate features (same "
                       f"geometry and attributes) dropped (features {', '.join(map(str, first))}, …)")


# --- real data: the Nantes walk graph as a graph and as plain lines --------------------------

@pytest.fixture(scope="module")
def nantes_streets(data, tmp_path_factory):
    """The walk graph's edges inside an 800 m box on Île de Nantes: as GraphML, and as plain
    GeoPackage lines (every directed edge, so two-way streets are drawn A→B and B→A)."""
    with bz2.open(data / "nantes/streets/walk_nantes_commune.graphml.bz2", "rt") as f:
        g = ox.project_graph(ox.load_graphml(graphml_str=f.read()), to_crs=2154)
    centre = shapely.Point(356900, 6688550)
    area = centre.buffer(400, cap_style="square")
    nodes = ox.graph_to_gdfs(g, edges=False)
    sub = g.subgraph(nodes.index[nodes.within(area)]).copy()
    folder = tmp_path_factory.mktemp("streets")
    ox.save_graphml(sub, folder / "sub.graphml")
    edges = ox.graph_to_gdfs(sub, nodes=False, fill_edge_geometry=True).reset_index()
    as_text = lambda v: str(v) if isinstance(v, list) else v  # noqa: E731 - as osmnx writes lists to files
    # the same attributes as the graph's: bridges and tunnels bound the walking reach of the grid
    plain = gpd.GeoDataFrame({"highway": edges["highway"].map(as_text), "name": edges["name"].map(as_text),
                              **{k: edges[k].map(as_text) for k in ("bridge", "tunnel") if k in edges}},
                             geometry=edges.geometry.values, crs=edges.crs)
    plain.to_file(folder / "plain.gpkg", layer="with_highway")
    plain[["geometry"]].to_file(folder / "plain.gpkg", layer="without_highway")
    undirected = ox.convert.to_undirected(sub)
    return area, folder, edges, undirected


def test_plain_lines_and_graph_give_the_same_streets(nantes_streets):
    area, folder, edges, undirected = nantes_streets
    graph, _ = read_layer(folder / "sub.graphml", "streets")
    plain, info = read_layer(folder / "plain.gpkg", "streets", layer="with_highway")
    bare, bare_info = read_layer(folder / "plain.gpkg", "streets", layer="without_highway")
    n = undirected.number_of_edges()  # osmnx's own count of undirected edges
    assert len(edges) > n > 100
    assert len(graph) == len(plain) == len(bare) == n
    assert f"{len(edges) - n} street lines drawn twice" in info["warnings"][0]
    assert any(f"{n} street lines without 'highway'" in w for w in bare_info["warnings"])
    # the same walk kind for the same line; against osmnx's highway value of the edge (one of
    # its values where osmnx merged ways of several highway values, listed in either order)
    from cpted.load.osm_tags import walk_kind

    allowed: dict[bytes, set] = {}
    for geom, h in zip(edges.geometry, edges["highway"], strict=True):
        allowed.setdefault(shapely.normalize(geom).wkb, set()).update(map(walk_kind, h if isinstance(h, list) else [h]))
    kinds = [{shapely.normalize(g).wkb: k for g, k in zip(layer.geometry, layer["walk_kind"], strict=True)}
             for layer in (graph.to_crs(2154), plain)]
    assert kinds[0] == kinds[1]
    assert set(kinds[0]) == set(allowed) and all(k in allowed[key] for key, k in kinds[0].items())
    assert sum(len(v) == 1 for v in allowed.values()) > 0.9 * n  # most edges have one highway value
    assert set(bare["walk_kind"]) == {"street"}
    sites = {label: Site.from_layers("t", area, crs=2154, layers={"streets": layer}, context=100, cell_size=10)
             for label, layer in (("graph", graph), ("plain", plain), ("bare", bare))}
    assert len({len(s.layers["streets"]) for s in sites.values()}) == 1  # no more splitting of plain lines
    scores = {label: audit(s, measures=["access_control"]).layers["site"].iloc[0]["score_access_control"]
              for label, s in sites.items()}
    assert not np.isnan(scores["graph"])
    assert scores["plain"] == pytest.approx(scores["graph"], abs=1e-9)
