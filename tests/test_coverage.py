"""Partial building coverage scored honestly: building measures NaN with the reason where the
buildings layer is incomplete, site values and scores over the covered places only."""

from __future__ import annotations

import re

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely import LineString, box

from cpted.cli import main
from cpted.errors import InputError, SitesFileError
from cpted.load.sites_file import read_sites_file
from cpted.measure.coverage import BUILDING_COLUMNS
from cpted.pipeline import SourceCache, audit, load_site, site_boundary
from cpted.prepare.coverage import building_coverage
from cpted.prepare.site import Site

SURVEILLANCE = [c for c in BUILDING_COLUMNS["surveillance"]  # no lamps here; no visual_integration
                if c not in ("lux", "lit", "night_overseen", "vga_mean_depth", "vga_integration_hh")]
REZE_FILE = "nantes/reze_chateau_bdtopo_buildings_partial.geojson"
REZE_CREDIT = "extract credited to SonoRezé / Université Gustave Eiffel"


# --- the worked scene: a reference grid of 4 cells, buildings loaded in the 2 western ones ------------------------

def _scene_layers():
    """Site 200 x 200 m, 10 m cells; reference cells of 100 m counting 3 buildings each; 3 buildings
    (one grid cell each) loaded in the south-west and north-west reference cells only."""
    reference = gpd.GeoDataFrame({"n_buildings": [3, 3, 3, 3]},
                                 geometry=[box(0, 0, 100, 100), box(100, 0, 200, 100),
                                           box(0, 100, 100, 200), box(100, 100, 200, 200)], crs=2154)
    buildings = gpd.GeoDataFrame({"height_m": [9.0] * 6}, geometry=[
        box(20, 20, 30, 30), box(50, 20, 60, 30), box(20, 60, 30, 70),
        box(20, 120, 30, 130), box(50, 150, 60, 160), box(70, 130, 80, 140)], crs=2154)
    streets = gpd.GeoDataFrame({"walk_kind": ["street"]}, geometry=[LineString([(0, 95), (200, 95)])], crs=2154)
    return reference, buildings, streets


@pytest.fixture(scope="module")
def scene():
    reference, buildings, streets = _scene_layers()
    site = Site.from_layers("scene", box(0, 0, 200, 200), crs=2154, layers={"buildings": buildings, "streets": streets},
                            reference_buildings=reference, cell_size=10, context=50,
                            walk_reach=300)  # every cell within reach: the scene is about completeness
    return site, audit(site, measures=["surveillance", "territoriality"])


def test_regression_unloaded_places_are_not_audited_as_open_ground(scene):
    """Before: the eastern half, where the reference counts 6 buildings and none is loaded, got
    eyes_43 = 0 and wide isovists (wrong answers). Now they are NaN with the reason."""
    _, result = scene
    cells = result.layers["cells"]
    east = cells["x"] > 100
    assert cells.loc[east, "eyes_43"].isna().all()
    assert cells.loc[east, "isovist_area"].isna().all()
    assert (cells.loc[~east, "eyes_43"].notna()).all()


def test_worked_scene_hand_count(scene):
    site, result = scene
    cells = result.layers["cells"]
    # hand count: 20 x 20 = 400 cells, 6 under the loaded buildings (one cell each): 394 open cells,
    # of which 200 - 6 = 194 in the western half (loaded) and 200 in the eastern half (nothing loaded)
    assert len(cells) == 394
    west = cells["x"] < 100
    assert west.sum() == 194
    assert cells["buildings_complete"].tolist() == west.tolist()
    assert (cells.loc[west, "coverage_reason"] == "").all()
    assert (cells.loc[~west, "coverage_reason"]
            == "buildings incomplete here: 0 of 3 reference buildings loaded in its reference cell (needs 50%)").all()
    assert cells.loc[west, "building_completeness_local"].eq(1.0).all()
    assert cells.loc[~west, "building_completeness_local"].eq(0.0).all()
    for column in [*SURVEILLANCE, "ambiguous"]:
        assert cells.loc[~west, column].isna().all(), column
    assert cells.loc[west, "isovist_area"].notna().all() and cells.loc[west, "ambiguous"].notna().all()
    # cell depth uses the streets only: kept everywhere
    assert cells["depth_m"].notna().all()
    for principle in ("surveillance", "territoriality"):
        score = cells[f"score_{principle}"]
        assert score[~west].isna().all() and score[west].notna().all(), principle
        assert result.summary[f"scored_share_{principle}"] == pytest.approx(194 / 394)
        # the site score is the mean over the scored area only
        assert result.summary[f"score_{principle}"] == pytest.approx(score[west].mean())
    assert result.summary["buildings_complete_share"] == pytest.approx(194 / 394)
    # site values over the covered places: the overseen share of the western cells
    assert result.summary["overseen_share"] == pytest.approx((cells.loc[west, "eyes_43"] >= 1).mean())
    assert result.summary["ambiguous_share"] == pytest.approx(cells.loc[west, "ambiguous"].mean())
    assert "surveillance: values that depend on buildings are NaN in 51% of the site" in result.summary["notes"]
    # layers drawn from the buildings stay in the covered half
    for name in ("blind_spots", "ambiguous_space"):
        layer = result.layers[name]
        assert len(layer) == 0 or (layer.geometry.centroid.x < 100).all(), name
    problems = result.layers["problem_places"]
    assert len(problems) == 0 or (problems.loc[problems["principle"] == "surveillance"].geometry.centroid.x < 100).all()


