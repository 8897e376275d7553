"""The report's maps (cpted/report/maps.py) on small worked scenes: non-public ground drawn neutral,
the colour of a scored cell, numbered problem places, street names, a sentence for a principle
with no score; and the context layers of audit.gpkg read back with pyogrio."""

from __future__ import annotations

import base64
import io
import sqlite3

import geopandas as gpd
import matplotlib as mpl
import numpy as np
import pandas as pd
import pyogrio
import pytest
from PIL import Image
from shapely import LineString, Point, box

from cpted.pipeline import audit
from cpted.prepare.site import Site
from cpted.report import maps
from cpted.report.i18n import as_html
from cpted.report.outputs import write_audit
from cpted.report.site_report import write_site_report

WATER = box(0, 0, 150, 60)  # drawn by hand: every cell centre in it is water


def _scene(**extra) -> Site:
    streets = gpd.GeoDataFrame(
        {"walk_kind": ["street", "street", "footway"], "name": ["Rue Longue", "Rue Courte", None]},
        geometry=[LineString([(0, 100), (400, 100)]), LineString([(200, 100), (200, 180)]),
                  LineString([(300, 100), (300, 40)])], crs=2154)
    buildings = gpd.GeoDataFrame({"height_m": [10.0, np.nan], "height_source": ["attribute", None]},
                                 geometry=[box(40, 110, 120, 150), box(220, 120, 280, 160)], crs=2154)
    water = gpd.GeoDataFrame({"kind": ["river"]}, geometry=[WATER], crs=2154)
    layers = {"streets": streets, "buildings": buildings, "water": water, **extra}
    return Site.from_layers("scene", box(0, 0, 400, 200), crs=2154, layers=layers, cell_size=5,
                            attribution=["hand-drawn scene, CC0"])


@pytest.fixture(scope="module")
def scene():
    """Territoriality and access control scored (so the index is), the other principles not."""
    return audit(_scene(), measures=["access_control", "territoriality"])


def _pixels(fig) -> np.ndarray:
    src = maps._png(fig)
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))).convert("RGB")).astype(int)


def _at(ax, img: np.ndarray, x: float, y: float) -> np.ndarray:
    """The pixel of the PNG under map point (x, y)."""
    px, py = ax.transData.transform((x, y))
    return img[int(round(img.shape[0] - py)), int(round(px))]


def _rgb(colour) -> np.ndarray:
    return np.round(np.array(mpl.colors.to_rgb(colour)) * 255).astype(int)


def test_excluded_ground_is_neutral_and_scores_keep_their_colour(scene):
    fig, ax, _, _ = maps._draw(scene, "score_access_control", title="t")
    img = _pixels(fig)
    neutral = _rgb(maps.NEUTRAL)
    # the middle of the river drawn by hand, and of the two far corners beyond 30 m of any way
    for x, y in [(72.5, 27.5), (122.5, 42.5), (377.5, 17.5), (362.5, 152.5)]:
        assert (_at(ax, img, x, y) == neutral).all(), (x, y, _at(ax, img, x, y))
    # a public cell 20 m from the footway: its score's colour on the red-to-green ramp
    cells = scene.layers["cells"].set_index("cell_id")
    score = cells.loc["320_70", "score_access_control"]
    expected = np.round(np.array(mpl.colormaps["RdYlGn"](score / 100)[:3]) * 255)
    assert np.abs(_at(ax, img, 322.5, 72.5) - expected).max() <= 16
    assert not (np.abs(_at(ax, img, 322.5, 72.5) - neutral).max() <= 16)


