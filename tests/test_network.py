"""The network engine and the access-control / activity measures: worked answers, networkx, invariants."""

from __future__ import annotations

import itertools
import math

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely import LineString, Point

from cpted.engines.network import (
    _from_edge_list,
    network_from_graph,
    network_from_streets,
    node_centrality,
    segment_centrality,
)
from cpted.errors import CRSError, InputError
from cpted.measure.access_control import entry_points, escape_routes, movement_predictors, permeability
from cpted.measure.activity import hill_numbers, land_use_mix
from cpted.prepare.network import node_streets


def _graph(edges, length=100.0):
    g = nx.Graph()
    for e in edges:
        u, v, *w = e
        g.add_edge(u, v, length=w[0] if w else length)
    return g


def brute_betweenness(g: nx.Graph, radius: float) -> dict:
    """Definition: for each unordered pair within the radius, the share of its shortest paths through v."""
    out = dict.fromkeys(g, 0.0)
    dist = dict(nx.all_pairs_dijkstra_path_length(g, weight="length"))
    for s, t in itertools.combinations(g.nodes, 2):
        if t not in dist[s] or dist[s][t] > radius:
            continue
        paths = list(nx.all_shortest_paths(g, s, t, weight="length"))
        for p in paths:
            for v in p[1:-1]:
                out[v] += 1.0 / len(paths)
    return out


def test_square_worked_answer():
    c = node_centrality(_graph([(0, 1), (1, 2), (2, 3), (3, 0)]), radii=[150, 250])
    assert c["reach_150"].tolist() == [2, 2, 2, 2]
    assert c["harmonic_150"].tolist() == pytest.approx([0.02] * 4)
    assert c["harmonic_250"].tolist() == pytest.approx([0.025] * 4)
    # opposite corners (200 m) have two shortest paths, one through each other corner
    assert c["betweenness_250"].tolist() == pytest.approx([0.5] * 4)
    assert c["betweenness_150"].tolist() == [0, 0, 0, 0]


def test_cul_de_sac_and_bridge():
    # a square 0-1-2-3 with a dead-end spur 1-4-5 (the spur edges are bridges)
    g = _graph([(0, 1), (1, 2), (2, 3), (3, 0), (1, 4), (4, 5)])
    c = node_centrality(g, radii=[math.inf])
    assert c.loc[5, "betweenness_inf"] == 0 and c.loc[4, "betweenness_inf"] == 4  # 5 with each of 0, 1, 2, 3
    net = network_from_graph(g)
    streets = gpd.GeoDataFrame({"walk_kind": ["street"] * 6, "tunnel": [False] * 6},
                               geometry=[LineString([net.xy[u], net.xy[v]]) for u, v in net.edges], crs=2154)
    pred = movement_predictors(streets, net, np.arange(len(net.edges)), factor=1.5, min_extra=0, min_cut_off=0)
    cut = {tuple(sorted(net.nodes[net.edges[e]])) for e in pred.loc[pred["reason"] == "cut_edge", "segment"]}
    assert cut == {(1, 4), (4, 5)}
    assert pred.loc[pred["reason"] == "detour", "detour_ratio"].tolist() == pytest.approx([3.0] * 4)  # around the square


def test_diamond_with_a_60_degree_turn():
    # segments: a straight west-east line through node X, and a branch leaving X at 60 degrees
    s = gpd.GeoDataFrame(
        {"walk_kind": ["street"] * 3},
        geometry=[LineString([(0, 0), (100, 0)]), LineString([(100, 0), (200, 0)]),
                  LineString([(100, 0), (100 + 100 * math.cos(math.radians(60)), 100 * math.sin(math.radians(60)))])],
        crs=2154,
    )
    s = node_streets(s)
    net = network_from_streets(s)
    a = segment_centrality(s, net, radii=[1000])
    # heading east on segment 0: straight on to segment 1 (0°), or a 60° turn onto the branch
    assert a.loc[0, "angular_depth_1000"] == pytest.approx(60 / 90)
    # heading west on segment 1, the branch is a 120° turn
    assert a.loc[1, "angular_depth_1000"] == pytest.approx(120 / 90)
    # coming down the branch: 60° onto segment 0 (west), 120° onto segment 1 (east)
    assert a.loc[2, "angular_depth_1000"] == pytest.approx(180 / 90)
    assert a.loc[0, "angular_reach_1000"] == 3
    assert a.loc[1, "nain_1000"] == pytest.approx(3**1.2 / (120 / 90 + 2))
    assert a["angular_choice_ordered_1000"].tolist() == [0, 0, 0]  # three segments meeting at one node


