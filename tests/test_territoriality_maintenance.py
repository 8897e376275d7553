"""Territoriality and maintenance: worked scenes, real data, invariants and bad input."""

from __future__ import annotations

import math
import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from affine import Affine
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import CRS
from shapely import LineString, Point, box

from cpted.load.layers import read_layer
from cpted.load.raster import Raster, read_raster
from cpted.measure.maintenance import report_density, vegetation_obstruction, write_walk_audit_template
from cpted.measure.territoriality import ambiguous_space, boundary_definition, frontage

OPEN = box(-50, -50, 90, 90).difference(box(0, 0, 40, 40))


def _fence(*coords, kind="fence", height=1.8):
    return gpd.GeoDataFrame({"kind": [kind], "height_m": [height]}, geometry=[LineString(coords)], crs=2154)


def _share(edges):
    return float(edges.loc[edges["marked"], "length_m"].sum() / edges["length_m"].sum())


def test_courtyard_block_with_a_fenced_half():
    block = gpd.GeoSeries([box(0, 0, 40, 40)], crs=2154)
    edges = boundary_definition(block, OPEN, _fence((0, 0), (40, 0), (40, 40)))
    assert _share(edges) == pytest.approx(0.5)
    assert set(edges.loc[edges["marked"], "class"]) == {"see_through"}
    wall = boundary_definition(block, OPEN, _fence((0, 0), (0, 40), kind="wall", height=2.0))
    assert _share(wall) == pytest.approx(0.25) and set(wall.loc[wall["marked"], "class"]) == {"high_opaque"}


@settings(max_examples=30, deadline=None)
@given(st.floats(0, 40), st.floats(0, 40))
def test_adding_a_fence_never_lowers_boundary_definition(a, b):
    block = gpd.GeoSeries([box(0, 0, 40, 40)], crs=2154)
    one = _fence((0, 0), (40, 0))
    lo, hi = sorted((a, b))
    if hi - lo < 1:
        return
    two = pd.concat([one, _fence((0, lo), (0, hi))], ignore_index=True)
    assert _share(boundary_definition(block, OPEN, two)) >= _share(boundary_definition(block, OPEN, one)) - 1e-12


def test_plaza_far_from_any_door_is_ambiguous():
    # a 20 m plaza whose centre is 60 m from the only building and its door, away from streets
    cells = gpd.GeoDataFrame({"x": [70.0, 10.0], "y": [0.0, 0.0]}, geometry=[box(65, -5, 75, 5), box(5, -5, 15, 5)], crs=2154)
    b = gpd.GeoDataFrame(geometry=[box(-10, -10, 10, 10)], crs=2154)
    door = gpd.GeoDataFrame(geometry=[Point(10, 0)], crs=2154)
    streets = gpd.GeoDataFrame({"walk_kind": ["street"]}, geometry=[LineString([(-100, -200), (200, -200)])], crs=2154)
    flag, polys = ambiguous_space(cells, b, door, streets, None)
    assert flag.tolist() == [True, False]
    assert polys["area_m2"].sum() == pytest.approx(100)
    park = gpd.GeoDataFrame({"category": ["park"], "access": [None]}, geometry=[box(60, -10, 80, 10)], crs=2154)
    assert ambiguous_space(cells, b, door, streets, park)[0].tolist() == [False, False]


def test_one_report_with_known_decay():
    r = gpd.GeoDataFrame({"date": pd.to_datetime(["2024-01-01", "2026-01-01"])},
                         geometry=[Point(10, 0), Point(900, 0)], crs=2154)
    rho = report_density(np.array([[0.0, 0.0]]), r, radius=50, half_life=365)
    age = (pd.Timestamp("2026-01-01") - pd.Timestamp("2024-01-01")).days
    assert rho[0] == pytest.approx(2 ** (-age / 365) * 1e4 / (math.pi * 2500))


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.floats(-60, 60), st.floats(-60, 60), st.integers(0, 1000)), min_size=1, max_size=8))
def test_adding_a_report_never_lowers_density(reports):
    ref = pd.Timestamp("2026-01-01")
    frame = gpd.GeoDataFrame({"date": [ref - pd.Timedelta(days=d) for *_, d in reports]},
                             geometry=[Point(x, y) for x, y, _ in reports], crs=2154)
    places = np.array([[0.0, 0.0], [30.0, 30.0]])
    assert (report_density(places, frame, reference=ref) >= report_density(places, frame.iloc[:-1], reference=ref) - 1e-12).all()


