"""cpted.evaluate: hit rate, PAI, AUC, rate ratios and the permutation test against truths of their own.

Worked scenes: a 10 x 10 grid of 10 m cells whose scores are set by hand, so that the PAI and hit
rates can be counted by hand. AUC is checked against scipy's Mann-Whitney U, the rate ratios
against statsmodels' formula interface, the permutation test by where it must land (incidents
in the lowest cells: p small; incidents placed at random: p-values spread like chance). Real
data: spatstat.data's 116 Chicago crimes (2002) on their street network.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

import cpted
from cpted.errors import CRSError, GeometryError, InputError
from cpted.evaluation import TOO_FEW, auc, pai_curve, rate_ratios, read_incidents, select_incidents

pytest.importorskip("statsmodels", reason="the evaluation's rate ratios need statsmodels (pip install 'cpted[evaluate]')")

CRS = 2154
CHICAGO = Path(__file__).parent / "data" / "chicago"


def scene(scores: np.ndarray) -> SimpleNamespace:
    """An audit-like result: 10 x 10 cells of 10 m over box(0, 0, 100, 100), ``cpted_index`` = ``scores``
    (row-major from the bottom left), no street segments."""
    i, j = np.divmod(np.arange(100), 10)
    cells = gpd.GeoDataFrame({"cell_id": [f"c{k}" for k in range(100)], "cpted_index": scores},
                             geometry=shapely.box(j * 10, i * 10, j * 10 + 10, i * 10 + 10), crs=CRS)
    return SimpleNamespace(layers={"cells": cells}, site=SimpleNamespace(boundary=shapely.box(0, 0, 100, 100)),
                           summary={"site_id": "scene"})


def points_in(cells: list[int], per_cell: list[int]) -> gpd.GeoDataFrame:
    """``per_cell[k]`` incidents at the centre of cell ``cells[k]`` (slightly apart)."""
    pts = []
    for c, n in zip(cells, per_cell, strict=True):
        i, j = divmod(c, 10)
        pts += [shapely.Point(j * 10 + 2 + 6 * (m + 1) / (n + 1), i * 10 + 5) for m in range(n)]
    return gpd.GeoDataFrame(geometry=pts, crs=CRS)


def only(ev, score="cpted_index", level="cells"):
    t = ev.table
    return t[(t["level"] == level) & (t["score"] == score)].iloc[0]


# -- worked scenes: counts done by hand ------------------------------------------------------

def test_incidents_in_the_flagged_cells_give_pai_one_over_the_share_flagged():
    scores = np.arange(100.0)  # cell k scores k: the lowest 5 % are cells 0-4
    ev = cpted.evaluate(scene(scores), points_in([0, 1, 2, 3, 4], [8, 8, 8, 8, 8]), scores=("cpted_index",),
                        permutations=999, seed=1)
    r = only(ev, "cpted_index")
    assert r["n_incidents"] == 40
    # by hand: the lowest 1 % (cell 0) holds 8 of 40 -> hit rate 0.2, PAI 0.2 / 0.01 = 20
    assert r["hit_rate_1"] == pytest.approx(0.2) and r["pai_1"] == pytest.approx(20)
    # the lowest 5 % hold all 40: PAI = 1 / 0.05; 10 %: 1 / 0.1; 20 %: 1 / 0.2
    assert (r["hit_rate_5"], r["pai_5"], r["pai_10"], r["pai_20"]) == pytest.approx((1.0, 20.0, 10.0, 5.0))
    # no random relocation of 40 incidents puts them all in 5 cells of 100: the smallest p there is
    assert r["p_pai_5"] == pytest.approx(1 / 1000) and r["p_auc"] == pytest.approx(1 / 1000)
    assert r["auc"] == pytest.approx(1.0) and r["conclusion"] == "low scores associated with incidents"
    assert r["irr_poisson_hi"] < 1
    # the negative binomial cannot fit counts this extreme (all in 5 cells): NaN, and the note says why
    assert r["irr_nb_hi"] < 1 or (np.isnan(r["irr_nb"]) and r["irr_note"].startswith("nb: "))


def test_hit_rate_and_pai_counted_by_hand_on_a_mixed_scene():
    scores = np.arange(100.0)
    # 6 incidents in cell 0, 4 in cell 3, 5 in cell 9, 10 in cell 15, 15 in cell 60: 40 in all
    ev = cpted.evaluate(scene(scores), points_in([0, 3, 9, 15, 60], [6, 4, 5, 10, 15]), scores=("cpted_index",),
                        permutations=99)
    r = only(ev, "cpted_index")
    # lowest 1 % = cell 0: 6/40; 5 % = cells 0-4: 10/40; 10 % = 0-9: 15/40; 20 % = 0-19: 25/40
    assert [r[f"hit_rate_{k}"] for k in (1, 5, 10, 20)] == pytest.approx([6 / 40, 10 / 40, 15 / 40, 25 / 40])
    assert [r[f"pai_{k}"] for k in (1, 5, 10, 20)] == pytest.approx([15.0, 5.0, 3.75, 3.125])
    # AUC by hand: the 5 cells with incidents vs the 95 without; a cell k with incidents scores lower
    # than the (99 - k) - (incident cells above it) cells without incidents above it
    hits = [0, 3, 9, 15, 60]
    wins = sum(sum(1 for m in range(100) if m not in hits and m > k) for k in hits)
    assert r["auc"] == pytest.approx(wins / (5 * 95))


def test_a_raw_measure_is_flagged_from_the_end_asked_for():
    result = scene(np.arange(100.0))
    result.layers["cells"]["betweenness"] = np.arange(100.0) * 7  # cell k: 7k
    ev = cpted.evaluate(result, points_in([95, 96, 97, 98, 99], [8] * 5), scores=(),
                        measures={"betweenness": "high"}, permutations=199)
    r = only(ev, "betweenness")
    assert r["pai_5"] == pytest.approx(20.0) and r["conclusion"] == "high values associated with incidents"
    assert r["irr_poisson"] > 1 and r["irr_per"].startswith("1 SD")  # per standard deviation, sign as given
    ev = cpted.evaluate(result, points_in([95, 96, 97, 98, 99], [8] * 5), scores=(),
                        measures={"betweenness": "low"}, permutations=199)
    assert only(ev, "betweenness")["conclusion"] == "high values associated with incidents (the reverse)"


def test_ties_at_the_threshold_count_pro_rata():
    scores = np.r_[np.zeros(10), np.arange(1.0, 91.0)]  # the lowest 10 cells all score 0
    ev = cpted.evaluate(scene(scores), points_in([0], [30]), scores=("cpted_index",), permutations=99)
    r = only(ev, "cpted_index")
    # 5 % of the area is half of the tied group that holds the 30 incidents: 15 expected
    assert r["hit_rate_5"] == pytest.approx(0.5) and r["pai_5"] == pytest.approx(10.0)
    assert r["pai_10"] == pytest.approx(10.0)


def test_below_the_minimum_no_number_is_given():
    ev = cpted.evaluate(scene(np.arange(100.0)), points_in([0, 1], [5, 5]), scores=("cpted_index",), permutations=99)
    r = only(ev, "cpted_index")
    assert r["conclusion"].startswith(TOO_FEW) and "10 < 30" in r["conclusion"]
    assert "pai_5" not in ev.table or np.isnan(r.get("pai_5", np.nan))


def test_a_score_the_audit_has_not_is_unknown_not_zero():
    ev = cpted.evaluate(scene(np.arange(100.0)), points_in([0], [40]), scores=("cpted_index", "score_maintenance"),
                        permutations=99)
    r = only(ev, "score_maintenance")
    assert r["conclusion"].startswith("unknown") and r["n_incidents"] == 0


# -- independent references ------------------------------------------------------------------

def test_auc_is_the_mann_whitney_u_of_scipy():
    from scipy.stats import mannwhitneyu

    rng = np.random.default_rng(3)
    scores = rng.integers(0, 30, 100).astype(float)  # many ties
    cells = rng.choice(100, 25, replace=False)
    ev = cpted.evaluate(scene(scores), points_in(list(cells), list(rng.integers(1, 4, 25))), scores=("cpted_index",),
                        permutations=99)
    hit = np.isin(np.arange(100), cells)
    u = mannwhitneyu(-scores[hit], -scores[~hit]).statistic  # pairs where the place with incidents scores lower
    assert only(ev)["auc"] == pytest.approx(u / (hit.sum() * (~hit).sum()))
    assert float(auc(scores, hit)) == pytest.approx(u / (25 * 75))


def test_rate_ratios_are_those_of_statsmodels_formulas():
    import statsmodels.api as sm
    import statsmodels.formula.api as smf

    rng = np.random.default_rng(7)  # 40 places, overdispersed counts falling with the score
    score = rng.uniform(0, 100, 40).round()
    area = rng.choice([50.0, 100.0], 40)
    mu = area / 100 * 4 * np.exp(-0.02 * score)
    d = pd.DataFrame({"score": score, "area": area, "n": rng.negative_binomial(2, 2 / (2 + mu))})
    ours = rate_ratios(d["score"], d["area"], d["n"])
    pois = smf.glm("n ~ I(score / 10)", d, family=sm.families.Poisson(), offset=np.log(d["area"])).fit()
    nb = smf.negativebinomial("n ~ I(score / 10)", d, offset=np.log(d["area"])).fit(disp=0)
    for name, fit in (("poisson", pois), ("nb", nb)):
        lo, hi = np.exp(fit.conf_int().iloc[1])
        assert (ours[f"irr_{name}"], ours[f"irr_{name}_lo"], ours[f"irr_{name}_hi"]) == pytest.approx(
            (np.exp(fit.params.iloc[1]), lo, hi), rel=1e-4)


def test_uniform_incidents_give_p_values_consistent_with_chance():
    from scipy.stats import kstest

    scores = np.random.default_rng(0).permutation(100).astype(float)
    p_auc, p_pai, pai = [], [], []
    for seed in range(40):
        rng = np.random.default_rng(100 + seed)
        pts = gpd.GeoDataFrame(geometry=shapely.points(rng.uniform(0, 100, (50, 2))), crs=CRS)
        r = only(cpted.evaluate(scene(scores), pts, scores=("cpted_index",), permutations=199, seed=seed))
        p_auc.append(r["p_auc"])
        p_pai.append(r["p_pai_10"])
        pai.append(r["pai_10"])
    assert np.mean(pai) == pytest.approx(1.0, abs=0.2)  # PAI about 1
    # under chance the p-values are uniform: not piled up near 0, spread over (0, 1]
    assert kstest(p_auc, "uniform").pvalue > 0.01 and kstest(p_pai, "uniform").pvalue > 0.01
    assert np.mean(np.array(p_auc) < 0.05) <= 0.15


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.integers(1, 4), st.integers(0, 6)), min_size=2, max_size=30))
def test_pai_curve_rises_to_every_incident(places):
    score, exposure, counts = (np.array(v, float) for v in zip(*places, strict=True))
    shares = np.linspace(0.05, 1.0, 20)
    got = pai_curve(score, exposure, counts, shares)
    assert np.all(np.diff(got) >= -1e-9) and got[-1] == pytest.approx(counts.sum())
    assert np.all(got >= -1e-9) and np.all(got <= counts.sum() + 1e-9)


# -- the incidents layer --------------------------------------------------------------------

def test_outside_points_are_counted_then_ignored_and_filters_apply():
    inc = points_in([0] * 1, [40])
    inc = pd.concat([inc, gpd.GeoDataFrame(geometry=[shapely.Point(500, 500)], crs=CRS)], ignore_index=True)
    inc["date"] = ["2024-01-05"] * 20 + ["2024-03-01"] * 20 + ["2024-01-06"]
    inc["time"] = ["22:15"] * 10 + ["12:00"] * 30 + ["01:00"]
    ev = cpted.evaluate(scene(np.arange(100.0)), inc, scores=("cpted_index",), permutations=99, min_incidents=5,
                        date_to="2024-01-31", time_of_day="night")
    s = ev.summary
    assert (s["n_incidents_given"], s["n_outside_site"], s["n_filtered_out"], s["n_in_site"]) == (41, 1, 30, 10)
    assert ev.incidents["status"].value_counts().to_dict() == {"filtered_out": 30, "in_site": 10, "outside_site": 1}
    assert only(ev)["n_incidents"] == 10


def test_bad_incidents_are_refused_naming_the_layer_the_feature_and_the_fix(tmp_path):
    pts = gpd.GeoDataFrame({"date": ["2024-01-05", "31/02/2024x"]}, geometry=[shapely.Point(1, 1)] * 2, crs=CRS)
    with pytest.raises(InputError, match=r"incidents: date that does not parse.*feature\(s\) 1; write dates as YYYY-MM-DD"):
        read_incidents(pts)
    with pytest.raises(InputError, match=r"time that does not parse.*feature\(s\) 0.*HH:MM"):
        read_incidents(gpd.GeoDataFrame({"time": ["25:10"]}, geometry=[shapely.Point(1, 1)], crs=CRS))
    with pytest.raises(GeometryError, match=r"not a point at feature\(s\) 1.*one point per incident"):
        read_incidents(gpd.GeoDataFrame(geometry=[shapely.Point(1, 1), shapely.LineString([(0, 0), (1, 1)])], crs=CRS))
    with pytest.raises(GeometryError, match=r"empty geometry at feature\(s\) 0"):
        read_incidents(gpd.GeoDataFrame(geometry=[None, shapely.Point(1, 1)], crs=CRS))
    with pytest.raises(CRSError, match="incidents: no CRS declared.*-a_srs"):
        read_incidents(gpd.GeoDataFrame(geometry=[shapely.Point(1, 1)]))
    csv = tmp_path / "inc.csv"
    csv.write_text("x,y,category\n1,2,theft\n")
    with pytest.raises(CRSError, match="x/y but no CRS"):
        read_incidents(csv)
    assert read_incidents(csv, crs=CRS)["category"].tolist() == ["theft"]
    swapped = tmp_path / "swapped.csv"
    swapped.write_text("lon,lat\n-1.55,47.21\n47.21,-181.5\n")
    with pytest.raises(GeometryError, match=r"beyond ±180/±90 degrees at feature\(s\) 1"):
        read_incidents(swapped)
    with pytest.raises(InputError, match="no dates, so no date filter"):
        select_incidents(read_incidents(csv, crs=CRS), date_from="2024-01-01")
    with pytest.raises(InputError, match="no times"):
        select_incidents(read_incidents(csv, crs=CRS), time_of_day="night")


def test_without_statsmodels_the_error_says_which_extra_to_install(monkeypatch):
    import sys

    from cpted.errors import MissingDependencyError

    monkeypatch.setitem(sys.modules, "statsmodels.api", None)
    with pytest.raises(MissingDependencyError, match=r"pip install 'cpted\[evaluate\]'"):
        cpted.evaluate(scene(np.arange(100.0)), points_in([0], [40]))


def test_the_command_refuses_bad_incidents_before_the_audit(tmp_path, capsys):
    from cpted.cli import main

    sites = _chicago_site(tmp_path)
    bad = tmp_path / "bad.csv"
    bad.write_text("lon,lat,date\n-87.6,41.79,yesterday\n")
    assert main(["evaluate", str(sites), "--site", "chicago", "--incidents", str(bad), "--out", str(tmp_path / "o")]) == 2
    assert "date that does not parse ('yesterday') at feature(s) 0" in capsys.readouterr().err
    undated = tmp_path / "undated.csv"
    undated.write_text("lon,lat\n-87.6,41.79\n")
    assert main(["evaluate", str(sites), "--site", "chicago", "--incidents", str(undated), "--out", str(tmp_path / "o"),
                 "--date-from", "2002-01-01"]) == 2
    assert "no dates, so no date filter" in capsys.readouterr().err


# -- real data: spatstat.data's Chicago crimes ---------------------------------------------------

def _chicago_site(folder: Path) -> Path:
    spec = importlib.util.spec_from_file_location("chicago_site", CHICAGO / "chicago_site.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.write_site(folder)


@pytest.fixture(scope="module")
def chicago(tmp_path_factory):
    """``cpted evaluate`` run once on the Chicago crimes: its printed table and output folder."""
    from cpted.cli import main

    folder = tmp_path_factory.mktemp("chicago")
    sites = _chicago_site(folder)
    out = folder / "out"
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main(["evaluate", str(sites), "--site", "chicago", "--incidents", str(folder / "crimes.gpkg"),
                     "--out", str(out), "--data-dir", str(folder / "data"), "--measure", "betweenness_800=high", "--measure", "mix_d1_800=low"])
    assert code == 0
    return buf.getvalue(), out


def test_chicago_counts_match_the_source(chicago):
    printed, out = chicago
    table = pd.read_csv(out / "evaluation.csv")
    crimes = pd.read_csv(CHICAGO / "crimes.csv")
    assert len(crimes) == 116 and crimes["type"].value_counts()["theft"] == 38  # as spatstat's help page says
    # by hand from the CSV: the crimes farther than 20 m inside the survey window
    w = pd.read_csv(CHICAGO / "window.csv").iloc[0] * 0.3048
    x, y = crimes["x"] * 0.3048, crimes["y"] * 0.3048
    inside = ((x > w.xmin + 20) & (x < w.xmax - 20) & (y > w.ymin + 20) & (y < w.ymax - 20)).sum()
    assert table["n_incidents_given"].iloc[0] == 116 and table["n_in_site"].iloc[0] == inside
    assert f"116 incidents given: {116 - inside} outside the site (ignored)" in printed
    written = gpd.read_file(out / "evaluation_incidents.gpkg")
    assert len(written) == 116 and (written["status"] == "outside_site").sum() == 116 - inside


def test_chicago_prints_pai_auc_and_rate_ratios_for_access_control(chicago):
    printed, out = chicago
    print(printed)  # the numbers docs/methods/evaluation.md reports
    t = pd.read_csv(out / "evaluation.csv").set_index(["level", "score"])
    for level in ("cells", "segments"):
        r = t.loc[(level, "score_access_control")]
        assert r["n_incidents"] >= 30
        for col in ("pai_5", "pai_10", "pai_20", "p_pai_5", "p_pai_10", "p_pai_20", "auc", "p_auc",
                    "irr_poisson", "irr_poisson_lo", "irr_poisson_hi", "irr_nb", "irr_nb_lo", "irr_nb_hi"):
            assert np.isfinite(r[col]), col
        assert r["irr_nb_lo"] <= r["irr_nb"] <= r["irr_nb_hi"]
        line = next(ln for ln in printed.splitlines() if ln.startswith(level) and "score_access_control" in ln)
        assert f"{r['pai_5']:.2f}" in line and f"{r['auc']:.2f}" in line and f"[{r['irr_nb_lo']:.2f}," in line
    # docs/methods/evaluation.md reports these very numbers
    doc = (Path(__file__).parents[1] / "docs" / "methods" / "evaluation.md").read_text(encoding="utf-8")
    for (level, score), name in ({("cells", "score_access_control"): "access control",
                                  ("segments", "score_access_control"): "access control",
                                  ("cells", "betweenness_800"): "betweenness 800 m",
                                  ("segments", "betweenness_800"): "betweenness 800 m"}).items():
        r = t.loc[(level, score)]
        row = next(ln for ln in doc.splitlines() if ln.startswith(f"| {level} | {name}"))
        expected = (f"{r['pai_5']:.2f} ({r['p_pai_5']:.3f}) | {r['pai_10']:.2f} ({r['p_pai_10']:.3f}) | "
                    f"{r['pai_20']:.2f} ({r['p_pai_20']:.3f}) | {r['auc']:.2f} ({r['p_auc']:.3f}) | "
                    f"{r['irr_poisson']:.2f} [{r['irr_poisson_lo']:.2f}, {r['irr_poisson_hi']:.2f}] | "
                    f"{r['irr_nb']:.2f} [{r['irr_nb_lo']:.2f}, {r['irr_nb_hi']:.2f}] |")
        assert row.endswith(f"| {int(r['n_incidents'])} | {expected}"), (row, expected)
    # the principles that need buildings, and activity without POIs, are unknown, not zero
    assert t.loc[("cells", "score_surveillance"), "conclusion"].startswith("unknown")
    assert t.loc[("cells", "mix_d1_800"), "conclusion"].startswith("unknown")
    assert np.isfinite(t.loc[("segments", "betweenness_800"), "auc"])


def test_chicago_report_in_french_has_every_string_translated(chicago, monkeypatch):
    from cpted.evaluation import EvaluationResult
    from cpted.report import evaluation as report
    from cpted.report.i18n import catalog, tr

    _, out = chicago
    missing = []

    def checked(text, lang="en", /, **fields):
        if text not in catalog("fr"):
            missing.append(text)
        return tr(text, lang, **fields)

    monkeypatch.setattr(report, "tr", checked)
    t = pd.read_csv(out / "evaluation.csv")
    summary = t.iloc[0][[c for c in t.columns if c.startswith("n_") and c not in ("n_places", "n_incidents")]].to_dict()
    summary.update(site_id="chicago", snap_distance=25.0, permutations=999, seed=0, min_incidents=30)
    ev = EvaluationResult(table=t, curve=pd.read_csv(out / "evaluation_curve.csv"), incidents=None, summary=summary)
    paths = report.write_evaluation(ev, out / "fr", lang="fr")
    assert not missing, missing
    fixed = [*report._READINGS.values(), *report._NAMES.values(), *report._LEVEL.values()]
    assert not [t for t in fixed if t not in catalog("fr")]
    page = paths["report"].read_text()
    assert "Évaluation par les incidents" in page and "pas des causes" in page


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed (.ci/run installs it)")
def test_chicago_evaluation_renders_in_chromium(chicago, tmp_path):
    _, out = chicago
    shot = tmp_path / "evaluation.png"
    subprocess.run(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--host-resolver-rules=MAP * ~NOTFOUND", f"--user-data-dir={tmp_path / 'profile'}",
         "--window-size=1200,1600", f"--screenshot={shot}", (out / "evaluation.html").as_uri()],
        check=True, capture_output=True, timeout=120,
    )
    assert shot.stat().st_size > 20_000  # a rendered page, not a blank one
    html = (out / "evaluation.html").read_text()
    assert 'id="evaluation"' in html and "data:image/png;base64," in html and "associations on one site, not causes" in html
    from PIL import Image

    with Image.open(out / "evaluation_pai.png") as plot:  # the figure as a file too, the same picture
        assert plot.format == "PNG" and plot.size[0] > 300
