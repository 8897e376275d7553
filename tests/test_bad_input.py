"""Bad input, each from a real file on disk: the documented error, and no partial output."""

from __future__ import annotations

import bz2
import gzip
import shutil

import geopandas as gpd
import pandas as pd
import pytest
from shapely import Point, Polygon

from cpted.cli import main
from cpted.errors import (
    CorruptFileError,
    CRSError,
    DataNotFoundError,
    GeometryError,
    InputError,
    MissingColumnsError,
    MissingDataError,
    SitesFileError,
)
from cpted.load.graph import read_graphml
from cpted.load.layers import read_layer
from cpted.load.osm import read_osm
from cpted.load.sites_file import read_sites_file
from cpted.pipeline import batch, load_site
from cpted.prepare.buildings import assign_heights
from cpted.prepare.crs import require_same_crs


@pytest.fixture
def bdtopo(data):
    return gpd.read_file(data / "nantes/ile_de_nantes_bdtopo_buildings.geojson").head(40)


def test_invalid_geometry_names_the_feature(bdtopo, tmp_path):
    bad = bdtopo.copy()
    bad.loc[7, "geometry"] = Polygon([(355000, 6688000), (355010, 6688010), (355010, 6688000), (355000, 6688010)])
    bad.to_file(tmp_path / "b.gpkg")
    with pytest.raises(GeometryError, match=r"1 invalid geometries \(features 7; feature 7: Self-intersection") as e:
        read_layer(tmp_path / "b.gpkg", "buildings")
    assert "Fix geometries" in str(e.value) and "repair = true" in str(e.value)
    fixed, info = read_layer(tmp_path / "b.gpkg", "buildings", repair=True)
    assert info["repaired_invalid"] == 1 and fixed.is_valid.all() and len(fixed) == 40


def test_empty_and_null_geometries(bdtopo, tmp_path):
    bad = bdtopo.copy()
    bad.loc[3, "geometry"] = None
    bad.loc[5, "geometry"] = Polygon()
    bad.to_file(tmp_path / "b.gpkg")
    with pytest.raises(GeometryError, match=r"2 null or empty geometries \(features 3, 5\)"):
        read_layer(tmp_path / "b.gpkg", "buildings")
    kept, info = read_layer(tmp_path / "b.gpkg", "buildings", repair=True)
    assert len(kept) == 38 and info["dropped_empty"] == 2


def test_mixed_geometry_types(bdtopo, tmp_path):
    mixed = bdtopo.copy()
    mixed.loc[2, "geometry"] = Point(355000, 6688000)
    mixed.to_file(tmp_path / "mixed.geojson")
    with pytest.raises(GeometryError, match=r"must hold polygon geometries but features 2 are point"):
        read_layer(tmp_path / "mixed.geojson", "buildings")


def test_missing_crs(bdtopo, tmp_path):
    bdtopo.to_file(tmp_path / "b.shp")
    (tmp_path / "b.prj").unlink()
    with pytest.raises(CRSError, match=r"declares no CRS; declare it"):
        read_layer(tmp_path / "b.shp", "buildings")


def test_geographic_crs_for_a_site(tmp_path, data):
    sites = tmp_path / "s.toml"
    sites.write_text(f'[[site]]\nid = "a"\ncentre = [-1.55, 47.21]\ncrs = "EPSG:4326"\n[site.layers]\nbuildings = "{data}/nantes/ile_de_nantes_bdtopo_buildings.geojson"\n')
    spec = read_sites_file(sites).sites[0]
    with pytest.raises(CRSError, match=r"not a projected metre-based CRS; reproject"):
        load_site(spec)


def test_mismatched_crs(data, bdtopo):
    mercator = bdtopo.to_crs(3857)
    with pytest.raises(CRSError, match=r"different CRSs; reproject 'b'"):
        require_same_crs(("a", bdtopo), ("b", mercator))
    buildings, _ = read_layer(data / "nantes/ile_de_nantes_bdtopo_buildings.geojson", "buildings")
    with pytest.raises(CRSError, match="different CRSs"):
        assign_heights(buildings, reference=buildings.to_crs(3857))