@pytest.fixture(scope="module")
def nantes_subgraph(data):
    from cpted.load.graph import read_graphml
    from cpted.prepare.network import walk_graph

    streets = read_graphml(data / "nantes/streets/walk_nantes_commune.graphml.bz2").to_crs(2154)
    centre = gpd.GeoSeries([Point(-1.5965, 47.2232)], crs=4326).to_crs(2154).iloc[0]
    sub = node_streets(streets[streets.intersects(centre.buffer(450))])
    g = nx.Graph(crs="EPSG:2154")
    for u, v, d in walk_graph(sub).edges(data=True):
        if u != v:
            g.add_edge(u, v, length=min(d["length"], g[u][v]["length"]) if g.has_edge(u, v) else d["length"])
    return g


def test_nantes_betweenness_equals_networkx(nantes_subgraph):
    g = nantes_subgraph
    ours = node_centrality(g, radii=[math.inf])
    ref = nx.betweenness_centrality(g, normalized=False, weight="length")
    np.testing.assert_allclose(ours["betweenness_inf"].to_numpy(), [ref[n] for n in ours.index], rtol=1e-9, atol=1e-9)


def test_nantes_radius_measures_equal_networkx(nantes_subgraph):
    g = nantes_subgraph
    ours = node_centrality(g, radii=[200, 400])
    for r in (200, 400):
        lengths = {n: nx.single_source_dijkstra_path_length(g, n, cutoff=r, weight="length") for n in g}
        harmonic = [sum(1 / d for t, d in lengths[n].items() if t != n) for n in ours.index]
        reach = [len(lengths[n]) - 1 for n in ours.index]
        np.testing.assert_allclose(ours[f"harmonic_{r}"].to_numpy(), harmonic, rtol=1e-9)
        np.testing.assert_array_equal(ours[f"reach_{r}"].to_numpy(), reach)
    small = g.subgraph(list(nx.node_connected_component(g, next(iter(g))))[:120]).copy()
    brute = brute_betweenness(small, 200)
    mine = node_centrality(small, radii=[200])["betweenness_200"]
    np.testing.assert_allclose(mine.to_numpy(), [brute[n] for n in mine.index], rtol=1e-9, atol=1e-9)


edge_lists = st.lists(st.tuples(st.integers(0, 9), st.integers(0, 9), st.sampled_from([50.0, 100.0, 150.0, 73.5])),
                      min_size=1, max_size=25)


def _simple(edges):
    g = nx.Graph()
    for u, v, w in edges:
        if u != v:
            g.add_edge(u, v, length=w)
    return g


@settings(max_examples=40, deadline=None)
@given(edge_lists, st.permutations(list(range(10))))
def test_relabelling_changes_nothing(edges, perm):
    g = _simple(edges)
    if g.number_of_edges() == 0:
        return
    mapping = {n: f"n{perm[n]}" for n in g}
    a = node_centrality(g, radii=[120, math.inf])
    b = node_centrality(nx.relabel_nodes(g, mapping), radii=[120, math.inf])
    b.index = [next(k for k, v in mapping.items() if v == label) for label in b.index]
    pd.testing.assert_frame_equal(a.sort_index(), b.sort_index(), check_names=False)


@settings(max_examples=40, deadline=None)
@given(edge_lists, st.tuples(st.integers(0, 9), st.integers(0, 9), st.sampled_from([10.0, 60.0, 200.0])))
def test_adding_an_edge_never_lowers_reach(edges, extra):
    g = _simple(edges)
    if g.number_of_edges() == 0 or extra[0] == extra[1]:
        return
    before = node_centrality(g, radii=[100, 300])
    h = g.copy()
    w = min(extra[2], h[extra[0]][extra[1]]["length"]) if h.has_edge(extra[0], extra[1]) else extra[2]
    h.add_edge(extra[0], extra[1], length=w)
    after = node_centrality(h, radii=[100, 300]).loc[before.index]
    assert (after["reach_100"] >= before["reach_100"]).all() and (after["reach_300"] >= before["reach_300"]).all()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.floats(0, 50), min_size=23, max_size=23), min_size=1, max_size=5))
def test_hill_numbers_are_ordered(rows):
    h = hill_numbers(np.array(rows))
    assert (h["d2"] <= h["d1"] + 1e-9).all() and (h["d1"] <= h["d0"] + 1e-9).all()


def _grid_streets():
    lines = []
    for i in range(4):
        lines.append(LineString([(x, i * 100) for x in (0, 100, 200, 300)]))
        lines.append(LineString([(i * 100, y) for y in (0, 100, 200, 300)]))
    return node_streets(gpd.GeoDataFrame({"walk_kind": ["street"] * 8}, geometry=lines, crs=2154))