def test_reports_without_dates_and_unknown_categories(tmp_path):
    r = gpd.GeoDataFrame({"type": ["tag", "graffiti", "mystery"], "when": ["2025-05-01", None, "bad"]},
                         geometry=[Point(0, 0), Point(1, 1), Point(2, 2)], crs=2154)
    r.to_file(tmp_path / "r.gpkg")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        layer, _ = read_layer(tmp_path / "r.gpkg", "reports", category_field="type", date_field="when")
    assert layer["category"].tolist() == ["other", "graffiti", "other"]
    assert any("2 reports with categories outside the vocabulary" in str(w.message) for w in caught)
    assert layer["date"].isna().sum() == 2
    # undated reports weigh 1, never an invented age
    rho = report_density(np.array([[0.0, 0.0]]), layer, radius=50, reference=pd.Timestamp("2026-05-01"))
    assert rho[0] == pytest.approx((0.5 + 1 + 1) * 1e4 / (math.pi * 2500))


def _raster(values, x0=0.0, y1=10.0, cell=1.0, crs="EPSG:2154"):
    return Raster(values=np.asarray(values, dtype=float), transform=Affine(cell, 0, x0, 0, -cell, y1), crs=CRS.from_user_input(crs))


def test_vegetation_worked_rasters():
    # a 20 x 10 m raster of 1 m cells; a 1.5 m hedge along y = 6..7 for x < 10, 6 m trees for x >= 10
    v = np.zeros((10, 20))
    v[3:5, :10] = 1.5
    v[3:5, 10:] = 6.0
    path = gpd.GeoDataFrame(geometry=[LineString([(0, 5), (20, 5)])], crs=2154)
    layer, values = vegetation_obstruction(path, _raster(v), distance=2.0, step=2.0)
    # piece middles at x = 1, 3, ..., 19; the hedge cells (centres x = 0.5..9.5) lie within
    # 2 m (+ half a cell) of the middles x = 1..11: 6 pieces of 10
    assert values["vegetation_obstruction"] == pytest.approx(0.6)
    assert layer["obstructed"].tolist() == [True] * 6 + [False] * 4
    assert values["raster_coverage"] == pytest.approx(1.0)
    far = gpd.GeoDataFrame(geometry=[LineString([(0, 0.5), (20, 0.5)])], crs=2154)
    assert vegetation_obstruction(far, _raster(v), distance=2.0)[1]["vegetation_obstruction"] == 0.0


def test_raster_in_another_crs_and_partly_outside():
    v = np.zeros((10, 20))
    v[3:5, :10] = 1.5
    path = gpd.GeoDataFrame(geometry=[LineString([(0, 5), (20, 5)])], crs=2154)
    # the same raster expressed in UTM 30N: the path is reprojected, never the raster
    from pyproj import Transformer

    base = _raster(v)
    shifted = path.to_crs(2154)
    _, a = vegetation_obstruction(shifted, base)
    assert a["vegetation_obstruction"] == pytest.approx(0.6)
    long_path = gpd.GeoDataFrame(geometry=[LineString([(0, 5), (40, 5)])], crs=2154)
    _, b = vegetation_obstruction(long_path, base)
    # the raster ends at x = 20: pieces beyond x = 22.5 see no cell and are not counted
    assert b["raster_coverage"] == pytest.approx(0.55)
    assert b["vegetation_obstruction"] == pytest.approx(6 / 11)
    # near Nantes: the same hedge on a UTM 30N raster, the path in Lambert-93
    ux0, uy1 = Transformer.from_crs(2154, 32630, always_xy=True).transform(355000.0, 6688010.0)
    nantes_path = gpd.GeoDataFrame(geometry=[LineString([(355000, 6688005), (355020, 6688005)])], crs=2154)
    _, c = vegetation_obstruction(nantes_path, _raster(v, x0=ux0, y1=uy1, crs="EPSG:32630"))
    assert c["raster_coverage"] == 1.0
    assert c["vegetation_obstruction"] == pytest.approx(0.6, abs=0.1)  # the two grids differ by ~1.5° of rotation


