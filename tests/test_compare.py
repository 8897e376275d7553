"""Scenario comparison: a worked dark dead end, and a proposed design on Île de Nantes."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
from shapely import LineString, Point, box

from cpted.cli import main
from cpted.errors import InputError
from cpted.scenario import compare, parse_overrides


def _write(gdf, path):
    gdf.to_file(path)
    return path


@pytest.fixture
def dead_end(tmp_path):
    """Two blocks along a street, with a 40 m dead-end alley between them."""
    crs = 2154
    buildings = gpd.GeoDataFrame({"height": [6.0, 6.0]}, geometry=[box(0, 10, 40, 60), box(50, 10, 90, 60)], crs=crs)
    streets = gpd.GeoDataFrame({"highway": ["residential", "footway"]}, crs=crs,
                               geometry=[LineString([(-20, 0), (45, 0), (110, 0)]), LineString([(45, 0), (45, 50)])])
    # blank walls: nobody overlooks the alley
    _write(buildings.rename(columns={"height": "height_m"}).assign(blank=True), tmp_path / "b.geojson")
    _write(streets.assign(walk_kind=["street", "footway"]), tmp_path / "s.geojson")
    _write(gpd.GeoDataFrame({"height_m": [5.0]}, geometry=[Point(45, 48)], crs=crs), tmp_path / "lamp.geojson")
    _write(gpd.GeoDataFrame({"kind": ["main"]}, geometry=[Point(40, 45)], crs=crs), tmp_path / "door.geojson")
    (tmp_path / "sites.toml").write_text(
        '[[site]]\nid = "alley"\nbbox = [-10, -5, 100, 70]\ncrs = "EPSG:2154"\ncontext = 50\ncell_size = 2.5\n[site.layers]\n'
        f'buildings = "{tmp_path}/b.geojson"\nstreets = "{tmp_path}/s.geojson"\n'
    )
    return tmp_path


def test_a_lamp_and_a_door_in_a_dark_dead_end(dead_end, capsys):
    out = dead_end / "out"
    proposal = ["--proposed", f"lamps={dead_end}/lamp.geojson", "--proposed", f"entrances={dead_end}/door.geojson"]
    # the baseline has no lamp nor entrance source: unknown, not none; refused with the fix
    assert main(["compare", str(dead_end / "sites.toml"), "--site", "alley", "--out", str(out), *proposal]) == 2
    err = capsys.readouterr().err
    assert "lamps is unknown in the baseline" in err and "--baseline lamps=empty" in err and "--baseline entrances=empty" in err
    assert not out.exists()
    code = main(["compare", str(dead_end / "sites.toml"), "--site", "alley", "--out", str(out), *proposal,
                 "--baseline", "lamps=empty", "--baseline", "entrances=empty"])
    assert code == 0
    deltas = pyogrio.read_dataframe(out / "compare.gpkg", layer="deltas")
    alley = deltas.geometry.centroid.within(box(40, 10, 50, 60))
    day = deltas["delta_score_surveillance"]
    assert (day.dropna() >= -1e-9).all()  # nowhere lower
    assert day[alley].max() > 0  # higher in the dead end
    assert deltas.loc[alley, "delta_eyes_15"].max() >= 1
    site = pd.read_csv(out / "compare.csv").set_index("value")
    assert site.loc["score_surveillance", "delta"] > 0
    assert site.loc["lux_avg", "baseline"] == 0 and site.loc["lux_avg", "proposed"] > 0  # no lamps: no light
    night = deltas["delta_score_surveillance_night"]
    assert (night.dropna() >= -1e-9).all() and night[alley].max() > 0
    changes = pyogrio.read_dataframe(out / "compare.gpkg", layer="changes")
    assert (changes["change"] == "better").any() and not ((changes["change"] == "worse") & (changes["principle"] == "surveillance")).any()
    for design in ("baseline", "proposed"):
        assert (out / design / "audit.gpkg").exists()


def test_overrides_are_checked(tmp_path):
    with pytest.raises(InputError, match="KIND=PATH"):
        parse_overrides(["lamp=x.geojson"])
    with pytest.raises(InputError, match="both replaced and added"):
        parse_overrides(["lamps=a", "lamps+=b"])


def test_proposed_design_on_ile_de_nantes(data, tmp_path):
    """A new 20 m building and three lamps in an open area of Île de Nantes."""
    (tmp_path / "sites.toml").write_text(
        '[[site]]\nid = "idn"\nbbox = [355900, 6688150, 356250, 6688450]\ncrs = "EPSG:2154"\ncontext = 150\n[site.layers]\n'
        f'buildings = {{ path = "{data}/nantes/ile_de_nantes_bdtopo_buildings.geojson", repair = true }}\n'
        f'streets = "{data}/nantes/streets/walk_nantes_commune.graphml.bz2"\n'
    )
    b = gpd.read_file(data / "nantes/ile_de_nantes_bdtopo_buildings.geojson")
    site = box(355900, 6688150, 356250, 6688450)
    free = site.difference(b.union_all().buffer(25))
    spot = free.representative_point()
    new = gpd.GeoDataFrame({"HEIGHT": [12.0]}, geometry=[box(spot.x - 10, spot.y - 10, spot.x + 10, spot.y + 10)], crs=2154)
    new.to_file(tmp_path / "new.geojson")
    lamps = gpd.GeoDataFrame({"height_m": [6.0] * 3}, geometry=[Point(spot.x + dx, spot.y - 15) for dx in (-15, 0, 15)], crs=2154)
    lamps.to_file(tmp_path / "lamps.geojson")
    result = compare(tmp_path / "sites.toml", "idn", proposed=[f"buildings+={tmp_path}/new.geojson", f"lamps={tmp_path}/lamps.geojson"],
                     baseline=["lamps=empty"], out=tmp_path / "out")
    d = result.deltas
    assert d["built_over"].sum() > 0  # the new footprint takes cells
    open_cells = ~d["built_over"]
    assert (d.loc[open_cells, "delta_isovist_area"].dropna() <= 1e-6).all()  # a new occluder never widens a view
    assert d.loc[open_cells, "delta_isovist_area"].min() < -100
    near = d.geometry.centroid.distance(Point(spot.x, spot.y)) < 30
    assert d.loc[near & open_cells, "delta_eyes_15"].max() >= 1  # the new façade's windows
    assert result.site.set_index("value").loc["lux_avg", "baseline"] == 0
    assert result.site.set_index("value").loc["lux_avg", "proposed"] > 0


def test_compare_reads_the_parsed_source_cache(dead_end, tmp_path):
    """`compare` parses each source once per machine, as `batch` does: a second comparison reads the
    cache, and the answer is the one a comparison without the cache gives."""
    from cpted.load.cache import cache_entries

    folder = tmp_path / "sources"
    args = {"proposed": [f"lamps={dead_end}/lamp.geojson"], "baseline": ["lamps=empty"]}
    first = compare(dead_end / "sites.toml", "alley", source_cache=folder, **args)
    entries = cache_entries(folder)
    assert {e["source"].rsplit("/", 1)[-1] for e in entries} >= {"b.geojson", "s.geojson", "lamp.geojson"}
    again = compare(dead_end / "sites.toml", "alley", source_cache=folder, **args)
    assert len(cache_entries(folder)) == len(entries)  # read, not written again
    plain = compare(dead_end / "sites.toml", "alley", source_cache=False, **args)
    for result in (again, plain):
        pd.testing.assert_frame_equal(result.site, first.site)
        pd.testing.assert_frame_equal(result.deltas.drop(columns="geometry"), first.deltas.drop(columns="geometry"))
