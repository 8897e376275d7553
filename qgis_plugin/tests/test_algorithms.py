"""The algorithms on real data in a real QGIS: the same answers as a direct library call on the
same inputs, the documented errors, styled outputs and an offscreen render."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
from conftest import ARTEFACTS, PLUGIN_ROOT
from qgis.core import NULL, QgsProcessingException, QgsProject, QgsVectorLayer

FIELDS = {"buildings": {"height_field": "HEIGHT"}}


def run(algorithm: str, params: dict) -> dict:
    import processing

    return processing.run(f"cpted:{algorithm}", params)


def layer(path: str) -> QgsVectorLayer:
    out = QgsVectorLayer(path, "out", "ogr")
    assert out.isValid(), path
    return out


def values(out: QgsVectorLayer, field: str) -> np.ndarray:
    def number(v):
        return np.nan if v is None or v == NULL else float(v)
    return np.array([number(f[field]) for f in out.getFeatures()], dtype=float)


def direct(paths: dict[str, str], *, fields=None, cell_size=10.0, context=200.0, measures=None, name="site"):
    """The library on the same files, read with geopandas instead of QGIS."""
    import cpted
    import geopandas as gpd

    fields = fields or {}
    boundary = gpd.read_file(paths["site"])
    layers = {kind: cpted.as_layer(gpd.read_file(path), kind, name=kind, **fields.get(kind, {}))[0]
              for kind, path in paths.items() if kind != "site"}
    site = cpted.Site.from_layers(name, boundary, crs=boundary.crs, layers=layers, name=name, context=context,
                                  cell_size=cell_size)
    return cpted.audit(site, measures=measures)


def params(paths: dict[str, str], tmp_path, outputs=("CELLS",), **extra) -> dict:
    names = {"site": "SITE", "streets": "STREETS", "buildings": "BUILDINGS", "entrances": "ENTRANCES",
             "barriers": "BARRIERS", "lamps": "LAMPS", "pois": "POIS", "landuse": "LANDUSE"}
    out = {names[k]: v for k, v in paths.items()}
    out.update({o: str(tmp_path / f"{o.lower()}.gpkg") for o in outputs})
    out.update({"CELL_SIZE": 10.0, "CONTEXT": 200.0})
    out.update(extra)
    return out


def assert_same_cells(cells: QgsVectorLayer, expected, columns) -> None:
    assert cells.featureCount() == len(expected)
    for column in columns:
        got, want = values(cells, column), expected[column].to_numpy(dtype=float)
        assert np.isnan(got).sum() == np.isnan(want).sum(), column
        if np.isnan(want).all():  # unknown in both (no input for it)
            continue
        assert np.nanmin(got) == pytest.approx(np.nanmin(want), abs=1e-9), column
        assert np.nanmax(got) == pytest.approx(np.nanmax(want), abs=1e-9), column
        assert np.nanmean(got) == pytest.approx(np.nanmean(want), abs=1e-9), column


SCORES = ["cpted_index", "score_surveillance", "score_territoriality", "score_access_control", "score_maintenance"]


def test_audit_site_on_ile_de_nantes_matches_the_library(plugin, ile_de_nantes, tmp_path):
    outputs = ("CELLS", "PROBLEM_PLACES", "ENTRY_POINTS", "MOVEMENT_PREDICTORS")
    ile_de_nantes = {k: v for k, v in ile_de_nantes.items() if k != "waste"}
    result = run("audit_site", params(ile_de_nantes, tmp_path, outputs, HEIGHT_FIELD="HEIGHT",
                                      REPORT=str(tmp_path / "report.html")))
    expected = direct(ile_de_nantes, fields=FIELDS)
    cells = layer(result["CELLS"])
    assert_same_cells(cells, expected.layers["cells"], SCORES + ["eyes_43", "isovist_area", "escape_routes"])
    assert np.nanmax(values(cells, "cpted_index")) <= 100 and np.nanmin(values(cells, "cpted_index")) >= 0
    for name, key in (("problem_places", "PROBLEM_PLACES"), ("entry_points", "ENTRY_POINTS"),
                      ("movement_predictors", "MOVEMENT_PREDICTORS")):
        assert layer(result[key]).featureCount() == len(expected.layers[name]), name
    assert result["CPTED_INDEX"] == pytest.approx(expected.summary["cpted_index"])
    assert 0 < result["CPTED_INDEX"] < 100
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "data:image/png;base64" in html and "IGN" in html  # maps embedded, BD TOPO attribution


def test_audit_site_on_le_mans_osm_layers_matches_the_library(plugin, le_mans, tmp_path):
    result = run("audit_site", params(le_mans, tmp_path, ("CELLS", "PROBLEM_PLACES")))
    expected = direct(le_mans)
    assert_same_cells(layer(result["CELLS"]), expected.layers["cells"], SCORES + ["lux", "mix_d1_800", "depth_m"])
    assert layer(result["PROBLEM_PLACES"]).featureCount() == len(expected.layers["problem_places"])
    assert result["CPTED_INDEX"] == pytest.approx(expected.summary["cpted_index"])


@pytest.mark.parametrize(("algorithm", "data", "column", "extra"), [
    ("surveillance", "le_mans", "score_surveillance", ("BLIND_SPOTS",)),
    ("territoriality", "le_mans", "score_territoriality", ("BOUNDARIES", "AMBIGUOUS_SPACE")),
    ("access_control", "le_mans", "score_access_control", ("SEGMENTS", "ENTRY_POINTS", "MOVEMENT_PREDICTORS")),
    # no disorder reports exist offline (the score needs them): the Nantes waste containers as POIs
    ("maintenance", "ile_de_nantes", "waste_points_100m", ()),
    ("activity", "le_mans", "mix_d1_800", ()),
])
def test_each_principle_matches_the_library(plugin, request, tmp_path, algorithm, data, column, extra):
    from cpted_qgis.algorithms import ALGORITHMS

    cls = next(a for a in ALGORITHMS if a.NAME == algorithm)
    paths = dict(request.getfixturevalue(data))
    if "waste" in paths:
        paths["pois"] = paths.pop("waste")
    paths = {k: v for k, v in paths.items() if k == "site" or k in cls.INPUTS}
    result = run(algorithm, params(paths, tmp_path, ("CELLS", *extra), HEIGHT_FIELD="HEIGHT" if data != "le_mans" else None))
    expected = direct(paths, fields=FIELDS if data != "le_mans" else None, measures=list(cls.MEASURES))
    assert_same_cells(layer(result["CELLS"]), expected.layers["cells"], [column])
    assert np.nanmax(values(layer(result["CELLS"]), column)) > 0
    for key in extra:
        out = layer(result[key])
        assert out.featureCount() == len(expected.layers[key.lower()]), key


def test_compare_scenarios_maps_the_lamps_a_design_adds(plugin, le_mans, tmp_path):
    import geopandas as gpd

    cells = direct(le_mans, measures=["surveillance"]).layers["cells"]
    darkest = cells.nsmallest(3, "lux")  # the existing design has no lamp data: add three lamps
    lamps = gpd.GeoDataFrame({"height_m": [6.0] * 3}, geometry=darkest.geometry.centroid.values, crs=2154)
    proposed = tmp_path / "proposed_lamps.gpkg"
    lamps.to_file(proposed)
    result = run("compare_scenarios", params(le_mans, tmp_path, ("DELTAS", "CHANGES"), PROPOSED_LAMPS=str(proposed),
                                             EXISTING_EMPTY=[4]))  # the existing lamps: surveyed, none (DESIGN[4])
    deltas = layer(result["DELTAS"])
    lux = values(deltas, "delta_lux")
    assert np.nanmin(lux) >= -1e-9 and np.nanmax(lux) > 0  # more lamps: never darker, lighter somewhere
    night = values(deltas, "delta_score_surveillance_night")
    assert np.nanmin(night) >= -1e-9 and np.nanmax(night) > 0
    assert deltas.featureCount() == len(cells)
    changes = layer(result["CHANGES"])
    assert {f["change"] for f in changes.getFeatures()} <= {"better"}
    assert result["DELTA_CPTED_INDEX"] >= 0


def test_isovists_from_points_match_the_library_and_a_worked_disc(plugin, ile_de_nantes, tmp_path):
    import cpted
    import geopandas as gpd
    import shapely

    buildings = gpd.read_file(ile_de_nantes["buildings"])
    observers = gpd.GeoDataFrame({"label": ["a", "b", "open"]},
                                 geometry=[shapely.Point(355550, 6688150), shapely.Point(355450, 6688050),
                                           shapely.Point(360000, 6700000)], crs=2154)
    observers.to_file(tmp_path / "observers.gpkg")
    result = run("isovists", {"OBSERVERS": str(tmp_path / "observers.gpkg"), "OBSTACLES": ile_de_nantes["buildings"],
                              "RADIUS": 50.0, "ISOVISTS": str(tmp_path / "isovists.gpkg")})
    out = layer(result["ISOVISTS"])
    expected = cpted.isovists(observers, buildings, radius=50.0)
    assert values(out, "isovist_area") == pytest.approx(expected["isovist_area"].to_numpy(), rel=1e-9)
    assert [f["label"] for f in out.getFeatures()] == ["a", "b", "open"]
    assert values(out, "isovist_area")[2] == pytest.approx(math.pi * 50.0**2, rel=1e-12)  # nothing in sight: a disc


def test_a_geographic_site_is_rejected_with_the_fix(plugin, ile_de_nantes, tmp_path):
    import geopandas as gpd

    gpd.read_file(ile_de_nantes["site"]).to_crs(4326).to_file(tmp_path / "site_wgs84.gpkg")
    paths = {"site": str(tmp_path / "site_wgs84.gpkg"), "streets": ile_de_nantes["streets"]}
    with pytest.raises(QgsProcessingException, match="reproject to a metre-based CRS"):
        run("audit_site", params(paths, tmp_path))
    assert not (tmp_path / "cells.gpkg").exists()


def test_a_category_map_maps_the_planners_own_categories(plugin, le_mans, tmp_path):
    """The OSM tags of the Le Mans POIs (source_category, e.g. amenity=cafe) mapped onto cpted's
    categories by the parameter give the same land-use mix as the layer's own categories."""
    import geopandas as gpd

    pois = gpd.read_file(le_mans["pois"])
    pairs = dict(zip(pois["source_category"], pois["category"], strict=True))
    text = "; ".join(f"{value}={category}" for value, category in pairs.items())
    paths = {k: le_mans[k] for k in ("site", "streets", "pois")}
    result = run("activity", params(paths, tmp_path, POI_CATEGORY_FIELD="source_category", POI_CATEGORY_MAP=text))
    expected = direct(paths, measures=["activity"])
    assert_same_cells(layer(result["CELLS"]), expected.layers["cells"], ["mix_d1_800", "pois_800"])
    with pytest.raises(QgsProcessingException, match="value=category pairs"):
        run("activity", params(paths, tmp_path / "x", POI_CATEGORY_FIELD="name", POI_CATEGORY_MAP="no pair here"))


