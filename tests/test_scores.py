"""Scores: normalisation rules, weights, principle scores, explanations and problem places."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely import box

from cpted.errors import InputError
from cpted.score.scores import PRINCIPLES, RULES, problem_places, read_weights, score_cells, site_scores

values = st.one_of(st.none(), st.floats(-1e3, 1e4, allow_nan=False))


def _cells(**cols):
    return pd.DataFrame({k: [np.nan if v is None else v] for k, v in cols.items()})


@settings(max_examples=100, deadline=None)
@given(st.fixed_dictionaries({m: values for m in RULES}))
def test_scores_stay_within_0_and_100(metrics):
    s = score_cells(_cells(**metrics)).iloc[0]
    for col in [f"score_{p}" for p in PRINCIPLES] + ["cpted_index", "score_surveillance_night"]:
        assert math.isnan(s[col]) or 0 <= s[col] <= 100
    for p in PRINCIPLES:
        assert 0 <= s[f"completeness_{p}"] <= 1


@settings(max_examples=100, deadline=None)
@given(st.fixed_dictionaries({m: st.floats(-10, 200, allow_nan=False) for m in RULES}), st.sampled_from(sorted(RULES)),
       st.floats(0, 50))
def test_improving_a_metric_never_lowers_its_principle(metrics, name, step):
    rule = RULES[name]
    better = dict(metrics)
    better[name] = metrics[name] + step * (1 if rule.good > rule.bad else -1)
    a = score_cells(_cells(**metrics)).iloc[0]
    b = score_cells(_cells(**better)).iloc[0]
    col = f"score_{rule.principle}" if rule.period != "night" else "score_surveillance_night"
    assert b[col] >= a[col] - 1e-9


def test_worked_scores_and_drivers():
    cells = _cells(eyes_43=1.5, eyes_15=0.0, isovist_area=2750.0, mix_d1_800=np.nan)
    s = score_cells(cells).iloc[0]
    # eyes_43 50 (weight 2), eyes_15 0 (weight 1), isovist_area 50 (weight 1): (100 + 0 + 50) / 4
    assert s["score_surveillance"] == pytest.approx(37.5)
    assert s["completeness_surveillance"] == pytest.approx(4 / 5)
    assert s["drivers"].split("; ")[0] == "no reliable eyes (no opening within 15 m)"
    assert math.isnan(s["score_maintenance"]) and s["completeness_maintenance"] == 0
    assert math.isnan(s["cpted_index"])  # one principle of four is not an index
    both = score_cells(_cells(eyes_43=1.5, eyes_15=0.0, isovist_area=2750.0, through_share_800=0.0, escape_routes=2.0)).iloc[0]
    assert both["cpted_index"] == pytest.approx((37.5 + 100) / 2) and both["completeness_index"] == 0.5
    thin = score_cells(_cells(mix_d1_800=6.0)).iloc[0]  # 1 of 5 surveillance weights: too thin to score
    assert math.isnan(thin["score_surveillance"]) and thin["completeness_surveillance"] == pytest.approx(0.2)


def test_weights_validation(tmp_path):
    def write(text):
        p = tmp_path / "w.toml"
        p.write_text(text)
        return p

    assert read_weights(write("[metrics]\neyes_43 = 5\n"))["metrics"]["eyes_43"] == 5.0
    with pytest.raises(InputError, match=r"unknown key metrics\.eyes_44"):
        read_weights(write("[metrics]\neyes_44 = 1\n"))
    with pytest.raises(InputError, match=r"principles\.maintenance = -1 must be a number >= 0"):
        read_weights(write("[principles]\nmaintenance = -1\n"))
    with pytest.raises(InputError, match=r"every metric of maintenance \(disorder_density\) has weight 0"):
        read_weights(write("[metrics]\ndisorder_density = 0\n"))
    with pytest.raises(InputError, match=r"every weight in \[principles\] is 0"):
        read_weights(write("[principles]\nsurveillance = 0\nterritoriality = 0\naccess_control = 0\nmaintenance = 0\n"))
    with pytest.raises(InputError, match=r"unknown section \[weights\]"):
        read_weights(write("[weights]\na = 1\n"))


def test_weights_change_the_index():
    cells = _cells(eyes_43=3.0, eyes_15=2.0, isovist_area=5000.0, ambiguous=1.0, depth_m=150.0, boundary_marked=0.0)
    base = score_cells(cells).iloc[0]["cpted_index"]
    w = read_weights()
    w["principles"]["territoriality"] = 3.0
    assert score_cells(cells, w).iloc[0]["cpted_index"] < base


def test_problem_places_are_clusters_of_low_cells():
    geoms = [box(x, 0, x + 5, 5) for x in range(0, 50, 5)]
    eyes = [0, 0, 0, 0, 0, 3, 3, 3, 3, 0]
    cells = gpd.GeoDataFrame({"eyes_43": eyes, "eyes_15": [0 if e == 0 else 2 for e in eyes],
                              "isovist_area": [5000.0] * 10}, geometry=geoms, crs=2154)
    cells = cells.join(score_cells(cells))
    places = problem_places(cells, threshold=40, min_cells=2)
    assert places["principle"].tolist() == ["surveillance"]  # the lone low cell at the end is too small
    assert places["cells"].tolist() == [5] and places["remedy"].tolist() == ["add active frontage"]
    assert places["area_m2"].iloc[0] == pytest.approx(125)


def _scene(dx: float, dy: float):
    from shapely import LineString, Point
    from shapely.affinity import translate

    from cpted.prepare.site import Site

    def move(geoms):
        return [translate(g, dx, dy) for g in geoms]

    buildings = gpd.GeoDataFrame({"height_m": [9.0, 12.0, 6.0]}, crs=2154,
                                 geometry=move([box(0, 20, 40, 50), box(60, 20, 90, 60), box(10, 70, 30, 90)]))
    streets = gpd.GeoDataFrame({"walk_kind": ["street", "street", "footway"]}, crs=2154,
                               geometry=move([LineString([(-50, 10), (50, 10)]), LineString([(50, 10), (150, 10)]),
                                              LineString([(50, 10), (50, 100)])]))
    lamps = gpd.GeoDataFrame({"height_m": [6.0]}, geometry=move([Point(50, 40)]), crs=2154)
    entrances = gpd.GeoDataFrame({"kind": ["main"]}, geometry=move([Point(40, 35)]), crs=2154)
    return Site.from_layers("t", translate(box(-20, 0, 120, 100), dx, dy), crs=2154, context=60, cell_size=5,
                            layers={"buildings": buildings, "streets": streets, "lamps": lamps, "entrances": entrances})


@settings(max_examples=4, deadline=None)
@given(st.integers(-2000, 2000), st.integers(-2000, 2000))
def test_scores_unchanged_when_the_scene_is_translated(i, j):
    from cpted.pipeline import audit

    dx, dy = 5.0 * i, 5.0 * j  # whole cells, so the grids line up
    a = audit(_scene(0, 0)).layers["cells"]
    b = audit(_scene(dx, dy)).layers["cells"]
    assert len(a) == len(b)
    assert a["score_surveillance"].notna().mean() > 0.9 and a["score_access_control"].notna().mean() > 0.9
    a = a.assign(kx=(a["x"]).round(3), ky=a["y"].round(3)).set_index(["kx", "ky"]).sort_index()
    b = b.assign(kx=(b["x"] - dx).round(3), ky=(b["y"] - dy).round(3)).set_index(["kx", "ky"]).sort_index()
    for col in ["cpted_index", *[f"score_{p}" for p in PRINCIPLES], "score_surveillance_night"]:
        np.testing.assert_allclose(a[col].to_numpy(dtype=float), b[col].to_numpy(dtype=float), rtol=1e-9, atol=1e-9, err_msg=col)


def test_no_night_score_without_light_levels():
    """Eyes and views are known, lamps are not: the day score exists, the night one does not,
    and the site's notes say why. With light levels known (even 0 lx), the night score exists."""
    dark = _cells(eyes_43=3.0, eyes_15=2.0, isovist_area=5000.0, mix_d1_800=6.0, lux=None, night_pois_800=5.0)
    s = score_cells(dark)
    assert s["score_surveillance"].iloc[0] == pytest.approx(100)
    assert math.isnan(s["score_surveillance_night"].iloc[0])
    assert "no light levels" in site_scores(dark, s)["score_notes"]
    lit = dark.assign(lux=0.0)
    assert 0 <= score_cells(lit)["score_surveillance_night"].iloc[0] < 100
