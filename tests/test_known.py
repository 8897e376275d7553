"""Known, known empty, unknown: one model for every layer and attribute, comparisons over the
same metrics, and a site status that says what was scored.

Regression tests first (each failed on the code before the model: an OSM extract without lamps
compared as darkness, night-time POIs reported as a measured 0 at Le Mans, every site ``ok``),
then worked scenes with hand-counted answers, then Hypothesis properties on worked scenes and
on a real site (Le Mans OSM, a small window, few examples).
"""

from __future__ import annotations

import dataclasses
import math

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely import LineString, Point, box

from cpted.cli import main
from cpted.errors import InputError, SitesFileError
from cpted.load.sites_file import LayerSpec, read_sites_file
from cpted.measure._result import MeasureResult
from cpted.pipeline import audit, load_site
from cpted.prepare.site import Site
from cpted.scenario import apply_overrides, compare_designs, parse_overrides

CRS = 2154
LE_MANS_OSM = "france/le_mans_centre.osm.pbf"
#: A 120 m window over Rue Denfert-Rochereau, Le Mans (inside the sample site le_mans_centre).
STREET_WINDOW = [491120, 6771560, 491240, 6771680]
STREET = "Rue Denfert-Rochereau"


def _gdf(geoms, **columns):
    return gpd.GeoDataFrame(columns, geometry=list(geoms), crs=CRS)


def _sites_file(path, body: str, *, data=None):
    path.write_text(body, encoding="utf-8")
    return read_sites_file(path, data_dir=data)


def _le_mans_window(tmp_path, data, *, extra: str = "", context: int = 150):
    """A sites file with one small site over a Le Mans street, reading the OSM extract. With a
    150 m context ring every layer kind the extract maps has features in the area: only the
    lamps (none in the whole extract) are unknown."""
    body = (f'[[site]]\nid = "street"\nbbox = {STREET_WINDOW}\ncrs = "EPSG:2154"\ncontext = {context}\ncell_size = 5\n'
            f'[site.layers]\nosm = "{data / LE_MANS_OSM}"\n{extra}')
    (tmp_path / "sites.toml").write_text(body, encoding="utf-8")
    return tmp_path / "sites.toml"


def _three_lamps_on_the_street(site: Site) -> gpd.GeoDataFrame:
    """Three lamps at a quarter, half and three quarters of the street inside the window."""
    streets = site.layer("streets")
    line = shapely.line_merge(streets[streets["name"].eq(STREET)].geometry.union_all().intersection(box(*STREET_WINDOW)))
    line = max(getattr(line, "geoms", [line]), key=lambda g: g.length)
    assert line.length > 60, "the street crosses the window"
    return _gdf([line.interpolate(f, normalized=True) for f in (0.25, 0.5, 0.75)], height_m=[6.0] * 3)


# --------------------------------------------------------------------------------------------
# Regression: three lamps on a Le Mans street, the baseline's lamps unknown then surveyed-empty
# --------------------------------------------------------------------------------------------