def test_problem_places_are_numbered_as_given(scene):
    places = gpd.GeoDataFrame({"place_no": [3, 7], "principle": ["access_control", "territoriality"]},
                              geometry=[box(300, 110, 330, 140), box(160, 105, 190, 125)], crs=2154)
    fig, ax, numbers, names = maps._draw(scene, "cpted_index", title="t", places=places)
    img = _pixels(fig)
    assert numbers == [3, 7]
    assert names == ["Rue Longue", "Rue Courte"]  # the named streets, the unnamed footway not
    blue = _rgb(maps._PLACES)
    for geom in places.geometry:  # each number's disc sits 9 points up and right of its place
        px, py = ax.transData.transform((geom.representative_point().x, geom.representative_point().y))
        cx, cy = int(px + 9 * fig.dpi / 72), int(img.shape[0] - py - 9 * fig.dpi / 72)
        disc = img[cy - 12:cy + 13, cx - 12:cx + 13].reshape(-1, 3)
        assert (np.abs(disc - blue).max(axis=1) <= 16).sum() > 100
    per_principle = maps.site_maps(scene, places=places)
    assert [m.places for m in per_principle] == [(), (7,), (3,), (), (), (3, 7)]


def test_the_maps_of_a_site_drawn_on_one_frame_equal_each_drawn_alone(scene):
    """site_maps builds the site's frame once and paints each map on it: nothing of one map (its
    places, numbers, legend, colour bar, title) may stay on the next; each PNG is the one a figure
    of its own gives."""
    places = gpd.GeoDataFrame({"place_no": [3, 7], "principle": ["access_control", "territoriality"]},
                              geometry=[box(300, 110, 330, 140), box(160, 105, 190, 125)], crs=2154)
    together = [m for m in maps.site_maps(scene, places=places) if m.src]
    columns = {"Territoriality": "score_territoriality", "Access control": "score_access_control",
               "Problem places over the CPTED index": "cpted_index"}
    assert [m.title for m in together] == list(columns)
    for m in together:
        mine = places if m.title.startswith("Problem") else places[places["principle"] == columns[m.title].removeprefix("score_")]
        alone = maps.principle_map(scene, columns[m.title], title=m.title, places=mine)
        assert (m.places, m.streets) == (alone.places, alone.streets)
        assert m.src == alone.src, m.title


def test_a_principle_with_no_score_says_why_and_what_fills_it(scene, tmp_path):
    figures = {m.title: m for m in maps.site_maps(scene)}
    maintenance = figures["Maintenance / image"]
    assert maintenance.src is None
    assert maintenance.note.startswith("Not scored: 0% of its inputs have data")
    assert "no `reports` layer was given" in maintenance.note and "Adding reported disorder (`reports`" in maintenance.note
    night = figures["Surveillance at night"]
    assert "no `lamps` layer was given" in night.note and "no `pois` layer was given" in night.note
    assert "cpted fetch" in night.note and "cpted fetch" not in maintenance.note  # OSM has lamps, not reports
    assert figures["Problem places over the CPTED index"].src  # the index is scored here
    french = {m.title: m for m in maps.site_maps(scene, lang="fr")}["Entretien / image"]
    assert french.note.startswith("Non évalué") and "aucune couche `reports`" in french.note
    page = write_site_report(scene, tmp_path / "report.html").read_text(encoding="utf-8")
    assert as_html(maintenance.note) in page  # the layer keys as code, as the sites file writes them
    assert page.count('<figure class="map"') == 3 and page.count('<figure class="map unscored"') == 3


def test_a_map_is_not_over_an_index_that_is_na(tmp_path):
    result = audit(_scene(), measures=["access_control"])  # one principle: no index
    assert np.isnan(result.summary["cpted_index"])
    last = maps.site_maps(result)[-1]
    assert last.title == "Problem places (the CPTED index is n/a)" and last.src
    page = write_site_report(result, tmp_path / "report.html").read_text(encoding="utf-8")
    assert "over the CPTED index" not in page


def test_scale_bar_lengths_are_round():
    for span in [37.0, 140.0, 999.0, 1000.0, 3000.0, 12345.0]:
        length = maps.nice_length(span)
        mantissa = length / 10 ** np.floor(np.log10(length))
        assert mantissa in (1, 2, 5) and span / 12.5 < length <= span / 5


