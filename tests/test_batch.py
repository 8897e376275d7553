"""The batch end to end on the real sample sites (what the README's first command runs)."""

from __future__ import annotations

import sqlite3

import pandas as pd
import pyogrio
import pytest

from cpted.cli import main

INSIDE_NANTES = ["bottiere_pin_sec", "nantes_nord", "dervallieres"]
SIX = ["grand_bellevue", "bottiere_pin_sec", "nantes_nord", "dervallieres", "chateau_reze", "plaisance_orvault"]


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
    assert (summary["status"] == "ok").all()
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


def test_network_coverage_inside_and_outside_the_graphs(nantes_batch):
    _, out = nantes_batch
    cov = pd.read_csv(out / "summary.csv").set_index("site_id")["network_coverage"]
    assert (cov[INSIDE_NANTES] > 0.5).all()
    assert cov["chateau_reze"] > 0.5  # Rezé: reached by the 4 km graph
    assert cov["plaisance_orvault"] < 0.1  # Orvault: outside both graphs, reported low


def test_buildings_are_reported_missing_not_invented(nantes_batch):
    _, out = nantes_batch
    s = pd.read_csv(out / "summary.csv").set_index("site_id")
    assert s.loc[SIX, "n_buildings"].isna().all()  # no source offline
    assert (s.loc[SIX, "building_completeness"] == 0).all()
    assert (s.loc[SIX, "reference_buildings"] > 300).all()
    assert s.loc[SIX, "notes"].str.contains("no source for buildings").all()
    assert s.loc["ile_de_nantes", "n_buildings"] > 1000
    assert 0.5 < s.loc["ile_de_nantes", "building_completeness"] <= 1.05
    assert s.loc[SIX, "approximate_boundary"].all() and not s.loc["ile_de_nantes", "approximate_boundary"]


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
    assert s.loc[SIX, SURVEILLANCE].isna().all().all()
    assert s.loc[SIX, "notes"].str.contains("surveillance: no buildings loaded").all()
    assert s.loc["ile_de_nantes", SURVEILLANCE].notna().all()
    assert "lighting: no lamps loaded" in s.loc["ile_de_nantes", "notes"]
    cells = pyogrio.read_dataframe(out / "ile_de_nantes" / "audit.gpkg", layer="cells", read_geometry=False)
    assert (cells[CELL_COLUMNS].notna().mean() > 0.99).all()
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
    assert s.loc[SIX, ["fronted_share", "ambiguous_share"]].isna().all().all()
    assert s.loc[SIX, "notes"].str.contains("territoriality: no buildings loaded").all()
    assert s.loc["ile_de_nantes", ["fronted_share", "ambiguous_share", "cell_depth_mean"]].notna().all()
    assert "maintenance: no reports loaded" in s.loc["ile_de_nantes", "notes"]


def test_scores_and_problem_places(nantes_batch):
    _, out = nantes_batch
    s = pd.read_csv(out / "summary.csv").set_index("site_id")
    assert s.loc["ile_de_nantes", ["score_surveillance", "score_territoriality", "score_access_control", "cpted_index"]].between(0, 100).all()
    assert s.loc[SIX, "score_surveillance"].isna().all()  # no buildings: too few inputs to score
    assert s.loc[SIX, "score_notes"].str.contains("score_surveillance").all()
    assert s.loc[SIX, "cpted_index"].isna().all()  # access control alone is no CPTED index
    assert s.loc[SIX, "score_notes"].str.contains("cpted_index").all()
    places = pyogrio.read_dataframe(out / "ile_de_nantes" / "audit.gpkg", layer="problem_places")
    assert len(places) > 0 and places["place_no"].tolist() == list(range(1, len(places) + 1))
    assert set(places["principle"]) <= {"surveillance", "territoriality", "access_control", "maintenance"}


def test_bad_weights_stop_before_any_site(samples, tmp_path, data):
    (tmp_path / "w.toml").write_text("[metrics]\neyes_44 = 1\n")
    code = main(["batch", str(samples / "france_osm.toml"), "--out", str(tmp_path / "out"), "--quiet",
                 "--data-dir", str(data), "--weights", str(tmp_path / "w.toml")])
    assert code == 2 and not (tmp_path / "out" / "summary.csv").exists()


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
        assert (cells[CELL_COLUMNS].notna().mean() > 0.99).all()
        isos = pyogrio.read_dataframe(gpkg, layer="isovists")
        assert len(isos) == len(cells)
    terr = ["fronted_share", "entrances_per_100m", "entrances_intervisible_share", "cell_depth_mean", "ambiguous_share",
            "waste_points_per_ha", "n_derelict_buildings", "derelict_land_share"]
    assert s[terr].notna().all().all()
    assert s.loc["le_mans_centre", "boundary_defined_share"] > 0
    layers = {name for name, _ in pyogrio.list_layers(tmp_path / "le_mans_centre" / "audit.gpkg")}
    assert {"boundaries", "ambiguous_space"} <= layers
    lamps = pyogrio.read_dataframe(tmp_path / "nantes_graslin" / "audit.gpkg", layer="lamps")
    assert len(lamps) == 23 and lamps["lit_cells"].sum() > 0
