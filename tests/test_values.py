"""Tag and attribute values (cpted/load/values.py): the reader, and what the loaders write.

The truth for the real-data tests is an independent reader: pyosmium for the OSM extracts,
networkx's own GraphML reader for the GraphML graph; the normalisation table below is written
here from OSM's documented values, not imported from cpted.
"""

from __future__ import annotations

import bz2
import sqlite3
import warnings

import geopandas as gpd
import networkx as nx
import numpy as np
import osmium
import pandas as pd
import pyogrio
import pytest
from hypothesis import given
from hypothesis import strategies as st
from shapely import LineString, Point

from cpted.load.osm_tags import osm_layers
from cpted.load.schema import conform
from cpted.load.values import (
    UnreadableValueWarning,
    known_true,
    read_categories,
    read_flags,
    read_text,
)

NA = pd.NA

# ---------------------------------------------------------------- the reader, value by value

FLAG_CASES = {
    "tunnel": {"yes": True, "building_passage": True, "culvert": True, "no": False, "true": True, "false": False,
               "1": True, "0": False, " Yes ": True, "NO": False},
    "bridge": {"yes": True, "viaduct": True, "boardwalk": True, "movable": True, "aqueduct": True,
               "low_water_crossing": True, "no": False},
    "covered": {"yes": True, "arcade": True, "colonnade": True, "no": False},
    "lit": {"yes": True, "no": False, "24/7": True, "automatic": True, "limited": True, "interval": True,
            "sunset-sunrise": True, "dusk-dawn": True, "18:00-24:00": True, "sunset-23:00": True,
            "Mo-Su 18:00-01:00": True, "disused": False, "off": False},
}


@pytest.mark.parametrize(("key", "raw", "expected"),
                         [(k, r, e) for k, cases in FLAG_CASES.items() for r, e in cases.items()])
def test_every_documented_flag_value(key, raw, expected):
    reading = read_flags(pd.Series([raw]), key)
    assert reading.values.dtype == "boolean"
    assert reading.values.iloc[0] is expected if expected is NA else bool(reading.values.iloc[0]) is expected
    assert reading.unreadable.empty


@pytest.mark.parametrize("missing", [None, float("nan"), np.nan, pd.NA, "", "  "])
@pytest.mark.parametrize("key", ["tunnel", "bridge", "covered", "lit"])
def test_missing_is_unknown_never_false(key, missing):
    reading = read_flags(pd.Series([missing], dtype=object), key)
    assert reading.values.isna().all()
    assert reading.unreadable.empty  # missing is not unreadable


def test_missing_is_unknown_in_every_pandas_string_dtype():
    # pandas 3's default str dtype turns None into NaN: it must still read as unknown
    for dtype in (object, "string", pd.StringDtype("python")):
        reading = read_flags(pd.Series(["yes", None, "no"], dtype=dtype), "tunnel")
        assert reading.values.tolist() == [True, NA, False], dtype


def test_unreadable_values_are_reported_with_their_ids():
    reading = read_flags(pd.Series(["yes", "maybe", "yes;no", "-1"]), "tunnel", ids=["w1", "w2", "w3", "w4"])
    assert reading.values.tolist() == [True, NA, NA, NA]
    assert reading.unreadable.to_dict() == {"w2": "maybe", "w3": "yes;no", "w4": "-1"}


def test_booleans_numbers_and_lists():
    assert read_flags([True, False, 1, 0, 1.0, 0.0, np.True_], "bridge").values.tolist() == [True, False] * 3 + [True]
    assert read_flags([2, 0.5], "bridge").values.tolist() == [NA, NA]
    # a simplified GraphML edge of several ways: any True wins, then any False
    lists = [["yes", "building_passage"], "['no', 'yes']", ["no", None], [None], "['no']"]
    assert read_flags(lists, "tunnel").values.tolist() == [True, True, False, NA, False]


def test_access_foot_oneway_categories():
    r = read_categories(["yes", "Private", "public", "permissive", "designated", "destination", "customers",
                         "residents", "delivery", "no", "true", "0", "unknown", None, "whatever"], "access")
    assert r.values.tolist() == ["yes", "private", "yes", "permissive", "designated", "destination", "customers",
                                 "residents", "delivery", "no", "yes", "no", None, None, None]
    assert r.unreadable.tolist() == ["whatever"]
    assert read_categories(["['yes', 'private']", ["destination", "yes"]], "foot").values.tolist() == [
        "private", "destination"]
    r = read_categories(["yes", "no", "-1", "reverse", "reversible", "alternating", "1", "false", None, "both"],
                        "oneway")
    assert r.values.tolist() == ["yes", "no", "-1", "-1", "reversible", "alternating", "yes", "no", None, None]
    assert r.unreadable.tolist() == ["both"]
    with pytest.raises(ValueError, match="access, foot or oneway"):
        read_categories(["x"], "tunnel")