def test_real_raster_reader(data):
    dem = read_raster(data / "rasters/dem_ancenis_15m_l93.asc.gz")
    x0, y0, x1, y1 = dem.bounds
    line = gpd.GeoDataFrame(geometry=[LineString([(x0 + 500, y0 + 500), (x0 + 1500, y0 + 500)])], crs=2154)
    _, values = vegetation_obstruction(line, dem, distance=15.0)
    assert values["raster_coverage"] == 1.0  # every sample falls on the DEM (terrain heights, not vegetation)


def test_walk_audit_template(tmp_path):
    from pathlib import Path

    shipped = Path(__file__).resolve().parents[1] / "templates" / "walk_audit.gpkg"
    write_walk_audit_template(tmp_path / "w.gpkg")
    for path in (shipped, tmp_path / "w.gpkg"):
        info = pyogrio.read_info(path, layer="walk_audit")
        assert list(info["fields"]) == ["category", "severity", "date", "comment", "photo", "walk"]
        assert info["geometry_type"] == "Point" and info["features"] == 0
    filled = gpd.GeoDataFrame({"category": ["bulky_waste"], "severity": [2], "date": pd.to_datetime(["2026-03-01"]),
                               "comment": ["encombrants"], "photo": ["p1.jpg"], "walk": ["GUSP"]},
                              geometry=[Point(355000, 6688000)], crs=2154)
    filled.to_file(tmp_path / "filled.gpkg", layer="walk_audit")
    reports, _ = read_layer(tmp_path / "filled.gpkg", "reports")
    assert reports["category"].tolist() == ["bulky_waste"] and reports["comment"].tolist() == ["encombrants"]