def test_a_library_error_names_the_layer_and_the_fix(plugin, le_mans, tmp_path):
    paths = {k: le_mans[k] for k in ("site", "streets", "pois")}
    with pytest.raises(QgsProcessingException, match="category"):
        run("activity", params(paths, tmp_path, POI_CATEGORY_FIELD="name"))  # names are not categories


MISSING = r"""
import sys
sys.path.insert(0, {plugin!r})
sys.path.append("/usr/share/qgis/python/plugins")
sys.modules["cpted"] = None  # as if the library were not installed
from qgis.core import QgsApplication, QgsProcessingException
app = QgsApplication([], False)
app.initQgis()
from processing.core.Processing import Processing
Processing.initialize()
from cpted_qgis.provider import CptedProvider
provider = CptedProvider()
QgsApplication.processingRegistry().addProvider(provider)
import processing
try:
    processing.run("cpted:isovists", {{"OBSERVERS": {observers!r}, "OBSTACLES": {obstacles!r},
                                       "ISOVISTS": "TEMPORARY_OUTPUT"}})
except QgsProcessingException as exc:
    print("ERROR:", exc)
import os
os._exit(0)
"""


def test_a_missing_library_fails_with_install_instructions(ile_de_nantes, tmp_path):
    script = tmp_path / "missing.py"
    script.write_text(MISSING.format(plugin=str(PLUGIN_ROOT), observers=ile_de_nantes["site"],
                                     obstacles=ile_de_nantes["buildings"]), encoding="utf-8")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    assert "ERROR: The cpted plugin needs the cpted library" in done.stdout, done.stdout + done.stderr
    assert "cpted does not import" in done.stdout and "from source" in done.stdout and "never runs pip" in done.stdout