def test_mismatched_crs_files_are_reprojected_into_the_site(data, tmp_path, bdtopo):
    bdtopo.to_crs(4326).to_file(tmp_path / "b4326.geojson")
    bdtopo.to_crs(3857).to_file(tmp_path / "b3857.gpkg")
    sites = tmp_path / "s.toml"
    x0, y0, x1, y1 = bdtopo.total_bounds
    sites.write_text(
        f'[[site]]\nid = "a"\nbbox = [{x0}, {y0}, {x1}, {y1}]\ncrs = "EPSG:2154"\n'
        f'[site.layers]\nbuildings = ["{tmp_path}/b4326.geojson", "{tmp_path}/b3857.gpkg"]\n'
    )
    site = load_site(read_sites_file(sites).sites[0])
    b = site.layer("buildings")
    assert b.crs.to_epsg() == 2154 and len(b) == 80
    first, second = b.iloc[:40].area.to_numpy(), b.iloc[40:].area.to_numpy()
    assert first == pytest.approx(second, rel=1e-6)


def test_missing_required_columns(data, tmp_path):
    with pytest.raises(MissingColumnsError, match=r"has no column 'kind_of_thing' for categories; its columns are"):
        read_layer(data / "nantes/waste_containers_2016.geojson", "pois", category_field="kind_of_thing")
    with pytest.raises(MissingColumnsError, match=r"no column\(s\) \['H'\] named in 'fields'"):
        read_layer(data / "nantes/ile_de_nantes_bdtopo_buildings.geojson", "buildings", fields={"height_m": "H"})


