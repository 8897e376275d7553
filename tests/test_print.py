"""The Île de Nantes report read as a planner would: at 1,366 × 900 in headless Chromium (no
horizontal scrolling, maps at least 1,000 px wide), its problem places numbered on the maps as in
its table, and printed by ``cpted batch --pdf`` to an A4 PDF whose map pages render (pdftoppm)."""

from __future__ import annotations

import base64
import html
import io
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio
import pytest
from PIL import Image
from test_maps import longest_black_run

from cpted.cli import main
from cpted.errors import MissingDependencyError
from cpted.report import pdf

ARTEFACTS = Path(__file__).resolve().parent / "artefacts"
CHROMIUM = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--host-resolver-rules=MAP * ~NOTFOUND"]
_MEASURE = """<script>
window.addEventListener("load", () => {
  const maps = [...document.querySelectorAll(".maps img")].map(i => [i.naturalWidth, i.getBoundingClientRect().width]);
  const out = {clientWidth: document.documentElement.clientWidth, scrollWidth: document.documentElement.scrollWidth, maps};
  const pre = document.createElement("pre"); pre.id = "measure"; pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>"""
needs_chromium = pytest.mark.skipif(shutil.which("chromium") is None,
                                    reason="Debian's chromium is not installed (.ci/run installs it)")


@pytest.fixture(scope="module")
def ile(data, samples, tmp_path_factory):
    """``cpted batch --lang fr --pdf`` of the Île de Nantes reference site (about 3 × 1 km), in French."""
    if shutil.which("chromium") is None:
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    out = tmp_path_factory.mktemp("ile")
    assert main(["batch", str(samples / "nantes_renewal.toml"), "--out", str(out), "--quiet", "--data-dir", str(data),
                 "--site", "ile_de_nantes", "--lang", "fr", "--pdf"]) == 0
    return out


@pytest.fixture(scope="module")
def ile_en(data, samples, tmp_path_factory):
    """The same site's report in English (no PDF)."""
    out = tmp_path_factory.mktemp("ile_en")
    assert main(["batch", str(samples / "nantes_renewal.toml"), "--out", str(out), "--quiet", "--data-dir", str(data),
                 "--site", "ile_de_nantes", "--lang", "en"]) == 0
    return out


@needs_chromium
@pytest.mark.parametrize("lang", ["fr", "en"])
def test_report_at_1366_has_no_horizontal_scroll_and_maps_1000px_wide(lang, request, tmp_path):
    ile = request.getfixturevalue("ile" if lang == "fr" else "ile_en")
    page = ile / "ile_de_nantes" / "report.html"
    text = page.read_text(encoding="utf-8")
    probe = tmp_path / "probe.html"
    probe.write_text(text.replace("</body>", _MEASURE + "</body>"), encoding="utf-8")
    flags = [*CHROMIUM, f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1366,900"]
    dom = subprocess.run([*flags, "--virtual-time-budget=10000", "--dump-dom", probe.as_uri()],
                         check=True, capture_output=True, text=True, timeout=180).stdout
    measured = json.loads(re.search(r'<pre id="measure">(.*?)</pre>', dom).group(1))
    assert measured["scrollWidth"] <= measured["clientWidth"] <= 1366
    sources = re.findall(r'<figure class="map"[^>]*><img src="([^"]+)"', text)
    row = pd.read_csv(ile / "summary.csv").set_index("site_id").loc["ile_de_nantes"]
    scored = [k for k in ("surveillance", "territoriality", "access_control", "maintenance", "surveillance_night")
              if pd.notna(row[f"score_{k}"])]  # an unscored principle has its sentence, not a map
    assert len(measured["maps"]) == len(sources) == len(scored) + 1 >= 4  # + problem places over the index
    for (natural, shown), src in zip(measured["maps"], sources, strict=True):
        assert natural >= 1000 and shown >= 1000
        rgb = np.asarray(Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))).convert("RGB"))
        assert longest_black_run(rgb) * shown / natural >= 1000  # the site's long side (its frame), as shown
    ARTEFACTS.mkdir(exist_ok=True)
    shot = ARTEFACTS / f"report_ile_de_nantes_{lang}_1366.png"
    shot.unlink(missing_ok=True)
    subprocess.run([*flags, f"--screenshot={shot}", page.as_uri()], check=True, capture_output=True, timeout=180)
    assert Image.open(shot).size == (1366, 900)