def test_outputs_load_styled_and_render(plugin, ile_de_nantes, tmp_path):
    import processing
    from qgis.core import QgsMapRendererParallelJob, QgsMapSettings
    from qgis.PyQt.QtCore import QSize
    from qgis.PyQt.QtGui import QColor

    project = QgsProject.instance()
    project.clear()
    processing.runAndLoadResults("cpted:audit_site", params(
        {k: v for k, v in ile_de_nantes.items() if k != "waste"}, tmp_path, ("CELLS", "PROBLEM_PLACES", "ENTRY_POINTS", "MOVEMENT_PREDICTORS"),
        HEIGHT_FIELD="HEIGHT"))
    loaded = {lyr.source().split("|")[0].rsplit("/", 1)[-1]: lyr for lyr in project.mapLayers().values()}
    cells = loaded["cells.gpkg"]
    assert cells.renderer().type() == "graduatedSymbol" and cells.renderer().classAttribute() == "cpted_index"
    assert loaded["problem_places.gpkg"].renderer().type() == "categorizedSymbol"
    assert loaded["entry_points.gpkg"].renderer().type() == "categorizedSymbol"

    settings = QgsMapSettings()
    settings.setLayers([cells])
    settings.setBackgroundColor(QColor(255, 255, 255))
    settings.setOutputSize(QSize(600, 600))
    settings.setExtent(cells.extent())
    settings.setDestinationCrs(cells.crs())
    job = QgsMapRendererParallelJob(settings)
    job.start()
    job.waitForFinished()
    image = job.renderedImage()
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    image.save(str(ARTEFACTS / "qgis_cells_ile_de_nantes.png"))
    pixels = image.constBits()
    pixels.setsize(image.byteCount())
    rgba = np.frombuffer(bytes(pixels), dtype=np.uint8).reshape(-1, 4)[:, [2, 1, 0]]  # ARGB32 is B, G, R, A in memory
    colours = {tuple(c) for c in rgba[::7]}
    not_white = (rgba != 255).any(axis=1).mean()
    assert not_white > 0.2, "the render is (nearly) blank"
    ramp = {(215, 48, 39), (252, 141, 89), (254, 224, 139), (217, 239, 139), (145, 207, 96), (26, 152, 80)}
    assert len(ramp & colours) >= 2, "the cells are not drawn with the red-green ramp"
    project.clear()


