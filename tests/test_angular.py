"""Angular segment analysis: each radius alone, radius n, choice's two conventions, depthmapX's tulip bins.

The references below are written from the definitions and share no code with cpted's engine:
- node count and total depth: depthmapX's restricted least-angle search, a Dijkstra on total turn angle (angle / 90°)
  over the directed segment graph in which a segment is reached only when the metric length of its path (midpoint
  to midpoint) stays within the radius;
- choice: every least-angle path between every ordered pair of segments, enumerated by networkx, each pair split
  equally among its paths;
- depthmapX itself: its command-line tool's output on its own Barnsbury test map (tests/data/depthmapx).
"""

from __future__ import annotations

import heapq
import itertools
import math
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely import LineString

from cpted.engines.network import network_from_streets, node_centrality, segment_centrality
from cpted.errors import InputError
from cpted.prepare.network import node_streets


def _turn(a: tuple, b: tuple) -> float:
    """Turn cost (angle / 90°) from travelling along ``a`` to travelling along ``b`` (direction vectors)."""
    cos = (a[0] * b[0] + a[1] * b[1]) / (math.hypot(*a) * math.hypot(*b))
    return math.degrees(math.acos(max(-1.0, min(1.0, cos)))) / 90.0


def quantum(cost: float) -> float:
    """The definition rounds turn costs to 2^-24 (of 90°), so that path costs add exactly and equal paths tie."""
    return round(cost * 2**24) / 2**24


def reference_reach_depth(lines: list[LineString], radius: float, binned: int | None = None) -> tuple[list[float], list[float]]:
    """Node count (the segment itself included) and total depth of every segment within ``radius``; with ``binned``
    (depthmapX's tulip bins over 180°), each turn costs floor(angle/90° × binned / 2) bins, a depth of bins / 256."""
    ends = {}
    for i, line in enumerate(lines):
        c = list(line.coords)
        ends[i] = (tuple(round(v, 6) for v in c[0]), tuple(round(v, 6) for v in c[-1]),
                   (c[1][0] - c[0][0], c[1][1] - c[0][1]), (c[-2][0] - c[-1][0], c[-2][1] - c[-1][1]))
    at: dict[tuple, list[tuple[int, bool]]] = {}
    for i, (p, q, _, _) in ends.items():
        at.setdefault(p, []).append((i, True))  # leaving p along i (towards q)
        at.setdefault(q, []).append((i, False))

    def moves(i: int, forward: bool):
        """From segment i travelled forward (p -> q) or backward: the next directed segments."""
        p, q, dp, dq = ends[i]
        node, arrive = (q, (-dq[0], -dq[1])) if forward else (p, (-dp[0], -dp[1]))
        for j, j_from_p in at[node]:
            if j != i:
                yield j, j_from_p, _turn(arrive, ends[j][2] if j_from_p else ends[j][3])

    nc, td = [], []
    for s in range(len(lines)):
        best: dict[int, float] = {}
        heap = [(0.0, 0.0, s, True), (0.0, 0.0, s, False)]
        seen = set()
        while heap:
            cost, dist, i, fwd = heapq.heappop(heap)
            if (i, fwd) in seen:
                continue
            seen.add((i, fwd))
            if i not in best or cost < best[i]:
                best[i] = cost
            for j, jf, turn in moves(i, fwd):
                if binned:
                    turn = math.floor(float(np.float32(np.float32(turn) * np.float32(binned))) * 0.5) / ((binned - 1) / 2)
                else:
                    turn = quantum(turn)
                step = (lines[i].length + lines[j].length) / 2.0
                if dist + step <= radius and (j, jf) not in seen:
                    heapq.heappush(heap, (cost + turn, dist + step, j, jf))
        nc.append(float(len(best)))
        td.append(float(sum(v for k, v in best.items() if k != s)))
    return nc, td


def _streets(lines):
    s = gpd.GeoDataFrame({"walk_kind": ["street"] * len(lines)}, geometry=lines, crs=2154)
    return node_streets(s)