def test_problem_places_are_numbered_on_the_maps_as_in_the_table(ile):
    text = (ile / "ile_de_nantes" / "report.html").read_text(encoding="utf-8")
    table = text.split("<h2>Lieux à problème</h2>", 1)[1].split("</table>", 1)[0]
    listed = [int(n) for n in re.findall(r"<tr><td class='num'>(\d+)</td>", table)]
    assert listed == list(range(1, len(listed) + 1)) and len(listed) >= 3
    drawn = [tuple(int(n) for n in d.split()) for d in re.findall(r'<figure class="map" data-places="([^"]*)"', text)]
    assert drawn[-1] == tuple(listed)  # the problem places map: every place of the table
    assert sorted(n for d in drawn[:-1] for n in d) == listed  # each on its own principle's map, once


def test_pdf_pages_render_with_maps(ile, tmp_path):
    if shutil.which("pdftoppm") is None:
        pytest.skip("poppler-utils is not installed (.ci/run installs it)")
    report = ile / "ile_de_nantes" / "report.pdf"
    assert report.read_bytes()[:5] == b"%PDF-" and (ile / "index.pdf").read_bytes()[:5] == b"%PDF-"
    info = subprocess.run(["pdfinfo", str(report)], check=True, capture_output=True, text=True).stdout
    assert re.search(r"Page size:\s+[\d.]+ x [\d.]+ pts \(A4\)", info)
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(report), str(tmp_path / "page")], check=True, timeout=300)
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) == int(re.search(r"Pages:\s+(\d+)", info).group(1)) >= 4
    with_maps, coloured = [], 0
    for page in pages:
        img = np.asarray(Image.open(page).convert("RGB")).astype(int)
        saturation = img.max(axis=2) - img.min(axis=2)
        assert (img.max(axis=2) < 60).mean() < 0.1  # no dark backgrounds: text and lines only
        coloured += (saturation > 60).mean() > 0.01
        if img.std() > 20 and (saturation > 60).mean() > 0.1:  # maps: varied, and much of the page red to green
            with_maps.append(img)
    assert len(with_maps) >= 1 and coloured >= 2  # four maps here, two to a page (each whole on its page)
    colours = {tuple(c) for c in (with_maps[0][::2, ::2].reshape(-1, 3) // 16)}
    assert len(colours) > 100  # drawn, not a flat fill
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(ile / "index.pdf"), str(tmp_path / "index")], check=True, timeout=300)
    assert sorted(tmp_path.glob("index-*.png"))


def test_folded_details_print_open(ile):
    """The overview folds each site's counts and notes (``<details>``); printed, they are all there."""
    if shutil.which("pdftotext") is None:
        pytest.skip("poppler-utils is not installed (.ci/run installs it)")
    page = (ile / "index.html").read_text()
    folded = re.findall(r"<details>.*?<ul><li>(.*?)</li>", page, flags=re.S)
    assert folded  # folded on screen
    text = " ".join(subprocess.run(["pdftotext", str(ile / "index.pdf"), "-"], check=True, capture_output=True,
                                   text=True).stdout.split())
    for item in folded:
        words = " ".join(html.unescape(re.sub(r"<[^>]+>", "", item)).split())
        assert words in text


def test_audit_gpkg_holds_the_context_layers(ile):
    path = ile / "ile_de_nantes" / "audit.gpkg"
    layers = dict(pyogrio.list_layers(path))
    assert {"buildings", "pois"} <= set(layers)
    buildings = pyogrio.read_dataframe(path, layer="buildings", read_geometry=False)
    assert buildings["height_m"].notna().all()
    assert "bdtopo" in set(buildings["height_source"])  # BD TOPO heights, as used


def test_pdf_without_chromium_names_the_fix(monkeypatch, data, samples, tmp_path, capsys):
    monkeypatch.setattr(pdf.shutil, "which", lambda name: None)
    with pytest.raises(MissingDependencyError, match="install it .*apt-get install chromium.*without --pdf"):
        pdf.chromium()
    code = main(["batch", str(samples / "nantes_renewal.toml"), "--out", str(tmp_path / "out"), "--quiet",
                 "--data-dir", str(data), "--site", "ile_de_nantes", "--pdf"])
    assert code == 2 and "needs Chromium" in capsys.readouterr().err
    assert not (tmp_path / "out" / "ile_de_nantes").exists()  # refused before any audit


def test_a_failed_print_leaves_no_pdf(monkeypatch, tmp_path):
    fake = tmp_path / "chromium"
    fake.write_text("#!/bin/sh\nfor a; do case $a in --print-to-pdf=*) echo half > \"${a#--print-to-pdf=}\";; esac; done\n"
                    "echo crashed >&2; exit 1\n")
    fake.chmod(0o755)
    monkeypatch.setattr(pdf, "chromium", lambda: str(fake))
    (tmp_path / "report.html").write_text("<p>x</p>")
    with pytest.raises(RuntimeError, match="crashed"):
        pdf.write_pdf(tmp_path / "report.html", tmp_path / "report.pdf")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chromium", "report.html"]