def test_text_is_never_nan_as_text():
    for dtype in (object, "string", pd.StringDtype("python")):
        out = read_text(pd.Series(["Mo-Fr 09:00-18:00", None, ""], dtype=dtype))
        assert out.tolist() == ["Mo-Fr 09:00-18:00", None, None], dtype
        assert out.dtype == object


def test_known_true():
    assert known_true(pd.Series([True, NA, False], dtype="boolean")).tolist() == [True, False, False]
    assert known_true(np.array([True, False])).tolist() == [True, False]


@given(st.lists(st.one_of(st.none(), st.just(float("nan")), st.text(max_size=12),
                          st.sampled_from(["yes", "no", "building_passage", "24/7", "1", "0"])), max_size=30),
       st.sampled_from(["tunnel", "bridge", "covered", "lit", "other"]))
def test_reading_is_total_and_the_same_in_every_dtype(raw, key):
    """Any input gives True / False / <NA>, aligned; a value is either read or reported, never both;
    missing is never True or False; object and string dtypes read alike."""
    series = pd.Series(raw, dtype=object)
    reading = read_flags(series, key)
    assert reading.values.dtype == "boolean" and reading.values.index.equals(series.index)
    missing = series.map(lambda v: v is None or (isinstance(v, float) and np.isnan(v)) or
                         (isinstance(v, str) and not v.strip()))
    assert reading.values[missing.to_numpy()].isna().all()
    assert reading.values.loc[reading.unreadable.index].isna().all()
    as_string = read_flags(pd.Series(raw, dtype="string"), key)
    assert as_string.values.astype(object).where(as_string.values.notna(), None).tolist() == \
        reading.values.astype(object).where(reading.values.notna(), None).tolist()


# ---------------------------------------------------------------- the loaders

def _raw(rows):
    return gpd.GeoDataFrame({"osm_type": ["way"] * len(rows), "osm_id": list(range(1, len(rows) + 1)),
                             "tags": rows},
                            geometry=[LineString([(i, 0), (i, 1)]) for i in range(len(rows))], crs=4326)


def test_osm_streets_flags_are_nullable_and_unreadable_values_warn():
    raw = _raw([{"highway": "footway", "tunnel": "building_passage", "lit": "yes", "covered": "arcade"},
                {"highway": "footway", "bridge": "no", "lit": "no", "access": "Permissive", "foot": "yes"},
                {"highway": "footway"},
                {"highway": "footway", "lit": "sometimes", "tunnel": "perhaps"}])
    with pytest.warns(UnreadableValueWarning, match=r"streets \(OSM\)': 2 value") as caught:
        streets = osm_layers(raw)["streets"]
    assert "tunnel='perhaps' (way 4)" in str(caught[0].message) and "lit='sometimes' (way 4)" in str(caught[0].message)
    assert streets["tunnel"].tolist() == [True, NA, NA, NA]
    assert streets["bridge"].tolist() == [NA, False, NA, NA]
    assert streets["lit"].tolist() == [True, False, NA, NA]
    assert streets["covered"].tolist() == [True, NA, NA, NA]
    assert streets["access"].tolist() == [None, "permissive", None, None]
    assert streets["foot"].tolist() == [None, "yes", None, None]
    for col in ("tunnel", "bridge", "lit", "covered"):
        assert streets[col].dtype == "boolean"
    conformed = conform(streets, "streets")
    for col in ("tunnel", "bridge", "lit", "covered"):
        assert conformed[col].dtype == "boolean" and conformed[col].tolist() == streets[col].tolist()


def test_osm_text_columns_are_none_not_nan():
    raw = gpd.GeoDataFrame(
        {"osm_type": ["node", "node"], "osm_id": [1, 2],
         "tags": [{"amenity": "cafe", "opening_hours": "Mo-Su 08:00-20:00"}, {"amenity": "cafe"}]},
        geometry=[Point(0, 0), Point(1, 1)], crs=4326)
    pois = osm_layers(raw)["pois"]
    assert pois["opening_hours"].tolist() == ["Mo-Su 08:00-20:00", None]


