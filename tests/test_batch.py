"""The batch end to end on the real sample sites (what the README's first command runs)."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import sqlite3
import subprocess
import sys

import numpy as np
import pandas as pd
import pyogrio
import pytest

from conftest import DATA, ROOT

from cpted.cli import main

INSIDE_NANTES = ["bottiere_pin_sec", "nantes_nord", "dervallieres"]
SIX = ["grand_bellevue", "bottiere_pin_sec", "nantes_nord", "dervallieres", "chateau_reze", "plaisance_orvault"]
NO_BUILDINGS = [s for s in SIX if s != "chateau_reze"]  # Rezé has a partial BD TOPO extract ([site_layers])


@pytest.fixture(scope="module")
def nantes_batch(data, samples, tmp_path_factory):
    out = tmp_path_factory.mktemp("nantes")
    code = main(["batch", str(samples / "nantes_renewal.toml"), "--out", str(out), "--quiet",
                 "--data-dir", str(data), "--cache-dir", str(out / "no-cache")])
    return code, out


def test_seven_audits_summary_and_index(nantes_batch):
    code, out = nantes_batch
    assert code == 0
    summary = pd.read_csv(out / "summary.csv")
    assert summary["site_id"].tolist() == [*SIX, "ile_de_nantes"]
    assert summary.set_index("site_id").loc["dervallieres", "name"] == "Dervallières (Nantes)"
    assert summary.set_index("site_id").loc["ile_de_nantes", "name"].startswith("Île de Nantes")
    # offline, five renewal sites have no buildings (two lack even the walk network: nothing scored);
    # Rezé's partial BD TOPO footprints give an index over the north-east they cover
    assert summary.set_index("site_id")["status"].to_dict() == {
        "grand_bellevue": "no_score", "bottiere_pin_sec": "partial", "nantes_nord": "partial", "dervallieres": "partial",
        "chateau_reze": "ok", "plaisance_orvault": "no_score", "ile_de_nantes": "ok"}
    for column in ("n_streets", "n_buildings", "n_pois", "n_cells", "network_coverage",
                   "building_completeness", "reference_buildings", "notes", "attribution"):
        assert column in summary.columns
    for site_id in summary["site_id"]:
        layers = {name for name, _ in pyogrio.list_layers(out / site_id / "audit.gpkg")}
        assert {"site", "cells", "streets"} <= layers
    page = (out / "index.html").read_text(encoding="utf-8")
    assert all(s in page for s in summary["site_id"])
    assert "© OpenStreetMap contributors, ODbL 1.0" in page and "Nantes Métropole, ODbL 1.0" in page
    assert "IGN BD TOPO, Licence Ouverte 2.0" in page


def test_warnings_of_the_shared_sources_are_said_once(nantes_batch):
    # the file-wide [layers] sources hold duplicates over the whole file (686 waste containers
    # exported twice, 2 street lines drawn twice): said once for the batch, not once per site
    _, out = nantes_batch
    summary = pd.read_csv(out / "summary.csv")
    shared = ("686 exact duplicate features", "2 street lines drawn twice")
    for text in shared:
        assert not summary["notes"].fillna("").str.contains(text, regex=False).any()
        for site_id in summary["site_id"]:
            assert text not in (out / site_id / "report.html").read_text(encoding="utf-8")
    page = (out / "index.html").read_text(encoding="utf-8")
    for text in shared:
        assert page.count(text) == 1
    assert page.count("(read by every site)") == 2
    # the notes of a site's own facts stay under it
    assert summary["notes"].str.contains("no source for").sum() == 7


def test_network_coverage_inside_and_outside_the_graphs(nantes_batch):
    _, out = nantes_batch
    cov = pd.read_csv(out / "summary.csv").set_index("site_id")["network_coverage"]
    assert (cov[INSIDE_NANTES] > 0.5).all()
    assert cov["chateau_reze"] > 0.5  # Rezé: reached by the 4 km graph
    assert cov["plaisance_orvault"] < 0.1  # Orvault: outside both graphs, reported low


def test_buildings_are_reported_missing_not_invented(nantes_batch):
    _, out = nantes_batch
    s = pd.read_csv(out / "summary.csv").set_index("site_id")
    assert s.loc[NO_BUILDINGS, "n_buildings"].isna().all()  # no source offline
    assert (s.loc[NO_BUILDINGS, "building_completeness"] == 0).all()
    assert (s.loc[SIX, "reference_buildings"] > 300).all()
    assert s.loc[NO_BUILDINGS, "notes"].str.contains("no source for buildings").all()
    assert s.loc["chateau_reze", "n_buildings"] > 200  # the partial extract: 248 in the disc
    assert 0.1 < s.loc["chateau_reze", "building_completeness"] < 0.3
    assert s.loc[NO_BUILDINGS, "buildings_complete_share"].eq(0).all()
    assert s.loc["ile_de_nantes", "n_buildings"] > 1000
    assert 0.5 < s.loc["ile_de_nantes", "building_completeness"] <= 1.05
    assert s.loc[SIX, "approximate_boundary"].all() and not s.loc["ile_de_nantes", "approximate_boundary"]


def test_night_pois_on_ile_de_nantes_are_unknown(nantes_batch):
    """The Nantes Métropole facilities carry no opening hours: the night-time count is NaN, not 0."""
    _, out = nantes_batch
    s = pd.read_csv(out / "summary.csv").set_index("site_id").loc["ile_de_nantes"]
    assert s["pois_opening_hours_share"] == 0 and s["pois_800_mean"] > 0
    assert pd.isna(s["night_pois_800_mean"]) and "night-time POIs: only 0%" in s["notes"]
    assert "nothing open at night" not in str(s["drivers"])


def test_cells_layer_is_the_open_space_grid(nantes_batch):
    _, out = nantes_batch
    cells = pyogrio.read_dataframe(out / "ile_de_nantes" / "audit.gpkg", layer="cells")
    buildings = pyogrio.read_dataframe(out / "ile_de_nantes" / "audit.gpkg", layer="site")
    assert cells.crs.to_epsg() == 2154
    assert cells.geometry.area.round(6).eq(25).all()
    assert cells["cell_id"].is_unique
    assert len(buildings) == 1
    with sqlite3.connect(out / "ile_de_nantes" / "audit.gpkg") as db:
        (meta,) = db.execute("select metadata from gpkg_metadata").fetchone()
    assert "IGN BD TOPO" in meta


SURVEILLANCE = ["overseen_share", "reliably_overseen_share", "eyes_43_mean", "connectivity_mean",
                "isovist_area_mean", "blind_spot_share"]
CELL_COLUMNS = ["isovist_area", "isovist_compactness", "isovist_occlusivity", "connectivity", "eyes_15", "eyes_43"]


def test_surveillance_is_nan_without_buildings_and_filled_with_them(nantes_batch):
    _, out = nantes_batch
    s = pd.read_csv(out / "summary.csv").set_index("site_id")
    assert s.loc[NO_BUILDINGS, SURVEILLANCE].isna().all().all()
    assert s.loc[NO_BUILDINGS, "notes"].str.contains("surveillance: no buildings source").all()
    assert s.loc[["chateau_reze", "ile_de_nantes"], SURVEILLANCE].notna().all().all()
    assert "lighting and night surveillance: no lamps source" in s.loc["ile_de_nantes", "notes"]
    cells = pyogrio.read_dataframe(out / "ile_de_nantes" / "audit.gpkg", layer="cells", read_geometry=False)
    # the BD TOPO extract misses the north strip and the west tip of the site's box (the reference
    # grid says so): values where its buildings are complete, NaN with the reason elsewhere
    complete = cells["buildings_complete"].astype(bool)
    assert 0.65 < complete.mean() < 0.8
    assert cells.loc[complete, CELL_COLUMNS].notna().all().all()
    assert cells.loc[~complete, CELL_COLUMNS].isna().all().all()
    assert f"surveillance: values that depend on buildings are NaN in {1 - complete.mean():.0%} of the site" in s.loc["ile_de_nantes", "notes"]
    layers = {name for name, _ in pyogrio.list_layers(out / "ile_de_nantes" / "audit.gpkg")}
    assert {"openings", "blind_spots"} <= layers


NETWORK = ["intersection_density", "link_node_ratio", "dead_end_share", "sinuosity", "through_share_800",
           "single_escape_share", "pois_800_mean", "mix_d1_800_mean"]


def test_access_control_and_activity_where_the_network_covers_the_site(nantes_batch):
    _, out = nantes_batch
    s = pd.read_csv(out / "summary.csv").set_index("site_id")
    covered = [*INSIDE_NANTES, "chateau_reze", "ile_de_nantes"]
    assert s.loc[covered, NETWORK].notna().all().all()
    assert s.loc["plaisance_orvault", NETWORK].isna().all()
    assert "access control: the walk network covers 1% of the site" in s.loc["plaisance_orvault", "notes"]
    assert "activity: the walk network covers" in s.loc["plaisance_orvault", "notes"]
    gpkg = out / "dervallieres" / "audit.gpkg"
    layers = {name for name, _ in pyogrio.list_layers(gpkg)}
    assert {"segments", "entry_points", "movement_predictors"} <= layers
    cells = pyogrio.read_dataframe(gpkg, layer="cells", read_geometry=False)
    for col in ("betweenness_800", "through_share_800", "nach_800", "escape_routes", "mix_d1_800", "pois_400"):
        assert cells[col].notna().mean() > 0.5, col
    assert set(cells["escape_routes"].dropna().unique()) <= {0, 1, 2}


def test_territoriality_and_maintenance_from_real_data(nantes_batch):
    _, out = nantes_batch
    s = pd.read_csv(out / "summary.csv").set_index("site_id")
    # waste points are real data for every site; territoriality needs buildings
    assert s.loc[SIX, "waste_points_per_ha"].notna().all()
    assert s.loc[NO_BUILDINGS, ["fronted_share", "ambiguous_share"]].isna().all().all()
    assert s.loc[NO_BUILDINGS, "notes"].str.contains("frontage and ambiguous space: no buildings source").all()
    assert s.loc["chateau_reze", ["fronted_share", "ambiguous_share"]].notna().all()
    assert s.loc["ile_de_nantes", ["fronted_share", "ambiguous_share", "cell_depth_mean"]].notna().all()
    assert "disorder: no reports source" in s.loc["ile_de_nantes", "notes"]


def test_scores_and_problem_places(nantes_batch):
    _, out = nantes_batch
    s = pd.read_csv(out / "summary.csv").set_index("site_id")
    assert s.loc["ile_de_nantes", ["score_surveillance", "score_territoriality", "score_access_control", "cpted_index"]].between(0, 100).all()
    assert s.loc[NO_BUILDINGS, "score_surveillance"].isna().all()  # no buildings: too few inputs to score
    assert s.loc[NO_BUILDINGS, "score_notes"].str.contains("score_surveillance").all()
    assert s.loc[NO_BUILDINGS, "cpted_index"].isna().all()  # access control alone is no CPTED index
    assert s.loc[NO_BUILDINGS, "score_notes"].str.contains("cpted_index").all()
    assert s.loc[NO_BUILDINGS, "scored_share_surveillance"].eq(0).all()
    # Rezé: scored over the north-east its partial extract covers
    assert s.loc["chateau_reze", ["score_surveillance", "score_territoriality", "cpted_index"]].between(0, 100).all()
    assert 0.2 < s.loc["chateau_reze", "scored_share_surveillance"] < 0.45
    places = pyogrio.read_dataframe(out / "ile_de_nantes" / "audit.gpkg", layer="problem_places")
    assert len(places) > 0 and places["place_no"].tolist() == list(range(1, len(places) + 1))
    assert set(places["principle"]) <= {"surveillance", "territoriality", "access_control", "maintenance"}


def test_bad_weights_stop_before_any_site(samples, tmp_path, data):
    (tmp_path / "w.toml").write_text("[metrics]\neyes_44 = 1\n")
    code = main(["batch", str(samples / "france_osm.toml"), "--out", str(tmp_path / "out"), "--quiet",
                 "--data-dir", str(data), "--weights", str(tmp_path / "w.toml")])
    assert code == 2 and not (tmp_path / "out" / "summary.csv").exists()


def test_a_site_in_process_leaves_nothing_frozen_from_the_collector(samples, tmp_path, data):
    """audit_to freezes what lives before the site out of the garbage collector's passes while it
    runs and unfreezes it after, even when interrupted; a caller's own freeze is left as it was."""
    import gc

    import cpted.pipeline
    from cpted.parallel import frozen_heap

    assert gc.get_freeze_count() == 0
    result = cpted.pipeline.batch(samples / "nantes_renewal.toml", tmp_path / "out", site_ids=["plaisance_orvault"],
                                  workers=1, data_dir=data, source_cache=tmp_path / "cache")
    assert result.summary["status"].tolist() == ["no_score"]
    assert gc.get_freeze_count() == 0
    with pytest.raises(KeyboardInterrupt), frozen_heap():
        assert gc.get_freeze_count() > 0
        raise KeyboardInterrupt
    assert gc.get_freeze_count() == 0
    gc.freeze()  # the caller's
    try:
        mine = gc.get_freeze_count()
        with frozen_heap():
            [object() for _ in range(10)]
        assert gc.get_freeze_count() == mine
    finally:
        gc.unfreeze()