def test_three_lamps_on_a_le_mans_street(tmp_path, data, capsys):
    sites = _le_mans_window(tmp_path, data)
    site = load_site(read_sites_file(sites).sites[0])
    assert site.layer_state("lamps")[0] == "unknown"  # the extract maps no lamp: not proof of darkness
    # no lamp, and no water or railway/motorway land in this window: unknown, not known to be absent
    assert [k for k in site.layers if site.layer_state(k)[0] == "unknown"] == ["lamps", "water", "traffic_land"]
    lamps = _three_lamps_on_the_street(site)
    lamps.to_file(tmp_path / "three_lamps.geojson")
    out = tmp_path / "out"
    args = ["compare", str(sites), "--site", "street", "--out", str(out), "--proposed", f"lamps={tmp_path / 'three_lamps.geojson'}"]

    # unknown baseline lamps: refused, with the fix, before any audit
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "lamps is unknown in the baseline" in err and "--baseline lamps=empty" in err
    assert not (out / "compare.gpkg").exists()

    # surveyed-empty baseline: night surveillance better near the lamps, worse nowhere
    assert main([*args, "--baseline", "lamps=empty"]) == 0
    printed = capsys.readouterr().out
    deltas = pyogrio.read_dataframe(out / "compare.gpkg", layer="deltas")
    near = deltas.geometry.centroid.distance(lamps.geometry.union_all()) < 10
    night = deltas["delta_score_surveillance_night"]
    assert night.notna().mean() > 0.9
    assert night.min() >= -1e-9
    assert night[near].min() > 0
    assert (deltas["delta_lux"].dropna() >= 0).all() and deltas.loc[near, "delta_lux"].min() > 1
    assert (deltas["baseline_lux"].dropna() == 0).all()  # known empty: no lamp, no light
    day = deltas["delta_score_surveillance"].dropna()
    assert (day.abs() < 1e-9).all()  # lamps change nothing by day
    changes = pyogrio.read_dataframe(out / "compare.gpkg", layer="changes")
    assert not (changes["change"] == "worse").any()
    better = changes[(changes["principle"] == "surveillance_night") & (changes["change"] == "better")]
    assert len(better) and better.geometry.union_all().distance(lamps.geometry.union_all()) == 0
    assert "worse" not in printed
    site_rows = pd.read_csv(out / "compare.csv").set_index("value")
    assert site_rows.loc["score_surveillance_night", "delta"] > 0
    assert site_rows.loc["lux_avg", "baseline"] == 0 and site_rows.loc["lux_avg", "proposed"] > 0

    # the same declaration in the sites file
    sites = _le_mans_window(tmp_path, data, extra="lamps = { empty = true }\n")
    assert main(["compare", str(sites), "--site", "street", "--out", str(tmp_path / "out2"),
                 "--proposed", f"lamps={tmp_path / 'three_lamps.geojson'}"]) == 0


def test_le_mans_night_pois_are_unknown_not_zero(tmp_path, data):
    """At Le Mans 1 of ~140 POIs carries opening hours (as pyosmium reads the tags): the count of
    POIs open at night is unknown, not 0, and is not the site's weakness."""
    import osmium

    tagged = [0, 0]

    class Count(osmium.SimpleHandler):
        def _one(self, o):
            if "amenity" in o.tags or "shop" in o.tags:
                tagged[0] += 1
                tagged[1] += "opening_hours" in o.tags

        node = way = _one

    Count().apply_file(str(data / LE_MANS_OSM))
    assert tagged[0] > 50 and tagged[1] <= 2  # the fact the rule stands on

    spec = read_sites_file(_le_mans_window(tmp_path, data)).sites[0]
    result = audit(load_site(spec), measures=["surveillance", "activity"])
    cells, s = result.layers["cells"], result.summary
    assert cells["night_pois_800"].isna().all() and cells["night_pois_400"].isna().all()
    assert (cells["pois_800"] > 0).all()  # the POIs themselves are known
    assert 0 < s["pois_opening_hours_share"] <= 0.1  # 1 of the 10 venues near the window
    assert "night-time POIs: only" in s["notes"] and "opening hours" in s["notes"]
    assert "nothing open at night" not in s["drivers"]
    assert math.isnan(s["night_pois_800_mean"])
    assert s["buildings_height_share"] < 0.1 and "window floors" in s["notes"]


# --------------------------------------------------------------------------------------------
# Worked scenes: the three states of a layer, by hand
# --------------------------------------------------------------------------------------------


@pytest.fixture
def block():
    """A 60 m square site, one 20 m building in the middle, a street along its south side."""
    buildings = _gdf([box(20, 20, 40, 40)], height_m=[6.0])
    streets = _gdf([LineString([(-30, 10), (90, 10)])], walk_kind=["street"])
    return {"buildings": buildings, "streets": streets}


def _site(layers, **kw):
    return Site.from_layers("block", box(0, 0, 60, 60), crs=CRS, layers=layers, context=30, cell_size=5, **kw)