def test_context_layers_are_written_as_used_and_styled(tmp_path):
    lamps = gpd.GeoDataFrame({"height_m": [6.0, 8.0, np.nan]}, geometry=[Point(50, 95), Point(150, 95), Point(250, 95)],
                             crs=2154)
    pois = gpd.GeoDataFrame({"category": ["shop", "food_drink"], "opening_hours": ["Mo-Su 08:00-23:00", "Mo-Fr 09:00-18:00"]},
                            geometry=[Point(60, 105), Point(210, 120)], crs=2154)
    site = _scene(lamps=lamps, pois=pois)
    path = write_audit(audit(site, measures=["access_control"]), tmp_path / "audit.gpkg")
    layers = dict(pyogrio.list_layers(path))
    for kind in ("buildings", "pois", "lamps", "water"):
        assert kind in layers
        assert pyogrio.read_info(path, layer=kind)["features"] == len(site.layers[kind])
    buildings = pyogrio.read_dataframe(path, layer="buildings")
    assert {"height_m", "height_source"} <= set(buildings.columns)
    # the heights used: the given one, and the default with its source for the building without
    assert buildings["height_source"].tolist()[0] == "attribute" and buildings["height_m"].tolist()[0] == 10.0
    assert buildings["height_source"].notna().all() and buildings["height_m"].notna().all()
    assert pyogrio.read_dataframe(path, layer="pois")["night"].tolist() == ["yes", "no"]
    with sqlite3.connect(path) as db:
        styled = {r[0] for r in db.execute("SELECT f_table_name FROM layer_styles WHERE useAsDefault = 1")}
    assert {"buildings", "pois", "lamps", "water"} <= styled


def test_every_scored_metric_names_the_layers_that_fill_it():
    from cpted.load.schema import LAYER_KINDS
    from cpted.score.scores import RULES

    assert set(maps._METRIC_LAYERS) == set(RULES)
    for layers in maps._METRIC_LAYERS.values():
        assert layers and set(layers) <= set(LAYER_KINDS) and set(layers) <= set(maps._LAYER_WORDS)


@pytest.mark.parametrize("width, height", [(600, 200), (300, 300), (150, 450)])
def test_the_site_long_side_fills_the_page_width_whatever_its_shape(width, height):
    """The boundary frame (the longest run of black pixels) spans at least 1,000 px as shown in the
    report at 1,366 px, where a map image of MAP_WIDTH_PX is shown 1,120 px wide (70 rem)."""
    streets = gpd.GeoDataFrame({"walk_kind": ["street"], "name": ["Rue"]},
                               geometry=[LineString([(0, height / 2), (width, height / 2)])], crs=2154)
    site = Site.from_layers("shape", box(0, 0, width, height), crs=2154, layers={"streets": streets}, cell_size=10)
    fig, _, _, _ = maps._draw(audit(site, measures=["access_control"]), "score_access_control", title="t")
    assert longest_black_run(_pixels(fig)) * 1120 / maps.MAP_WIDTH_PX >= 1000


def longest_black_run(rgb: np.ndarray) -> int:
    """Pixels of the longest horizontal or vertical run of black in an RGB image: on a map, the
    site's boundary frame (streets, buildings and labels are grey; the scale bar and arrow are short)."""
    black = rgb.max(axis=2) == 0
    longest = 0
    for rows in (black, black.T):
        for row in rows:
            edges = np.flatnonzero(np.diff(np.concatenate([[0], row.astype(np.int8), [0]])))
            if len(edges):
                longest = max(longest, int((edges[1::2] - edges[0::2]).max()))
    return longest


