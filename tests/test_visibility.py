"""The visibility engine: worked scenes, a brute-force reference, invariants, and pyvispoly (CGAL)."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pytest
import shapely
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from shapely import Point, box
from shapely.affinity import rotate, translate

from cpted.engines.visibility import count_visible, isovists, prepare_scene, visible_pairs
from cpted.errors import CRSError, GeometryError

EXTENT = box(0, 0, 100, 100)


def _scene(polys, extent=EXTENT):
    return prepare_scene(gpd.GeoSeries(list(polys), crs=2154), extent=extent)


def _iso(x, y, polys, radius=None, extent=EXTENT, **kw):
    return isovists(gpd.GeoSeries([Point(x, y)], crs=2154), _scene(polys, extent), radius=radius, **kw).iloc[0]


def brute_force(o, polys, extent, radius=None):
    """Independent reference: the extent less every edge's shadow and the obstacles."""
    far = 1e4
    shadows = []
    for poly in polys:
        shadows.append(poly)
        for ring in [poly.exterior, *poly.interiors]:
            c = np.asarray(ring.coords)
            for a, b in zip(c[:-1], c[1:], strict=True):
                da, db = a - o, b - o
                if abs(da[0] * db[1] - da[1] * db[0]) < 1e-12:
                    continue
                shadows.append(shapely.Polygon([a, b, b + far * db, a + far * da]).buffer(0))
    region = extent.difference(shapely.union_all(shadows)) if shadows else extent
    # keep the part connected to the observer
    parts = [p for p in shapely.get_parts(region) if p.distance(Point(o)) < 1e-9]
    region = shapely.union_all(parts) if parts else shapely.Polygon()
    if radius is not None:
        region = region.intersection(Point(o).buffer(radius, quad_segs=4096))
    return region


def test_empty_square():
    iso = _iso(20, 30, [])
    assert iso["isovist_area"] == pytest.approx(10000)
    assert iso["isovist_perimeter"] == pytest.approx(400)
    assert iso["isovist_compactness"] == pytest.approx(math.pi / 4)
    assert iso["isovist_occlusivity"] == pytest.approx(0, abs=1e-9)
    assert iso["isovist_min_radial"] == pytest.approx(20)
    assert iso["isovist_max_radial"] == pytest.approx(math.hypot(80, 70))
    assert iso["isovist_drift"] == pytest.approx(math.hypot(30, 20))


def test_disc_of_view():
    iso = _iso(50, 50, [], radius=10)
    assert iso["isovist_area"] == pytest.approx(math.pi * 100, rel=1e-12)
    assert iso["isovist_perimeter"] == pytest.approx(2 * math.pi * 10, rel=1e-12)
    assert iso["isovist_compactness"] == pytest.approx(1.0)
    assert iso["isovist_drift"] == pytest.approx(0, abs=1e-9)
    assert iso.geometry.area == pytest.approx(math.pi * 100, rel=2e-4)  # drawn with 1° arcs


def test_an_observer_at_the_edge_of_the_data_sees_its_whole_disc():
    """With a finite radius no artificial extent bounds the view: an observer at the corner of the
    data's bounds (found through the QGIS plugin) used to be clipped to a quarter disc."""
    buildings = gpd.GeoSeries([box(0, 0, 10, 10)], crs=2154)
    observers = gpd.GeoSeries([Point(500, 500), Point(-500, 5)], crs=2154)
    direct = isovists(observers, buildings, radius=50)
    prepared = isovists(observers, prepare_scene(buildings), radius=50)
    assert direct["isovist_area"].tolist() == pytest.approx([math.pi * 2500] * 2, rel=1e-12)
    assert prepared["isovist_area"].tolist() == pytest.approx(direct["isovist_area"].tolist(), rel=1e-12)


