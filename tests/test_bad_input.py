"""Bad input, each from a real file on disk: the documented error, and no partial output."""

from __future__ import annotations

import bz2
import gzip
import json
import re
import shutil
from pathlib import Path

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
    SitesFileError,
)
from cpted.load.graph import read_graphml
from cpted.load.layers import read_layer
from cpted.load.osm import read_osm
from cpted.load.sites_file import read_sites_file
from cpted.pipeline import SourceCache, batch, load_site
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


@pytest.mark.parametrize("cached", [False, True])
def test_boundary_that_misses_the_data(tmp_path, data, cached):
    # a site in Lorient with only Nantes layers: nothing meets it
    body = (
        '[[site]]\nid = "lorient"\ncentre = [-3.36, 47.75]\ncrs = "EPSG:2154"\n[site.layers]\n'
        f'buildings = "{data}/nantes/ile_de_nantes_bdtopo_buildings.geojson"\n'
        f'pois = "{data}/nantes/equipements_2014.gpkg"\n'
    )
    spec = read_sites_file(_write_sites(tmp_path / "s.toml", body)).sites[0]
    sources = SourceCache(tmp_path / "cache") if cached else None  # the parsed-source cache reads by bbox
    with pytest.raises(InputError, match=r"the buildings layer .* none within the site .* they lie 1\d\d\.\d km away"):
        load_site(spec, sources=sources)


@pytest.mark.parametrize("cached", [False, True])
def test_a_layer_that_misses_the_site_is_named(tmp_path, data, cached):
    # Île de Nantes buildings, but streets from the Le Mans extract: the streets layer is the wrong
    # file (it used to run with "no walkable street" in the notes, as if Nantes had none)
    body = (
        '[[site]]\nid = "nostreets"\nbbox = [355000, 6688000, 355400, 6688400]\ncrs = "EPSG:2154"\n[site.layers]\n'
        f'buildings = "{data}/nantes/ile_de_nantes_bdtopo_buildings.geojson"\n'
        f'streets = "{data}/france/le_mans_centre.osm.pbf"\n'
    )
    sites = _write_sites(tmp_path / "s.toml", body)
    with pytest.raises(InputError, match=r"the streets layer '.*le_mans_centre.osm.pbf' has \d+ features, none within "
                                         r"the site or its 400 m context ring: they lie 1\d\d\.\d km away"):
        load_site(read_sites_file(sites).sites[0], sources=SourceCache(tmp_path / "cache") if cached else None)
    result = batch(sites, tmp_path / "out")
    row = result.summary.iloc[0]
    assert row["status"] == "failed" and "give a streets file that covers the site" in row["error"]
    assert not (tmp_path / "out" / "nostreets").exists()


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


# --- By class of defect, through the `cpted` command: exit code, message, no traceback, nothing partial ---
# A small real site: Île de Nantes, 400 m x 400 m, with its BD TOPO buildings.
SITE_BBOX = "[355000, 6688000, 355400, 6688400]"


def _cli(capsys, *args) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err and "Traceback" not in captured.out
    return code, captured.out, captured.err


def _one_site(tmp_path, layers: str, *, site: str = f"bbox = {SITE_BBOX}", extra: str = "") -> Path:
    body = f'[[site]]\nid = "a"\n{site}\ncrs = "EPSG:2154"\n{extra}[site.layers]\n{layers}'
    return _write_sites(tmp_path / "s.toml", body)


def _nothing_partial(out: Path) -> None:
    assert not [p for p in out.rglob("*") if ".tmp" in p.name], "a temporary file was left"
    assert not (out / "a" / "audit.gpkg").exists() and not (out / "a" / "report.html").exists()


def _failed_site(capsys, tmp_path, sites, *expected: str) -> str:
    """A batch of one bad site: exit 1, the message in summary.csv, no traceback, nothing partial."""
    out = tmp_path / "out"
    code, stdout, _ = _cli(capsys, "batch", sites, "--out", out, "--quiet", "--cache-dir", tmp_path / "c")
    assert code == 1
    error = pd.read_csv(out / "summary.csv").set_index("site_id").loc["a", "error"]
    for text in expected:
        assert text in error, error
    assert "export it again" not in error and "corrupt" not in error
    _nothing_partial(out)
    return error