def test_lamps_known_known_empty_unknown(block):
    lamp = _gdf([Point(12.5, 12.5)], height_m=[6.0])
    unknown = audit(_site(block), measures=["surveillance"])
    empty = audit(_site(block, known_empty=["lamps"]), measures=["surveillance"])
    lit = audit(_site({**block, "lamps": lamp}), measures=["surveillance"])
    open_cells = empty.layers["cells"]["eyes_43"].notna()
    # unknown: NaN with the reason, never 0
    assert unknown.layers["cells"]["lux"].isna().all() and math.isnan(unknown.summary["lux_avg"])
    assert "lighting and night surveillance: no lamps source" in unknown.summary["notes"]
    assert unknown.summary["unknown_layers"].split(", ")[:2] == ["entrances", "barriers"]
    # known empty: a real 0 lx on every open cell, and nothing is lit at night
    assert (empty.layers["cells"].loc[open_cells, "lux"] == 0).all()
    assert empty.summary["lux_avg"] == 0 and empty.summary["lit_share"] == 0 and empty.summary["night_overseen_share"] == 0
    assert empty.summary["known_empty_layers"] == "lamps" and "lighting" not in empty.summary["notes"]
    # known: right below the lamp, 1000 cd / (6 m)^2 = 27.78 lx; 5 m along, 1000 * 6 / 61^1.5 = 12.59 lx
    cells = lit.layers["cells"].set_index("cell_id")
    assert cells.loc["10_10", "lux"] == pytest.approx(1000 / 36)
    assert cells.loc["15_10", "lux"] == pytest.approx(1000 * 6 / 61**1.5)


def test_known_empty_is_declared_not_guessed(block, tmp_path):
    # an empty layer given without the declaration is unknown, with the way to declare it
    site = _site({**block, "lamps": _gdf([], height_m=[])})
    state, why = site.layer_state("lamps")
    assert state == "unknown" and "lamps = { empty = true }" in why
    # a layer declared empty cannot have features
    with pytest.raises(InputError, match="lamps is declared empty but its layer has 1 feature"):
        _site({**block, "lamps": _gdf([Point(5, 5)])}, known_empty=["lamps"])
    with pytest.raises(InputError, match="unknown layer kind 'lamp'"):
        _site(block, known_empty=["lamp"])
    # known-empty buildings: an open square, full views and no window
    square = audit(_site({"streets": block["streets"]}, known_empty=["buildings", "entrances"]), measures=["surveillance"])
    cells = square.layers["cells"]
    assert (cells["eyes_43"] == 0).all() and (cells["entrances_15"] == 0).all()
    assert cells["isovist_area"].min() > 0.9 * math.pi * 100**2  # nothing blocks a 100 m view
    # entrances unknown: the eyes count windows only, the entrance counts are NaN
    windows_only = audit(_site(block), measures=["surveillance"]).layers["cells"]
    assert windows_only["entrances_43"].isna().all() and windows_only["eyes_43"].max() > 0


def test_sites_file_declares_a_layer_empty(tmp_path, data):
    body = ('[layers]\ntrees = { empty = true }\n[[site]]\nid = "a"\nbbox = [0, 0, 60, 60]\ncrs = "EPSG:2154"\n'
            '[site.layers]\nlamps = { empty = true }\nbuildings = "b.geojson"\n')
    _gdf([box(20, 20, 40, 40)]).to_file(tmp_path / "b.geojson")
    spec = _sites_file(tmp_path / "s.toml", body, data=tmp_path).sites[0]
    assert spec.layers["lamps"] == [LayerSpec.declared_empty()] and spec.shared_layers["trees"][0].empty
    site = load_site(spec)
    assert site.layer_state("lamps") == ("known_empty", None) and site.layer_state("trees") == ("known_empty", None)
    assert site.layer_state("buildings") == ("known", None) and site.layer_state("entrances")[0] == "unknown"
    for bad, match in (('lamps = { empty = false }', "empty = true"), ('lamps = { empty = true, path = "x" }', "alone"),
                       ('osm = { empty = true }', "only a layer kind"), ('lamps = [{ empty = true }, "b.geojson"]', "no file beside it")):
        with pytest.raises(SitesFileError, match=match):
            _sites_file(tmp_path / "bad.toml", f'[[site]]\nid = "a"\nbbox = [0, 0, 60, 60]\ncrs = "EPSG:2154"\n[site.layers]\n{bad}\n',
                        data=tmp_path)
    assert parse_overrides(["lamps=empty"]) == {"lamps": ("empty", [])}
    # adding lamps to a layer surveyed and empty: the added ones are all there is
    _gdf([Point(5, 5)]).to_file(tmp_path / "lamp.geojson")
    added = apply_overrides(spec, parse_overrides([f"lamps+={tmp_path / 'lamp.geojson'}"]))
    assert added.layers["lamps"] == [LayerSpec((tmp_path / "lamp.geojson").resolve())]
    assert apply_overrides(spec, parse_overrides(["buildings=empty"])).layers["buildings"] == [LayerSpec.declared_empty()]
    with pytest.raises(InputError, match="takes no other file"):
        parse_overrides(["lamps+=empty"])


