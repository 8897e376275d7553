"""The Site, its grid, walk network and completeness: worked answers and invariants."""

from __future__ import annotations

import geopandas as gpd
from geopandas.testing import assert_geodataframe_equal
import networkx as nx
import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely import LineString, box

from cpted.errors import CRSError, InputError, MissingDataError
from cpted.prepare.completeness import building_completeness, completeness, network_coverage
from cpted.prepare.grid import analysis_grid
from cpted.prepare.network import node_streets, walk_graph
from cpted.prepare.site import Site


def _gdf(geoms, crs=2154, **cols):
    return gpd.GeoDataFrame(cols, geometry=list(geoms), crs=crs)


def test_grid_worked_answer():
    # 100 m x 50 m site, 10 m cells, one 20 m x 20 m building in the corner: 50 - 4 = 46 cells
    building = _gdf([box(0, 0, 20, 20)])
    site = Site.from_layers("plaza", box(0, 0, 100, 50), crs=2154, layers={"buildings": building}, cell_size=10)
    assert len(site.grid) == 46
    assert site.grid.geometry.area.eq(100).all()
    assert not site.grid.intersects(box(1, 1, 19, 19)).any()


def test_grid_excludes_private_plots():
    plot = _gdf([box(50, 0, 100, 50)], category=["residential"], access=["private"])
    public = _gdf([box(0, 0, 50, 50)], category=["park"], access=[None])
    site = Site.from_layers("p", box(0, 0, 100, 50), crs=2154, layers={"landuse": [plot, public]}, cell_size=10)
    assert len(site.grid) == 25
    assert (site.grid["x"] < 50).all()


@settings(max_examples=30, deadline=None)
@given(
    dx=st.integers(-1000, 1000),
    dy=st.integers(-1000, 1000),
    w=st.floats(12, 300),
    h=st.floats(12, 300),
)
def test_grid_is_unchanged_under_translation_by_whole_cells(dx, dy, w, h):
    cell = 5.0
    a = analysis_grid(box(0.3, 0.7, w, h), crs=2154, cell_size=cell)
    b = analysis_grid(box(0.3 + dx * cell, 0.7 + dy * cell, w + dx * cell, h + dy * cell), crs=2154, cell_size=cell)
    assert len(a) == len(b)
    assert np.allclose(a["x"] + dx * cell, b["x"]) and np.allclose(a["y"] + dy * cell, b["y"])


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 200), st.floats(0, 200), st.floats(0, 200), st.floats(0, 200)), min_size=1, max_size=15))
def test_coverage_in_range_and_monotone(segments):
    lines = [LineString([(a, b), (c, d)]) for a, b, c, d in segments if (a, b) != (c, d)]
    if not lines:
        return
    streets = _gdf(lines)
    site = Site.from_layers("s", box(0, 0, 200, 200), crs=2154, layers={"streets": streets}, cell_size=10)
    small, _ = network_coverage(site, distance=20)
    large, _ = network_coverage(site, distance=60)
    assert 0.0 <= small <= large <= 1.0


def test_node_streets_splits_at_shared_vertices_only():
    # a cross (shared vertex at 10,0) and a bridge that passes over without a shared vertex
    cross = [LineString([(0, 0), (10, 0), (20, 0)]), LineString([(10, -10), (10, 0), (10, 10)])]
    bridge = LineString([(5, -5), (5, 5)])
    noded = node_streets(_gdf([*cross, bridge]))
    assert len(noded) == 5
    g = walk_graph(noded)
    assert g.number_of_nodes() == 7
    assert g.degree[noded.loc[0, "v"]] == 4
    assert nx.number_connected_components(g) == 2  # the bridge does not meet the streets