@pytest.mark.parametrize(
    ("source", "reader"),
    [
        ("nantes/equipements_2014.gpkg", lambda p: read_layer(p, "pois")),
        ("france/le_mans_centre.osm.pbf", read_osm),
        ("nantes/streets/walk_nantes_centre_4km.graphml.bz2", read_graphml),
        ("nantes/waste_containers_2016.geojson", lambda p: read_layer(p, "pois", category="waste")),
    ],
)
def test_truncated_files(data, tmp_path, source, reader):
    raw = (data / source).read_bytes()
    target = tmp_path / ("cut_" + (data / source).name)
    target.write_bytes(raw[: len(raw) // 3])
    with pytest.raises(CorruptFileError, match=r"(cannot be read|truncated|not a readable)"):
        reader(target)


def test_truncated_gzip_osm(data, tmp_path):
    raw = gzip.decompress((data / "france/lorient_centre.osm.gz").read_bytes())
    (tmp_path / "cut.osm.bz2").write_bytes(bz2.compress(raw)[:5000])
    with pytest.raises(CorruptFileError):
        read_osm(tmp_path / "cut.osm.bz2")


def test_nonexistent_paths(tmp_path):
    with pytest.raises(DataNotFoundError, match="does not exist"):
        read_layer(tmp_path / "nope.gpkg", "buildings")
    with pytest.raises(DataNotFoundError, match="does not exist"):
        read_osm(tmp_path / "nope.osm.pbf")
    with pytest.raises(DataNotFoundError, match="sites file"):
        read_sites_file(tmp_path / "nope.toml")


def _write_sites(path, body):
    path.write_text(body, encoding="utf-8")
    return path


def test_sites_file_duplicate_id(tmp_path, data):
    body = '[defaults]\ncrs = "EPSG:2154"\n\n[[site]]\nid = "a"\ncentre = [-1.55, 47.21]\n\n[[site]]\nid = "a"\ncentre = [-1.56, 47.21]\n'
    with pytest.raises(SitesFileError, match=r"site 'a' \(line 5\): this id is used twice"):
        read_sites_file(_write_sites(tmp_path / "s.toml", body))


@pytest.mark.parametrize("bad_id", ["../x", "a/b", "", ".hidden"])
def test_sites_file_unsafe_ids(tmp_path, bad_id):
    body = f'[[site]]\nname = "n"\nid = "{bad_id}"\ncentre = [-1.55, 47.21]\n'
    with pytest.raises(SitesFileError, match=r"\(line 3\): .* is not a safe site id"):
        read_sites_file(_write_sites(tmp_path / "s.toml", body))


def test_sites_file_syntax_and_keys(tmp_path):
    with pytest.raises(SitesFileError, match=r"not valid TOML: .*line 2"):
        read_sites_file(_write_sites(tmp_path / "a.toml", '[[site]]\nid = "a\n'))
    with pytest.raises(SitesFileError, match=r"unknown key\(s\) \['radus'\].*\(line 4\)|\(line 4\).*unknown key"):
        read_sites_file(_write_sites(tmp_path / "b.toml", '[[site]]\nid = "a"\ncentre = [1, 2]\nradus = 3\n'))
    with pytest.raises(SitesFileError, match=r"unknown layer kind 'lamp'"):
        read_sites_file(_write_sites(tmp_path / "c.toml", '[[site]]\nid = "a"\ncentre = [1, 2]\n[site.layers]\nlamp = "/x.gpkg"\n'))
    with pytest.raises(SitesFileError, match=r"give exactly one of centre, bbox, boundary"):
        read_sites_file(_write_sites(tmp_path / "d.toml", '[[site]]\nid = "a"\n'))


def test_boundary_that_misses_the_data(tmp_path, data):
    # a site in Lorient with only Nantes layers: nothing meets it
    body = (
        '[[site]]\nid = "lorient"\ncentre = [-3.36, 47.75]\ncrs = "EPSG:2154"\n[site.layers]\n'
        f'buildings = "{data}/nantes/ile_de_nantes_bdtopo_buildings.geojson"\n'
        f'pois = "{data}/nantes/equipements_2014.gpkg"\n'
    )
    spec = read_sites_file(_write_sites(tmp_path / "s.toml", body)).sites[0]
    with pytest.raises(InputError, match=r"meets none of its layers \(buildings, pois\); check the site's centre"):
        load_site(spec)


def test_site_with_no_streets_at_all(tmp_path, data):
    # Île de Nantes buildings, but streets from the Le Mans extract: no street in the area
    body = (
        '[[site]]\nid = "nostreets"\nbbox = [355000, 6688000, 355400, 6688400]\ncrs = "EPSG:2154"\n[site.layers]\n'
        f'buildings = "{data}/nantes/ile_de_nantes_bdtopo_buildings.geojson"\n'
        f'streets = "{data}/france/le_mans_centre.osm.pbf"\n'
    )
    sites = _write_sites(tmp_path / "s.toml", body)
    site = load_site(read_sites_file(sites).sites[0])
    with pytest.raises(MissingDataError, match="no walkable street in the analysis area"):
        _ = site.graph
    result = batch(sites, tmp_path / "out")
    row = result.summary.iloc[0]
    assert row["status"] == "partial" and row["network_coverage"] == 0.0  # surveillance only: no index
    assert "no walkable street" in row["notes"]


def test_failed_site_is_reported_and_leaves_nothing(tmp_path, data):
    body = (
        '[defaults]\ncrs = "EPSG:2154"\n'
        '[[site]]\nid = "good"\nbbox = [355000, 6688000, 355400, 6688400]\n[site.layers]\n'
        f'buildings = "{data}/nantes/ile_de_nantes_bdtopo_buildings.geojson"\n'
        '[[site]]\nid = "broken"\nbbox = [355000, 6688000, 355400, 6688400]\n[site.layers]\n'
        f'buildings = "{tmp_path}/missing.gpkg"\n'
    )
    sites = _write_sites(tmp_path / "s.toml", body)
    out = tmp_path / "out"
    code = main(["batch", str(sites), "--out", str(out), "--quiet", "--cache-dir", str(tmp_path / "c")])
    assert code == 1
    summary = pd.read_csv(out / "summary.csv")
    assert summary.set_index("site_id")["status"].to_dict() == {"good": "partial", "broken": "failed"}
    assert "DataNotFoundError" in summary.set_index("site_id").loc["broken", "error"]
    assert (out / "good" / "audit.gpkg").exists()
    assert not (out / "broken").exists() or not any((out / "broken").iterdir())
    assert not list(out.rglob("*.tmp*"))


def test_interrupted_write_keeps_the_previous_file(tmp_path, data, monkeypatch):
    body = (
        '[[site]]\nid = "good"\nbbox = [355000, 6688000, 355400, 6688400]\ncrs = "EPSG:2154"\n[site.layers]\n'
        f'buildings = "{data}/nantes/ile_de_nantes_bdtopo_buildings.geojson"\n'
    )
    sites = _write_sites(tmp_path / "s.toml", body)
    out = tmp_path / "out"
    batch(sites, out)
    before = (out / "good" / "audit.gpkg").read_bytes()

    import pyogrio

    real = pyogrio.write_dataframe
    calls = {"n": 0}

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt  # as if the user pressed Ctrl-C in the middle of the file
        return real(*args, **kwargs)

    monkeypatch.setattr(pyogrio, "write_dataframe", flaky)
    with pytest.raises(KeyboardInterrupt):
        batch(sites, out)
    assert (out / "good" / "audit.gpkg").read_bytes() == before
    assert not list(out.rglob("*.tmp*")) and not list(out.rglob(".audit*"))


def test_corrupt_reference_in_batch_does_not_stop_others(tmp_path, data):
    shutil.copy(data / "nantes/building_count_grid.gpkg", tmp_path / "grid.gpkg")
    raw = (tmp_path / "grid.gpkg").read_bytes()
    (tmp_path / "grid.gpkg").write_bytes(raw[:2048])
    body = (
        '[defaults]\ncrs = "EPSG:2154"\n'
        '[[site]]\nid = "a"\nbbox = [355000, 6688000, 355400, 6688400]\n[site.layers]\n'
        f'buildings = "{data}/nantes/ile_de_nantes_bdtopo_buildings.geojson"\n'
        f'reference_buildings = "{tmp_path}/grid.gpkg"\n'
        '[[site]]\nid = "b"\nbbox = [355000, 6688000, 355400, 6688400]\n[site.layers]\n'
        f'buildings = "{data}/nantes/ile_de_nantes_bdtopo_buildings.geojson"\n'
    )
    result = batch(_write_sites(tmp_path / "s.toml", body), tmp_path / "out")
    status = result.summary.set_index("site_id")["status"].to_dict()
    assert status == {"a": "failed", "b": "partial"}  # b: buildings only, no index
    assert "CorruptFileError" in result.summary.set_index("site_id").loc["a", "error"]


def _small_site():
    import geopandas as gpd
    from shapely import LineString, box

    from cpted.prepare.site import Site

    streets = gpd.GeoDataFrame({"walk_kind": ["street"]}, geometry=[LineString([(0, 50), (100, 50)])], crs=2154)
    return Site.from_layers("demo", box(0, 0, 100, 100), crs=2154, layers={"streets": streets}, context=50,
                            cell_size=10)


def test_audit_options_are_checked_with_the_fix():
    from cpted.pipeline import audit

    site = _small_site()
    with pytest.raises(InputError, match="unknown measures \\['lighting'\\]; choose among surveillance"):
        audit(site, measures=["lighting"])
    with pytest.raises(InputError, match="include 800 m, the radius the scores use"):
        audit(site, radii=(400, 1200))
    with pytest.raises(InputError, match="view_radius must be a positive"):
        audit(site, view_radius=0)


def test_audit_reports_its_steps_and_stops_when_progress_raises():
    from cpted.pipeline import audit

    steps = []
    audit(_small_site(), measures=["access_control", "maintenance"], progress=lambda *a: steps.append(a))
    assert steps == [("completeness", 0, 5), ("network", 1, 5), ("access_control", 2, 5), ("maintenance", 3, 5),
                     ("scores", 4, 5), ("done", 5, 5)]

    class Stop(Exception):
        pass

    def cancel(step, done, total):
        if step == "maintenance":
            raise Stop

    with pytest.raises(Stop):
        audit(_small_site(), measures=["access_control", "maintenance"], progress=cancel)
