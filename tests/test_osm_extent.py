"""Where an OSM extract holds data, and the places beyond it.

The header's bounding box is read by cpted (its own PBF / XML header reader) and checked against
pyosmium, an independent reader; the audit is checked on Le Mans, whose site reaches beyond its
extract: there nothing is known of the buildings, so nothing that depends on them is a value.
"""

from __future__ import annotations

import bz2
import gzip

import geopandas as gpd
import numpy as np
import osmium
import pytest
import shapely

from cpted.load.osm import osm_extent, read_osm_raw
from cpted.load.osm_header import osm_header_bounds


def _pyosmium_box(path) -> tuple[float, float, float, float] | None:
    box = osmium.io.Reader(str(path), osmium.osm.osm_entity_bits.NOTHING).header().box()
    if not box.valid():
        return None
    return (box.bottom_left.lon, box.bottom_left.lat, box.top_right.lon, box.top_right.lat)


def test_header_boxes_of_the_real_extracts_match_pyosmium(data):
    paths = sorted(p for p in data.rglob("*") if p.name.endswith((".osm.pbf", ".osm.gz", ".osm")))
    assert len(paths) >= 4
    boxes = {p.name: osm_header_bounds(p) for p in paths}
    for path in paths:
        assert boxes[path.name] == pytest.approx(_pyosmium_box(path), abs=1e-9) if _pyosmium_box(path) else \
            boxes[path.name] is None, path
    assert boxes["lorient_centre.osm.pbf"] is None  # an extract whose header declares no box
    assert boxes["le_mans_centre.osm.pbf"] is not None


@pytest.mark.parametrize("west", [-73.5, 0.125, 179.0])
def test_a_pbf_header_written_by_pyosmium_is_read_back(tmp_path, west):
    """Negative and positive coordinates (zig-zag encoded nanodegrees in the PBF header)."""
    header = osmium.io.Header()
    header.add_box(osmium.osm.Box(osmium.osm.Location(west, -45.25), osmium.osm.Location(west + 0.75, -44.0)))
    path = tmp_path / "x.osm.pbf"
    writer = osmium.SimpleWriter(str(path), 0, header)
    writer.add_node(osmium.osm.mutable.Node(id=1, location=(west + 0.5, -44.5), tags={"amenity": "bench"}))
    writer.close()
    assert osm_header_bounds(path) == pytest.approx((west, -45.25, west + 0.75, -44.0), abs=1e-9)
    assert osm_header_bounds(path) == pytest.approx(_pyosmium_box(path), abs=1e-9)


@pytest.mark.parametrize("suffix", [".osm", ".osm.gz", ".osm.bz2"])
def test_xml_bounds_are_read_from_every_compression(tmp_path, suffix):
    text = ("<?xml version='1.0' encoding='UTF-8'?>\n<osm version=\"0.6\" generator=\"hand\">\n"
            " <bounds minlat=\"47.2\" minlon=\"-1.6\" maxlat=\"47.25\" maxlon=\"-1.5\"/>\n"
            " <node id=\"1\" lat=\"47.21\" lon=\"-1.55\"><tag k=\"amenity\" v=\"bench\"/></node>\n</osm>\n").encode()
    path = tmp_path / f"x{suffix}"
    path.write_bytes({".osm": lambda b: b, ".osm.gz": gzip.compress, ".osm.bz2": bz2.compress}[suffix](text))
    assert osm_header_bounds(path) == (-1.6, 47.2, -1.5, 47.25) == _pyosmium_box(path)
    no_bounds = tmp_path / "n.osm"
    no_bounds.write_bytes(text.replace(b' <bounds minlat="47.2" minlon="-1.6" maxlat="47.25" maxlon="-1.5"/>\n', b""))
    assert osm_header_bounds(no_bounds) is None and _pyosmium_box(no_bounds) is None
    garbage = tmp_path / "g.osm.pbf"
    garbage.write_bytes(b"\x00\x00\x00\x05hello")
    assert osm_header_bounds(garbage) is None  # not OSM data: the reader says so, not this
    no_size = tmp_path / "s.osm.pbf"  # a blob header without its blob's size
    no_size.write_bytes(b"\x00\x00\x00\x0b\x0a\x09OSMHeader")
    assert osm_header_bounds(no_size) is None
    huge = tmp_path / "h.osm.pbf"  # a first size beyond the format's limit: not read into memory
    huge.write_bytes(b"\xff\xff\xff\xff" + b"\x00" * 16)
    assert osm_header_bounds(huge) is None


def test_without_a_header_box_the_extent_is_that_of_the_data(data):
    """lorient_centre.osm.pbf declares no box: its extent is the box of its features, which holds
    every building node pyosmium reads and lies within the box of all its nodes."""
    path = data / "france/lorient_centre.osm.pbf"
    facts = osm_extent(path, read_osm_raw(path))
    assert facts["osm_bounds_from"] == "data"
    west, south, east, north = facts["osm_bounds"]
    lons, lats, building_nodes = [], [], []
    for obj in osmium.FileProcessor(str(path)).with_locations():
        if obj.is_node():
            lons.append(obj.location.lon)
            lats.append(obj.location.lat)
        elif obj.is_way() and obj.tags.get("building", "no") != "no":
            building_nodes += [(n.lon, n.lat) for n in obj.nodes if n.location.valid()]
    assert min(lons) - 1e-7 <= west < east <= max(lons) + 1e-7 and min(lats) - 1e-7 <= south < north <= max(lats) + 1e-7
    b = np.array(building_nodes)
    assert len(b) > 1000
    assert (b[:, 0] >= west - 1e-7).all() and (b[:, 0] <= east + 1e-7).all()
    assert (b[:, 1] >= south - 1e-7).all() and (b[:, 1] <= north + 1e-7).all()


def test_le_mans_places_beyond_the_extract_have_no_building_values(samples):
    """The Le Mans site reaches ~60 m east and ~25 m south of its extract's box. There the
    building measures are NaN with the reason; inside, nothing changes (complete, with values)."""
    from cpted.load.sites_file import read_sites_file
    from cpted.pipeline import audit
    from cpted.prepare.sources import load_site

    spec = next(s for s in read_sites_file(samples / "france_osm.toml").sites if s.id == "le_mans_centre")
    path = spec.layers["osm"][0].path
    cells = audit(load_site(spec), measures=["surveillance", "territoriality"]).layers["cells"]
    west, south, east, north = _pyosmium_box(path)
    box = gpd.GeoSeries([shapely.box(west, south, east, north).segmentize(1e-4)], crs=4326).to_crs(cells.crs).iloc[0]
    x, y = cells["x"].to_numpy(), cells["y"].to_numpy()
    outside = ~shapely.contains_xy(box, x, y)
    # a margin of one cell either side of the box's edge: a cell centre on it may go either way
    near_edge = shapely.distance(box.boundary, shapely.points(x, y)) < 5
    assert 0.1 < outside.mean() < 0.3
    assert not cells.loc[outside & ~near_edge, "buildings_complete"].any()
    assert cells.loc[~outside & ~near_edge, "buildings_complete"].all()
    for column in ("eyes_43", "isovist_area", "connectivity", "ambiguous"):
        assert cells.loc[outside & ~near_edge, column].isna().all(), column
        assert cells.loc[~outside & ~near_edge, column].notna().all(), column
    reasons = set(cells.loc[outside & ~near_edge, "coverage_reason"])
    assert reasons == {"outside the extent of the buildings layer, nothing is known of its buildings there "
                       "(le_mans_centre.osm.pbf: the bounding box its header declares)"}
    assert not cells.loc[outside & ~near_edge, "score_surveillance"].notna().any()