def _scene():
    """A straight avenue whose far end is reached without turning but is long, and a short way round with turns."""
    lines = [
        LineString([(0, 0), (100, 0)]),        # 0: the source
        LineString([(100, 0), (400, 0)]),      # 1: straight on, long
        LineString([(400, 0), (400, 100)]),    # 2: the far corner
        LineString([(100, 0), (100, 100)]),    # 3: left turn, short
        LineString([(100, 100), (400, 100)]),  # 4: the short way round to 2
    ]
    return lines


def test_a_radius_alone_and_with_a_larger_one_give_the_same_values():
    """Regression: every radius was read off one search bounded by the largest radius, so a segment reached
    without turning over a long way (beyond r) was lost at r, although a short way with turns reaches it."""
    lines = _scene()
    s = _streets(lines)
    net = network_from_streets(s)
    alone = segment_centrality(s, net, radii=[300])
    both = segment_centrality(s, net, radii=[300, 10_000])
    for col in ("angular_reach_300", "angular_depth_300", "angular_choice_ordered_300"):
        np.testing.assert_allclose(both[col].to_numpy(), alone[col].to_numpy(), err_msg=col)
    nc, td = reference_reach_depth(list(s.geometry.values), 300)
    np.testing.assert_allclose(alone["angular_reach_300"].to_numpy(), nc)
    np.testing.assert_allclose(alone["angular_depth_300"].to_numpy(), td)


def test_radius_n_works_for_segments():
    lines = _scene()
    s = _streets(lines)
    out = segment_centrality(s, network_from_streets(s), radii=[math.inf, 300])
    assert {"angular_reach_inf", "nach_inf", "angular_reach_300"} <= set(out.columns)
    assert (out["angular_reach_inf"] == len(s)).all()  # the whole network is within reach
    nc, td = reference_reach_depth(list(s.geometry.values), math.inf)
    np.testing.assert_allclose(out["angular_depth_inf"].to_numpy(), td)


@st.composite
def lattices(draw):
    """A perturbed lattice with some links removed: corners, long straights and short detours."""
    n = draw(st.integers(3, 5))
    step = draw(st.sampled_from([60.0, 90.0, 130.0]))
    jitter = draw(st.lists(st.tuples(st.floats(-20, 20), st.floats(-20, 20)), min_size=n * n, max_size=n * n))
    pts = {(i, j): (i * step + jitter[i * n + j][0], j * step + jitter[i * n + j][1]) for i in range(n) for j in range(n)}
    links = [((i, j), (i + 1, j)) for i in range(n - 1) for j in range(n)] + [
        ((i, j), (i, j + 1)) for i in range(n) for j in range(n - 1)]
    keep = draw(st.lists(st.booleans(), min_size=len(links), max_size=len(links)))
    lines = [LineString([pts[a], pts[b]]) for (a, b), k in zip(links, keep, strict=True) if k]
    return lines if len(lines) >= 2 else [LineString([(0, 0), (50, 0)]), LineString([(50, 0), (50, 80)])]


@settings(max_examples=40, deadline=None)
@given(lines=lattices(), radius=st.sampled_from([100.0, 150.0, 250.0, 400.0]))
def test_each_radius_equals_its_own_bounded_search(lines, radius):
    s = _streets(lines)
    net = network_from_streets(s)
    tag = int(radius)
    together = segment_centrality(s, net, radii=[radius, 2 * radius, 10_000])
    alone = segment_centrality(s, net, radii=[radius])
    for col in (f"angular_reach_{tag}", f"angular_depth_{tag}", f"angular_choice_ordered_{tag}"):
        np.testing.assert_allclose(together[col].to_numpy(), alone[col].to_numpy(), err_msg=col)
    nc, td = reference_reach_depth(list(s.geometry.values), radius)
    np.testing.assert_allclose(alone[f"angular_reach_{tag}"].to_numpy(), nc)
    np.testing.assert_allclose(alone[f"angular_depth_{tag}"].to_numpy(), td, atol=1e-9)