def _street_with_shops(hours):
    streets = _gdf([LineString([(-50, 30), (150, 30)])], walk_kind=["street"])
    pois = _gdf([Point(20 + 20 * i, 35) for i in range(len(hours))], category=["shop"] * len(hours), opening_hours=hours)
    return streets, pois


def test_night_pois_need_opening_hours():
    # 4 shops: open to 23:00, to 22:00, to 18:00, no hours -> 3 of 4 carry hours (75% >= 50%), 2 open at night
    streets, pois = _street_with_shops(["Mo-Su 08:00-23:00", "Mo-Su 18:00-22:00", "Mo-Fr 09:00-18:00", None])
    site = Site.from_layers("st", box(0, 0, 100, 60), crs=CRS, layers={"streets": streets, "pois": pois}, context=50, cell_size=10)
    result = audit(site, measures=["activity"])
    cells = result.layers["cells"]
    assert (cells["pois_800"] == 4).all() and (cells["night_pois_800"] == 2).all()
    assert result.summary["pois_opening_hours_share"] == 0.75
    # 1 of 4 carries hours (25%): the night count is unknown, with the share and the reason
    few = pois.assign(opening_hours=["Mo-Su 08:00-23:00", None, None, None])
    result = audit(dataclasses.replace(site, layers={**site.layers, "pois": few}), measures=["activity"])
    assert result.layers["cells"]["night_pois_800"].isna().all() and (result.layers["cells"]["pois_800"] == 4).all()
    assert result.summary["pois_opening_hours_share"] == 0.25
    assert "night-time POIs: only 25% of shops and venues have opening hours (needs 50%)" in result.summary["notes"]
    # POIs surveyed and none: a real 0; POIs unknown: NaN
    none = audit(Site.from_layers("st", box(0, 0, 100, 60), crs=CRS, layers={"streets": streets}, context=50, cell_size=10,
                                  known_empty=["pois"]), measures=["activity"])
    assert (none.layers["cells"][["pois_800", "night_pois_800"]] == 0).all().all()
    unknown = audit(Site.from_layers("st", box(0, 0, 100, 60), crs=CRS, layers={"streets": streets}, context=50, cell_size=10),
                    measures=["activity"])
    assert unknown.layers["cells"]["pois_800"].isna().all() and "activity: no pois source" in unknown.summary["notes"]


def test_every_measure_module_returns_one_result_type(block):
    from cpted.engines.network import RADII
    from cpted.measure.access_control import access_control
    from cpted.measure.activity import activity
    from cpted.measure.maintenance import maintenance
    from cpted.measure.surveillance import surveillance
    from cpted.measure.territoriality import territoriality

    site = _site({"trees": _gdf([Point(5, 5)])})  # nothing any measure needs
    results = {
        "surveillance": surveillance(site), "access_control": access_control(site, None, None, None, None, reason="no streets"),
        "activity": activity(site, None, radii=RADII, reason="no streets"), "territoriality": territoriality(site, None),
        "maintenance": maintenance(site),
    }
    for name, r in results.items():
        assert isinstance(r, MeasureResult), name
        assert r.cells.index.equals(site.grid.index) and r.cells.isna().all().all(), name
        assert r.reasons, name
        assert all(isinstance(v, float) and math.isnan(v) for k, v in r.summary.items() if k != "p_class"), name
    assert "surveillance: no buildings source" in results["surveillance"].reasons
    assert "disorder: no reports source" in results["maintenance"].reasons