def test_complete_layer_leaves_results_unchanged():
    """A layer the reference finds complete everywhere: the same cells as with no reference."""
    reference, buildings, streets = _scene_layers()
    layers = {"buildings": buildings, "streets": streets}
    with_ref = Site.from_layers("a", box(0, 0, 100, 200), crs=2154, layers=layers, reference_buildings=reference.iloc[[0, 2]],
                                cell_size=10, context=50)
    without = Site.from_layers("b", box(0, 0, 100, 200), crs=2154, layers=layers, cell_size=10, context=50)
    a = audit(with_ref, measures=["surveillance", "territoriality"])
    b = audit(without, measures=["surveillance", "territoriality"])
    assert a.layers["cells"]["buildings_complete"].all() and b.layers["cells"]["buildings_complete"].all()
    assert b.layers["cells"]["building_completeness_local"].isna().all()  # no reference: unknown, not 0 or 1
    cols = [*SURVEILLANCE, "ambiguous", "score_surveillance", "score_territoriality"]
    pd.testing.assert_frame_equal(a.layers["cells"][cols], b.layers["cells"][cols])
    assert a.summary["scored_share_surveillance"] == 1.0


def test_declared_extent_instead_of_a_reference():
    _, buildings, streets = _scene_layers()
    site = Site.from_layers("scene", box(0, 0, 200, 200), crs=2154, layers={"buildings": buildings, "streets": streets},
                            cell_size=10, context=50, sources={"buildings": [{"source": "test", "extent": box(0, 0, 100, 200)}]})
    cov = building_coverage(site)
    west = site.grid["x"] < 100
    assert cov["buildings_complete"].tolist() == west.tolist()
    why = "outside the extent of the buildings layer, nothing is known of its buildings there"
    assert (cov.loc[~west, "coverage_reason"] == why).all()


def test_no_reference_places_far_from_any_building_in_a_partial_layer():
    """The reference grid covers x < 200 only, and finds its eastern cell empty (a partial layer):
    beyond it, places are trusted only within 50 m of a loaded building (one at x 200-210)."""
    reference = gpd.GeoDataFrame({"n_buildings": [3, 3]}, geometry=[box(0, 0, 100, 100), box(100, 0, 200, 100)], crs=2154)
    buildings = gpd.GeoDataFrame(geometry=[box(10 + 20 * i, 40, 20 + 20 * i, 50) for i in range(3)] + [box(200, 40, 210, 50)],
                                 crs=2154)
    site = Site.from_layers("s", box(0, 0, 300, 100), crs=2154, layers={"buildings": buildings}, reference_buildings=reference,
                            cell_size=10, context=50)
    cov = building_coverage(site).join(site.grid[["x", "y"]])
    distance = shapely.distance(box(200, 40, 210, 50), shapely.points(cov["x"], cov["y"]))
    beyond = cov["x"] > 200
    assert cov.loc[cov["x"] < 100, "buildings_complete"].all()
    assert not cov.loc[(cov["x"] > 100) & (cov["x"] < 200), "buildings_complete"].any()
    assert (cov.loc[beyond, "buildings_complete"] == (distance[beyond] <= 50)).all()
    assert cov.loc[beyond, "buildings_complete"].any() and not cov.loc[beyond, "buildings_complete"].all()
    far = beyond & (distance > 50)
    assert cov.loc[far, "coverage_reason"].str.startswith("no reference count here and no loaded building within 50 m").all()
    # with the eastern reference cell complete, nothing says the layer is partial: all trusted
    full = Site.from_layers("t", box(0, 0, 300, 100), crs=2154, layers={"buildings": buildings},
                            reference_buildings=reference.iloc[[0]], cell_size=10, context=50)
    assert building_coverage(full)["buildings_complete"].all()


