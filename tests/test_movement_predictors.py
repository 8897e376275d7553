"""Movement predictors on worked scenes, counted by hand (docs/methods/access_control.md).

A regular grid of square blocks has no chokepoint: going round any block edge is 3 times its
length. A river crossed at three places (a footbridge in the middle, road bridges at the two
ends) makes each crossing a chokepoint: the way round one is by another, 900 m instead of 100 m.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely import LineString

from cpted.engines.network import network_from_streets
from cpted.measure.access_control import CUT_OFF_LENGTH, DETOUR_EXTRA, DETOUR_FACTOR, movement_predictors
from cpted.prepare.network import node_streets


def _grid(nx_: int, ny: int, side: float, y0: float = 0.0) -> list[LineString]:
    """Block edges of a grid of nx_ × ny nodes, one line per block side."""
    lines = []
    for j in range(ny):
        for i in range(nx_):
            x, y = i * side, y0 + j * side
            if i + 1 < nx_:
                lines.append(LineString([(x, y), (x + side, y)]))
            if j + 1 < ny:
                lines.append(LineString([(x, y), (x, y + side)]))
    return lines


def _predictors(lines, *, tunnel=None, walk_kind=None, **options):
    streets = gpd.GeoDataFrame(
        {"walk_kind": walk_kind or ["street"] * len(lines),
         "tunnel": pd.array(tunnel or [None] * len(lines), dtype="boolean")},
        geometry=lines, crs=2154)
    streets = node_streets(streets)
    net = network_from_streets(streets)
    return streets, movement_predictors(streets, net, np.arange(len(streets)), **options)


@pytest.mark.parametrize("side", [40.0, 100.0, 150.0])
def test_a_regular_grid_of_square_blocks_has_no_movement_predictor(side):
    streets, pred = _predictors(_grid(6, 6, side))
    assert len(streets) == 60
    assert pred.empty, pred
    # the old default (a detour 1.5 times the length, whatever it measures) flags every edge but
    # the 8 at the 4 corners (there the two edges are one link, and the way round it is as long)
    _, old = _predictors(_grid(6, 6, side), factor=1.5, min_extra=0)
    assert len(old) == 52 and set(old["reason"]) == {"detour"}
    assert set(old["detour_ratio"].round(6)) == {3.0}


def test_river_crossings_are_flagged_and_nothing_else():
    south = _grid(9, 5, 100.0)                     # 8 × 4 blocks, y from 0 to 400
    north = _grid(9, 5, 100.0, y0=500.0)           # the other bank, y from 500 to 900
    crossings = [LineString([(400, 400), (400, 500)]),  # footbridge
                 LineString([(0, 400), (0, 500)]), LineString([(800, 400), (800, 500)])]  # road bridges
    lines = south + north + crossings
    streets, pred = _predictors(lines, walk_kind=["street"] * (len(lines) - 3) + ["footway", "street", "street"])
    flagged = {tuple(np.round(streets.geometry.iloc[s].coords[0])) for s in pred["segment"]}
    assert flagged == {(400, 400), (0, 400), (800, 400)}
    assert (pred["reason"] == "detour").all()
    # way round the footbridge: 400 m along one bank, a road bridge, 400 m back: 900 m for 100 m
    assert pred["detour_extra_m"].tolist() == pytest.approx([800.0] * 3)
    assert pred["detour_ratio"].tolist() == pytest.approx([9.0] * 3)


def test_an_underpass_is_flagged_as_a_tunnel_and_unknown_is_not():
    lines = _grid(3, 3, 100.0)
    tunnel = [None] * len(lines)
    tunnel[3] = True  # the inner street x = 100, 0 <= y <= 100
    _, pred = _predictors(lines, tunnel=tunnel)
    assert pred["reason"].tolist() == ["tunnel"]
    assert pred["detour_ratio"].tolist() == pytest.approx([3.0])


def test_a_driveway_does_not_split_a_street_into_chokepoints():
    # the inner 100 m street x = 100, 0 <= y <= 100 cut into 10 m pieces by dead-end driveways: the
    # way round the street (300 m for 100 m) is the measure, not the way round one 10 m piece
    # (390 m for 10 m, which the defaults would flag)
    lines = _grid(3, 3, 100.0)
    assert lines[3].equals(LineString([(100, 0), (100, 100)]))
    lines[3] = LineString([(100, y) for y in range(0, 101, 10)])
    driveways = [LineString([(100, y), (115, y)]) for y in range(10, 100, 10)]
    streets, pred = _predictors(lines + driveways)
    assert pred.empty
    _, every = _predictors(lines + driveways, factor=2, min_extra=150)
    on_street = every[every.geometry.bounds["minx"].eq(100) & every.geometry.bounds["maxx"].eq(100)
                      & every.geometry.bounds["maxy"].le(100)]
    assert len(on_street) == 10
    assert on_street["link_m"].tolist() == pytest.approx([100.0] * 10)
    assert on_street["detour_ratio"].tolist() == pytest.approx([3.0] * 10)


def test_a_cut_edge_is_flagged_when_it_leads_somewhere():
    # a 300 m loop (an island) reached by one 60 m footbridge, and a 20 m dead-end spur
    base = _grid(3, 3, 100.0)
    bridge = LineString([(200, 100), (260, 100)])
    island = [LineString([(260, 100), (335, 100)]), LineString([(335, 100), (335, 175)]),
              LineString([(335, 175), (260, 175)]), LineString([(260, 175), (260, 100)])]
    spur = LineString([(0, 0), (-20, 0)])
    lines = [*base, bridge, *island, spur]
    streets, pred = _predictors(lines)
    assert pred["reason"].tolist() == ["cut_edge"]
    seg = int(pred["segment"].iloc[0])
    assert streets.geometry.iloc[seg].equals(bridge)
    assert pred["cut_off_m"].tolist() == pytest.approx([300.0])
    assert np.isinf(pred["detour_ratio"].iloc[0])
    # the dead end is one when asked for every cut edge
    _, every = _predictors(lines, min_cut_off=0)
    assert sorted(every["cut_off_m"].tolist()) == pytest.approx([0.0, 300.0])


def test_defaults_are_documented():
    text = (Path(__file__).parents[1] / "docs/methods/access_control.md").read_text(encoding="utf-8")
    assert f"more than {DETOUR_FACTOR:g} times the link's length and more\n  than {DETOUR_EXTRA:g} m longer" in text
    assert f"`factor={DETOUR_FACTOR:g}`, `min_extra={DETOUR_EXTRA:g}`" in text
    assert f"`min_cut_off={CUT_OFF_LENGTH:g}`" in text