def test_vector_file_flags_read_and_missing_columns_unknown():
    lines = [LineString([(0, 0), (1, 0)])] * 4
    s = gpd.GeoDataFrame({"tunnel": ["yes", "no", None, "maybe"], "bridge": [1.0, 0.0, np.nan, 1.0],
                          "lit": [True, False, True, False]}, geometry=lines, crs=2154)
    with pytest.warns(UnreadableValueWarning, match=r"tunnel='maybe' \(3\)"):
        out = conform(s, "streets", name="streets.gpkg")
    assert out["tunnel"].tolist() == [True, False, NA, NA]
    assert out["bridge"].tolist() == [True, False, NA, True]
    assert out["lit"].tolist() == [True, False, True, False]
    assert out["covered"].isna().all() and out["covered"].dtype == "boolean"  # absent: unknown, not False
    empty = conform(gpd.GeoDataFrame(geometry=lines[:1], crs=2154), "streets")
    assert empty["tunnel"].isna().all() and empty["tunnel"].dtype == "boolean"


def test_vector_file_access_is_normalised_and_unreadable_reported():
    s = gpd.GeoDataFrame({"access": ["Private", "public", None, "privé"]},
                         geometry=[LineString([(0, 0), (1, 0)])] * 4, crs=2154)
    with pytest.warns(UnreadableValueWarning, match=r"access='privé' \(3\)"):
        out = conform(s, "streets")
    assert out["access"].tolist() == ["private", "yes", None, None]


def test_fetch_cache_round_trip_keeps_unknown_unknown(tmp_path):
    """cpted fetch writes edges_to_streets to a GeoPackage; reading the cache back gives the same flags."""
    from cpted.load.graph import edges_to_streets
    from cpted.load.vector import read_vector

    lines = [LineString([(0, i), (1, i)]) for i in range(3)]
    edges = gpd.GeoDataFrame({"u": [1, 2, 3], "v": [4, 5, 6], "key": [0] * 3, "osmid": [7, 8, 9],
                              "highway": ["footway"] * 3, "tunnel": ["building_passage", None, "no"],
                              "lit": [None, "yes", "no"]}, geometry=lines, crs=4326)
    streets = edges_to_streets(edges)
    streets.to_file(tmp_path / "cache.gpkg", layer="walk_edges", driver="GPKG")
    back = conform(read_vector(tmp_path / "cache.gpkg", layer="walk_edges"), "streets")
    assert back["tunnel"].tolist() == [True, NA, False]
    assert back["lit"].tolist() == [NA, True, False]
    assert back["bridge"].isna().all() and back["covered"].isna().all()


def test_boolean_unknown_is_written_as_null(tmp_path):
    s = gpd.GeoDataFrame({"tunnel": pd.array([True, False, None], dtype="boolean")},
                         geometry=[Point(0, 0)] * 3, crs=2154)
    pyogrio.write_dataframe(s, tmp_path / "a.gpkg", layer="streets")
    with sqlite3.connect(tmp_path / "a.gpkg") as db:
        assert db.execute("select tunnel from streets order by fid").fetchall() == [(1,), (0,), (None,)]
    assert pyogrio.read_info(tmp_path / "a.gpkg")["dtypes"].tolist() == ["bool"]


# ---------------------------------------------------------------- real data: audit.gpkg against pyosmium

# OSM's documented values (wiki pages Key:tunnel, Key:bridge, Key:lit), written here independently
TRUE_VALUES = {
    "tunnel": {"yes", "building_passage", "culvert"},
    "bridge": {"yes", "viaduct", "boardwalk", "movable", "aqueduct", "cantilever", "covered", "trestle",
               "low_water_crossing"},
    "lit": {"yes", "24/7", "automatic", "limited", "interval", "sunset-sunrise"},
}
FALSE_VALUES = {"tunnel": {"no"}, "bridge": {"no"}, "lit": {"no", "disused"}}
SITES = {"le_mans_centre": "france/le_mans_centre.osm.pbf", "lorient_centre": "france/lorient_centre.osm.gz",
         "nantes_graslin": "nantes/nantes_centre_graslin.osm.pbf"}


