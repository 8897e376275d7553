"""Where an OSM extract holds data, and the places beyond it.

The header's bounding box is read by cpted (its own PBF / XML header reader) and checked against
pyosmium, an independent reader; the audit is checked on Le Mans, whose site reaches beyond its
extract: there nothing is known of the ground, so none of it is scored.
"""

from __future__ import annotations

import bz2
import gzip

import geopandas as gpd
import numpy as np
import osmium
import pytest
import shapely

from cpted.load.osm import osm_extent
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
        reference = _pyosmium_box(path)
        if reference is None:
            assert boxes[path.name] is None, path
        else:
            assert boxes[path.name] == pytest.approx(reference, abs=1e-9), path
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


def test_two_xml_bounds_give_the_box_holding_both(tmp_path):
    """JOSM writes one <bounds> per area downloaded (pyosmium reads the first only)."""
    path = tmp_path / "josm.osm"
    path.write_text("<?xml version='1.0' encoding='UTF-8'?>\n<osm version='0.6' generator='JOSM'>\n"
                    "  <bounds minlat='47.2' minlon='-1.6' maxlat='47.25' maxlon='-1.5' origin='OSM'/>\n"
                    "  <bounds minlat='47.3' minlon='-1.4' maxlat='47.31' maxlon='-1.39' origin='OSM'/>\n"
                    "  <node id='1' lat='47.21' lon='-1.55'/>\n</osm>\n")
    assert osm_header_bounds(path) == (-1.6, 47.2, -1.39, 47.31)


def test_without_a_header_box_no_extent_is_assumed(data):
    """lorient_centre.osm.pbf declares no box; the box of its features is no substitute (ways
    reach kilometres beyond the cut: 8.7 x 13.6 km for a 1.5 x 1.4 km extract), so its buildings
    are trusted, as any layer without an extent."""
    assert osm_extent(data / "france/lorient_centre.osm.pbf") == {}
    assert osm_extent(data / "france/lorient_centre.osm.gz") == {"osm_bounds": [-3.3654, 47.743, -3.3454, 47.7554]}


def _le_mans(samples, tmp_path=None, options: str = ""):
    from cpted.load.sites_file import read_sites_file

    spec = next(s for s in read_sites_file(samples / "france_osm.toml").sites if s.id == "le_mans_centre")
    if not options:
        return spec
    sites = tmp_path / "s.toml"
    sites.write_text(f'[[site]]\nid = "le_mans_centre"\nbbox = {list(spec.bbox)}\ncrs = "EPSG:2154"\ncell_size = 10\n'
                     f'[site.layers]\nosm = {{ path = "{spec.layers["osm"][0].path}"{options} }}\n')
    return read_sites_file(sites).sites[0]


def test_an_extent_declared_on_the_osm_file_wins_over_its_header(samples, tmp_path):
    """A declared extent is where every layer of the file is complete: beyond it the ground is
    unknown (out of the grid), inside it the buildings are complete (the extent vouches)."""
    from shapely import box

    from cpted.prepare.coverage import building_coverage
    from cpted.prepare.sources import load_site

    gpd.GeoDataFrame(geometry=[box(491100, 6771330, 491300, 6771770)], crs=2154).to_file(tmp_path / "surveyed.gpkg")
    site = load_site(_le_mans(samples, tmp_path, f', extent = "{tmp_path / "surveyed.gpkg"}"'))
    for kind in ("buildings", "streets"):
        assert site.sources[kind][0]["extent_source"] == str(tmp_path / "surveyed.gpkg")
    inside = (site.cells["x"] < 491300).to_numpy()
    # beyond it, only ground known otherwise (a building mapped there all the same) is not beyond_data
    assert set(site.cells.loc[~inside, "reason"]) <= {"beyond_data", "private", "water"}
    assert (site.cells.loc[~inside, "reason"] == "beyond_data").mean() > 0.5
    assert not (site.cells.loc[inside, "reason"] == "beyond_data").any()
    assert (site.grid["x"] < 491300).all() and len(site.grid) > 500
    assert building_coverage(site)["buildings_complete"].all()


def _le_mans_box(path, crs):
    west, south, east, north = _pyosmium_box(path)
    return gpd.GeoSeries([shapely.box(west, south, east, north).segmentize(1e-4)], crs=4326).to_crs(crs).iloc[0]