def test_arrow_and_plain_writes_give_the_same_geopackage(tmp_path, monkeypatch):
    """write_audit writes through Arrow where pyogrio and GDAL allow it: every layer reads back the
    same as a plain write (values, NaN, dtypes, field types, geometry types, empty layers)."""
    import cpted.report.outputs as outputs

    lamps = gpd.GeoDataFrame({"height_m": [6.0, 8.0, np.nan]}, geometry=[Point(50, 95), Point(150, 95), Point(250, 95)],
                             crs=2154)
    result = audit(_scene(lamps=lamps), measures=["surveillance", "access_control", "territoriality"])
    result.layers["nothing"] = gpd.GeoDataFrame({"flag": pd.Series([], dtype=bool)}, geometry=gpd.GeoSeries([], crs=2154))
    if not outputs._arrow_writes():
        pytest.skip(f"pyogrio {pyogrio.__version__} on GDAL {pyogrio.__gdal_version__} writes without Arrow")
    arrow = write_audit(result, tmp_path / "arrow.gpkg")
    assert pyogrio.get_gdal_config_option("OGR_SQLITE_SYNCHRONOUS") is None  # unsynced only while writing
    monkeypatch.setattr(outputs, "_arrow_writes", lambda: False)
    plain = write_audit(result, tmp_path / "plain.gpkg")
    names = [n for n in pyogrio.list_layers(plain)[:, 0] if n != "layer_styles"]
    assert names == [n for n in pyogrio.list_layers(arrow)[:, 0] if n != "layer_styles"] and "cells" in names
    for name in names:
        a, b = pyogrio.read_info(arrow, layer=name), pyogrio.read_info(plain, layer=name)
        assert (a["fields"].tolist(), a["dtypes"].tolist(), a["geometry_type"], a["features"]) == (
            b["fields"].tolist(), b["dtypes"].tolist(), b["geometry_type"], b["features"]), name
        pd.testing.assert_frame_equal(pyogrio.read_dataframe(arrow, layer=name), pyogrio.read_dataframe(plain, layer=name))


def test_maps_of_buildings_and_streets_with_z(scene):
    """Footprints and streets with a z coordinate (as QGIS layers often are) draw as the flat ones do."""
    import shapely as _shapely

    flat = maps._base_layers(scene.site, scene.layers.get("streets"), 8.0)
    site = _scene()
    site.layers["buildings"] = site.layers["buildings"].set_geometry(_shapely.force_3d(site.layers["buildings"].geometry.values, 9.0))
    streets = scene.layers["streets"].set_geometry(_shapely.force_3d(scene.layers["streets"].geometry.values, 3.0))
    paths, lines = maps._base_layers(site, streets, 8.0)
    assert len(paths) == len(flat[0]) == 2 and len(lines) == len(flat[1])
    for a, b in zip(paths, flat[0], strict=True):
        np.testing.assert_array_equal(a.vertices, b.vertices)
    for a, b in zip(lines, flat[1], strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_the_legend_stays_clear_of_the_colour_bar_with_every_reason(lang):
    """Every kind of ground left out (buildings, water, beyond the data, beyond reach) makes the
    legend's longest label: it is wrapped, not drawn over the colour bar (it was, in French, on
    Le Mans: buildings, water, beyond the extract and beyond reach)."""
    streets = gpd.GeoDataFrame({"walk_kind": ["street"]}, geometry=[LineString([(0, 100), (400, 100)])], crs=2154)
    buildings = gpd.GeoDataFrame(geometry=[box(40, 110, 120, 150)], crs=2154)
    water = gpd.GeoDataFrame({"kind": ["river"]}, geometry=[WATER], crs=2154)
    site = Site.from_layers("scene", box(0, 0, 400, 200), crs=2154, cell_size=5,
                            layers={"streets": streets, "buildings": buildings, "water": water},
                            sources={"streets": [{"extent": box(-50, -50, 330, 250), "extent_source": "x.osm.pbf"}]})
    result = audit(site, measures=["access_control"])
    assert {"private", "water", "beyond_data", "beyond_reach"} <= set(site.cells["reason"])
    frame = maps._frame(result, lang=lang)
    try:
        places = gpd.GeoDataFrame({"place_no": [1]}, geometry=[box(150, 60, 200, 90)], crs=2154)
        _, drawn = maps._paint(frame, result, "score_access_control", title="t", lang=lang, places=places)
        legend, bar = drawn[-1], drawn[-2]
        renderer = frame.fig.canvas.get_renderer()
        assert not legend.get_window_extent(renderer).overlaps(bar.get_tightbbox(renderer))
        assert legend.get_window_extent(renderer).x1 <= frame.fig.bbox.x1
    finally:
        import matplotlib.pyplot as plt

        plt.close(frame.fig)