# geometry
def test_an_unclosed_geojson_ring_is_a_geometry_error_naming_the_feature(capsys, tmp_path, data):
    doc = json.loads((data / "nantes/ile_de_nantes_bdtopo_buildings.geojson").read_text())
    ring = doc["features"][3]["geometry"]["coordinates"][0][0]
    ring.pop()  # the ring no longer ends where it starts
    (tmp_path / "b.geojson").write_text(json.dumps(doc))
    sites = _one_site(tmp_path, f'buildings = "{tmp_path}/b.geojson"\n')
    _failed_site(capsys, tmp_path, sites, "GeometryError", "features 3 have a geometry that cannot be built",
                 "a polygon ring must end where it starts", "Fix Geometries")


def test_a_truncated_geojson_says_where_the_json_breaks(capsys, tmp_path, data):
    text = (data / "nantes/ile_de_nantes_bdtopo_buildings.geojson").read_text()
    (tmp_path / "b.geojson").write_text(text[:5000])
    sites = _one_site(tmp_path, f'buildings = "{tmp_path}/b.geojson"\n')
    error = _failed_site(capsys, tmp_path, sites, "is not valid GeoJSON: ", "Fix the JSON there")
    assert re.search(r"line \d+, character \d+", error)


# CRS
def test_degrees_in_a_file_labelled_lambert_93_are_refused(capsys, tmp_path, bdtopo):
    # lon/lat numbers in a file that says EPSG:2154: used to run with zero buildings
    bdtopo.to_crs(4326).set_crs(2154, allow_override=True).to_file(tmp_path / "b.gpkg")
    sites = _one_site(tmp_path, f'buildings = "{tmp_path}/b.gpkg"\n')
    _failed_site(capsys, tmp_path, sites, "CRSError", "is labelled EPSG:2154", "look like degrees of longitude and "
                 "latitude: it is most likely in EPSG:4326", "set_crs(4326, allow_override=True)")


def test_an_unknown_epsg_code_is_refused_when_the_sites_file_is_read(capsys, tmp_path, data):
    sites = _write_sites(tmp_path / "s.toml", f'[defaults]\ncell_size = 5\n\n[[site]]\nid = "a"\nbbox = {SITE_BBOX}\n'
                                              f'crs = "EPSG:999999"\n[site.layers]\nbuildings = '
                                              f'"{data}/nantes/ile_de_nantes_bdtopo_buildings.geojson"\n')
    code, _, err = _cli(capsys, "sites", sites)
    assert code == 2
    assert "s.toml: site 'a'.crs (line 7): 'EPSG:999999' is not a known CRS; use an EPSG code such as" in err


@pytest.mark.parametrize(
    ("centre", "expected"),
    [
        ("[200, 95]", "[200, 95] is not [longitude, latitude] in degrees (longitude in [-180, 180], latitude in [-90, 90])"),
        ("[-22.27, 166.45]", "[-22.27, 166.45] looks like [latitude, longitude] swapped: latitude 166.45 is outside "
                             "[-90, 90]; write [166.45, -22.27]"),
    ],
)
def test_a_centre_out_of_range_is_refused_when_the_sites_file_is_read(capsys, tmp_path, data, centre, expected):
    sites = _one_site(tmp_path, f'buildings = "{data}/nantes/ile_de_nantes_bdtopo_buildings.geojson"\n',
                      site=f"centre = {centre}")
    code, _, err = _cli(capsys, "batch", sites, "--out", tmp_path / "out", "--quiet")
    assert code == 2
    assert "site 'a'.centre (line 3): " + expected in err
    assert "boundary" not in err  # it used to be blamed on a boundary file the site does not have
    assert not (tmp_path / "out").exists()


# attributes
def test_all_zero_weights_name_the_weights_to_set(capsys, tmp_path, data):
    sites = _one_site(tmp_path, f'buildings = "{data}/nantes/ile_de_nantes_bdtopo_buildings.geojson"\n')
    (tmp_path / "w.toml").write_text("[principles]\nsurveillance = 0\nterritoriality = 0\naccess_control = 0\n"
                                     "maintenance = 0\n")
    code, _, err = _cli(capsys, "batch", sites, "--out", tmp_path / "out", "--quiet", "--weights", tmp_path / "w.toml")
    assert code == 2
    assert "every weight in [principles] is 0" in err and "set at least one of [principles] surveillance" in err
    assert not (tmp_path / "out" / "summary.csv").exists()