def test_no_buildings_layer_is_not_complete():
    streets = _scene_layers()[2]
    site = Site.from_layers("s", box(0, 0, 100, 100), crs=2154, layers={"streets": streets}, cell_size=10, context=20)
    cov = building_coverage(site)
    assert not cov["buildings_complete"].any() and (cov["coverage_reason"] == "no buildings layer given").all()


# --- the sites file: extent = "file" and [site_layers.<id>] ---------------------------------------------------------

def _write_scene_files(tmp_path):
    reference, buildings, streets = _scene_layers()
    buildings.to_file(tmp_path / "buildings.geojson")
    streets.to_file(tmp_path / "streets.geojson")
    gpd.GeoDataFrame(geometry=[box(0, 0, 100, 200)], crs=2154).to_file(tmp_path / "extent.geojson")


def test_sites_file_extent_reaches_the_coverage(tmp_path):
    _write_scene_files(tmp_path)
    (tmp_path / "sites.toml").write_text(
        '[[site]]\nid = "scene"\nbbox = [0, 0, 200, 200]\ncrs = "EPSG:2154"\ncell_size = 10\ncontext = 50\n'
        '[site.layers]\nstreets = "streets.geojson"\n'
        'buildings = { path = "buildings.geojson", extent = "extent.geojson" }\n', encoding="utf-8")
    spec = read_sites_file(tmp_path / "sites.toml", data_dir=tmp_path).site("scene")
    assert spec.layers["buildings"][0].options["extent"] == tmp_path / "extent.geojson"
    site = load_site(spec)
    facts = site.sources["buildings"][0]
    assert facts["extent"].equals(box(0, 0, 100, 200)) and facts["extent_source"].endswith("extent.geojson")
    assert building_coverage(site)["buildings_complete"].tolist() == (site.grid["x"] < 100).tolist()


def test_sites_file_extent_without_polygon_is_a_clear_error(tmp_path):
    _write_scene_files(tmp_path)
    (tmp_path / "sites.toml").write_text(
        '[[site]]\nid = "scene"\nbbox = [0, 0, 200, 200]\ncrs = "EPSG:2154"\n'
        '[site.layers]\nbuildings = { path = "buildings.geojson", extent = "streets.geojson" }\n', encoding="utf-8")
    with pytest.raises(InputError, match="extent .*streets.geojson.* holds no polygon"):
        load_site(read_sites_file(tmp_path / "sites.toml", data_dir=tmp_path).site("scene"))


def test_site_layers_table(tmp_path):
    _write_scene_files(tmp_path)
    head = ('[layers]\nstreets = "streets.geojson"\n'
            '[[site]]\nid = "a"\nbbox = [0, 0, 200, 200]\ncrs = "EPSG:2154"\n'
            '[[site]]\nid = "b"\nbbox = [0, 0, 200, 200]\ncrs = "EPSG:2154"\n')
    (tmp_path / "ok.toml").write_text(head + '[site_layers.b]\nbuildings = "buildings.geojson"\n', encoding="utf-8")
    sf = read_sites_file(tmp_path / "ok.toml", data_dir=tmp_path)
    assert "buildings" not in sf.site("a").shared_layers
    assert [s.path for s in sf.site("b").shared_layers["buildings"]] == [tmp_path / "buildings.geojson"]
    assert sf.site("b").shared_layers["streets"] == sf.site("a").shared_layers["streets"]  # the rest of [layers] stays
    (tmp_path / "bad.toml").write_text(head + '[site_layers.c]\nbuildings = "buildings.geojson"\n', encoding="utf-8")
    with pytest.raises(SitesFileError, match=r"\[site_layers\] \(line \d+\): no site 'c' in this file; its sites are \['a', 'b'\]"):
        read_sites_file(tmp_path / "bad.toml", data_dir=tmp_path)
    twice = head + '[site.layers]\nbuildings = "buildings.geojson"\n[site_layers.b]\nbuildings = "buildings.geojson"\n'
    (tmp_path / "twice.toml").write_text(twice, encoding="utf-8")
    with pytest.raises(SitesFileError, match=r"\['buildings'\] also given in the site's own \[site.layers\]"):
        read_sites_file(tmp_path / "twice.toml", data_dir=tmp_path)