@settings(max_examples=30, deadline=None)
@given(st.lists(st.lists(st.tuples(st.integers(0, 20), st.integers(0, 20)), min_size=2, max_size=6), min_size=1, max_size=8))
def test_noding_keeps_length_and_matches_shapely(paths):
    lines = [LineString(p) for p in paths if len(set(p)) > 1]
    lines = [line for line in lines if line.length > 0 and line.is_simple]
    if not lines:
        return
    streets = _gdf(lines)
    noded = node_streets(streets)
    assert noded.length.sum() == pytest.approx(streets.length.sum())
    g = walk_graph(noded)
    # independent reference: components of the lines' shared-vertex adjacency, by brute force
    vertex_sets = [set(map(tuple, shapely.get_coordinates(line).tolist())) for line in lines]
    ref = nx.Graph()
    ref.add_nodes_from(range(len(lines)))
    ref.add_edges_from((i, j) for i in range(len(lines)) for j in range(i) if vertex_sets[i] & vertex_sets[j])
    assert nx.number_connected_components(g) == nx.number_connected_components(ref)


def test_reprojection_happens_on_the_way_in():
    streets_lonlat = _gdf([LineString([(-1.5540, 47.2140), (-1.5530, 47.2140)])], crs=4326)
    centre = gpd.GeoSeries([shapely.Point(-1.5535, 47.2140)], crs=4326).to_crs(2154).iloc[0]
    site = Site.from_layers("n", centre.buffer(200), crs="EPSG:2154", layers={"streets": streets_lonlat})
    assert site.layer("streets").crs.to_epsg() == 2154
    assert site.layer("streets").length.iloc[0] == pytest.approx(75.5, abs=1)  # 0.001 deg of longitude at 47.2 N


def test_caller_layers_are_not_mutated():
    buildings = _gdf([box(0, 0, 10, 10)], height_m=[np.nan], height_source=[None])
    before = buildings.copy()
    Site.from_layers("m", box(0, 0, 50, 50), crs=2154, layers={"buildings": buildings})
    assert_geodataframe_equal(buildings, before)


def test_default_height_is_recorded():
    buildings = _gdf([box(0, 0, 10, 10)], height_m=[np.nan], height_source=[None])
    site = Site.from_layers("h", box(0, 0, 50, 50), crs=2154, layers={"buildings": buildings})
    assert site.layer("buildings")["height_source"].tolist() == ["default"]
    assert site.layer("buildings")["height_m"].tolist() == [9.0]


def test_building_completeness_worked_answer():
    # reference: one 100 x 100 cell with 8 buildings, half inside the site -> 4 expected
    ref = _gdf([box(-50, 0, 50, 100)], n_buildings=[8])
    buildings = _gdf([box(10, 10, 20, 20), box(30, 30, 40, 40), box(-40, 10, -30, 20)])
    site = Site.from_layers("c", box(0, 0, 100, 100), crs=2154, layers={"buildings": buildings},
                            reference_buildings=ref, context=10)
    ratio, expected, why = building_completeness(site)
    assert expected == pytest.approx(4.0)
    assert ratio == pytest.approx(2 / 4)
    assert why is None


def test_missing_layers_are_nan_with_a_reason():
    site = Site.from_layers("e", box(0, 0, 100, 100), crs=2154, layers={})
    facts = completeness(site)
    assert np.isnan(facts["network_coverage"]) and np.isnan(facts["n_buildings"])
    assert "no streets layer given" in facts["notes"]
    with pytest.raises(MissingDataError, match="has no streets layer"):
        _ = site.graph


def test_site_with_no_streets_in_its_area():
    far = _gdf([LineString([(5000, 0), (5100, 0)])])
    near = _gdf([box(10, 10, 20, 20)])
    site = Site.from_layers("x", box(0, 0, 100, 100), crs=2154, layers={"streets": far, "buildings": near}, context=50)
    assert network_coverage(site) == (0.0, "no walkable street in the site's area")
    with pytest.raises(MissingDataError, match="no walkable street"):
        _ = site.graph


def test_geographic_site_crs_is_rejected():
    with pytest.raises(CRSError, match="not a projected metre-based CRS"):
        Site.from_layers("g", box(0, 0, 1, 1), crs=4326)


def test_unsafe_site_id_is_rejected():
    with pytest.raises(InputError, match="not safe as a file name"):
        Site.from_layers("../x", box(0, 0, 1, 1), crs=2154)