class Recorder:
    """A Processing feedback that records what the algorithm says, and can cancel."""

    def __init__(self, cancel_at: float | None = None):
        from qgis.core import QgsProcessingFeedback

        self.feedback = QgsProcessingFeedback()
        self.infos: list[str] = []
        self.progress: list[float] = []
        self.feedback.progressChanged.connect(self._progress)
        self.cancel_at = cancel_at
        self.feedback.pushInfo = self.infos.append

    def _progress(self, value: float) -> None:
        self.progress.append(value)
        if self.cancel_at is not None and value >= self.cancel_at:
            self.feedback.cancel()


def test_progress_reprojection_message_and_cancel(plugin, ile_de_nantes, tmp_path):
    import processing

    paths = {k: ile_de_nantes[k] for k in ("site", "streets")}
    recorder = Recorder()
    processing.run("cpted:access_control", params(paths, tmp_path), feedback=recorder.feedback)
    assert any("reprojected to the site's EPSG:2154" in m for m in recorder.infos), recorder.infos
    assert any(m.startswith("Running: access control") for m in recorder.infos), recorder.infos
    assert recorder.progress == sorted(recorder.progress) and max(recorder.progress) == 100

    stopped = Recorder(cancel_at=1.0)
    out = tmp_path / "cancelled"
    out.mkdir()
    with pytest.raises(QgsProcessingException, match="Cancelled: no output was written"):
        processing.run("cpted:access_control", params(paths, out), feedback=stopped.feedback)
    assert list(out.iterdir()) == []