def test_le_mans_ground_beyond_the_extract_is_not_scored(samples):
    """The Le Mans site reaches ~60 m east and ~25 m south of its extract's box (as pyosmium reads
    it). Nothing is known of the ground there, neither its buildings nor its streets, POIs or lamps:
    its cells are left out of the grid (``beyond_data``) and counted in ``excluded_beyond_data_ha``,
    so no value of any measure and no site mean comes from there; inside, the places keep their values."""
    from cpted.pipeline import audit
    from cpted.prepare.sources import load_site

    spec = _le_mans(samples)
    site = load_site(spec)
    box = _le_mans_box(spec.layers["osm"][0].path, site.crs)
    every = site.cells
    x, y = every["x"].to_numpy(), every["y"].to_numpy()
    outside = ~shapely.contains_xy(box, x, y)
    # a margin of one cell either side of the box's edge: a cell centre on it may go either way
    near_edge = shapely.distance(box.boundary, shapely.points(x, y)) < 5
    assert 0.1 < outside.mean() < 0.3
    beyond = (every["reason"] == "beyond_data").to_numpy()
    # beyond the box: unknown ground, or a building whose way crosses the box's edge (whole in the extract)
    assert set(every.loc[outside & ~near_edge, "reason"]) <= {"beyond_data", "private", "water"}
    assert beyond[outside & ~near_edge].mean() > 0.8  # 87 %
    assert not beyond[~outside & ~near_edge].any()
    result = audit(site, measures=["surveillance", "territoriality", "activity", "access_control"])
    cells = result.layers["cells"]
    assert shapely.contains_xy(box.buffer(5), cells["x"].to_numpy(), cells["y"].to_numpy()).all()
    assert result.summary["excluded_beyond_data_ha"] == pytest.approx(beyond.sum() * 25 / 1e4)
    assert "beyond the extent of the streets source (le_mans_centre.osm.pbf" in result.summary["notes"]
    assert cells["buildings_complete"].all()
    for column in ("eyes_43", "isovist_area", "connectivity", "ambiguous", "mix_d1_800"):
        assert cells[column].notna().all(), column


def test_an_extract_box_does_not_vouch_for_its_buildings():
    """Rule 4 (docs/methods/completeness.md): where a reference grid finds the layer partial, a
    place no reference cell holds is complete only near a loaded building. A declared extent
    vouches for the places inside it; an extract's header box only says where the extract reaches."""
    from shapely import box

    from cpted.prepare.coverage import building_coverage, read_extent
    from cpted.prepare.site import Site

    osm = {"source": "d/a.osm.pbf", "osm_bounds": [-1.56, 47.2, -1.557, 47.202]}
    read_extent(osm, 2154)
    x0, y0, x1, y1 = osm["extent"].bounds
    site_box = box(x0 + 20, y0 + 20, x0 + 220, y0 + 120)
    declared = {"source": "b.gpkg", "extent": site_box.buffer(30)}
    # the reference grid holds the west half only, and finds its east cell missing its buildings
    ref = gpd.GeoDataFrame({"n_buildings": [2, 2]}, geometry=[box(x0 + 20, y0 + 20, x0 + 70, y0 + 120),
                                                             box(x0 + 70, y0 + 20, x0 + 120, y0 + 120)], crs=2154)
    b = gpd.GeoDataFrame(geometry=[box(x0 + 30, y0 + 30, x0 + 40, y0 + 40), box(x0 + 50, y0 + 90, x0 + 60, y0 + 100)],
                         crs=2154)
    out = {}
    for name, facts in (("osm", osm), ("declared", declared)):
        site = Site.from_layers("s", site_box, crs=2154, layers={"buildings": b}, reference_buildings=ref,
                                cell_size=10, context=20, sources={"buildings": [facts]})
        out[name] = building_coverage(site).assign(x=site.grid["x"])
    far = out["osm"]["x"] > x0 + 170  # no reference cell, > 50 m from every building
    assert far.any()
    assert not out["osm"].loc[far, "buildings_complete"].any()
    assert out["osm"].loc[far, "coverage_reason"].str.startswith("no reference count here").all()
    assert out["declared"].loc[far, "buildings_complete"].all()