def test_real_network_radii_alone_and_together(data):
    """The Nantes walk graph (Dervallières, ~600 m around the centre): values at 400 m, 800 m and radius n are the
    same requested alone or together with the others, exact or binned."""
    from shapely import Point

    from cpted.load.graph import read_graphml

    streets = read_graphml(data / "nantes/streets/walk_nantes_commune.graphml.bz2").to_crs(2154)
    centre = gpd.GeoSeries([Point(-1.5965, 47.2232)], crs=4326).to_crs(2154).iloc[0]
    s = node_streets(streets[streets.intersects(centre.buffer(600))])
    net = network_from_streets(s)
    for bins in (None, 1024):
        together = segment_centrality(s, net, radii=[400, 800, 1200, math.inf], tulip_bins=bins)
        for r, tag in ((400, "400"), (800, "800"), (math.inf, "inf")):
            alone = segment_centrality(s, net, radii=[r], tulip_bins=bins)
            for col in (f"angular_reach_{tag}", f"angular_depth_{tag}", f"angular_choice_ordered_{tag}", f"nach_{tag}"):
                np.testing.assert_array_equal(together[col].to_numpy(), alone[col].to_numpy(), err_msg=f"{col} {bins}")
        have = together["angular_reach_inf"].notna()
        assert (together.loc[have, "angular_reach_400"] <= together.loc[have, "angular_reach_inf"]).all()


# ---------------------------------------------------------------------------------------------------------------
# choice: ordered and unordered pairs, against every least-angle path


def brute_choice(lines: list[LineString], binned: int | None = None) -> list[float]:
    """Ordered angular choice at radius n: for every ordered pair (s, t), the share of the least-angle s–t paths
    through each other segment, from networkx's enumeration of all shortest paths on a directed segment graph.
    With ``binned``, turns cost depthmapX's integer tulip bins (see :func:`reference_reach_depth`)."""

    def heading(c, reverse):  # direction of travel leaving the segment's start (or its end, reversed)
        return (c[-2][0] - c[-1][0], c[-2][1] - c[-1][1]) if reverse else (c[1][0] - c[0][0], c[1][1] - c[0][1])

    g = nx.DiGraph()
    for i, j in itertools.permutations(range(len(lines)), 2):
        ci, cj = list(lines[i].coords), list(lines[j].coords)
        for i_rev in (False, True):  # walking i forwards (arriving at its last point) or backwards
            arrive_at = ci[0] if i_rev else ci[-1]
            h = heading(ci, not i_rev)
            travel = (-h[0], -h[1])  # the way in: opposite to leaving that end back along i
            for j_rev in (False, True):
                if (cj[-1] if j_rev else cj[0]) != arrive_at:
                    continue
                out = heading(cj, j_rev)
                cos = (travel[0] * out[0] + travel[1] * out[1]) / (math.hypot(*travel) * math.hypot(*out))
                turn = math.degrees(math.acos(max(-1.0, min(1.0, cos)))) / 90.0
                if binned:
                    turn = math.floor(float(np.float32(np.float32(turn) * np.float32(binned))) * 0.5)
                g.add_edge((i, i_rev), (j, j_rev), w=turn if binned else quantum(turn))
    choice = [0.0] * len(lines)
    for s, t in itertools.permutations(range(len(lines)), 2):
        h = g.copy()
        for rev in (False, True):
            h.add_edge("S", (s, rev), w=0.0)
            h.add_edge((t, rev), "T", w=0.0)
        try:
            paths = list(nx.all_shortest_paths(h, "S", "T", weight="w"))
        except nx.NetworkXNoPath:
            continue
        for p in paths:
            for seg, _ in p[2:-2]:
                choice[seg] += 1.0 / len(paths)
    return choice


def test_choice_on_a_path_ordered_is_twice_unordered():
    """A straight street of 5 segments: segment i lies between i × (4 − i) unordered pairs, both ways ordered."""
    s = _streets([LineString([(100 * i, 0), (100 * (i + 1), 0)]) for i in range(5)])
    net = network_from_streets(s)
    ordered = segment_centrality(s, net, radii=[math.inf])["angular_choice_ordered_inf"].to_numpy()
    unordered = segment_centrality(s, net, radii=[math.inf], pairs="unordered")["angular_choice_unordered_inf"]
    np.testing.assert_array_equal(unordered.to_numpy(), [0, 3, 4, 3, 0])
    np.testing.assert_array_equal(ordered, 2 * unordered.to_numpy())