def test_one_square_obstacle():
    # hand computation: the shadow of the 20 m square seen from (10, 50) is 2,000 m²
    iso = _iso(10, 50, [box(40, 40, 60, 60)])
    assert iso["isovist_area"] == pytest.approx(7600)
    radial = math.hypot(90, 30) - math.hypot(30, 10)  # from the corner (40, 60) to the wall x = 100
    assert iso["isovist_occlusivity"] == pytest.approx(2 * radial)
    assert iso["isovist_min_radial"] == pytest.approx(10)


def test_corridor():
    walls = [box(0, 0, 100, 45), box(0, 55, 100, 100)]
    iso = _iso(30, 50, walls)
    assert iso["isovist_area"] == pytest.approx(1000)  # 100 m x 10 m
    assert iso["isovist_min_radial"] == pytest.approx(5)
    iso = _iso(30, 50, walls, radius=20)
    # the disc of 20 m cut by two chords at 5 m from the centre
    half = math.acos(5 / 20)
    segment = 20**2 / 2 * (2 * half - math.sin(2 * half))
    assert iso["isovist_area"] == pytest.approx(math.pi * 400 - 2 * segment)


def test_observer_touching_a_wall_and_a_vertex():
    square = [box(40, 40, 60, 60)]
    assert _iso(40, 50, square)["isovist_area"] == pytest.approx(4000, rel=1e-6)  # the half-plane x < 40
    # at the corner (40, 60) the square hides the whole quadrant x > 40, y < 60 of the 100 m box
    assert _iso(40, 60, square)["isovist_area"] == pytest.approx(10000 - 60 * 60, rel=1e-6)


def test_collinear_edges():
    polys = [box(30, 50, 40, 60), box(60, 50, 70, 60), box(80, 50, 90, 60)]
    iso = _iso(10, 50, polys)
    ref = brute_force(np.array([10.0, 50.0]), polys, EXTENT)
    assert iso["isovist_area"] == pytest.approx(ref.area, rel=1e-9)


def test_courtyard():
    block = box(20, 20, 80, 80).difference(box(40, 40, 60, 60))
    assert _iso(50, 50, [block])["isovist_area"] == pytest.approx(400)
    outside = _iso(10, 50, [block])
    assert outside["isovist_area"] == pytest.approx(brute_force(np.array([10.0, 50.0]), [block], EXTENT).area)


def test_observer_inside_a_building_gets_nan_and_empty_geometry():
    obs = gpd.GeoSeries([Point(50, 50), Point(10, 10)], crs=2154, index=["in", "out"])
    iso = isovists(obs, _scene([box(40, 40, 60, 60)]))
    assert iso.loc["in", ["isovist_area", "isovist_drift"]].isna().all() and iso.loc["in"].geometry.is_empty
    assert iso.loc["out", "isovist_area"] > 0
    assert list(iso.index) == ["in", "out"]


def test_overlapping_buildings_and_lines():
    overlapping = [box(40, 40, 60, 60), box(50, 50, 70, 70)]
    iso = _iso(10, 10, overlapping)
    assert iso["isovist_area"] == pytest.approx(brute_force(np.array([10.0, 10.0]), [shapely.union_all(overlapping)], EXTENT).area, rel=1e-9)
    wall = gpd.GeoSeries([shapely.LineString([(50, 0), (50, 100)])], crs=2154)
    assert isovists(gpd.GeoSeries([Point(10, 10)], crs=2154), prepare_scene(wall, extent=EXTENT))["isovist_area"].iloc[0] == pytest.approx(5000)


def test_bad_inputs():
    with pytest.raises(CRSError, match="not a projected"):
        prepare_scene(gpd.GeoSeries([box(0, 0, 1, 1)], crs=4326))
    bowtie = shapely.Polygon([(0, 0), (1, 1), (1, 0), (0, 1)])
    with pytest.raises(GeometryError, match=r"feature 3: Self-intersection"):
        prepare_scene(gpd.GeoSeries([bowtie], index=[3], crs=2154))
    with pytest.raises(CRSError, match="different CRSs"):
        isovists(gpd.GeoSeries([Point(0, 0)], crs=3857), _scene([box(40, 40, 60, 60)]))


