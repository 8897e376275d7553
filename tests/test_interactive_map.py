"""The interactive map of the site report, driven in headless Chromium with every network request
refused, through the DevTools protocol (tests/cdp.py): clicking problem place no. 1 shows its
drivers (read back from audit.gpkg), a clicked cell shows its scores or n/a with a reason, the
layer toggles hide their layers, and nothing leaves the machine."""

from __future__ import annotations

import math
import shutil
import sqlite3
from types import SimpleNamespace

import geopandas as gpd
import numpy as np
import pytest
import shapely

from cpted.cli import main
from cpted.report.interactive import interactive_map

pytestmark = pytest.mark.skipif(shutil.which("chromium") is None,
                                reason="Debian's chromium is not installed (.ci/run installs it)")

PLACE_RGB = (0x2B, 0x2B, 0xD6)  # problem place outlines and markers (assets/imap.js)
BUILDING_RGB = (0x6F, 0x6A, 0x63)
NAN_RGB = (196, 191, 204)  # a score unknown


@pytest.fixture(scope="module")
def graslin(data, samples, tmp_path_factory):
    out = tmp_path_factory.mktemp("imap")
    assert main(["batch", str(samples / "france_osm.toml"), "--out", str(out), "--quiet", "--data-dir", str(data),
                 "--site", "nantes_graslin"]) == 0
    return out / "nantes_graslin"


def _browser(tmp_path):
    from cdp import Chromium

    return Chromium(tmp_path / "profile")


def _show(browser) -> None:
    """Wait for the map, then scroll it to the top of the window."""
    state = browser.until("window.cptedMap && (cptedMap.ready || cptedMap.error) && {ready: cptedMap.ready, error: cptedMap.error}")
    assert state == {"ready": True, "error": None}
    browser.evaluate("document.querySelector('.cpted-imap').scrollIntoView({block: 'start'}); true")


def _count(browser, rgb) -> int:
    """How many canvas pixels have exactly this colour."""
    return browser.evaluate(f"""(() => {{
        const c = cptedMap.canvas, d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0;
        for (let i = 0; i < d.length; i += 4) if (d[i] === {rgb[0]} && d[i + 1] === {rgb[1]} && d[i + 2] === {rgb[2]}) n++;
        return n; }})()""")


def _pixel(browser, x, y) -> tuple[int, int, int]:
    """The canvas colour at viewport pixel (x, y)."""
    return tuple(browser.evaluate(f"""(() => {{
        const c = cptedMap.canvas, r = c.getBoundingClientRect(), k = c.width / r.width;
        return Array.from(c.getContext('2d').getImageData(Math.floor(({x} - r.left) * k), Math.floor(({y} - r.top) * k), 1, 1).data.slice(0, 3)); }})()"""))


def _click_at(browser, x, y) -> str:
    """Click viewport pixel (x, y) with the mouse; the info panel's text after it."""
    before = browser.evaluate("cptedMap.info.innerText")
    browser.click(x, y)
    browser.until(f"cptedMap.info.innerText !== {before!r}", timeout=10)
    return browser.evaluate("cptedMap.info.innerText")


def _click_point(browser, x, y) -> str:
    """Click the map where the site-CRS point (x, y) is drawn."""
    q = browser.evaluate(f"cptedMap.project({x}, {y})")
    return _click_at(browser, q["x"], q["y"])


def _click_control(browser, selector, checked=True) -> None:
    """Click a control of the map (a checkbox, a radio button) with the mouse, until it is ``checked``."""
    r = browser.evaluate(f"(() => {{ const b = document.querySelector('{selector}').getBoundingClientRect(); "
                         f"return {{x: b.left + b.width / 2, y: b.top + b.height / 2}}; }})()")
    browser.click(r["x"], r["y"])
    browser.until(f"document.querySelector('{selector}').checked === {str(checked).lower()}", timeout=5)


def _offline(browser) -> None:
    """Nothing left the machine, and nothing could have: no JS error either."""
    urls = browser.requests()
    assert urls and all(u.startswith(("file:", "data:")) for u in urls), [u[:80] for u in urls]
    assert browser.evaluate("fetch('https://example.org/').then(() => 'reached', () => 'blocked')") == "blocked"
    assert browser.exceptions() == []


def test_clicking_problem_place_one_shows_its_drivers(graslin, tmp_path):
    with sqlite3.connect(graslin / "audit.gpkg") as db:
        place = db.execute("SELECT x, y, drivers, remedy, street FROM problem_places WHERE place_no = 1").fetchone()
    assert place is not None, "the Graslin sample site has problem places: place no. 1 is missing from audit.gpkg"
    x, y, drivers, remedy, street = place
    assert drivers
    with _browser(tmp_path) as browser:
        browser.open((graslin / "report.html").as_uri())
        _show(browser)
        text = _click_point(browser, x, y)
        assert "Problem place no. 1" in text
        assert drivers in text and remedy in text and street in text
        _offline(browser)