def test_only_chateau_reze_gets_the_reze_footprints(data, samples, tmp_path):
    """The [site_layers.chateau_reze] table changes no other site of the sample file."""
    text = (samples / "nantes_renewal.toml").read_text(encoding="utf-8")
    with_table = read_sites_file(samples / "nantes_renewal.toml", data_dir=data)
    stripped = tmp_path / "without_site_layers.toml"
    stripped.write_text(text[: text.index("[site_layers.chateau_reze]")], encoding="utf-8")
    without = read_sites_file(stripped, data_dir=data)
    for a, b in zip(with_table.sites, without.sites, strict=True):
        if a.id == "chateau_reze":
            spec = a.shared_layers["buildings"][0]
            assert spec.path == data / REZE_FILE and REZE_CREDIT in spec.attribution
            assert "buildings" not in b.shared_layers and a.layers == b.layers == {}
        else:
            assert a == b, a.id


# --- must-show on real data ----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def reze_batch(data, samples, tmp_path_factory):
    out = tmp_path_factory.mktemp("reze")
    code = main(["batch", str(samples / "nantes_renewal.toml"), "--site", "chateau_reze", "--workers", "1",
                 "--out", str(out), "--quiet", "--data-dir", str(data), "--cache-dir", str(out / "no-cache")])
    assert code == 0
    return out


def test_reze_footprints_have_default_heights(data, samples):
    spec = read_sites_file(samples / "nantes_renewal.toml", data_dir=data).site("chateau_reze")
    raw = gpd.read_file(data / REZE_FILE)
    assert list(raw.columns) == ["ID", "geometry"] and len(raw) == 592  # the file has no height
    gdf, _ = SourceCache().layer(spec.shared_layers["buildings"][0], "buildings")
    site = Site.from_layers("chateau_reze", site_boundary(spec, spec.crs), crs=spec.crs, layers={"buildings": gdf})
    b = site.layers["buildings"]
    assert len(b) > 300 and (b["height_source"] == "default").all() and b["height_m"].nunique() == 1


def test_reze_scored_only_where_the_footprints_are(data, reze_batch):
    out = reze_batch
    summary = pd.read_csv(out / "summary.csv").set_index("site_id").loc["chateau_reze"]
    assert summary["status"] == "ok"
    assert REZE_CREDIT in summary["attribution"]
    cells = gpd.read_file(out / "chateau_reze" / "audit.gpkg", layer="cells")
    # the truth, from the files themselves: the footprints and the reference grid, read here
    raw = gpd.read_file(data / REZE_FILE).to_crs(cells.crs)
    grid = gpd.read_file(data / "nantes" / "building_count_grid.gpkg").to_crs(cells.crs)
    holding = grid.iloc[np.unique(grid.sindex.query(raw.geometry.centroid.values, predicate="within")[1])]
    centres = shapely.points(cells["x"], cells["y"])
    in_holding = np.zeros(len(cells), dtype=bool)
    in_holding[np.unique(holding.sindex.query(centres, predicate="within")[0])] = True
    hull = shapely.convex_hull(shapely.union_all(raw.geometry.values))
    valued = cells["isovist_area"].notna().to_numpy()
    assert 0.2 < valued.mean() < 0.45  # the north-east part of the disc
    assert in_holding[valued].all()  # never where the reference cell holds none of the footprints
    to_hull = shapely.distance(hull, centres)
    assert (to_hull[valued] == 0).mean() > 0.95 and to_hull[valued].max() < 75  # within half a reference cell
    for column in [*SURVEILLANCE, "ambiguous", "score_surveillance", "score_territoriality"]:
        assert cells.loc[~in_holding, column].isna().all(), column
        if not column.startswith("entrances_"):  # Rezé's entrances are unknown (no source): NaN everywhere
            assert cells.loc[valued, column].notna().all(), column
    assert (cells.loc[~valued, "coverage_reason"].str.len() > 0).all()
    assert (cells.loc[valued, "coverage_reason"].fillna("") == "").all()
    assert cells.loc[~in_holding, "coverage_reason"].str.contains(
        r"^buildings incomplete here: 0 of \d+ reference buildings|^its reference cell counts no building").all()
    # the scored share in summary.csv is the share of the cells with a score
    for principle in ("surveillance", "territoriality"):
        assert summary[f"scored_share_{principle}"] == pytest.approx(cells[f"score_{principle}"].notna().mean())
        assert summary[f"score_{principle}"] == pytest.approx(cells[f"score_{principle}"].mean())
    assert summary["scored_share_surveillance"] == pytest.approx(valued.mean())
    assert summary["scored_share_access_control"] > 0.9  # the network measures are not cut
    assert re.search(r"surveillance: values that depend on buildings are NaN in \d+% of the site", summary["notes"])