boxes = st.lists(
    st.tuples(st.floats(5, 90), st.floats(5, 90), st.floats(1, 15), st.floats(1, 15)), min_size=1, max_size=6
).map(lambda bs: [box(x, y, min(x + w, 99), min(y + h, 99)) for x, y, w, h in bs])


def _free_point(polys, x, y):
    p = Point(x, y)
    return not any(poly.intersects(p.buffer(0.01)) for poly in polys)


@settings(max_examples=60, deadline=None)
@given(polys=boxes, x=st.floats(1, 99), y=st.floats(1, 99), radius=st.one_of(st.none(), st.floats(5, 80)))
def test_matches_brute_force(polys, x, y, radius):
    assume(_free_point(polys, x, y))
    merged = list(shapely.get_parts(shapely.union_all(polys)))
    iso = _iso(x, y, polys, radius=radius)
    ref = brute_force(np.array([x, y]), merged, EXTENT, radius)
    assert iso["isovist_area"] == pytest.approx(ref.area, rel=1e-6, abs=1e-6)


@settings(max_examples=40, deadline=None)
@given(polys=boxes, x=st.floats(1, 99), y=st.floats(1, 99), radius=st.one_of(st.none(), st.floats(5, 80)))
def test_removing_an_occluder_never_shrinks_the_isovist(polys, x, y, radius):
    assume(_free_point(polys, x, y))
    full = _iso(x, y, polys, radius=radius)["isovist_area"]
    fewer = _iso(x, y, polys[1:], radius=radius)["isovist_area"]
    assert fewer >= full - 1e-7 * max(1.0, full)


@settings(max_examples=40, deadline=None)
@given(polys=boxes, x=st.floats(1, 99), y=st.floats(1, 99), angle=st.floats(0, 360),
       dx=st.floats(-1e5, 1e5), dy=st.floats(-1e5, 1e5), radius=st.one_of(st.none(), st.floats(5, 80)))
def test_invariant_under_translation_and_rotation(polys, x, y, angle, dx, dy, radius):
    assume(_free_point(polys, x, y))
    a = _iso(x, y, polys, radius=radius)

    def move(g):
        return translate(rotate(g, angle, origin=(0, 0)), dx, dy)

    p = move(Point(x, y))
    b = _iso(p.x, p.y, [move(q) for q in polys], radius=radius, extent=move(EXTENT))
    for col in ("isovist_area", "isovist_perimeter", "isovist_occlusivity", "isovist_min_radial",
                "isovist_max_radial", "isovist_drift"):
        assert b[col] == pytest.approx(a[col], rel=1e-6, abs=1e-6), col


def test_visibility_queries_agree_with_isovists():
    polys = [box(40, 40, 60, 60), box(10, 70, 30, 75)]
    scene = _scene(polys)
    grid = gpd.GeoSeries(shapely.points(np.array([(x, y) for x in range(3, 100, 7) for y in range(3, 100, 7)])), crs=2154)
    grid = grid[~grid.intersects(shapely.union_all(polys))].reset_index(drop=True)
    obs, tgt = visible_pairs(grid, grid, scene, radius=40)
    iso = isovists(grid, scene, radius=40)
    for i in range(0, len(grid), 9):
        inside = set(np.flatnonzero(grid.distance(iso.geometry.iloc[i]) < 1e-6))
        seen = set(tgt[obs == i])
        # the drawn polygon approximates arcs: compare away from the view circle
        near_edge = set(np.flatnonzero(np.abs(grid.distance(grid.iloc[i]) - 40) < 0.5))
        # sightlines through a corner lie on the polygon's boundary but are blocked (the grazing rule)
        lines = shapely.linestrings([[(grid.iloc[i].x, grid.iloc[i].y), (p.x, p.y)] for p in grid])
        corners = shapely.multipoints(np.concatenate([np.asarray(p.exterior.coords) for p in polys]))
        grazing = set(np.flatnonzero(shapely.distance(lines, corners) < 1e-9)) - {i}
        assert not seen & grazing
        assert seen - near_edge == inside - near_edge - grazing
    counts = count_visible(grid, grid, scene, radius=40)[:, 0]
    assert np.array_equal(counts, np.bincount(obs, minlength=len(grid)))