# files
def test_a_folder_given_as_a_layer_is_not_called_corrupt(capsys, tmp_path, data):
    (tmp_path / "buildings").mkdir()
    shutil.copy(data / "nantes/ile_de_nantes_bdtopo_buildings.geojson", tmp_path / "buildings")
    sites = _one_site(tmp_path, f'buildings = "{tmp_path}/buildings"\n')
    _failed_site(capsys, tmp_path, sites, "NotAFileError", "buildings layer", "is a folder, not a file; give the path "
                 "of the file inside it; it holds ile_de_nantes_bdtopo_buildings.geojson")


def test_an_unreadable_layer_file_is_not_called_corrupt(tmp_path, data):
    import os
    import subprocess
    import sys

    shutil.copy(data / "nantes/ile_de_nantes_bdtopo_buildings.geojson", tmp_path / "b.geojson")
    (tmp_path / "b.geojson").chmod(0)
    sites = _one_site(tmp_path, f'buildings = "{tmp_path}/b.geojson"\n')
    out = tmp_path / "out"
    command = [sys.executable, "-m", "cpted.cli", "batch", str(sites), "--out", str(out), "--quiet"]
    if os.geteuid() == 0:  # root reads anything: run without the capabilities that let it
        if not shutil.which("setpriv"):
            pytest.skip("running as root without setpriv to drop the read capabilities")
        command = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", *command]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    error = pd.read_csv(out / "summary.csv").set_index("site_id").loc["a", "error"]
    assert "UnreadableFileError" in error and "permission denied for this user; give read access" in error
    assert "corrupt" not in error
    _nothing_partial(out)


# sites-file keys
def test_a_site_id_must_be_ascii(capsys, tmp_path, data):
    sites = _write_sites(tmp_path / "s.toml", f'[[site]]\nid = "café_graslin"\nbbox = {SITE_BBOX}\ncrs = "EPSG:2154"\n'
                                              f'[site.layers]\nbuildings = '
                                              f'"{data}/nantes/ile_de_nantes_bdtopo_buildings.geojson"\n')
    code, _, err = _cli(capsys, "batch", sites, "--out", tmp_path / "out", "--quiet")
    assert code == 2
    assert "(line 2): 'café_graslin' is not a safe site id: use 1-64 ASCII letters" in err and "'é' is not ASCII" in err
    assert not (tmp_path / "out").exists()


# sizes
@pytest.mark.parametrize("cell_size", [0.05, 0.002])
def test_a_tiny_cell_size_is_refused_before_any_grid(capsys, tmp_path, data, cell_size):
    """A 3 ha site (200 m x 150 m) at 5 cm grew past 6 GiB, at 2 mm ended in a raw MemoryError."""
    import subprocess
    import sys
    import time

    sites = _one_site(tmp_path, f'buildings = "{data}/nantes/ile_de_nantes_bdtopo_buildings.geojson"\n',
                      site="bbox = [355000, 6688000, 355200, 6688150]", extra=f"cell_size = {cell_size}\n")
    started = time.perf_counter()
    code, _, err = _cli(capsys, "batch", sites, "--out", tmp_path / "out", "--quiet")
    assert time.perf_counter() - started < 2
    assert code == 2
    assert f"site 'a'.cell_size (line 5): cell_size {cell_size:g} m gives " in err
    assert "(most allowed: 1,000,000); use cell_size = 0.18 or more for this site" in err
    assert not (tmp_path / "out").exists()
    # the whole command, interpreter and imports included, in a process of its own. A child forked from this (large) pytest process starts with its resident memory counted in its
    # ru_maxrss (Linux), so a small fresh interpreter starts the command and reports its peak instead.
    measure = ("import os, subprocess, sys; p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL); "
               "_, status, usage = os.wait4(p.pid, 0); print(os.waitstatus_to_exitcode(status), usage.ru_maxrss)")
    with open(tmp_path / "err.txt", "w") as err_file:
        out = subprocess.run([sys.executable, "-c", measure, sys.executable, "-m", "cpted.cli", "batch", str(sites),
                              "--out", str(tmp_path / "o2"), "--quiet"], stderr=err_file, stdout=subprocess.PIPE,
                             text=True, check=True).stdout.split()
    code, peak_kib = int(out[0]), int(out[1])
    assert code == 2 and "Traceback" not in (tmp_path / "err.txt").read_text()
    assert peak_kib < 500 * 1024  # under 500 MB


