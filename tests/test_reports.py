"""Reports: the per-site report and index.html are self-contained, attributed, and render offline;
the GeoPackage carries QGIS styles."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import xml.dom.minidom
from html.parser import HTMLParser
from pathlib import Path

import pytest

from cpted.cli import main

ARTEFACTS = Path(__file__).resolve().parent / "artefacts"


class _Collect(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.refs, self.open = [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        a = dict(attrs)
        for key in ("src", "href"):
            if key in a:
                self.refs.append((tag, a[key]))
        if tag not in {"img", "meta", "br", "link", "input", "hr"}:
            self.open.append(tag)

    def handle_endtag(self, tag):
        assert self.open and self.open[-1] == tag, f"</{tag}> closes <{self.open[-1] if self.open else None}>"
        self.open.pop()


@pytest.fixture(scope="module")
def graslin(data, samples, tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    assert main(["batch", str(samples / "france_osm.toml"), "--out", str(out), "--quiet", "--data-dir", str(data),
                 "--site", "nantes_graslin"]) == 0
    return out


@pytest.mark.parametrize("page", ["nantes_graslin/report.html", "index.html"])
def test_pages_are_self_contained_and_attributed(graslin, page):
    text = (graslin / page).read_text(encoding="utf-8")
    parser = _Collect()
    parser.feed(text)
    assert not parser.open, f"unclosed tags: {parser.open}"
    images = [ref for tag, ref in parser.refs if tag == "img"]
    assert images and all(ref.startswith("data:image/png;base64,") for ref in images)  # every image embedded
    assert not [ref for _, ref in parser.refs if ref.startswith(("http:", "https:", "//"))]  # no network
    assert "© OpenStreetMap contributors, ODbL 1.0" in text


def test_report_content(graslin):
    text = (graslin / "nantes_graslin/report.html").read_text(encoding="utf-8")
    for section in ("Scores", "Maps", "Problem places", "Data completeness", "Method", "Sources"):
        assert f"<h2>{section}</h2>" in text
    # the chart and six maps, each unscored principle as a sentence saying why instead of its map
    assert text.count("<img ") + text.count('<figure class="map unscored">') == 7
    index = (graslin / "index.html").read_text(encoding="utf-8")
    assert 'href="nantes_graslin/report.html"' in index


def test_geopackage_carries_qgis_styles(graslin):
    with sqlite3.connect(graslin / "nantes_graslin" / "audit.gpkg") as db:
        rows = db.execute("SELECT f_table_name, f_geometry_column, styleQML, useAsDefault FROM layer_styles").fetchall()
        tables = {r[0] for r in db.execute("SELECT table_name FROM gpkg_contents")}
    styled = {r[0] for r in rows}
    assert {"cells", "problem_places", "blind_spots", "entry_points", "segments"} <= styled
    assert "layer_styles" in tables
    for _, column, qml, default in rows:
        assert column and default == 1
        xml.dom.minidom.parseString(qml.split("\n", 1)[1])


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed (.ci/run installs it)")
def test_pages_render_in_chromium_with_no_network(graslin, tmp_path):
    ARTEFACTS.mkdir(exist_ok=True)
    for page, shot in (("nantes_graslin/report.html", "report_nantes_graslin.png"), ("index.html", "index.png")):
        target = ARTEFACTS / shot
        target.unlink(missing_ok=True)
        subprocess.run(
            ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--host-resolver-rules=MAP * ~NOTFOUND", f"--user-data-dir={tmp_path / 'profile'}",
             "--window-size=1200,2400", f"--screenshot={target}", (graslin / page).as_uri()],
            check=True, capture_output=True, timeout=120,
        )
        assert target.stat().st_size > 20_000  # a rendered page, not a blank one


def test_site_score_chart_draws_unknown_as_a_hatched_no_data_bar(monkeypatch):
    """A principle without a score is a grey hatched bar labelled "no data" (as on the overview),
    not a bar of length zero that reads as a score of 0."""
    import numpy as np

    from cpted.report import site_report

    drawn = {}
    monkeypatch.setattr(site_report, "figure_png", lambda fig: drawn.setdefault("fig", fig) and "png")
    summary = {"score_surveillance": 62.0, "score_territoriality": np.nan, "score_access_control": 0.0,
               "score_maintenance": 40.0, "score_surveillance_night": np.nan, "cpted_index": np.nan}
    site_report.score_chart(summary, lang="fr")
    ax = drawn["fig"].axes[0]
    bars = {round(b.get_y() + b.get_height() / 2): b for b in ax.patches}
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert len(bars) == len(labels) == 5
    for i, key in enumerate(["surveillance", "territoriality", "access_control", "maintenance", "surveillance_night"]):
        value = summary[f"score_{key}"]
        if np.isnan(value):
            assert bars[i].get_hatch() == "///" and bars[i].get_width() == 100
        else:
            assert not bars[i].get_hatch() and bars[i].get_width() == value
    texts = [t.get_text() for t in ax.texts]
    assert texts.count("pas de données") == 2 and "0" in texts and "62" in texts
