"""Angular segment analysis: each radius's values are those of a search bounded by that radius alone.

The reference below is written from the definition (depthmapX's restricted least-angle search): from a segment, a
Dijkstra on total turn angle (angle / 90°) over the directed segment graph in which a segment is reached only when
the metric length of its path (midpoint to midpoint) stays within the radius. It shares no code with cpted's engine.
"""

from __future__ import annotations

import heapq
import math

import geopandas as gpd
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely import LineString

from cpted.engines.network import network_from_streets, segment_centrality
from cpted.prepare.network import node_streets


def _turn(a: tuple, b: tuple) -> float:
    """Turn cost (angle / 90°) from travelling along ``a`` to travelling along ``b`` (direction vectors)."""
    cos = (a[0] * b[0] + a[1] * b[1]) / (math.hypot(*a) * math.hypot(*b))
    return math.degrees(math.acos(max(-1.0, min(1.0, cos)))) / 90.0


def reference_reach_depth(lines: list[LineString], radius: float) -> tuple[list[float], list[float]]:
    """Node count (the segment itself included) and total depth of every segment within ``radius``."""
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
    for col in ("angular_reach_300", "angular_depth_300", "angular_choice_300"):
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
    for col in (f"angular_reach_{tag}", f"angular_depth_{tag}", f"angular_choice_{tag}"):
        np.testing.assert_allclose(together[col].to_numpy(), alone[col].to_numpy(), err_msg=col)
    nc, td = reference_reach_depth(list(s.geometry.values), radius)
    np.testing.assert_allclose(alone[f"angular_reach_{tag}"].to_numpy(), nc)
    np.testing.assert_allclose(alone[f"angular_depth_{tag}"].to_numpy(), td, atol=1e-9)


def test_real_network_radii_alone_and_together(data):
    """The Nantes walk graph (Dervallières, ~600 m around the centre): values at 400 and 800 m are the same
    requested alone or with 1200 m."""
    from shapely import Point

    from cpted.load.graph import read_graphml

    streets = read_graphml(data / "nantes/streets/walk_nantes_commune.graphml.bz2").to_crs(2154)
    centre = gpd.GeoSeries([Point(-1.5965, 47.2232)], crs=4326).to_crs(2154).iloc[0]
    s = node_streets(streets[streets.intersects(centre.buffer(600))])
    net = network_from_streets(s)
    together = segment_centrality(s, net, radii=[400, 800, 1200])
    for r in (400, 800):
        alone = segment_centrality(s, net, radii=[r])
        for col in (f"angular_reach_{r}", f"angular_depth_{r}", f"angular_choice_{r}"):
            np.testing.assert_allclose(together[col].to_numpy(), alone[col].to_numpy(), err_msg=col)