def test_a_boundary_file_site_too_fine_for_its_area_fails_before_reading_its_layers(capsys, tmp_path, data):
    gpd.GeoDataFrame(geometry=[Polygon([(355000, 6688000), (355200, 6688000), (355200, 6688150), (355000, 6688150)])],
                     crs=2154).to_file(tmp_path / "site.gpkg")
    sites = _write_sites(tmp_path / "s.toml", f'[[site]]\nid = "a"\nboundary = "{tmp_path}/site.gpkg"\ncell_size = 0.05\n'
                                              f'[site.layers]\nbuildings = "{tmp_path}/never_read.gpkg"\n')
    error = _failed_site(capsys, tmp_path, sites, "site 'a': cell_size 0.05 m gives 12,0", "use cell_size = 0.18 or more")
    assert "never_read" not in error  # the missing buildings file is not even looked at


# output paths
def test_out_naming_a_file_is_an_input_error(capsys, tmp_path, data):
    sites = _one_site(tmp_path, f'buildings = "{data}/nantes/ile_de_nantes_bdtopo_buildings.geojson"\n')
    (tmp_path / "results.csv").write_text("keep me\n")
    code, _, err = _cli(capsys, "batch", sites, "--out", tmp_path / "results.csv", "--quiet")
    assert code == 2 and "is a file, not a folder; give a folder" in err
    assert (tmp_path / "results.csv").read_text() == "keep me\n"
    code, _, err = _cli(capsys, "batch", sites, "--out", tmp_path / "results.csv" / "sub", "--quiet")
    assert code == 2 and "cannot be created" in err


