"""OSM files: cpted's reader (GDAL) against an independent reader (pyosmium) with the same tag rules."""

from __future__ import annotations

import bz2
import gzip

import osmium
import pytest

from cpted.load.osm import read_osm, read_osm_raw
from cpted.load.osm_tags import is_walkable, parse_hstore, parse_length, poi_category


def _reference_counts(path) -> dict[str, set]:
    """Buildings, entrances and barriers by pyosmium, with cpted's documented tag rules.

    buildings: areas (closed ways, multipolygon relations) tagged building (not "no") whose
    geometry can be assembled; entrances: nodes tagged entrance; barriers: nodes and ways
    tagged barrier.
    """
    found = {"buildings": set(), "entrances": set(), "barriers": set()}
    fp = osmium.FileProcessor(str(path)).with_areas().with_locations()
    for obj in fp:
        tags = obj.tags
        if obj.is_area():
            if tags.get("building", "no") != "no":
                try:
                    obj.outer_rings()
                except RuntimeError:
                    continue
                found["buildings"].add(("way" if obj.from_way() else "relation", obj.orig_id()))
        elif obj.is_node():
            if tags.get("entrance", "no") != "no":
                found["entrances"].add(("node", obj.id))
            if tags.get("barrier", "no") != "no":
                found["barriers"].add(("node", obj.id))
        elif obj.is_way() and tags.get("barrier", "no") != "no":
            found["barriers"].add(("way", obj.id))
    return found


def _ids(gdf) -> set:
    return set(zip(gdf["osm_type"], gdf["osm_id"].astype(int), strict=True))


def test_le_mans_matches_pyosmium(data):
    path = data / "france/le_mans_centre.osm.pbf"
    layers = read_osm(path)
    reference = _reference_counts(path)
    for kind in ("buildings", "entrances", "barriers"):
        assert _ids(layers[kind]) == reference[kind], kind
    # the README of the data gives 489 buildings and 35 entrances for this extract
    assert len(layers["buildings"]) == 489
    assert len(layers["entrances"]) == 35


def test_lorient_gz_and_pbf_give_the_same_layers(data):
    from_gz = read_osm(data / "france/lorient_centre.osm.gz")
    from_pbf = read_osm(data / "france/lorient_centre.osm.pbf")
    assert set(from_gz) == set(from_pbf)
    for kind in from_gz:
        a = from_gz[kind].sort_values(["osm_type", "osm_id"]).reset_index(drop=True)
        b = from_pbf[kind].sort_values(["osm_type", "osm_id"]).reset_index(drop=True)
        assert _ids(a) == _ids(b), kind
        assert a.geometry.geom_equals_exact(b.geometry, tolerance=1e-7).all(), kind
    assert len(from_gz["buildings"]) == 1712
    assert len(from_gz["entrances"]) == 23


@pytest.mark.parametrize("suffix", [".osm", ".osm.bz2"])
def test_plain_and_bz2_xml_read_like_gz(data, tmp_path, suffix):
    xml = gzip.decompress((data / "france/lorient_centre.osm.gz").read_bytes())
    target = tmp_path / f"lorient{suffix}"
    target.write_bytes(bz2.compress(xml) if suffix.endswith("bz2") else xml)
    layers = read_osm(target)
    assert len(layers["buildings"]) == 1712
    assert len(layers["entrances"]) == 23


def test_raw_keeps_every_tag(data):
    raw = read_osm_raw(data / "nantes/nantes_centre_graslin.osm.pbf")
    lamps = raw[raw["tags"].map(lambda t: t.get("highway") == "street_lamp")]
    assert len(lamps) == 23
    assert set(raw["osm_type"]) == {"node", "way", "relation"}


def test_building_heights_from_levels(data):
    b = read_osm(data / "france/lorient_centre.osm.gz")["buildings"]
    assert b["levels"].notna().sum() == 490  # the data README: 490 buildings with building:levels
    levels = b[b["height_source"] == "osm:levels"]
    assert (levels["height_m"] == levels["levels"] * 3.0).all()
    # an OSM height wins over levels: 12 of the 490 carry both
    both = b[b["levels"].notna() & (b["height_source"] == "osm:height")]
    assert len(levels) + len(both) == 490


def test_tag_helpers():
    assert parse_hstore('"a"=>"1","b\\"c"=>"x\\\\y"') == {"a": "1", 'b"c': "x\\y"}
    assert parse_length("15 m") == 15.0
    assert poi_category({"amenity": "police"}) == "security"
    assert not is_walkable({"highway": "footway", "sidewalk": "separate"})
    assert not is_walkable({"highway": "cycleway"})
    assert is_walkable({"highway": "steps"})