def test_land_use_mix_equals_a_direct_count():
    streets = _grid_streets()
    net = network_from_streets(streets)
    pois = gpd.GeoDataFrame({"category": ["shop", "shop", "education", "park"],
                             "opening_hours": ["Mo-Su 10:00-23:00", None, "Mo-Fr 08:00-17:00", None]},
                            geometry=[Point(150, 5), Point(250, 203), Point(10, 290), Point(295, 296)], crs=2154)
    mix = land_use_mix(gpd.GeoSeries([Point(50, 2)], crs=2154), pois, streets, net, radii=[150, 400, 800], by_category=True)
    assert mix.loc[0, ["pois_shop_800", "pois_education_800", "pois_park_800", "pois_health_800"]].tolist() == [2, 1, 1, 0]
    # walks: shop 2+50+50+5 = 107; education 2+50+290+10 = 352; shop 2+50+200+150+3 = 405; park 2+250+295+4 = 551
    assert mix.loc[0, ["pois_150", "pois_400", "pois_800"]].tolist() == [1, 2, 4]
    assert mix.loc[0, "mix_d0_400"] == 2 and mix.loc[0, "mix_d1_400"] == pytest.approx(2.0)
    # 800 m: shop 2, education 1, park 1
    p = np.array([0.5, 0.25, 0.25])
    assert mix.loc[0, "mix_d1_800"] == pytest.approx(math.exp(-(p * np.log(p)).sum()))
    assert mix.loc[0, "mix_d2_800"] == pytest.approx(1 / (p**2).sum())
    assert mix.loc[0, ["night_pois_150", "night_pois_800"]].tolist() == [1, 1]  # the shop open until 23:00


def test_entry_points_escape_routes_and_permeability():
    streets = _grid_streets()
    site = shapely.box(50, 50, 250, 250)
    entries = entry_points(site, streets)
    assert len(entries) == 8 and set(entries["kind"]) == {"street"}
    net = network_from_streets(streets)
    assert set(escape_routes(net, site)) <= {1, 2}
    p = permeability(net, site)
    assert p["intersection_density"] == pytest.approx(4 / 0.04)  # 4 crossings in 0.04 km²
    assert p["dead_end_share"] == 0.0


def test_bad_inputs():
    with pytest.raises(InputError, match="directed"):
        node_centrality(nx.DiGraph([(0, 1)]))
    with pytest.raises(InputError, match="contract zero-length edges"):
        node_centrality(_graph([(0, 1, 0.0)]))
    with pytest.raises(CRSError, match="not a projected"):
        node_centrality(nx.Graph([(0, 1, {"length": 1.0})], crs="EPSG:4326"))
    # self-loops are dropped; a disconnected graph gives values per component
    g = _graph([(0, 1), (1, 1), (2, 3)])
    c = node_centrality(g, radii=[math.inf])
    assert c["reach_inf"].tolist() == [1, 1, 1, 1]
    # zero-length street pieces are contracted, not kept as edges
    s = gpd.GeoDataFrame({"u": [0, 1], "v": [1, 2]}, geometry=[LineString([(0, 0), (0, 0.0001)]), LineString([(0, 0.0001), (0, 10)])], crs=2154)
    assert len(network_from_streets(s).edges) == 2 and np.isnan(network_from_streets(s).edge_length[0])


def test_no_edges_is_an_empty_result():
    c = node_centrality(nx.Graph(), radii=[400])
    assert c.empty
    net = _from_edge_list([0], np.zeros((0, 2), dtype=np.int64), np.zeros(0), np.zeros((1, 2)))
    assert net.n == 1


def test_angular_choice_on_a_straight_street():
    s = node_streets(gpd.GeoDataFrame({"walk_kind": ["street"] * 3}, crs=2154, geometry=[
        LineString([(0, 0), (100, 0)]), LineString([(100, 0), (200, 0)]), LineString([(200, 0), (300, 0)])]))
    a = segment_centrality(s, network_from_streets(s), radii=[1000])
    # only the pair of end segments crosses the middle one: both its directions (ordered), or once
    assert a["angular_choice_ordered_1000"].tolist() == [0, 2, 0]
    u = segment_centrality(s, network_from_streets(s), radii=[1000], pairs="unordered")
    assert u["angular_choice_unordered_1000"].tolist() == [0, 1, 0]
    assert a["angular_depth_1000"].tolist() == [0, 0, 0]  # no turn at all


def test_empty_and_unnoded_streets_layers():
    """An empty (noded) streets layer gives empty results with their columns; a layer without
    u/v is refused with the fix, not an IndexError deep in the CSR build."""
    from cpted.engines.network import street_centrality

    empty = gpd.GeoDataFrame({"u": np.array([], np.int64), "v": np.array([], np.int64)},
                             geometry=gpd.GeoSeries([]), crs=2154)
    net = network_from_streets(empty)
    assert net.n == 0
    table, _ = street_centrality(empty, net, outside=np.zeros(0, bool), radii=[400])
    assert len(table) == 0 and "harmonic_400" in table
    assert len(segment_centrality(empty, net, radii=[400])) == 0
    lines = gpd.GeoDataFrame(geometry=[LineString([(0, 0), (10, 0)])], crs=2154)
    with pytest.raises(InputError, match="node_streets"):
        network_from_streets(lines)
    assert len(network_from_streets(node_streets(lines)).edges) == 1