# --------------------------------------------------------------------------------------------
# Comparisons over the same metrics
# --------------------------------------------------------------------------------------------


def test_a_metric_known_in_one_design_only_gives_no_delta(block):
    """Baseline: 2 shops with opening hours (night count known). Proposed: 3 more shops without
    (2 of 5 carry hours: unknown). The night score is compared without the night count in
    both designs, so nothing else changing, it does not move."""
    streets, pois = _street_with_shops(["Mo-Su 08:00-23:00", "Mo-Su 08:00-23:00"])
    extra = _street_with_shops([None, None, None])[1]
    more = pd.concat([pois, extra.set_geometry(extra.geometry.translate(5, 0))], ignore_index=True)
    kw = {"crs": CRS, "context": 50, "cell_size": 10, "known_empty": ["lamps"]}
    base = Site.from_layers("st", box(0, 0, 100, 60), layers={**block, "streets": streets, "pois": pois}, **kw)
    prop = Site.from_layers("st", box(0, 0, 100, 60), layers={**block, "streets": streets, "pois": more}, **kw)
    c = compare_designs(base, prop, measures=["surveillance", "activity"])
    assert c.baseline.layers["cells"]["night_pois_800"].eq(2).all() and c.proposed.layers["cells"]["night_pois_800"].isna().all()
    assert c.deltas["delta_score_surveillance_night"].dropna().abs().max() < 1e-9
    assert c.deltas["delta_score_surveillance_night"].notna().any()
    rows = c.site.set_index("value")
    assert math.isnan(rows.loc["night_pois_800_mean", "delta"]) and rows.loc["night_pois_800_mean", "baseline"] == 2
    assert rows.loc["score_surveillance_night", "delta"] == pytest.approx(0, abs=1e-9)


def test_designs_that_know_different_layers_are_refused(block):
    lamp = _gdf([Point(12.5, 12.5)])
    with pytest.raises(InputError, match=r"lamps is unknown in the baseline \(no lamps source\).*known_empty=\['lamps'\]"):
        compare_designs(_site(block), _site({**block, "lamps": lamp}))
    with pytest.raises(InputError, match="entrances is unknown in the proposed"):
        compare_designs(_site({**block, "entrances": _gdf([Point(30, 19.9)])}), _site(block))


# --------------------------------------------------------------------------------------------
# Properties (Hypothesis): more lamps, more openings, fewer buildings never make things worse
# --------------------------------------------------------------------------------------------

_xy = st.tuples(st.floats(1, 59), st.floats(1, 59))
_few = settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@_few
@given(before=st.lists(_xy, max_size=2), added=st.lists(_xy, min_size=1, max_size=3))
def test_adding_lamps_never_lowers_lux_or_night_surveillance(block, before, added):
    known = {"known_empty": ["lamps"]} if not before else {}
    base = _site({**block, **({"lamps": _gdf([Point(p) for p in before])} if before else {})}, **known)
    prop = _site({**block, "lamps": _gdf([Point(p) for p in before + added])})
    d = compare_designs(base, prop, measures=["surveillance"]).deltas
    assert (d["delta_lux"].dropna() >= -1e-9).all()
    assert (d["delta_score_surveillance_night"].dropna() >= -1e-9).all()
    assert d["delta_score_surveillance_night"].notna().any()


@_few
@given(where=st.lists(st.tuples(st.sampled_from(["south", "north", "east", "west"]), st.floats(0.05, 0.95)),
                      min_size=1, max_size=3))
def test_adding_an_opening_never_lowers_eyes_on_the_street(block, where):
    def door(side, t):  # on a façade of the 20 m building
        return {"south": (20 + 20 * t, 20), "north": (20 + 20 * t, 40), "west": (20, 20 + 20 * t), "east": (40, 20 + 20 * t)}[side]

    # the whole block within walking reach (the baseline's grid, without the doors, is the compared one)
    base = _site(block, known_empty=["entrances"], walk_reach=100)
    prop = _site({**block, "entrances": _gdf([Point(door(*w)) for w in where])}, walk_reach=100)
    d = compare_designs(base, prop, measures=["surveillance"]).deltas
    for col in ("delta_eyes_15", "delta_eyes_43"):
        assert (d[col].dropna() >= -1e-9).all(), col
    assert d["delta_eyes_43"].max() >= 1