def test_full_tag_osm_sites(data, samples, tmp_path):
    code = main(["batch", str(samples / "france_osm.toml"), "--out", str(tmp_path), "--quiet", "--data-dir", str(data),
                 "--site", "nantes_graslin", "--site", "le_mans_centre", "--isovists"])
    assert code == 0
    s = pd.read_csv(tmp_path / "summary.csv").set_index("site_id")
    assert (s[["n_buildings", "n_entrances", "n_barriers", "n_pois"]] > 0).all().all()
    assert s.loc["nantes_graslin", "n_lamps"] == 23
    assert (s["network_coverage"] > 0.5).all()
    assert s[SURVEILLANCE].notna().all().all()
    assert s.loc["nantes_graslin", ["lux_avg", "lit_share", "night_overseen_share"]].notna().all()
    for site_id in s.index:
        gpkg = tmp_path / site_id / "audit.gpkg"
        layers = {name for name, _ in pyogrio.list_layers(gpkg)}
        assert {"openings", "blind_spots", "isovists"} <= layers
        cells = pyogrio.read_dataframe(gpkg, layer="cells", read_geometry=False)
        complete = cells["buildings_complete"].astype(bool)  # beyond the extract's box: unknown (test_osm_extent)
        assert complete.mean() > 0.8
        assert cells.loc[complete, CELL_COLUMNS].notna().all().all()
        assert cells.loc[~complete, CELL_COLUMNS].isna().all().all()
        isos = pyogrio.read_dataframe(gpkg, layer="isovists")
        assert len(isos) == complete.sum()
    terr = ["fronted_share", "entrances_per_100m", "entrances_intervisible_share", "cell_depth_mean", "ambiguous_share",
            "waste_points_per_ha", "n_derelict_buildings", "derelict_land_share"]
    assert s[terr].notna().all().all()
    assert s.loc["le_mans_centre", "boundary_defined_share"] > 0
    layers = {name for name, _ in pyogrio.list_layers(tmp_path / "le_mans_centre" / "audit.gpkg")}
    assert {"boundaries", "ambiguous_space"} <= layers
    lamps = pyogrio.read_dataframe(tmp_path / "nantes_graslin" / "audit.gpkg", layer="lamps")
    assert len(lamps) == 23 and lamps["lit_cells"].sum() > 0


