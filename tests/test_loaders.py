"""Loaders: GraphML against osmnx, BD TOPO heights, Nantes facility categories, rasters."""

from __future__ import annotations

import bz2

import geopandas as gpd
import networkx as nx
import numpy as np
import osmnx as ox
import pytest
import shapely

from cpted.errors import InputError, MissingColumnsError
from cpted.load.graph import read_graphml
from cpted.load.layers import read_layer
from cpted.load.raster import read_raster


@pytest.fixture(scope="module")
def small_graphml(data, tmp_path_factory):
    """A real subgraph of the Nantes walk graph (1 km around Dervallières), saved as GraphML."""
    text = bz2.open(data / "nantes/streets/walk_nantes_commune.graphml.bz2", "rt").read()
    g = ox.load_graphml(graphml_str=text)
    centre = shapely.Point(-1.5965, 47.2232)
    keep = [n for n, d in g.nodes(data=True) if centre.distance(shapely.Point(d["x"], d["y"])) < 0.008]
    sub = g.subgraph(keep).copy()
    path = tmp_path_factory.mktemp("graph") / "dervallieres.graphml"
    ox.save_graphml(sub, path)
    return path, sub


def test_graphml_undirected_edges_match_osmnx(small_graphml):
    path, directed = small_graphml
    streets = read_graphml(path)
    reference = ox.convert.to_undirected(directed)
    assert len(streets) == reference.number_of_edges()
    ours = sorted((min(u, v), max(u, v)) for u, v in zip(streets["u"], streets["v"], strict=True))
    theirs = sorted((min(u, v), max(u, v)) for u, v, _ in reference.edges(keys=True))
    assert ours == theirs
    # total length agrees with osmnx's own lengths (metres, geodesic) within 0.1 %
    ours_m = streets.to_crs(2154).length.sum()
    theirs_m = sum(d["length"] for *_, d in reference.edges(keys=True, data=True))
    assert ours_m == pytest.approx(theirs_m, rel=1e-3)


def test_graphml_bz2_whole_commune(data):
    streets = read_graphml(data / "nantes/streets/walk_nantes_commune.graphml.bz2")
    assert len(streets) == 27168  # osmnx.convert.to_undirected gives 27,168 edges
    # every edge's geometry runs from its u node to its v node
    starts = shapely.get_coordinates(shapely.get_point(streets.geometry.values, 0))
    ends = shapely.get_coordinates(shapely.get_point(streets.geometry.values, -1))
    position = {}
    for node, xy in zip(np.concatenate([streets["u"], streets["v"]]), np.concatenate([starts, ends]), strict=True):
        position.setdefault(node, xy)
        assert np.allclose(position[node], xy), node
    assert streets.crs.to_epsg() == 4326
    assert set(streets["walk_kind"]) <= {"street", "footway", "pedestrian", "path", "steps", "service", "track", "cycleway", "other"}


def test_bdtopo_heights(data):
    b, info = read_layer(data / "nantes/ile_de_nantes_bdtopo_buildings.geojson", "buildings")
    assert info["format"] == "bdtopo"
    assert len(b) == 1543
    known = b["height_m"].dropna()
    assert known.between(1, 55.6).all()  # the data README: HEIGHT from 1 to 55.6 m
    assert set(b.loc[known.index, "height_source"]) == {"bdtopo"}
    assert not shapely.has_z(b.geometry.values).any()


def test_nantes_facility_categories(data):
    p, info = read_layer(data / "nantes/equipements_2014.gpkg", "pois")
    assert info["format"] == "nantes_equipements"
    assert len(p) == 3441
    police = p[p["LIBCATEGORIE"] == "Police"]
    assert (police["category"] == "security").all() and len(police) == 27
    assert (p.loc[p["LIBCATEGORIE"] == "Parc", "category"] == "park").all()


def test_constant_category_and_vocabulary(data, tmp_path):
    w, _ = read_layer(data / "nantes/waste_containers_2016.geojson", "pois", category="waste")
    assert (w["category"] == "waste").all() and len(w) == 1382  # 2,068 records, 686 exact duplicates dropped (tests/test_inputs.py)
    with pytest.raises(InputError, match="outside the vocabulary"):
        read_layer(data / "nantes/waste_containers_2016.geojson", "pois", category_field="type")
    mapped, _ = read_layer(
        data / "nantes/waste_containers_2016.geojson", "pois",
        category_field="type", category_map={"Conteneur verre": "waste"},
    )
    assert (mapped["category"] == "waste").sum() == 636  # 1,122 records, 486 of them exact duplicates
    assert set(mapped["category"]) == {"waste", "other"}


def test_pois_need_a_category(data):
    with pytest.raises(MissingColumnsError, match="category_field"):
        read_layer(data / "nantes/waste_containers_2016.geojson", "pois")


def test_gzip_ascii_grid(data):
    dem = read_raster(data / "rasters/dem_ancenis_15m_l93.asc.gz")
    assert dem.values.shape == (383, 514)
    assert dem.crs.to_epsg(min_confidence=20) == 2154
    assert dem.bounds == pytest.approx((397227.5, 6706642.5, 397227.5 + 514 * 15, 6706642.5 + 383 * 15))
    assert np.isnan(dem.values).sum() < dem.values.size  # nodata (-9999) became NaN, values remain
    assert np.nanmin(dem.values) > -100


def test_flatgeobuf_and_shapefile_round_trip(data, tmp_path):
    src = gpd.read_file(data / "nantes/ile_de_nantes_bdtopo_buildings.geojson").head(50)
    for name in ("b.fgb", "b.shp"):
        src.to_file(tmp_path / name)
        b, _ = read_layer(tmp_path / name, "buildings")
        assert len(b) == 50
        assert b["height_source"].dropna().eq("bdtopo").all()


def test_graphml_only_holds_streets(small_graphml):
    with pytest.raises(InputError, match="holds streets only"):
        read_layer(small_graphml[0], "buildings")


def test_networkx_agrees_on_components(small_graphml):
    """The streets layer and the osmnx graph have the same connected components."""
    path, directed = small_graphml
    streets = read_graphml(path)
    ours = nx.Graph(list(zip(streets["u"], streets["v"], strict=True)))
    theirs = nx.Graph(ox.convert.to_undirected(directed))
    theirs.remove_nodes_from([n for n in list(theirs) if theirs.degree(n) == 0])
    assert sorted(map(len, nx.connected_components(ours))) == sorted(map(len, nx.connected_components(theirs)))


def test_a_canonical_pois_layer_reads_back_as_it_was(tmp_path):
    """cpted's own pois (category and source_category) written and read again: the QGIS plugin's
    case, which used to duplicate source_category."""
    import geopandas as gpd
    from shapely import Point

    from cpted.load.layers import as_layer, read_layer

    pois = gpd.GeoDataFrame({"category": ["shop", "transit"], "source_category": ["shop=bakery", "highway=bus_stop"]},
                            geometry=[Point(0, 0), Point(1, 1)], crs=2154)
    pois.to_file(tmp_path / "pois.gpkg")
    for layer in (as_layer(pois, "pois")[0], read_layer(tmp_path / "pois.gpkg", "pois")[0]):
        assert layer["category"].tolist() == ["shop", "transit"]
        assert layer["source_category"].tolist() == ["shop=bakery", "highway=bus_stop"]
    mapped = as_layer(pois.assign(kind=["a", "b"]), "pois", category_field="kind",
                      category_map={"a": "shop", "b": "office"})[0]
    assert mapped["category"].tolist() == ["shop", "office"]
    assert mapped["source_category"].tolist() == ["shop", "transit"]  # the layer's own column is kept