@settings(max_examples=25, deadline=None)
@given(t=st.floats(0.02, 0.98), floors=st.integers(1, 4), side=st.sampled_from(["south", "north"]))
def test_adding_a_window_never_lowers_eyes_on_the_street(t, floors, side):
    from cpted.engines.visibility import prepare_scene
    from cpted.measure.surveillance import eyes_on_street, openings

    buildings = _gdf([box(20, 20, 40, 40)], height_m=[6.0])
    scene = prepare_scene(buildings)
    ops = openings(buildings, window_spacing=7)
    y, ny = (19.9, -1.0) if side == "south" else (40.1, 1.0)
    window = gpd.GeoDataFrame({"kind": ["window"], "floors": [float(floors)], "nx": [0.0], "ny": [ny], "building": [0]},
                              geometry=[Point(20 + 20 * t, y)], crs=CRS)
    more = pd.concat([ops, window], ignore_index=True)
    places = gpd.GeoSeries([Point(x, yy) for x in range(-10, 75, 7) for yy in (5, 12, 48, 60)], crs=CRS)
    before, after = eyes_on_street(places, ops, scene), eyes_on_street(places, more, scene)
    assert ((after - before).to_numpy() >= -1e-9).all()
    assert (after["windows_43"] - before["windows_43"]).max() == floors  # someone sees the new window


@_few
@given(corners=st.lists(_xy, min_size=1, max_size=4), drop=st.integers(0, 3))
def test_removing_a_building_never_shrinks_an_isovist(block, corners, drop):
    houses = _gdf([box(x, y, x + 6, y + 4) for x, y in corners], height_m=[6.0] * len(corners))
    kept = houses.drop(index=houses.index[drop % len(houses)])
    base = _site({**block, "buildings": houses})
    prop = _site({**block, "buildings": kept}, known_empty=["buildings"] if kept.empty else ())
    d = compare_designs(base, prop, measures=["surveillance"]).deltas
    assert (d["delta_isovist_area"].dropna() >= -1e-6).all()


@pytest.fixture(scope="module")
def le_mans_street(data, tmp_path_factory):
    """The Le Mans window, its lamps declared surveyed-empty (the extract maps none)."""
    sites = _le_mans_window(tmp_path_factory.mktemp("le_mans"), data, extra="lamps = { empty = true }\n")
    return load_site(read_sites_file(sites).sites[0])


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fractions=st.lists(st.floats(0, 1), min_size=1, max_size=3))
def test_real_site_adding_lamps_on_its_streets(le_mans_street, fractions):
    streets = le_mans_street.layer("streets", within_site=True)
    line = streets.geometry.union_all()
    lamps = _gdf([line.interpolate(f, normalized=True) for f in fractions], height_m=[6.0] * len(fractions))
    prop = dataclasses.replace(le_mans_street, layers={**le_mans_street.layers, "lamps": lamps}, known_empty=frozenset())
    d = compare_designs(le_mans_street, prop, measures=["surveillance"]).deltas
    assert (d["delta_lux"].dropna() >= -1e-9).all() and (d["delta_score_surveillance_night"].dropna() >= -1e-9).all()


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pick=st.floats(0, 1))
def test_real_site_removing_a_building(le_mans_street, pick):
    buildings = le_mans_street.layers["buildings"]
    near = buildings[buildings.distance(le_mans_street.boundary) < 20]
    gone = near.index[min(int(pick * len(near)), len(near) - 1)]
    prop = dataclasses.replace(le_mans_street, layers={**le_mans_street.layers, "buildings": buildings.drop(index=gone)})
    d = compare_designs(le_mans_street, prop, measures=["surveillance"]).deltas
    assert (d["delta_isovist_area"].dropna() >= -1e-6).all()


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pick=st.floats(0, 1), along=st.floats(0, 1))
def test_real_site_adding_an_entrance(le_mans_street, pick, along):
    buildings = le_mans_street.layers["buildings"]
    near = buildings[buildings.distance(le_mans_street.boundary) < 5]
    wall = shapely.get_parts(near.geometry.iloc[min(int(pick * len(near)), len(near) - 1)])[0].exterior
    door = gpd.GeoDataFrame({"kind": ["main"]}, geometry=[wall.interpolate(along, normalized=True)], crs=CRS)
    entrances = pd.concat([le_mans_street.layers["entrances"], door], ignore_index=True)
    prop = dataclasses.replace(le_mans_street, layers={**le_mans_street.layers, "entrances": entrances})
    d = compare_designs(le_mans_street, prop, measures=["surveillance"]).deltas
    assert (d["delta_eyes_15"].dropna() >= -1e-9).all() and (d["delta_eyes_43"].dropna() >= -1e-9).all()


