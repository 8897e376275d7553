"""Occluder culling (cpted.engines._cull) changes nothing: the same isovists, visible targets and
visibility graphs as sweeping every occluder, on real buildings and on random scenes."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely import box

from cpted.engines.vga import visibility_graph
from cpted.engines.visibility import (ISOVIST_COLUMNS, count_visible, isovists, isovists_and_counts, prepare_scene,
                                      visible_pairs)
from cpted.load.layers import read_layer

MEASURES = ["isovist_area", "isovist_perimeter", "isovist_occlusivity", "isovist_min_radial", "isovist_max_radial",
            "isovist_drift"]


def _same_isovists(scene, pts, radius):
    fast = isovists(pts, scene, radius=radius, geometry=False)
    slow = isovists(pts, scene, radius=radius, geometry=False, cull=False)
    a, b = fast[MEASURES].to_numpy(), slow[MEASURES].to_numpy()
    np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
    np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9)


def _same_graph(scene, pts, radius):
    """The fast path (lattice scan of culled isovists) against testing every place on every occluder."""
    fast = visibility_graph(pts, scene, radius=radius)
    slow = visibility_graph(pts, scene, radius=radius, lattice_path=False, cull=False)
    np.testing.assert_array_equal(fast[0], slow[0])
    np.testing.assert_array_equal(fast[1], slow[1])
    return fast


def test_nantes_window_unlimited_view(data):
    """A 250 m window of Île de Nantes (BD TOPO), unlimited view: every measure of every isovist,
    every edge of the 5 m grid's visibility graph, and the counts of visible places are the same
    with and without culling."""
    b, _ = read_layer(data / "nantes/ile_de_nantes_bdtopo_buildings.geojson", "buildings", repair=True)
    cx, cy = 356200.0, 6688300.0
    window = box(cx - 125, cy - 125, cx + 125, cy + 125)
    b = b[b.intersects(window)]
    obstacles = gpd.GeoSeries(shapely.intersection(b.geometry.values, window), crs=b.crs)
    obstacles = obstacles[obstacles.geom_type.isin(["Polygon", "MultiPolygon"]) & ~obstacles.is_empty]
    assert len(obstacles) > 10
    scene = prepare_scene(obstacles, extent=window)
    xs = np.arange(cx - 122.5, cx + 125, 5.0)
    ys = np.arange(cy - 122.5, cy + 125, 5.0)
    grid = shapely.points(np.array([(x, y) for x in xs for y in ys]))
    free = shapely.difference(window, shapely.union_all(obstacles.values))
    pts = gpd.GeoSeries(grid[shapely.contains(free, grid)], crs=b.crs)
    assert len(pts) > 1000
    _same_isovists(scene, pts, None)
    graph = _same_graph(scene, pts, None)
    assert graph[1].shape[0] > 100_000
    np.testing.assert_array_equal(count_visible(pts, pts, scene, radius=400)[:, 0],
                                  count_visible(pts, pts, scene, radius=400, cull=False)[:, 0])


@settings(max_examples=30, deadline=None)
@given(blocks=st.lists(st.tuples(st.integers(0, 30), st.integers(0, 30), st.integers(1, 8), st.integers(1, 8),
                                 st.sampled_from([0.0, 0.5, 0.25]), st.sampled_from([0.0, 0.3, 1.0])),
                       min_size=1, max_size=12),
       radius=st.sampled_from([None, 3.0, 12.5, 25.0]), extent=st.booleans(), seed=st.integers(0, 2**16))
def test_random_scenes(blocks, radius, extent, seed):
    """Random scenes of boxes (on the cells' lines, touching, overlapping, turned), with a view
    bounded by an extent or not (some boxes reaching outside it): culled and unculled sweeps give
    the same isovists, pairs and graph; observers include points on walls, at corners and
    outside the grid index. The pairs and counts from them to the grid's places, scanned over the
    lattice, equal testing every place, and the pairs from the places' side."""
    polys = [shapely.affinity.rotate(box(x + s, y + s, x + s + w, y + s + h), turn * 30, origin="centroid")
             for x, y, w, h, s, turn in blocks]
    bound = box(-2, -2, 33, 33) if extent else None
    scene = prepare_scene(gpd.GeoSeries(polys, crs=2154), extent=bound, cell=2.0)  # culling beyond 8 m
    if bound is None and radius is None:
        radius = 60.0
    xy = np.array([(x + 0.5, y + 0.5) for x in range(-1, 32, 2) for y in range(-1, 32, 2)], dtype=float)
    pts = gpd.GeoSeries(shapely.points(xy), crs=2154)
    _same_graph(scene, pts, radius)
    rng = np.random.default_rng(seed)
    corners = shapely.get_coordinates(shapely.boundary(gpd.GeoSeries(polys).values))
    extra = np.vstack([rng.uniform(-6, 38, (40, 2)), corners[rng.integers(0, len(corners), 10)]])
    obs = gpd.GeoSeries(shapely.points(extra), crs=2154)
    _same_isovists(scene, obs, radius)
    r = radius or 60.0
    a = visible_pairs(obs, pts, scene, radius=r)  # the places on a lattice: scanned row by row
    b = visible_pairs(obs, pts, scene, radius=r, cull=False, lattice_path=False)  # every place tested
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    np.testing.assert_array_equal(count_visible(obs, pts, scene, radius=r)[:, 0],
                                  count_visible(obs, pts, scene, radius=r, cull=False, lattice_path=False)[:, 0])
    table, seen = isovists_and_counts(obs, pts, scene, radius=r)  # one sweep for both
    np.testing.assert_array_equal(seen, count_visible(obs, pts, scene, radius=r, cull=False, lattice_path=False)[:, 0])
    iso = isovists(obs, scene, radius=r, geometry=False, cull=False)[list(ISOVIST_COLUMNS)].to_numpy()
    np.testing.assert_array_equal(np.isnan(table.to_numpy()), np.isnan(iso))
    np.testing.assert_allclose(table.to_numpy(), iso, rtol=1e-9, atol=1e-9)
    # symmetric sightlines: the same pairs from the places' side (as eyes_on_street counts them)
    back = visible_pairs(pts, obs, scene, radius=r, lattice_path=False)
    assert set(zip(a[0].tolist(), a[1].tolist())) == set(zip(back[1].tolist(), back[0].tolist()))


def test_back_faces_dropped_and_nothing_changes():
    """Occluders bordering an obstacle on one side only get that side (+1 left of their way, -1
    right); a free-standing wall, the extent's outline and the walls inside overlapping buildings
    get 0. An observer outside the buildings keeps no back face (observer on the obstacle's side),
    and its isovist, visible pairs and graph are those of the unculled sweep."""
    from cpted.engines import _cull, _kernels

    polys = [box(0, 0, 10, 10), box(5, 5, 15, 15), box(30, 0, 34, 40)]
    wall = shapely.LineString([(20, -5), (20, 12)])
    scene = prepare_scene(gpd.GeoSeries(polys + [wall], crs=2154), extent=box(-40, -40, 60, 60))
    segs = scene.segments
    side = _kernels.solid_sides(segs, scene.tree, len(scene.obstacles))
    mid = shapely.points(0.5 * (segs[:, 0] + segs[:, 2]), 0.5 * (segs[:, 1] + segs[:, 3]))
    solid = shapely.union_all(polys)
    on_outline = shapely.distance(shapely.boundary(solid), mid) < 1e-9
    np.testing.assert_array_equal(side != 0, on_outline)
    left = shapely.points(0.5 * (segs[:, 0] + segs[:, 2]) - 1e-3 * (segs[:, 3] - segs[:, 1]),
                          0.5 * (segs[:, 1] + segs[:, 3]) + 1e-3 * (segs[:, 2] - segs[:, 0]))
    np.testing.assert_array_equal(side[on_outline] == 1, shapely.contains(solid, left)[on_outline])
    tree, f, g, _ = _kernels.workspace(scene)
    for ox, oy in [(-20.0, 5.0), (25.0, 30.0), (12.0, -8.0), (45.0, 50.0)]:
        ids = _cull.visible_ids(ox, oy, 500.0, segs, tree, f[0], g[0], -np.inf)
        px, py = segs[ids, 0] - ox, segs[ids, 1] - oy
        ex, ey = segs[ids, 2] - segs[ids, 0], segs[ids, 3] - segs[ids, 1]
        assert not np.any(side[ids] * (ey * px - ex * py) > 1e-3)  # no back face kept
    pts = gpd.GeoSeries(shapely.points([(-20.0, 5.0), (25.0, 30.0), (12.0, -8.0), (45.0, 50.0), (17.5, 2.5)]),
                        crs=2154)
    _same_isovists(scene, pts, None)
    xy = np.array([(x, y) for x in np.arange(-37.5, 60, 5.0) for y in np.arange(-37.5, 60, 5.0)])
    grid = gpd.GeoSeries(shapely.points(xy), crs=2154)
    _same_graph(scene, grid, None)
    a = visible_pairs(pts, grid, scene, radius=200.0)
    b = visible_pairs(pts, grid, scene, radius=200.0, cull=False)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


def test_a_gap_narrower_than_touch_between_two_walls_is_closed():
    """Two buildings whose facing corners miss each other by 1e-11 m (as adjacent BD TOPO buildings
    do), and a long wall behind: the sightlines through the gap touch both corners (TOUCH = 1e-9 m)
    and are blocked, so the isovist is that of one building (drawn by hand: the corners shared).
    Before, the sweep saw a needle through the gap: to the wall behind, or, culled (that wall's
    far side a back face), to the view circle, and the two paths disagreed."""
    behind = box(30, -20, 32, 20)
    apart = prepare_scene(gpd.GeoSeries([box(10, -5, 12, 0), box(10, 1e-11, 12, 5), behind], crs=2154))
    whole = prepare_scene(gpd.GeoSeries([box(10, -5, 12, 5), behind], crs=2154))
    pts = gpd.GeoSeries(shapely.points([(0.0, 0.0), (0.0, 3.0), (-5.0, 0.0)]), crs=2154)
    for radius in (50.0, 200.0):
        truth = isovists(pts, whole, radius=radius, geometry=False, cull=False)[MEASURES].to_numpy()
        for cull in (True, False):
            got = isovists(pts, apart, radius=radius, geometry=False, cull=cull)[MEASURES].to_numpy()
            np.testing.assert_allclose(got, truth, rtol=1e-9, atol=1e-6, err_msg=f"radius {radius}, cull {cull}")
        polygons = isovists(pts, apart, radius=radius, cull=False).geometry
        np.testing.assert_allclose(polygons.length, truth[:, MEASURES.index("isovist_perimeter")], rtol=1e-4)  # arcs as chords


def test_ile_de_nantes_cells_at_100_m_with_and_without_culling(data):
    """The grid cells of Île de Nantes where the 100 m isovists once differed with culling (a gap of
    5e-11 m between two BD TOPO buildings seen through, a needle of up to 85 m in the perimeter):
    every measure and count now the same either way."""
    b, _ = read_layer(data / "nantes/ile_de_nantes_bdtopo_buildings.geojson", "buildings", repair=True)
    cx, cy = 356062.5, 6688392.5
    window = box(cx - 160, cy - 160, cx + 160, cy + 160)
    b = b[b.intersects(window)]
    scene = prepare_scene(gpd.GeoSeries(b.geometry.values, crs=b.crs), extent=None)
    xy = np.array([(x, y) for x in np.arange(cx - 60, cx + 61, 5.0) for y in np.arange(cy - 60, cy + 61, 5.0)])
    grid = shapely.points(xy)
    pts = gpd.GeoSeries(grid[~shapely.intersects(shapely.union_all(b.geometry.values), grid)], crs=b.crs)
    assert len(pts) > 200
    _same_isovists(scene, pts, 100.0)
    np.testing.assert_array_equal(count_visible(pts, pts, scene, radius=100.0)[:, 0],
                                  count_visible(pts, pts, scene, radius=100.0, cull=False, lattice_path=False)[:, 0])