def test_cells_show_their_scores_and_the_toggles_hide_layers(graslin, tmp_path):
    cols = ("score_surveillance", "score_territoriality", "score_access_control", "score_maintenance",
            "score_surveillance_night", "cpted_index")
    with sqlite3.connect(graslin / "audit.gpkg") as db:
        cells = db.execute(f"SELECT x, y, {', '.join(cols)}, drivers FROM cells").fetchall()
    unknown = [c for c in cells if c[3] is None and c[2] is not None]  # territoriality unknown, surveillance known
    assert unknown, "no cell of Graslin has territoriality unknown: pick another cell"
    x, y, *scores, drivers = unknown[len(unknown) // 2]
    with _browser(tmp_path) as browser:
        browser.open((graslin / "report.html").as_uri())
        _show(browser)
        # the overlays hide when their box is unticked with the mouse
        for box, rgb in (("places", PLACE_RGB), ("buildings", BUILDING_RGB)):
            assert _count(browser, rgb) > 50, box
            _click_control(browser, f'input[data-overlay="{box}"]', checked=False)
            assert _count(browser, rgb) == 0, box
        # with the places hidden, a click on a cell shows the cell: scores as in audit.gpkg, n/a with a reason
        text = _click_point(browser, x, y)
        lines = dict(line.split("\t", 1) for line in text.splitlines() if "\t" in line)
        labels = ("Natural surveillance", "Territoriality", "Access control", "Maintenance / image",
                  "Surveillance at night", "CPTED index")
        for label, value in zip(labels, scores, strict=True):
            if value is None:
                assert lines[label].startswith("n/a (") and "of its inputs have data" in lines[label], lines[label]
            else:
                assert lines[label] == str(round(value)), (label, lines[label], value)
        assert lines["Drivers"] == (drivers or "none below 50")
        # the territoriality layer draws that cell grey (unknown), the surveillance layer in its colour
        q = browser.evaluate(f"cptedMap.project({x}, {y})")
        _click_control(browser, 'input[data-layer="territoriality"]')
        assert _pixel(browser, q["x"], q["y"]) == NAN_RGB
        assert _count(browser, NAN_RGB) > 100
        _click_control(browser, 'input[data-layer="none"]')
        assert _count(browser, NAN_RGB) == 0  # no score layer drawn
        _offline(browser)


def _rdylgn(value: float) -> tuple[int, int, int]:
    from matplotlib import colormaps

    return tuple(int(round(c * 255)) for c in colormaps["RdYlGn"](value / 100)[:3])


CENTRES = [(x0 + 5, y0 + 5) for y0 in (0, 10) for x0 in (0, 10, 20)]  # six 10 m cells
SURVEILLANCE = [10.0, 35.0, 50.0, np.nan, 80.0, 100.0]


def _scene(tmp_path, lang: str):
    """A page with the map of six 10 m cells whose scores are set by hand, and one problem place."""
    cells = gpd.GeoDataFrame(
        {"x": [c[0] for c in CENTRES], "y": [c[1] for c in CENTRES], "score_surveillance": SURVEILLANCE,
         "completeness_surveillance": [1, 1, 1, 0.25, 1, 1], "eyes_43": [0, 1, 2, np.nan, 3, 3],
         "cpted_index": [20.0, 30.0, 40.0, np.nan, 60.0, 70.0], "completeness_index": [1, 1, 1, 0.25, 1, 1],
         "drivers": ["unlit (below the EN 13201 P6 minimum of 0.4 lx)", "", "", "", "", ""]},
        geometry=[shapely.box(x - 5, y - 5, x + 5, y + 5) for x, y in CENTRES], crs=2154)
    cells = cells.iloc[[0, 1, 2, 4, 5, 3]]  # any order
    place = gpd.GeoDataFrame(
        {"place_no": [1], "principle": ["surveillance"], "street": [None], "x": [5.0], "y": [5.0], "area_m2": [100.0],
         "cells": [1], "mean_score": [10.0], "drivers": ["unlit (below the EN 13201 P6 minimum of 0.4 lx)"],
         "remedy": ["add lighting"]}, geometry=[shapely.box(0, 0, 10, 10)], crs=2154)
    site = SimpleNamespace(boundary=shapely.box(0, 0, 30, 20), cell_size=10.0, layers={}, crs=cells.crs)
    result = SimpleNamespace(site=site, layers={"cells": cells, "problem_places": place}, summary={})
    page = tmp_path / "map.html"
    page.write_text(f'<!doctype html><html lang="{lang}"><meta charset="utf-8"><body>{interactive_map(result, lang=lang)}'
                    "</body></html>", encoding="utf-8")
    return page


def test_worked_scene_in_french(tmp_path):
    """Every cell of a scene set by hand shows its own scores in French, n/a with the reason where
    unknown, in the colour matplotlib gives its score; the place shows in French too."""
    page = _scene(tmp_path, "fr")
    centres, surveillance = CENTRES, SURVEILLANCE
    with _browser(tmp_path) as browser:
        browser.open(page.as_uri())
        _show(browser)
        _click_control(browser, 'input[data-layer="surveillance"]')
        _click_control(browser, 'input[data-overlay="places"]', checked=False)  # the cell under the place clickable
        _click_control(browser, 'input[data-overlay="boundary"]', checked=False)
        for (x, y), value in zip(centres, surveillance, strict=True):
            q = browser.evaluate(f"cptedMap.project({x + 2}, {y + 2})")  # off the cell's centre line
            text = _click_at(browser, q["x"], q["y"])
            lines = dict(line.split("\t", 1) for line in text.splitlines() if "\t" in line)
            if math.isnan(value):
                assert lines["Surveillance naturelle"] == (
                    "n.d. (25% de ses données d'entrée sont connues (il en faut 50%); "
                    "pas de données pour eyes_43, eyes_15, isovist_area, mix_d1_800)")
                assert _pixel(browser, q["x"], q["y"]) == NAN_RGB
            else:
                assert lines["Surveillance naturelle"] == f"{value:.0f}"
                got, want = _pixel(browser, q["x"], q["y"]), _rdylgn(value)
                assert max(abs(a - b) for a, b in zip(got, want, strict=True)) <= 1, (value, got, want)
            assert lines["Territorialité"].startswith("n.d. (non calculé dans cet audit")
        _click_control(browser, 'input[data-overlay="places"]')
        text = _click_point(browser, 5.0, 5.0)
        assert "Lieu à problème n° 1" in text and "Rue\tsans nom" in text
        _offline(browser)


def test_drag_pans_and_the_wheel_and_buttons_zoom(tmp_path):
    """Properties of the view: a drag moves the map by the pointer's move (and is no click), the
    wheel zooms about the pointer (the point under it stays put), the buttons zoom about the
    centre by 1.5, and "fit" brings the first view back."""
    page = _scene(tmp_path, "en")

    def where(x, y):
        q = browser.evaluate(f"cptedMap.project({x}, {y})")
        return np.array([q["x"], q["y"]])

    with _browser(tmp_path) as browser:
        browser.open(page.as_uri())
        _show(browser)
        first = where(0, 0), where(30, 20)
        help_text = browser.evaluate("cptedMap.info.innerText")
        start = np.round((first[0] + first[1]) / 2)  # the protocol gives events whole pixels
        browser.drag(*start, *(start + (40, -25)))
        assert np.allclose(where(0, 0), first[0] + (40, -25), atol=0.01)
        assert browser.evaluate("cptedMap.info.innerText") == help_text  # a drag is not a click
        point, pointer = where(10, 10), np.round(where(10, 10))
        width, factor = where(30, 0)[0] - where(0, 0)[0], math.exp(240 * 0.0015)
        browser.wheel(*pointer, -240)
        browser.until(f"cptedMap.project(30, 0).x - cptedMap.project(0, 0).x > {width + 1}", timeout=10)
        assert where(30, 0)[0] - where(0, 0)[0] == pytest.approx(width * factor, rel=1e-6)
        assert np.allclose(where(10, 10), pointer + factor * (point - pointer), atol=0.01)  # the pointer is the fixed point
        centre = np.array(browser.evaluate("(() => { const r = cptedMap.canvas.getBoundingClientRect(); "
                                           "return [r.left + r.width / 2, r.top + r.height / 2]; })()"))
        for button, factor in (("Zoom in", 1.5), ("Zoom out", 1 / 1.5)):
            before, width = where(10, 10), where(30, 0)[0] - where(0, 0)[0]
            r = browser.evaluate(f"(() => {{ const b = document.querySelector('button[aria-label=\"{button}\"]')"
                                 ".getBoundingClientRect(); return [b.left + b.width / 2, b.top + b.height / 2]; })()")
            browser.click(*r)
            browser.until(f"Math.abs(cptedMap.project(30, 0).x - cptedMap.project(0, 0).x - {width * factor}) < 0.01",
                          timeout=10)
            assert np.allclose(where(10, 10) - centre, (before - centre) * factor, atol=0.01)
        r = browser.evaluate("(() => { const b = document.querySelector('button[aria-label=\"Fit the site\"]')"
                             ".getBoundingClientRect(); return [b.left + b.width / 2, b.top + b.height / 2]; })()")
        browser.click(*r)
        browser.until(f"Math.abs(cptedMap.project(0, 0).x - {first[0][0]}) < 0.01", timeout=10)
        assert np.allclose(where(30, 20), first[1], atol=0.01)
        _offline(browser)