def test_nach_uses_ordered_choice():
    s = _streets([LineString([(100 * i, 0), (100 * (i + 1), 0)]) for i in range(3)])
    out = segment_centrality(s, network_from_streets(s), radii=[math.inf], pairs="unordered")
    # the middle segment: ordered choice 2, total depth 0 (no turn)
    assert out["nach_inf"].tolist() == pytest.approx([0.0, math.log(3) / math.log(3), 0.0])


def test_choice_with_ties_and_straight_continuations():
    """A 4 × 4 street grid, axis-aligned: many least-angle paths tie and going straight on costs exactly 0."""
    pts = {(i, j): (100.0 * i, 100.0 * j) for i in range(4) for j in range(4)}
    links = [((i, j), (i + 1, j)) for i in range(3) for j in range(4)] + [((i, j), (i, j + 1)) for i in range(4) for j in range(3)]
    lines = [LineString([pts[a], pts[b]]) for k, (a, b) in enumerate(links) if k not in (4, 17)]
    s = _streets(lines)
    for bins in (None, 1024):
        got = segment_centrality(s, network_from_streets(s), radii=[math.inf], tulip_bins=bins)
        want = brute_choice(list(s.geometry.values), binned=bins and 513)
        np.testing.assert_allclose(got["angular_choice_ordered_inf"].to_numpy(), want, rtol=1e-12)