# --- Île de Nantes: cut a quarter of the buildings -------------------------------------------------------------------

#: A 600 x 500 m part of the Île de Nantes site where the BD TOPO extract is complete against the
#: reference grid (the full 3 x 1.1 km site takes minutes per audit).
ILE_BOX = (355450, 6688000, 356050, 6688500)


@pytest.fixture(scope="module")
def ile_runs(data, samples):
    full = load_site(read_sites_file(samples / "nantes_renewal.toml", data_dir=data).site("ile_de_nantes"))
    boundary = box(*ILE_BOX)
    xmid, ymid = (ILE_BOX[0] + ILE_BOX[2]) / 2, (ILE_BOX[1] + ILE_BOX[3]) / 2
    quarter = box(ILE_BOX[0] - 1000, ILE_BOX[1] - 1000, xmid, ymid)  # the south-west quarter, out into the context
    buildings, streets = full.layers["buildings"], full.layers["streets"]
    kept = buildings[~shapely.within(buildings.geometry.centroid.values, quarter)]
    runs = {}
    for name, b in (("full", buildings), ("cut", kept)):
        site = Site.from_layers("ile_part", boundary, crs=full.crs, layers={"buildings": b, "streets": streets},
                                reference_buildings=full.reference_buildings, cell_size=5, context=200)
        runs[name] = audit(site, measures=["surveillance", "territoriality"])
    return runs, quarter, full.reference_buildings, len(buildings) - len(kept)


def test_ile_de_nantes_cut_quarter_is_nan_and_the_rest_unchanged(ile_runs):
    runs, quarter, reference, removed = ile_runs
    assert removed > 50
    full, cut = runs["full"].layers["cells"].set_index("cell_id"), runs["cut"].layers["cells"].set_index("cell_id")
    assert full["buildings_complete"].mean() > 0.95  # the extract is complete here
    # the cut run has more cells (open ground where buildings were removed); compare the shared cells
    shared = full.index.intersection(cut.index)
    full, cut_all, cut = full.loc[shared], cut, cut.loc[shared]
    centres = shapely.points(cut_all["x"], cut_all["y"])
    # (1) every cell whose reference cell lies wholly in the cut quarter is NaN for the building measures
    inside = reference[shapely.within(reference.geometry.values, quarter) & (reference["n_buildings"] > 1)]
    assert len(inside) >= 2
    in_cut_ref = np.zeros(len(cut_all), dtype=bool)
    in_cut_ref[np.unique(inside.sindex.query(centres, predicate="within")[0])] = True
    assert in_cut_ref.sum() > 500  # (the grid keeps only ground within the walking reach)
    for column in [*SURVEILLANCE, "ambiguous", "score_surveillance", "score_territoriality"]:
        assert cut_all.loc[in_cut_ref, column].isna().all(), column
    assert cut_all.loc[in_cut_ref, "coverage_reason"].str.startswith("buildings incomplete here: 0 of").all()
    # (2) away from the cut (> 150 m, more than the 100 m view radius and one reference cell),
    # every value equals the full run's: exactly, since no removed building is within any radius
    far = shapely.distance(quarter, shapely.points(full["x"], full["y"])) > 150
    assert far.sum() > 2000
    both = far & full["buildings_complete"].to_numpy()
    assert cut.loc[both, "buildings_complete"].all()
    # (visual mean depth and integration are global: every building of the site and its ring changes them)
    local = [c for c in SURVEILLANCE if c not in ("vga_mean_depth", "vga_integration_hh")]
    columns = [*local, "ambiguous", "depth_m", "score_surveillance", "score_territoriality"]
    pd.testing.assert_frame_equal(cut.loc[both, columns], full.loc[both, columns], check_exact=False, rtol=1e-9)
    # (3) the scored share drops by about the quarter (the reference cells straddling the cut decide its edge)
    drop = runs["full"].summary["scored_share_surveillance"] - runs["cut"].summary["scored_share_surveillance"]
    assert 0.15 < drop < 0.35