def _expected(key, value):
    if value is None:
        return None
    if value in TRUE_VALUES[key]:
        return True
    if value in FALSE_VALUES[key]:
        return False
    pytest.fail(f"{key}={value!r} is in the extract: add it to this test's table")
    return None


def _gpkg_value(v):
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return None
    return bool(v)


@pytest.fixture(scope="module", params=sorted(SITES))
def written_streets(request, data, samples, tmp_path_factory):
    import cpted

    site_id = request.param
    spec = cpted.read_sites_file(samples / "france_osm.toml", data_dir=data).site(site_id)
    assert str(spec.layers["osm"][0].path).endswith(SITES[site_id])
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnreadableValueWarning)  # these extracts hold no unreadable value
        site = cpted.load_site(spec)
    result = cpted.audit(site, measures=["access_control"])
    path = cpted.write_audit(result, tmp_path_factory.mktemp(site_id) / "audit.gpkg")
    return site_id, path, pyogrio.read_dataframe(path, layer="streets")


def test_audit_streets_flags_equal_the_osm_tags_of_their_way(written_streets, data):
    site_id, path, streets = written_streets
    tags = {}
    for obj in osmium.FileProcessor(str(data / SITES[site_id]), osmium.osm.WAY):
        tags[obj.id] = {k: obj.tags.get(k) for k in TRUE_VALUES}
    assert len(streets) > 100 and set(streets["osm_type"]) == {"way"}
    for key in TRUE_VALUES:
        got = [_gpkg_value(v) for v in streets[key]]
        want = [_expected(key, tags[int(i)][key]) for i in streets["osm_id"]]
        wrong = [(int(i), g, w) for i, g, w in zip(streets["osm_id"], got, want, strict=True) if g != w]
        assert not wrong, f"{site_id}: {len(wrong)} of {len(streets)} streets have a wrong {key}: {wrong[:5]}"
    # unknown is stored as NULL in the GeoPackage, not as 0
    with sqlite3.connect(path) as db:
        nulls = db.execute("select count(*) from streets where tunnel is null").fetchone()[0]
    assert nulls == sum(tags[int(i)]["tunnel"] is None for i in streets["osm_id"])


# ---------------------------------------------------------------- real data: GraphML against networkx

def test_graphml_flags_equal_the_graphml_edge_attributes(data):
    from cpted.load.graph import read_graphml

    path = data / "nantes/streets/walk_nantes_commune.graphml.bz2"
    streets = read_graphml(path)
    window = streets.cx[-1.5660:-1.5500, 47.2080:47.2180]  # a small bbox: Île de Nantes, west
    with bz2.open(path, "rb") as f:
        graph = nx.read_graphml(f)
    def osmid(text):
        return ",".join(sorted(map(str, eval(text)))) if text.startswith("[") else str(int(text))  # noqa: S307

    truth = {}  # (end nodes, ways, key) -> the values of the edge's two directions
    for u, v, d in graph.edges(data=True):
        for key in ("tunnel", "bridge", "access"):
            truth.setdefault((min(int(u), int(v)), max(int(u), int(v)), osmid(d["osmid"]), key), set()).add(d.get(key))

    def expect(values, key):
        items = set()
        for val in values:
            if val is None:
                continue
            items |= set(eval(val)) if val.startswith("[") else {val}  # noqa: S307 - GraphML list text
        if key == "access":
            return items
        return True if items & TRUE_VALUES[key] else (False if items & FALSE_VALUES[key] else None)

    assert len(window) > 200
    for key in ("tunnel", "bridge"):
        assert window[key].dtype == "boolean"
        got = window[key].astype(object).where(window[key].notna(), None).tolist()
        want = [expect(truth[(min(u, v), max(u, v), w, key)], key)
                for u, v, w in zip(window["u"], window["v"], window["osmid"], strict=True)]
        assert got == want, key
    # over the whole commune too: 100% agreement, not counts
    for key in ("tunnel", "bridge"):
        got = streets[key].astype(object).where(streets[key].notna(), None).tolist()
        want = [expect(truth[(min(u, v), max(u, v), w, key)], key)
                for u, v, w in zip(streets["u"], streets["v"], streets["osmid"], strict=True)]
        assert got == want, key
        assert 0 < sum(g is True for g in got) < len(got) / 10
    access = [a for a in window["access"] if a is not None]
    assert set(access) <= {"yes", "no", "private", "permissive", "designated", "destination", "customers",
                           "delivery", "residents", "psv", "official", "permit", "restricted", "service"}