SHIPPED = ROOT / "sample_sites" / "data"


def _shipped_files() -> list[str]:
    return sorted(str(p.relative_to(SHIPPED)) for p in SHIPPED.rglob("*") if p.is_file() and p.name != "ATTRIBUTION.md")


def test_shipped_sample_data_is_attributed_and_equals_the_reference(data):
    listed = set(re.findall(r"^\| `([^`]+)` \|", (SHIPPED / "ATTRIBUTION.md").read_text(encoding="utf-8"), re.M))
    shipped = _shipped_files()
    assert listed == set(shipped)  # every shipped file named with its source and licence, and nothing else
    for rel in shipped:  # copies, byte for byte, of the reference data
        assert hashlib.sha256((SHIPPED / rel).read_bytes()).digest() == hashlib.sha256((data / rel).read_bytes()).digest(), rel


def test_fresh_clone_runs_the_first_command_from_the_shipped_data(nantes_batch, tmp_path):
    """The README's first command on a clone with no ../shared and no network: the shipped data is found
    (after --data-dir, CPTED_DATA_DIR and ../shared/data), and the results equal the run on ../shared/data."""
    clone = tmp_path / "clone"
    shutil.copytree(ROOT / "sample_sites", clone / "sample_sites")
    assert not (clone / ".." / "shared" / "data").exists() and not (tmp_path.parent / "shared" / "data").exists()
    env = {k: v for k, v in os.environ.items() if k != "CPTED_DATA_DIR"}
    env.update(HOME=str(tmp_path / "home"), TQDM_DISABLE="1",  # no fetch cache of the user's
               http_proxy="http://127.0.0.1:9", https_proxy="http://127.0.0.1:9", no_proxy="")  # no network
    run = subprocess.run([sys.executable, "-m", "cpted.cli", "batch", "sample_sites/nantes_renewal.toml", "--out", "out"],
                         cwd=clone, env=env, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    _, reference_out = nantes_batch
    fresh = pd.read_csv(clone / "out" / "summary.csv").set_index("site_id")
    reference = pd.read_csv(reference_out / "summary.csv").set_index("site_id")
    assert fresh.index.tolist() == reference.index.tolist()
    compared = [c for c in reference.columns if c not in {"seconds", "read_seconds", "prepare_seconds", "peak_memory_mb"}]
    assert set(compared) <= set(fresh.columns)
    for col in compared:
        a, b = fresh[col], reference[col]
        if pd.api.types.is_numeric_dtype(b) and pd.api.types.is_numeric_dtype(a):
            assert np.allclose(a.to_numpy(float), b.to_numpy(float), rtol=1e-9, atol=1e-12, equal_nan=True), col
        else:  # text: the same, once the data folder's path is set aside
            strip = lambda s: s.fillna("").astype(str).str.replace(str(SHIPPED.resolve()), "<data>").str.replace(  # noqa: E731
                str((clone / "sample_sites" / "data").resolve()), "<data>").str.replace(str(DATA.resolve()), "<data>")
            assert strip(a).tolist() == strip(b).tolist(), col
    assert "© OpenStreetMap contributors, ODbL 1.0" in (clone / "out" / "index.html").read_text(encoding="utf-8")