def test_frontage_on_ile_de_nantes(data):
    from cpted.load.graph import read_graphml

    b, _ = read_layer(data / "nantes/ile_de_nantes_bdtopo_buildings.geojson", "buildings", repair=True)
    streets = read_graphml(data / "nantes/streets/walk_nantes_commune.graphml.bz2").to_crs(2154)
    window = box(355500, 6688000, 356500, 6688600)
    local = streets[streets.intersects(window)]
    f = frontage(local, b, None)
    # independent brute force: sample the same points and measure their distance to the nearest footprint
    union = shapely.union_all(b.geometry.values)
    pts = []
    for line in local.geometry.values:
        n = max(1, int(line.length // 5.0))
        pts += list(shapely.line_interpolate_point(line, (np.arange(n) + 0.5) / n, normalized=True))
    brute = np.mean([p.distance(union) <= 15.0 for p in pts])
    assert f["fronted_share"] == pytest.approx(brute)
    assert 0.2 < f["fronted_share"] < 1


def test_le_mans_against_an_independent_reading(data, samples):
    """Boundary definition and entrance density of the Le Mans site, recomputed from the raw OSM
    file with pyosmium and plain shapely geometry (no cpted loader, no pieces)."""
    import osmium

    from cpted.load.sites_file import read_sites_file
    from cpted.pipeline import audit, load_site

    spec = read_sites_file(samples / "france_osm.toml", data_dir=data).site("le_mans_centre")
    result = audit(load_site(spec))
    ours = result.summary
    # the site reaches beyond the extract's box (its header, as pyosmium reads it), where nothing
    # is known of buildings: cpted measures boundaries and frontage inside the box only, and so does this
    box = osmium.io.Reader(str(spec.layers["osm"][0].path), osmium.osm.osm_entity_bits.NOTHING).header().box()
    box = gpd.GeoSeries([shapely.box(box.bottom_left.lon, box.bottom_left.lat, box.top_right.lon,
                                     box.top_right.lat).segmentize(1e-4)], crs=4326).to_crs(2154).iloc[0]
    site = result.site.boundary.intersection(box)
    wkb = osmium.geom.WKBFactory()
    barriers, plots, buildings, entrances, ways = [], [], [], [], []
    for obj in osmium.FileProcessor(str(data / "france/le_mans_centre.osm.pbf")).with_areas().with_locations():
        t = obj.tags
        try:
            if obj.is_node() and t.get("entrance", "no") != "no":
                entrances.append(shapely.from_wkb(wkb.create_point(obj)))
            elif obj.is_way() and t.get("barrier", "no") != "no":
                barriers.append(shapely.from_wkb(wkb.create_linestring(obj)))
            elif obj.is_way() and "highway" in t and t["highway"] not in ("motorway", "cycleway", "construction", "proposed"):
                if t.get("area") != "yes" and t.get("access") != "private" and t.get("foot") != "no":
                    ways.append(shapely.from_wkb(wkb.create_linestring(obj)))
            elif obj.is_area():
                geom = shapely.from_wkb(wkb.create_multipolygon(obj))
                if t.get("building", "no") != "no":
                    buildings.append(geom)
                elif t.get("access") in ("private", "no", "residents", "customers") or t.get("landuse") == "residential":
                    plots.append((geom, t.get("landuse") == "residential" and t.get("access") not in ("private", "no", "residents", "customers")))
        except RuntimeError:
            continue
    proj = lambda geoms: gpd.GeoSeries(geoms, crs=4326).to_crs(2154)  # noqa: E731
    plot_geoms = proj([g for g, _ in plots])
    small_or_private = [not residential or area <= 1e4 for (_, residential), area in zip(plots, plot_geoms.area, strict=True)]
    plot_geoms = plot_geoms[small_or_private]
    private = shapely.union_all(np.concatenate([proj(buildings).values, plot_geoms.values]))
    open_space = site.difference(private)
    edge = shapely.intersection(shapely.union_all(shapely.boundary(plot_geoms.values)), open_space.buffer(0.01))
    edge = shapely.intersection(edge, site.buffer(5))  # pieces meeting the site
    marked = shapely.intersection(edge, shapely.union_all(proj(barriers).values).buffer(2.0))
    independent = marked.length / edge.length
    assert ours["boundary_defined_share"] == pytest.approx(independent, abs=0.06)
    # entrances within 15 m of a walkable way meeting the site
    way_geoms = proj(ways)
    local = way_geoms[way_geoms.intersects(site)].intersection(site.buffer(5))  # the street length cpted measures
    e = proj(entrances)
    near = e[e.apply(lambda p: local.distance(p).min() <= 15.0)]
    streets = result.site.layer("streets")
    ours_local = streets.iloc[streets.sindex.query(result.site.boundary, predicate="intersects")]
    ours_count = ours["entrances_per_100m"] * ours_local.intersection(site.buffer(5)).length.sum() / 100
    assert ours_count == pytest.approx(len(near), abs=1)
    assert len(entrances) == 35


def test_walk_audits_in_a_batch(data, tmp_path):
    from cpted.pipeline import batch

    filled = gpd.GeoDataFrame({"category": ["bulky_waste", "graffiti"], "severity": [2, 1],
                               "date": pd.to_datetime(["2026-03-01", "2026-03-01"]), "comment": ["encombrants", "tag"],
                               "photo": [None, None], "walk": ["marche exploratoire"] * 2},
                              geometry=[Point(355100, 6688100), Point(355300, 6688300)], crs=2154)
    filled.to_file(tmp_path / "walk.gpkg", layer="walk_audit")
    sites = tmp_path / "s.toml"
    sites.write_text(
        '[[site]]\nid = "a"\nbbox = [355000, 6688000, 355400, 6688400]\ncrs = "EPSG:2154"\n[site.layers]\n'
        f'buildings = "{data}/nantes/ile_de_nantes_bdtopo_buildings.geojson"\n'
        f'walk_audits = "{tmp_path}/walk.gpkg"\n'
    )
    result = batch(sites, tmp_path / "out")
    row = result.summary.iloc[0]
    assert row["status"] == "ok" and row["n_reports"] == 2
    audit_layer = pyogrio.read_dataframe(tmp_path / "out" / "a" / "audit.gpkg", layer="walk_audit")
    assert audit_layer["comment"].tolist() == ["encombrants", "tag"]
    cells = pyogrio.read_dataframe(tmp_path / "out" / "a" / "audit.gpkg", layer="cells", read_geometry=False)
    assert cells["disorder_density"].max() > 0