def _sees(scene, a, b, radius=500.0):
    pts = gpd.GeoSeries([Point(*a), Point(*b)], crs=2154)
    obs, tgt = visible_pairs(pts, pts, scene, radius=radius)
    pairs = set(zip(obs.tolist(), tgt.tolist(), strict=True))
    return (0, 1) in pairs, (1, 0) in pairs


def test_grazing_sightlines_are_blocked_both_ways():
    """depthmapX's rule: a sightline through a corner or along a wall is blocked, from either end."""
    triangle = shapely.Polygon([(0, 0), (5, 10), (-5, 10)])  # the case: it was seen one way only
    assert _sees(_scene([triangle], None), (-100, 0), (100, 0)) == (False, False)
    assert _sees(_scene([triangle], None), (-100, -1e-3), (100, -1e-3)) == (True, True)  # 1 mm below: clear
    square = box(0, 0, 10, 10)
    assert _sees(_scene([square], None), (-5, 0), (20, 0)) == (False, False)  # along its wall
    assert _sees(_scene([square], None), (-5, -1e-3), (20, -1e-3)) == (True, True)
    touching = [box(0, 0, 10, 10), box(10, 10, 20, 20)]  # two blocks meeting at a corner
    assert _sees(_scene(touching, None), (0, 20), (20, 0)) == (False, False)
    wall = shapely.LineString([(10, 0), (20, 0)])  # a free-standing wall, in line with the sightline
    assert _sees(_scene([wall], None), (0, 0), (30, 0)) == (False, False)
    assert _sees(_scene([wall], None), (0, 0), (5, 0)) == (True, True)
    # a point on a façade sees along the street and is seen
    assert _sees(_scene([square], None), (5, 0), (5, -20)) == (True, True)


def _through_vertex(polys, ax, ay, pick, t):
    """A point beyond a vertex of the polygons, in line with (ax, ay) and that vertex."""
    verts = np.concatenate([np.asarray(p.exterior.coords)[:-1] for p in polys])
    vx, vy = verts[pick % len(verts)]
    return vx + t * (vx - ax), vy + t * (vy - ay)


@settings(max_examples=80, deadline=None)
@given(polys=boxes, data=st.data(), integer=st.booleans())
def test_visibility_is_symmetric(polys, data, integer):
    """visible(a, b) == visible(b, a), with sightlines forced through vertices and along walls."""
    if integer:  # integer coordinates: exact collinearities with walls and corners
        polys = [box(*np.round(p.bounds)) for p in polys if box(*np.round(p.bounds)).area > 0]
        assume(polys)
    xs = st.floats(0, 100)
    pts = [(data.draw(xs), data.draw(xs)) for _ in range(4)]
    if integer:
        pts = [(round(x), round(y)) for x, y in pts]
    ax, ay = pts[0]
    for k in range(4):
        pick = data.draw(st.integers(0, 1000))
        t = data.draw(st.sampled_from([0.5, 1.0, 2.0, 3.0]) if integer else st.floats(0.05, 3.0))
        pts.append(_through_vertex(polys, *pts[k % len(pts)], pick, t))
    pts.append((ax, polys[0].bounds[1]))  # level with a wall
    pts.append((polys[0].bounds[0], ay))
    scene = _scene(polys, None)  # no extent: an observer on its outline would be outside, a target inside
    geoms = gpd.GeoSeries([Point(p) for p in pts], crs=2154)
    obs, tgt = visible_pairs(geoms, geoms, scene, radius=data.draw(st.sampled_from([30.0, 150.0])))
    pairs = set(zip(obs.tolist(), tgt.tolist(), strict=True))
    assert pairs == {(b, a) for a, b in pairs}