# network
def test_fetch_offline_says_so_within_seconds(capsys, tmp_path, data):
    import os
    import socket
    import subprocess
    import sys
    import time

    with socket.socket() as s:  # a local port nothing listens on: no traffic leaves the machine
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/api"
    sites = _one_site(tmp_path, f'buildings = "{data}/nantes/ile_de_nantes_bdtopo_buildings.geojson"\n')
    started = time.monotonic()  # in this process, modules loaded: the time the command itself takes
    code, _, err = _cli(capsys, "fetch", sites, "--cache-dir", tmp_path / "c", "--overpass-url", url)
    assert time.monotonic() - started < 15
    assert code == 3
    assert f"the Overpass server {url} cannot be reached (connection refused)" in err
    assert "To work offline, give the sites local files" in err and "--cache-dir" in err
    assert not (tmp_path / "c" / "a.gpkg").exists()
    # and as a user runs it, in a process of its own
    proc = subprocess.run([sys.executable, "-m", "cpted.cli", "fetch", str(sites), "--cache-dir", str(tmp_path / "c"),
                           "--overpass-url", url], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
    assert proc.returncode == 3 and "Traceback" not in proc.stderr and "cannot be reached" in proc.stderr


@pytest.mark.parametrize("resolver", ["fails", "hangs"])
def test_fetch_with_an_unresolvable_host_says_so(capsys, tmp_path, data, monkeypatch, resolver):
    """The name lookup is replaced (no DNS query leaves the machine): one that fails, one that never answers."""
    import socket
    import time

    def lookup(host, *args, **kwargs):
        if resolver == "hangs":
            time.sleep(30)
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", lookup)
    sites = _one_site(tmp_path, f'buildings = "{data}/nantes/ile_de_nantes_bdtopo_buildings.geojson"\n')
    started = time.monotonic()
    code, _, err = _cli(capsys, "fetch", sites, "--cache-dir", tmp_path / "c", "--overpass-url",
                        "https://overpass.cpted-test.invalid/api")
    assert time.monotonic() - started < 15
    assert code == 3
    expected = ("does not resolve: Name or service not known" if resolver == "fails"
                else "did not resolve within 5 s: no network or no DNS")
    assert "the Overpass server https://overpass.cpted-test.invalid/api cannot be reached (the name " in err
    assert expected in err and "To work offline" in err


# signals
def _small_batch(tmp_path, data) -> tuple[Path, Path]:
    sites = _one_site(tmp_path, f'buildings = "{data}/nantes/ile_de_nantes_bdtopo_buildings.geojson"\n')
    return sites, tmp_path / "out"


def _start_batch(sites: Path, out: Path, *extra: str):
    import os
    import subprocess
    import sys

    return subprocess.Popen([sys.executable, "-m", "cpted.cli", "batch", str(sites), "--out", str(out), "--quiet",
                             "--isovists", *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})


def _signal_while_writing(proc, out: Path, sig, timeout: float = 600) -> bool:
    """Send ``sig`` to ``proc`` while it writes the GeoPackage's temporary file (True), or let it end
    (False).

    Seeing the file and signalling are two steps, and the write may end between them (the temporary
    file renamed over the GeoPackage). So the process is stopped first (SIGSTOP: none of its threads
    runs), the file looked at again, and only then signalled and let go on.
    """
    import os
    import signal
    import time

    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        if any((out / "a").glob(".audit.gpkg.*tmp*")):
            os.kill(proc.pid, signal.SIGSTOP)
            still = any((out / "a").glob(".audit.gpkg.*tmp*"))
            if still:
                os.kill(proc.pid, sig)  # pending until SIGCONT, unless SIGKILL
            os.kill(proc.pid, signal.SIGCONT)
            if still:
                return True
        time.sleep(0.002)
    return False


@pytest.mark.parametrize("signame", ["SIGTERM", "SIGHUP"])
def test_a_signal_during_the_geopackage_write_leaves_the_previous_file(tmp_path, data, signame):
    import signal

    sites, out = _small_batch(tmp_path, data)
    assert main(["batch", str(sites), "--out", str(out), "--quiet"]) == 0
    before = (out / "a" / "audit.gpkg").read_bytes()
    summary = (out / "summary.csv").read_bytes()
    for _ in range(3):  # the write lasts a second or so: catch it
        proc = _start_batch(sites, out)
        if _signal_while_writing(proc, out, getattr(signal, signame)):
            _, err = proc.communicate(timeout=120)
            break
        proc.communicate(timeout=120)
    else:
        pytest.fail("the GeoPackage write was never seen")
    assert proc.returncode == 128 + getattr(signal, signame)
    assert err.strip().splitlines()[-1] == (f"cpted: stopped by {signame}; files written so far are complete, "
                                            f"nothing half-written was kept")
    assert "Traceback" not in err
    assert not [p for p in out.rglob("*") if ".tmp" in p.name]
    assert (out / "a" / "audit.gpkg").read_bytes() == before and (out / "summary.csv").read_bytes() == summary
    import pyogrio

    assert pyogrio.read_info(out / "a" / "audit.gpkg", layer="cells")["features"] > 0  # opens, unchanged


def test_temporary_files_of_a_killed_run_are_swept_at_the_next_run(tmp_path, data):
    import signal

    sites, out = _small_batch(tmp_path, data)
    for _ in range(3):
        proc = _start_batch(sites, out)
        if _signal_while_writing(proc, out, signal.SIGKILL):  # as a crash or a power loss: no clean-up at all
            proc.communicate(timeout=60)
            break
        proc.communicate(timeout=120)
        (out / "a" / "audit.gpkg").unlink()
    else:
        pytest.fail("the GeoPackage write was never seen")
    assert [p for p in (out / "a").iterdir() if ".tmp" in p.name], "SIGKILL left no temporary file to sweep"
    assert main(["batch", str(sites), "--out", str(out), "--quiet"]) == 0
    assert not [p for p in out.rglob("*") if ".tmp" in p.name]
    assert (out / "a" / "audit.gpkg").exists()


def test_an_unreachable_scheduler_is_said_in_one_line(capsys, tmp_path, data):
    import socket

    with socket.socket() as s:  # a local port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sites = _one_site(tmp_path, f'buildings = "{data}/nantes/ile_de_nantes_bdtopo_buildings.geojson"\n')
    code, _, err = _cli(capsys, "batch", sites, "--out", tmp_path / "out", "--quiet", "--scheduler",
                        f"tcp://127.0.0.1:{port}")
    assert code == 3
    assert f"the Dask scheduler tcp://127.0.0.1:{port} cannot be reached within 30 s" in err
    assert "leave out --scheduler to use a local cluster" in err
    assert not (tmp_path / "out" / "summary.csv").exists()
    _nothing_partial(tmp_path / "out")
