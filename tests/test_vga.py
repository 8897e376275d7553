"""VGA measures: depthmapX's own output on its gallery plan, a worked corridor, and networkx."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely import Point, box

from cpted.engines.vga import VGA_COLUMNS, vga, visibility_graph
from cpted.engines.visibility import prepare_scene

DATA = Path(__file__).parent / "data" / "depthmapx"
DEPTHMAPX = {
    "connectivity": "Connectivity",
    "first_moment": "Point First Moment",
    "second_moment": "Point Second Moment",
    "clustering": "Visual Clustering Coefficient",
    "control": "Visual Control",
    "controllability": "Visual Controllability",
    "node_count": "Visual Node Count",
    "mean_depth": "Visual Mean Depth",
    "integration_hh": "Visual Integration [HH]",
}


def test_gallery_reproduces_depthmapx():
    """Every cell of depthmapX's gallery plan: all nine measures equal depthmapX's (float32 output)."""
    lines = pd.read_csv(DATA / "gallery_lines.csv")
    segs = shapely.linestrings(np.stack([lines[["x1", "y1"]].to_numpy(), lines[["x2", "y2"]].to_numpy()], axis=1))
    scene = prepare_scene(gpd.GeoSeries(segs[shapely.length(segs) > 0], crs=2154))
    ref = pd.read_csv(DATA / "gallery_vga.csv.gz")
    out = vga(gpd.GeoSeries(shapely.points(ref["x"], ref["y"]), crs=2154), scene)
    for ours, theirs in DEPTHMAPX.items():
        expected = ref[theirs].replace(-1, np.nan).to_numpy(dtype=float)  # -1: depthmapX's "undefined"
        np.testing.assert_allclose(out[ours].to_numpy(), expected, rtol=2e-6, err_msg=ours)


def test_l_shaped_corridor_by_hand():
    """A 1 m wide L-shaped corridor, cells every metre: the corner cell (0.5, 0.5), arm A
    (x = 0.5, y = 1.5 .. 5.5) and arm B (y = 0.5, x = 1.5 .. 5.5). Cells of one arm see each other
    and the corner; no A cell sees a B cell (the inner corner (1, 1) hides them; from (0.5, 1.5) to
    (1.5, 0.5) the sightline grazes it, blocked by the grazing rule), so the arms are 2 steps apart."""
    outer = box(-5, -5, 10, 10)
    walls = outer.difference(box(0, 0, 6, 1).union(box(0, 0, 1, 6)))
    scene = prepare_scene(gpd.GeoSeries([walls], crs=2154))
    arm_a = [(0.5, y + 0.5) for y in range(1, 6)]
    arm_b = [(x + 0.5, 0.5) for x in range(1, 6)]
    pts = gpd.GeoSeries([Point(0.5, 0.5)] + [Point(p) for p in arm_a + arm_b], crs=2154)
    out = vga(pts, scene)
    # the corner cell sees all 10; an arm cell sees its 4 arm-mates and the corner (5), and the
    # inner corner (1, 1) blocks every sightline between arms: the 5 cells of the other arm are 2 steps away
    assert out["connectivity"].tolist() == [10.0] + [5.0] * 10
    assert out["mean_depth"].iloc[0] == 1.0
    np.testing.assert_allclose(out["mean_depth"].iloc[1:], (5 * 1 + 5 * 2) / 10)
    # clustering of an arm cell: its 5 neighbours (4 arm-mates and the corner) all see each other
    np.testing.assert_allclose(out["clustering"].iloc[1:], 1.0)
    # corner: of its 10 neighbours' 45 pairs, the 2 x 10 same-arm pairs see each other
    assert out["clustering"].iloc[0] == pytest.approx(20 / 45)
    # control of the corner: 10 neighbours each seeing 5 places
    assert out["control"].iloc[0] == pytest.approx(10 / 5)
    assert np.isnan(out["integration_hh"].iloc[0])  # mean depth 1: integration undefined (depthmapX: -1)
    n = 11
    ra = 2 * (1.5 - 1) / (n - 2)
    dn = 2 * (n * (np.log2((n + 2) / 3) - 1) + 1) / ((n - 1) * (n - 2))
    np.testing.assert_allclose(out["integration_hh"].iloc[1:], dn / ra)


def test_against_networkx():
    """On a scene of random blocks, each measure recomputed with networkx from the same sightlines."""
    rng = np.random.default_rng(7)
    blocks = [box(x, y, x + w, y + h) for x, y, w, h in zip(*rng.uniform([0, 0, 2, 2], [50, 50, 8, 8], (12, 4)).T, strict=True)]
    occ = shapely.union_all(blocks)
    scene = prepare_scene(gpd.GeoSeries([occ], crs=2154))
    xy = np.array([(x, y) for x in np.arange(1, 60, 2.5) for y in np.arange(1, 60, 2.5)])
    xy = xy[~shapely.intersects(occ, shapely.points(xy))]
    pts = gpd.GeoSeries(shapely.points(xy), crs=2154)
    radius = 25.0
    out = vga(pts, scene, radius=radius)
    indptr, indices = visibility_graph(pts, scene, radius=radius)
    g = nx.Graph()
    g.add_nodes_from(range(len(pts)))
    g.add_edges_from((i, j) for i in range(len(pts)) for j in indices[indptr[i]:indptr[i + 1]])
    assert g.number_of_edges() * 2 == len(indices)  # symmetric sightlines: an undirected graph
    deg = dict(g.degree())
    clustering = nx.clustering(g)
    for i in range(0, len(pts), 7):
        k = deg[i]
        assert out["connectivity"].iloc[i] == k
        depth = nx.single_source_shortest_path_length(g, i)
        n = len(depth)
        assert out["node_count"].iloc[i] == n
        if n > 1:
            assert out["mean_depth"].iloc[i] == pytest.approx(sum(depth.values()) / (n - 1))
        if k >= 2:
            assert out["clustering"].iloc[i] == pytest.approx(clustering[i])
            assert out["control"].iloc[i] == pytest.approx(sum(1 / deg[j] for j in g[i]))
            two_step = set().union(*(set(g[j]) for j in g[i]))
            assert out["controllability"].iloc[i] == pytest.approx(k / len(two_step))
        else:
            assert np.isnan(out["clustering"].iloc[i])
        d = np.hypot(*(xy[list(g[i])] - xy[i]).T) if k else np.zeros(0)
        assert out["first_moment"].iloc[i] == pytest.approx(d.sum())
        assert out["second_moment"].iloc[i] == pytest.approx((d**2).sum())


def test_report_subset_and_bad_measure():
    scene = prepare_scene(gpd.GeoSeries([box(4, -1, 6, 1)], crs=2154))
    pts = gpd.GeoSeries([Point(0, 0), Point(10, 0), Point(5, 5), Point(5, -5)], crs=2154, index=[10, 11, 12, 13])
    full = vga(pts, scene)
    part = vga(pts, scene, report=np.array([False, True, False, True]))
    pd.testing.assert_frame_equal(part, full.loc[[11, 13]])
    assert list(full.columns) == list(VGA_COLUMNS)
    with pytest.raises(ValueError, match="unknown VGA measures"):
        vga(pts, scene, measures=("integration",))


@settings(max_examples=25, deadline=None)
@given(blocks=st.lists(st.tuples(st.integers(0, 18), st.integers(0, 18), st.integers(1, 6), st.integers(1, 6),
                                 st.sampled_from([0.0, 0.5, 0.3])), min_size=1, max_size=5),
       radius=st.sampled_from([None, 4.0, 9.5]), wall=st.booleans())
def test_lattice_scan_equals_testing_every_place(blocks, radius, wall):
    """The row-by-row scan of each isovist over grid cells finds exactly the places that testing
    each place finds, grazing sightlines (blocks on the cells' lines, a wall in line with cells) and
    places drawn twice included."""
    polys = [box(x + s, y + s, x + s + w, y + s + h) for x, y, w, h, s in blocks]
    geoms = list(polys) + ([shapely.LineString([(3.5, 10.5), (6.5, 10.5)])] if wall else [])
    scene = prepare_scene(gpd.GeoSeries(geoms, crs=2154))
    xy = np.array([(x + 0.5, y + 0.5) for x in range(-1, 22) for y in range(-1, 22)], dtype=float)
    xy = np.vstack([xy, xy[[30, 200, 201]]])  # places drawn twice
    pts = gpd.GeoSeries(shapely.points(xy), crs=2154)
    fast = visibility_graph(pts, scene, radius=radius)
    slow = visibility_graph(pts, scene, radius=radius, lattice_path=False)
    np.testing.assert_array_equal(fast[0], slow[0])
    np.testing.assert_array_equal(fast[1], slow[1])


@settings(max_examples=25, deadline=None)
@given(blocks=st.lists(st.tuples(st.integers(0, 18), st.integers(0, 18), st.integers(1, 6), st.integers(1, 6),
                                 st.sampled_from([0.0, 0.5, 0.3]), st.sampled_from([0.0, 0.0, 1.0])),
                       min_size=1, max_size=6),
       radius=st.sampled_from([None, 4.0, 9.5]))
def test_half_scans_mirrored_equal_testing_every_place(blocks, radius):
    """Every place on a lattice node and in open space (the places on walls, which would be moved off
    the lattice, and inside blocks left out): each place scans only the places after it in column order, over the occluders of
    that half-plane, and the rows are mirrored. The graph equals testing every place on every
    occluder, with sightlines along the places' rows and columns grazing corners (blocks with
    corners on them) and turned blocks."""
    from cpted.engines._lattice import lattice_of

    polys = [shapely.affinity.rotate(box(x + s, y + s, x + s + w, y + s + h), 25 * turn, origin="centroid")
             for x, y, w, h, s, turn in blocks]
    scene = prepare_scene(gpd.GeoSeries(polys, crs=2154))
    xy = np.array([(x + 0.5, y + 0.5) for x in range(-1, 22) for y in range(-1, 22)], dtype=float)
    solid = shapely.union_all(polys)
    xy = xy[shapely.distance(solid, shapely.points(xy)) > 1e-6]  # in open space, off every wall
    pts = gpd.GeoSeries(shapely.points(xy), crs=2154)
    assert lattice_of(xy)[4].size == 0  # no place off the lattice nor inside an obstacle: the half scans run
    fast = visibility_graph(pts, scene, radius=radius)
    slow = visibility_graph(pts, scene, radius=radius, lattice_path=False, cull=False)
    np.testing.assert_array_equal(fast[0], slow[0])
    np.testing.assert_array_equal(fast[1], slow[1])


def test_lattice_scan_with_a_place_moved_off_a_wall_and_a_corner_on_the_lattice():
    """A real case (Île de Nantes): one place on a façade, moved off it by a micrometre, must not
    skew the lattice (its step was once read from that place's gap, 4.999999 m for 5 m, and the
    drift across 60 columns put places beyond a grazed corner inside the run); and a radius that
    is a whole number of cells puts rows tangent to the view circle, which must stay cheap and
    exact. Lambert-93 magnitudes, as in the pipeline."""
    from cpted.engines.visibility import count_visible

    x0, y0 = 354302.5, 6687602.5  # cell centres on a 5 m lattice
    obs = (x0 + 100.0, y0 + 100.0)
    corner = (obs[0] + 44.6, obs[1] - 22.3)  # on the sightline of direction (2, -1), through the places (+50, -25), ...
    grazed = box(corner[0] - 13.3, corner[1] - 5.5, corner[0], corner[1])  # its top right corner: a grazing sightline
    facade = box(x0 + 7.5, y0 + 200.0, x0 + 30.0, y0 + 220.0)  # its bottom edge runs along a row of places
    scene = prepare_scene(gpd.GeoSeries([grazed, facade], crs=2154))
    xy = np.array([(x0 + 5.0 * i, y0 + 5.0 * j) for j in range(61) for i in range(61)], dtype=float)
    pts = gpd.GeoSeries(shapely.points(xy), crs=2154)
    at = int(np.flatnonzero((xy[:, 0] == obs[0]) & (xy[:, 1] == obs[1]))[0])
    beyond = [int(np.flatnonzero((xy[:, 0] == obs[0] + 10 * k) & (xy[:, 1] == obs[1] - 5 * k))[0]) for k in (5, 6, 7, 8)]
    # by the grazing rule (touching a corner blocks), the places beyond the corner on that sightline are hidden
    indptr, indices = visibility_graph(pts, scene, radius=100.0)
    row = set(indices[indptr[at]:indptr[at + 1]].tolist())
    assert not row & set(beyond)
    assert int(np.flatnonzero((xy[:, 0] == obs[0] + 100.0) & (xy[:, 1] == obs[1]))[0]) in row  # at exactly the radius
    slow = visibility_graph(pts, scene, radius=100.0, lattice_path=False)
    np.testing.assert_array_equal(indptr, slow[0])
    np.testing.assert_array_equal(indices, slow[1])
    fast = count_visible(pts, pts, scene, radius=100.0)[:, 0]
    np.testing.assert_array_equal(fast, count_visible(pts, pts, scene, radius=100.0, lattice_path=False)[:, 0])
    np.testing.assert_array_equal(fast[~np.isnan(fast)] - 1, np.diff(indptr)[~np.isnan(fast)])  # itself among the targets


def test_audit_visual_integration_on_request_with_the_same_connectivity():
    """The pipeline's VGA: connectivity always (site and ring), mean depth and integration only
    with visual_integration=True; connectivity is the same either way (without integration only
    the ring places within the view radius are used: the others cannot be seen)."""
    from cpted.pipeline import audit
    from cpted.prepare.site import Site

    crs = 2154
    buildings = gpd.GeoDataFrame({"height_m": [9.0, 9.0]}, geometry=[box(20, 20, 60, 60), box(90, 10, 120, 70)], crs=crs)
    streets = gpd.GeoDataFrame({"walk_kind": ["street"]}, geometry=[shapely.LineString([(-200, 0), (300, 0)])], crs=crs)
    site = Site.from_layers("vga", box(0, 0, 150, 80), crs=crs, layers={"buildings": buildings, "streets": streets},
                            context=120, cell_size=10)
    plain = audit(site, measures=["surveillance"]).layers["cells"]
    full = audit(site, measures=["surveillance"], visual_integration=True).layers["cells"]
    assert "vga_integration_hh" not in plain and full["vga_integration_hh"].notna().any()
    assert (full["vga_mean_depth"].dropna() >= 1).all()
    pd.testing.assert_series_equal(plain["connectivity"], full["connectivity"])
    assert plain["connectivity"].max() > 0