# --------------------------------------------------------------------------------------------
# Site status: ok, partial, no_score, failed
# --------------------------------------------------------------------------------------------


def test_site_status_says_what_was_scored(tmp_path, capsys):
    _gdf([box(20, 20, 40, 40), box(60, 20, 80, 40)], height_m=[6.0, 9.0]).to_file(tmp_path / "b.geojson")
    _gdf([LineString([(-100, 10), (200, 10)]), LineString([(50, -100), (50, 200)])], walk_kind=["street", "street"]).to_file(tmp_path / "s.geojson")
    _gdf([Point(5, 5), Point(50, 50)], height_m=[8.0, 8.0]).to_file(tmp_path / "t.geojson")
    site = '[[site]]\nid = "{id}"\nbbox = [0, 0, 100, 60]\n[site.layers]\n{layers}\n'
    body = '[defaults]\ncrs = "EPSG:2154"\ncontext = 100\ncell_size = 5\n' + "".join(site.format(id=i, layers=lay) for i, lay in (
        ("scored", f'buildings = "{tmp_path}/b.geojson"\nstreets = "{tmp_path}/s.geojson"'),
        ("buildings_only", f'buildings = "{tmp_path}/b.geojson"'),
        ("trees_only", f'trees = "{tmp_path}/t.geojson"'),
        ("broken", f'buildings = "{tmp_path}/missing.geojson"'),
    ))
    (tmp_path / "sites.toml").write_text(body, encoding="utf-8")
    out = tmp_path / "out"
    code = main(["batch", str(tmp_path / "sites.toml"), "--out", str(out), "--quiet", "--workers", "1",
                 "--cache-dir", str(tmp_path / "cache")])
    assert code == 1  # a failed site
    printed = capsys.readouterr().out
    summary = pd.read_csv(out / "summary.csv").set_index("site_id")
    assert summary["status"].to_dict() == {"scored": "ok", "buildings_only": "partial", "trees_only": "no_score",
                                           "broken": "failed"}
    assert summary.loc["scored", "cpted_index"] >= 0
    assert math.isnan(summary.loc["buildings_only", "cpted_index"]) and summary.loc["buildings_only", "score_surveillance"] >= 0
    assert summary.loc[["trees_only"], [c for c in summary if c.startswith("score_") and c != "score_notes"]].isna().all().all()
    assert "no buildings source" in summary.loc["trees_only", "notes"]
    assert "DataNotFoundError" in summary.loc["broken", "error"]
    for sid, status in (("scored", "ok"), ("buildings_only", "partial"), ("trees_only", "no_score"), ("broken", "FAILED")):
        assert any(line.startswith(sid) and status in line for line in printed.splitlines()), sid
    assert "1 ok, 1 partial, 1 no_score, 1 failed" in printed
    page = (out / "index.html").read_text(encoding="utf-8")
    assert ">partial</span>" in page and ">no score</span>" in page and ">failed</span>" in page
    assert "1 ok, 1 partial, 1 no score, 1 failed" in page
    assert "Status:</b> no score" in (out / "trees_only" / "report.html").read_text(encoding="utf-8")
    # without the failed site, partial and no_score are outcomes, not failures: exit 0
    (tmp_path / "sites.toml").write_text(body.split('[[site]]\nid = "broken"')[0], encoding="utf-8")
    assert main(["batch", str(tmp_path / "sites.toml"), "--out", str(tmp_path / "out2"), "--quiet", "--workers", "1",
                 "--cache-dir", str(tmp_path / "cache")]) == 0