@settings(max_examples=12, deadline=None)
@given(lines=lattices(), bins=st.sampled_from([None, 1024, 16]))
def test_choice_equals_all_least_angle_paths(lines, bins):
    """Exact costs, and depthmapX's tulip bins (integer costs: the bucket queue, many ties, zero-cost turns)."""
    s = _streets(lines)
    net = network_from_streets(s)
    got = segment_centrality(s, net, radii=[math.inf], tulip_bins=bins)
    want = brute_choice(list(s.geometry.values), binned=bins and bins // 2 + 1)
    np.testing.assert_allclose(got["angular_choice_ordered_inf"].to_numpy(), want, rtol=1e-9, atol=1e-9)
    unordered = segment_centrality(s, net, radii=[math.inf], pairs="unordered", tulip_bins=bins)
    np.testing.assert_allclose(unordered["angular_choice_unordered_inf"].to_numpy(),
                               got["angular_choice_ordered_inf"].to_numpy() / 2)


def test_bad_options_are_refused():
    s = _streets(_scene())
    net = network_from_streets(s)
    with pytest.raises(InputError, match="ordered"):
        segment_centrality(s, net, pairs="both")
    with pytest.raises(InputError, match="1024"):
        segment_centrality(s, net, tulip_bins=1023)
    with pytest.raises(InputError, match="positive"):
        segment_centrality(s, net, radii=[0])


# ---------------------------------------------------------------------------------------------------------------
# depthmapX's tulip bins, on depthmapX's own test data

DEPTHMAPX = Path(__file__).parent / "data" / "depthmapx"


def test_tulip_bins_reproduce_depthmapx_on_barnsbury():
    """depthmapXcli's tulip analysis (1024 bins, radius n) of its Barnsbury segment map: node count equal, total
    depth to 1e-6 (depthmapX writes single precision). The exact default differs from it by up to ~0.2%."""
    ref = pd.read_csv(DEPTHMAPX / "barnsbury_segment_t1024_n.csv")
    first = list(zip(ref["x1"], ref["y1"], strict=True))
    last = list(zip(ref["x2"], ref["y2"], strict=True))
    s = gpd.GeoDataFrame({"u": [str(p) for p in first], "v": [str(p) for p in last]},
                         geometry=[LineString([a, b]) for a, b in zip(first, last, strict=True)], crs=27700)
    net = network_from_streets(s)
    binned = segment_centrality(s, net, radii=[math.inf], tulip_bins=1024)
    np.testing.assert_array_equal(binned["angular_reach_inf"].to_numpy(), ref["T1024 Node Count"].to_numpy())
    np.testing.assert_allclose(binned["angular_depth_inf"].to_numpy(), ref["T1024 Total Depth"].to_numpy(), rtol=1e-6)
    exact = segment_centrality(s, net, radii=[math.inf])
    gap = np.abs(exact["angular_depth_inf"].to_numpy() / ref["T1024 Total Depth"].to_numpy() - 1)
    assert 1e-4 < gap.max() < 0.01  # the binning is visible, and small
    # depthmapX's integration column is NC² / TD
    np.testing.assert_allclose(ref["T1024 Node Count"] ** 2 / binned["angular_depth_inf"], ref["T1024 Integration"],
                               rtol=1e-6)


def test_tulip_bins_follow_the_binned_reference():
    """Binned costs (floor of the angle over 90° × 513 / 2, summed and divided by 256) in the reference search give
    the same node count and depth at a bounded radius: the bucket queue agrees with a plain Dijkstra."""
    lines = [LineString([(0, 0), (100, 0)]), LineString([(100, 0), (190, 40)]), LineString([(190, 40), (260, 150)]),
             LineString([(100, 0), (100, 120)]), LineString([(100, 120), (260, 150)]), LineString([(260, 150), (380, 140)])]
    s = _streets(lines)
    out = segment_centrality(s, network_from_streets(s), radii=[250.0, math.inf], tulip_bins=1024)
    for r, tag in ((250.0, "250"), (math.inf, "inf")):
        nc, td = reference_reach_depth(list(s.geometry.values), r, binned=513)
        np.testing.assert_array_equal(out[f"angular_reach_{tag}"].to_numpy(), nc)
        np.testing.assert_allclose(out[f"angular_depth_{tag}"].to_numpy(), td, rtol=1e-12)


# ---------------------------------------------------------------------------------------------------------------
# radius n everywhere


def test_radius_n_everywhere():
    s = _streets(_scene())
    net = network_from_streets(s)
    seg = segment_centrality(s, net, radii=[math.inf])
    assert seg.filter(like="_inf").notna().all().all()
    g = nx.path_graph(4)
    nx.set_edge_attributes(g, 100.0, "length")
    nodes = node_centrality(g, radii=[math.inf])
    assert nodes["reach_inf"].tolist() == [3, 3, 3, 3]


def test_radius_n_in_the_audit():
    """``radii`` of the audit accept "n" (radius n): the segments and the cells get the ``_inf`` columns."""
    from shapely import box

    from cpted.pipeline import audit
    from cpted.prepare.site import Site

    ticks = (0, 50, 150, 250, 300)
    lines = [LineString([(a, y), (b, y)]) for y in (50, 150, 250) for a, b in zip(ticks[:-1], ticks[1:])] + [
        LineString([(x, a), (x, b)]) for x in (50, 150, 250) for a, b in zip(ticks[:-1], ticks[1:])]
    streets = gpd.GeoDataFrame({"walk_kind": ["street"] * len(lines)}, geometry=lines, crs=2154)
    site = Site.from_layers("grid", box(0, 0, 300, 300), crs=2154, layers={"streets": streets}, context=50, cell_size=25)
    result = audit(site, measures=["access_control"], radii=(800, "n"))
    segments = result.layers["segments"]
    assert {"angular_choice_ordered_inf", "nach_inf", "betweenness_inf"} <= set(segments.columns)
    assert segments["angular_reach_inf"].max() == segments["angular_reach_inf"].min() > 1  # one connected grid
    assert "nach_inf" in result.layers["cells"].columns
    with pytest.raises(InputError, match="'far' is not a positive number"):
        audit(site, measures=["access_control"], radii=(800, "far"))


# ---------------------------------------------------------------------------------------------------------------
# the contracted search (chains of degree-2 segments) against the uncontracted one and the references


@st.composite
def bent_streets(draw):
    """A perturbed lattice whose links are bent into 1-4 straight pieces (chains of degree-2 segments), some links
    removed (dead ends, longer chains), and sometimes a separate ring made only of degree-2 segments."""
    n = draw(st.integers(2, 4))
    step = draw(st.sampled_from([60.0, 110.0]))
    jit = st.floats(-15, 15)
    pts = {(i, j): (i * step + draw(jit), j * step + draw(jit)) for i in range(n) for j in range(n)}
    links = [((i, j), (i + 1, j)) for i in range(n - 1) for j in range(n)] + [
        ((i, j), (i, j + 1)) for i in range(n) for j in range(n - 1)]
    lines = []
    for a, b in links:
        if not draw(st.booleans()) and len(lines) > 0:
            continue
        pieces = draw(st.integers(1, 4))
        (x0, y0), (x1, y1) = pts[a], pts[b]
        way = [(x0, y0)] + [(x0 + (x1 - x0) * k / pieces + draw(st.sampled_from([0.0, 0.0, 3.0, -7.0])),
                             y0 + (y1 - y0) * k / pieces + draw(st.sampled_from([0.0, 4.0, -2.0])))
                            for k in range(1, pieces)] + [(x1, y1)]
        lines += [LineString([p, q]) for p, q in zip(way[:-1], way[1:], strict=True)]
    if draw(st.booleans()):  # a ring of 5 segments, apart from the rest
        ring = [(1000 + 40 * math.cos(2 * math.pi * k / 5), 40 * math.sin(2 * math.pi * k / 5)) for k in range(5)]
        lines += [LineString([ring[k], ring[(k + 1) % 5]]) for k in range(5)]
    return lines


@settings(max_examples=40, deadline=None)
@given(lines=bent_streets(), radius=st.sampled_from([70.0, 130.0, 260.0, math.inf]),
       bins=st.sampled_from([None, 1024, 16]))
def test_contracted_search_equals_the_uncontracted_one(lines, radius, bins):
    from cpted.engines.angular import _run

    s = _streets(lines)
    net = network_from_streets(s)
    rows = np.flatnonzero(np.isfinite(net.edge_length))
    radii = np.array([radius])
    fast = _run(s, net, radii, rows, bins)
    slow = _run(s, net, radii, rows, bins, contract=False)
    np.testing.assert_array_equal(fast[0], slow[0])  # node count
    np.testing.assert_array_equal(fast[1], slow[1])  # total depth: exact sums
    np.testing.assert_allclose(fast[2], slow[2], rtol=1e-12, atol=1e-12)  # choice: the same shares, summed apart
    nc, td = reference_reach_depth(list(s.geometry.values), radius, binned=bins and bins // 2 + 1)
    np.testing.assert_allclose(fast[0][:, 0], np.asarray(nc)[rows])
    np.testing.assert_allclose(fast[1][:, 0] / fast[3], np.asarray(td)[rows], atol=1e-9)
    if radius == math.inf and len(lines) <= 40:
        want = brute_choice(list(s.geometry.values), binned=bins and bins // 2 + 1)
        np.testing.assert_allclose(fast[2][:, 0], want, rtol=1e-9, atol=1e-9)


def test_contracted_search_on_the_real_network(data):
    """The Nantes walk graph (Dervallières, ~600 m around the centre, where many streets are bent into chains):
    the contracted search gives the uncontracted search's values at every radius, exact and binned."""
    from shapely import Point

    from cpted.engines.angular import _run
    from cpted.load.graph import read_graphml

    streets = read_graphml(data / "nantes/streets/walk_nantes_commune.graphml.bz2").to_crs(2154)
    centre = gpd.GeoSeries([Point(-1.5965, 47.2232)], crs=4326).to_crs(2154).iloc[0]
    s = node_streets(streets[streets.intersects(centre.buffer(600))])
    net = network_from_streets(s)
    rows = np.flatnonzero(np.isfinite(net.edge_length))
    radii = np.array([100.0, 400.0, 800.0, math.inf])
    for bins in (None, 1024):
        fast = _run(s, net, radii, rows, bins)
        slow = _run(s, net, radii, rows, bins, contract=False)
        np.testing.assert_array_equal(fast[0], slow[0])
        np.testing.assert_array_equal(fast[1], slow[1])
        np.testing.assert_allclose(fast[2], slow[2], rtol=1e-12, atol=1e-12)