def test_a_streets_extent_bounds_the_grid_and_the_site_values():
    """A worked scene: a 200 x 100 m site whose streets source holds data west of x = 120 only.
    The 80 x 100 m beyond it leave the grid (0.8 ha beyond_data); the site values per hectare
    and per km² are over the 1.2 ha known; without the extent, nothing changes."""
    from shapely import LineString, Point, box

    from cpted.pipeline import audit
    from cpted.prepare.site import Site

    # a crossing; its east arm ends at x = 180, in the site but beyond the data (an extract cut it there)
    arms = [LineString([(60, 50), end]) for end in ((-100, 50), (180, 50), (60, -50), (60, 150))]
    streets = gpd.GeoDataFrame({"walk_kind": ["street"] * 4, "highway": ["residential"] * 4}, geometry=arms, crs=2154)
    pois = gpd.GeoDataFrame({"category": ["waste", "waste"]}, geometry=[Point(30, 40), Point(170, 40)], crs=2154)
    layers = {"streets": streets, "pois": pois}
    sites = {name: Site.from_layers("s", box(0, 0, 200, 100), crs=2154, layers=layers, cell_size=10, context=50,
                                    sources={"streets": [{"source": "x", "extent": box(-500, -500, 120, 500),
                                                          "extent_source": "surveyed.gpkg"}]} if name == "extent" else None)
             for name in ("extent", "none")}
    site = sites["extent"]
    assert site.known_area.equals(box(0, 0, 120, 100))
    beyond = (site.cells["reason"] == "beyond_data").to_numpy()
    assert beyond.sum() == 8 * 10 and (site.cells.loc[beyond, "x"] > 120).all()
    assert set(site.grid["cell_id"]) < set(sites["none"].grid["cell_id"])  # an extent never adds a place
    assert site.exclusion_summary["excluded_beyond_data_ha"] == pytest.approx(0.8)
    assert "0.80 ha of the site lie beyond the extent of the streets source (surveyed.gpkg)" in site.exclusion_summary[
        "grid_notes"]
    assert np.isnan(sites["none"].exclusion_summary["excluded_beyond_data_ha"])  # no extent: unknown, not 0
    s = {name: audit(x, measures=["maintenance", "access_control"]).summary for name, x in sites.items()}
    assert s["extent"]["waste_points_per_ha"] == pytest.approx(1 / 1.2)  # the one at x = 30, over 1.2 ha
    assert s["none"]["waste_points_per_ha"] == pytest.approx(2 / 2.0)
    assert s["extent"]["intersection_density"] == pytest.approx(1 / 0.012)  # the crossing at (60, 50)
    assert s["none"]["intersection_density"] == pytest.approx(1 / 0.02)
    # the edge beyond the data (80 m top, 100 m right, 80 m bottom) may hold entries no one knows of
    assert np.isnan(s["extent"]["n_entry_points"]) and s["none"]["n_entry_points"] == 3
    r = audit(site, measures=["access_control"])
    assert "entry points: 260 m of the site's edge lie beyond the extent of the streets source" in r.summary["notes"]
    # the east arm runs beyond the data: not known as a dead end (without the extent it is one)
    assert (r.layers["segments"]["escape_routes"] == 2).all()
    plain = audit(sites["none"], measures=["access_control"]).layers["segments"]
    assert (plain.loc[plain.geometry.bounds["maxx"] == 180, "escape_routes"] == 1).all()


def test_a_site_wholly_beyond_its_data_has_no_score_and_no_zeros():
    """Nothing of the site is known (its streets' extent lies elsewhere): no place, no score, and
    the site values per hectare are NaN, not a division by zero (it raised) nor 0."""
    import warnings

    from shapely import LineString, Point, box

    from cpted.pipeline import audit
    from cpted.prepare.site import Site

    streets = gpd.GeoDataFrame({"walk_kind": ["street"] * 2}, geometry=[LineString([(60, 50), (-100, 50)]),
                                                                      LineString([(60, 50), (180, 50)])], crs=2154)
    pois = gpd.GeoDataFrame({"category": ["waste"]}, geometry=[Point(30, 40)], crs=2154)
    landuse = gpd.GeoDataFrame({"category": ["brownfield"], "derelict": [True]}, geometry=[box(0, 0, 10, 10)], crs=2154)
    site = Site.from_layers("s", box(0, 0, 200, 100), crs=2154, cell_size=10, context=50,
                            layers={"streets": streets, "pois": pois, "landuse": landuse},
                            sources={"streets": [{"extent": box(500, 500, 600, 600), "extent_source": "far.gpkg"}]})
    assert site.grid.empty and site.known_area.is_empty
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # means of no cell
        s = audit(site).summary
    assert s["status"] == "no_score"
    assert s["excluded_beyond_data_ha"] == pytest.approx(2.0)
    for key in ("waste_points_per_ha", "derelict_land_share", "intersection_density", "n_entry_points"):
        assert np.isnan(s[key]), key
