"""Natural surveillance: eyes on the street, lighting, blind spots; worked scenes and invariants."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely import LineString, Point, box

from cpted.engines.visibility import prepare_scene
from cpted.measure.lighting import illuminance, lighting_class
from cpted.measure.surveillance import blind_spots, eyes_on_street, occluders, openings, recesses
from cpted.prepare.site import Site


def _pts(*xy):
    return gpd.GeoSeries([Point(x, y) for x, y in xy], crs=2154)


def _buildings(*boxes, height=3.0):
    return gpd.GeoDataFrame({"height_m": [height] * len(boxes)}, geometry=list(boxes), crs=2154)


def test_single_facade_counts():
    # a 40 m long, 10 m deep, one-storey building; windows every 10 m: 4 per long side, 1 per end
    b = _buildings(box(0, 0, 40, 10))
    o = openings(b, window_spacing=10)
    assert len(o) == 10
    north = o[o["ny"] > 0.5]
    assert sorted(north.geometry.x.round(6)) == [5, 15, 25, 35]
    scene = prepare_scene(b)
    # a place 10 m north of the façade at x = 5: the north windows at 5 and 15 m along are within 15 m
    # (10 m and 14.14 m); at 25 and 35 m along, 22.4 m and 31.6 m: within 43 m only
    eyes = eyes_on_street(_pts((5, 20.1)), o, scene).iloc[0]
    assert (eyes["windows_15"], eyes["windows_43"]) == (2, 4)
    # the west end window (at x = -0.1, y = 5) faces west: the place is in front of it only if x < -0.1
    assert eyes["eyes_43"] == 4
    west = eyes_on_street(_pts((-10, 5)), o, scene).iloc[0]
    assert west["eyes_15"] == 1  # only the west end window sees it (the others are behind the building)


def test_a_third_building_blocks_the_sightline():
    b = _buildings(box(0, 0, 40, 10), box(2, 14, 8, 16))  # a kiosk between façade and place
    o = openings(b, window_spacing=10)
    eyes = eyes_on_street(_pts((5, 20.1)), o[o["building"] == 0], prepare_scene(b)).iloc[0]
    # the kiosk hides the window at x = 5 (straight below); the one at x = 15 is seen past it
    assert eyes["windows_15"] == 1


def test_floors_and_entrances_count():
    b = _buildings(box(0, 0, 10, 10), height=30.0)  # 10 storeys: floors at 0, 3, 6, 9 m count
    o = openings(b, window_spacing=10, entrances=gpd.GeoDataFrame(geometry=[Point(5, 10)], crs=2154))
    assert o.loc[o["kind"] == "window", "floors"].unique().tolist() == [4]
    entrance = o[o["kind"] == "entrance"].iloc[0]
    assert (entrance["nx"], entrance["ny"]) == (0, 1) and entrance.geometry.y == pytest.approx(10.1)
    eyes = eyes_on_street(_pts((5, 20)), o, prepare_scene(b)).iloc[0]
    assert (eyes["entrances_15"], eyes["windows_15"], eyes["eyes_15"]) == (1, 4, 5)


def test_blank_facades_give_no_windows():
    b = _buildings(box(0, 0, 10, 10), box(30, 0, 40, 10)).assign(blank=[True, None])
    o = openings(b, window_spacing=5, entrances=gpd.GeoDataFrame(geometry=[Point(5, 10)], crs=2154))
    assert set(o.loc[o["kind"] == "window", "building"]) == {1}
    assert (o["kind"] == "entrance").sum() == 1  # a blank building's door still counts


def test_party_walls_have_no_windows():
    b = _buildings(box(0, 0, 10, 10), box(10, 0, 20, 10))
    o = openings(b, window_spacing=5)
    assert not ((o.geometry.x - 10).abs() < 0.5).any()
    assert len(o) == 2 * (2 + 2 + 2)  # per building: 2 north, 2 south, 2 on the outer end


def test_lamp_worked_answers():
    scene = prepare_scene(gpd.GeoSeries([], crs=2154))
    lamp = gpd.GeoDataFrame({"height_m": [6.0]}, geometry=[Point(0, 0)], crs=2154)
    lux, per_lamp = illuminance(_pts((0, 0), (5, 0), (10, 0)), lamp, scene)
    # E = I h / (h² + d²)^1.5 with I = 1,000 cd, h = 6 m
    assert lux.tolist() == pytest.approx([1000 / 36, 6000 / 61**1.5, 6000 / 136**1.5])
    assert per_lamp["lit_cells"].iloc[0] == 3


def test_a_wall_shadows_half_the_plaza():
    # a 20 m square plaza, a lamp in the middle, a wall across it from north to south of the lamp
    wall = gpd.GeoDataFrame({"kind": ["wall"], "height_m": [3.0]}, geometry=[LineString([(10.5, -1), (10.5, 21)])], crs=2154)
    scene = prepare_scene(occluders(_buildings(), wall))
    lamp = gpd.GeoDataFrame({"height_m": [6.0]}, geometry=[Point(10, 10)], crs=2154)
    grid = _pts(*[(x + 0.5, y + 0.5) for x in range(20) for y in range(20)])
    lux, _ = illuminance(grid, lamp, scene)
    east = grid.x > 10.5
    assert (lux[east] == 0).all() and (lux[~east] > 0).all()
    assert east.mean() == pytest.approx(0.5, abs=0.05)


def test_lighting_class():
    assert lighting_class(pd.Series([20.0, 16, 12]))["p_class"] == "P1"  # average 16, minimum 12
    assert lighting_class(pd.Series([20.0, 16, 3]))["p_class"] == "P2"  # average 13 < 15
    assert lighting_class(pd.Series([1.0, 0.5]))["p_class"] == "below P6"
    assert np.isnan(lighting_class(pd.Series([np.nan]))["lux_avg"])


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.floats(-30, 30), st.floats(-30, 30), st.floats(3, 12)), min_size=1, max_size=5),
       st.floats(-30, 30), st.floats(-30, 30))
def test_adding_a_lamp_never_lowers_lux(lamps, x, y):
    scene = prepare_scene(gpd.GeoSeries([box(-5, -5, 5, 5)], crs=2154))
    pts = _pts((x, y), (20, 20), (-20, 7))
    frame = gpd.GeoDataFrame({"height_m": [h for *_, h in lamps]}, geometry=[Point(a, b) for a, b, _ in lamps], crs=2154)
    fewer, _ = illuminance(pts, frame.iloc[:-1], scene)
    more, _ = illuminance(pts, frame, scene)
    assert (more.fillna(0) >= fewer.fillna(0) - 1e-12).all()


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.floats(-30, 30), st.floats(-30, 30)), min_size=1, max_size=6))
def test_adding_an_opening_never_lowers_eyes(extra):
    b = _buildings(box(0, 0, 20, 10), box(-30, 20, -20, 30))
    scene = prepare_scene(b)
    base = openings(b, window_spacing=4)
    more = pd.concat([base, openings(b, entrances=gpd.GeoDataFrame(geometry=[Point(p) for p in extra], crs=2154)).query("kind == 'entrance'")], ignore_index=True)
    more = gpd.GeoDataFrame(more, geometry="geometry", crs=2154)
    places = _pts((10, 20), (-10, 5), (30, -10), (-25, 40))
    a = eyes_on_street(places, base, scene)
    c = eyes_on_street(places, more, scene)
    assert (c >= a).all().all()


@settings(max_examples=20, deadline=None)
@given(angle=st.floats(0, 360), dx=st.floats(-1e5, 1e5), dy=st.floats(-1e5, 1e5))
def test_eyes_and_lux_invariant_under_translation_and_rotation(angle, dx, dy):
    from shapely.affinity import rotate, translate

    def move(g):
        return translate(rotate(g, angle, origin=(0, 0)), dx, dy)

    def run(f):
        b = _buildings(f(box(0, 0, 20, 10)), f(box(5, 15, 8, 18)))
        scene = prepare_scene(b)
        places = gpd.GeoSeries([f(Point(p)) for p in [(10, 22), (25, 5), (-5, -5)]], crs=2154)
        lamp = gpd.GeoDataFrame({"height_m": [5.0]}, geometry=[f(Point(12, 14))], crs=2154)
        return eyes_on_street(places, openings(b, window_spacing=4), scene), illuminance(places, lamp, scene)[0]

    e1, l1 = run(lambda g: g)
    e2, l2 = run(move)
    assert np.allclose(e1.to_numpy(), e2.to_numpy())
    assert np.allclose(l1.to_numpy(), l2.to_numpy(), rtol=1e-9)


def test_places_inside_buildings_are_nan():
    b = _buildings(box(0, 0, 10, 10))
    eyes = eyes_on_street(_pts((5, 5), (5, 15)), openings(b), prepare_scene(b))
    assert eyes.iloc[0].isna().all() and eyes.iloc[1].notna().all()


def test_blind_spots_and_recesses():
    cells = gpd.GeoDataFrame(
        {"x": [2.5, 7.5, 12.5, 52.5], "y": [2.5] * 4, "eyes_43": [0, 0, 3, 0], "isovist_area": [100.0, 100.0, 100.0, 9000.0]},
        geometry=[box(0, 0, 5, 5), box(5, 0, 10, 5), box(10, 0, 15, 5), box(50, 0, 55, 5)], crs=2154,
    )
    routes = gpd.GeoDataFrame(geometry=[LineString([(0, 0), (60, 0)])], crs=2154)
    spots = blind_spots(cells, routes)
    assert sorted(spots.loc[spots["kind"] == "blind_spot", "cells"]) == [1, 2]  # cells 0-1 merge; cell 3 alone
    assert spots.loc[spots["kind"] == "entrapment_spot", "cells"].tolist() == [2]
    space = box(0, 0, 40, 10).union(box(20, 10, 22, 15))
    assert recesses(space, routes.set_geometry([LineString([(0, 5), (40, 5)])]))["area_m2"].sum() == pytest.approx(10)


def test_site_without_buildings_is_nan_with_reason():
    from cpted.measure.surveillance import surveillance

    site = Site.from_layers("s", box(0, 0, 50, 50), crs=2154, layers={}, cell_size=10)
    out = surveillance(site)
    assert "surveillance: no buildings source" in out.reasons
    assert out.cells.isna().all().all() and math.isnan(out.summary["overseen_share"])


def test_surveillance_on_a_real_site(data, samples):
    from cpted.load.sites_file import read_sites_file
    from cpted.pipeline import audit, load_site

    spec = read_sites_file(samples / "france_osm.toml", data_dir=data).site("nantes_graslin")
    result = audit(load_site(spec))
    cells = result.layers["cells"]
    complete = cells["buildings_complete"]
    assert complete.all()  # the strip along the west edge beyond the extract's box is not in the grid
    assert result.summary["excluded_beyond_data_ha"] == pytest.approx(0.34)  # 136 cells of 25 m²
    for col in ("isovist_area", "connectivity", "eyes_15", "eyes_43", "lux", "lit", "night_overseen"):
        assert cells.loc[complete, col].notna().all() and cells.loc[~complete, col].isna().all(), col
    assert {"openings", "blind_spots", "lamps"} <= set(result.layers)
    assert result.layers["lamps"]["lit_cells"].sum() > 0
    assert 0 < result.summary["overseen_share"] <= 1
    assert (cells.loc[complete, "eyes_15"] <= cells.loc[complete, "eyes_43"]).all()
    assert shapely.union_all(result.layers["blind_spots"].geometry.values).within(result.site.boundary.buffer(1))
