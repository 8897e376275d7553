"""The parsed-source cache (cpted.load.cache): a source parsed once per machine, then read by
bounding box; invalidated when the source changes; safe with concurrent writers; a corrupt entry
rebuilt, never used.

References are independent of the cache: pyogrio reading the file and shapely clipping it,
networkx reading the GraphML, osmium reading the OSM node locations.
"""

from __future__ import annotations

import json
import multiprocessing
import shutil
import warnings
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely

from cpted.cli import main
from cpted.load.cache import CacheWarning, cache_entries, read_entry, sources_dir
from cpted.load.sites_file import LayerSpec, read_sites_file
from cpted.pipeline import batch
from cpted.prepare.sources import SourceCache

L93 = "EPSG:2154"


def _waste(path: Path) -> LayerSpec:
    return LayerSpec(path=path, options={"category": "waste"})


def _entries(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.parquet"))


def _meeting(gdf: gpd.GeoDataFrame, area) -> gpd.GeoDataFrame:
    """The features of ``gdf`` meeting ``area`` (site CRS), as the site's clip keeps them."""
    local = gpd.GeoSeries([area], crs=L93).to_crs(gdf.crs).iloc[0]
    return gdf[gdf.intersects(local)]


# -- bbox read: the features of a full read and clip, from independent readers ------------------

@pytest.mark.parametrize("centre", [(355500, 6689300), (352500, 6690500), (358000, 6686000)])
def test_bbox_read_is_pyogrio_full_read_clipped(data, tmp_path, centre):
    path = data / "nantes/equipements_2014.gpkg"
    area = shapely.Point(centre).buffer(900)
    cache = SourceCache(tmp_path)
    cache.layer(LayerSpec(path=path), "pois")  # parse and write the entry
    got, info = SourceCache(tmp_path).layer(LayerSpec(path=path), "pois", area=(area, L93))
    ref = pyogrio.read_dataframe(path)  # the file read directly, whole, then clipped
    ref = ref[ref.intersects(gpd.GeoSeries([area], crs=L93).to_crs(ref.crs).iloc[0])]
    near = _meeting(got, area)
    assert 0 < len(near) == len(ref)
    assert sorted(shapely.to_wkb(near.geometry.values)) == sorted(shapely.to_wkb(ref.geometry.values))
    assert info["file_features"] == len(pyogrio.read_dataframe(path, read_geometry=False))
    assert len(got) < info["file_features"] / 4  # a part of the file, not all of it


def test_bbox_read_touches_few_row_groups_and_equals_the_full_entry(data, tmp_path, monkeypatch):
    monkeypatch.setattr("cpted.load.cache.ROW_GROUP_SIZE", 64)  # ~25 row groups for this file
    path = data / "nantes/waste_containers_2016.geojson"
    SourceCache(tmp_path).layer(_waste(path), "pois")
    [entry] = _entries(tmp_path)
    full, meta = read_entry(entry)
    rng = np.random.default_rng(3)
    xmin, ymin, xmax, ymax = full.to_crs(L93).total_bounds
    for _ in range(6):
        x, y = rng.uniform(xmin, xmax), rng.uniform(ymin, ymax)
        area = shapely.box(x, y, x + 1500, y + 1000)
        local = gpd.GeoSeries([area], crs=L93).to_crs(full.crs).iloc[0]
        part, pmeta = read_entry(entry, box=local.bounds)
        expected = full[full.intersects(local)]
        pd.testing.assert_frame_equal(pd.DataFrame(part[part.intersects(local)]), pd.DataFrame(expected))
        assert pmeta["row_groups_read"] <= pmeta["row_groups"] // 2
    assert meta["row_groups"] >= 16


def test_bbox_read_of_graphml_against_networkx(tmp_path):
    import osmnx as ox

    g = nx.MultiDiGraph(crs="EPSG:4326")
    lon0, lat0, step = -1.56, 47.21, 0.0009  # a 20 x 20 grid of streets, ~70 m apart
    ids = {}
    for i in range(20):
        for j in range(20):
            ids[i, j] = 1000 + i * 20 + j
            g.add_node(ids[i, j], x=lon0 + i * step, y=lat0 + j * step * 0.7)
    way = 1
    for i in range(20):
        for j in range(20):
            for di, dj in ((1, 0), (0, 1)):
                if i + di < 20 and j + dj < 20:
                    a, b = ids[i, j], ids[i + di, j + dj]
                    for u, v in ((a, b), (b, a)):
                        g.add_edge(u, v, osmid=way, highway="residential", length=70.0, oneway=False, reversed=u > v)
                    way += 1
    path = tmp_path / "grid.graphml"
    ox.save_graphml(g, path)
    area = gpd.GeoSeries([shapely.Point(-1.552, 47.214)], crs=4326).to_crs(L93).iloc[0].buffer(250)
    SourceCache(tmp_path / "c").layer(LayerSpec(path=path), "streets")
    got, _ = SourceCache(tmp_path / "c").layer(LayerSpec(path=path), "streets", area=(area, L93))
    ref = nx.read_graphml(path)  # the file read directly: straight edges between the nodes
    local = gpd.GeoSeries([area], crs=L93).to_crs(4326).iloc[0]
    pairs = set()
    for u, v in ref.edges():
        line = shapely.LineString([(float(ref.nodes[n]["x"]), float(ref.nodes[n]["y"])) for n in (u, v)])
        if line.intersects(local):
            pairs.add((min(int(u), int(v)), max(int(u), int(v))))
    near = _meeting(got, area)
    assert 10 < len(pairs) == len(near) < len(got) + 1
    assert {(min(u, v), max(u, v)) for u, v in zip(near["u"], near["v"], strict=True)} == pairs


def test_bbox_read_of_osm_against_osmium(data, tmp_path):
    import osmium

    path = data / "france/le_mans_centre.osm.pbf"
    area = shapely.box(491100, 6771330, 491760, 6771770).buffer(100)
    spec = LayerSpec(path=path)
    locations = {}
    for obj in osmium.FileProcessor(str(path), osmium.osm.NODE):
        if obj.location.valid():
            locations[obj.id] = (obj.location.lon, obj.location.lat)
    SourceCache(tmp_path).osm(spec, "lamps")  # every kind parsed once
    whole = SourceCache()  # no cache: the full read
    checked = 0
    for kind in ("lamps", "entrances", "trees", "buildings", "streets"):
        got, _ = SourceCache(tmp_path).osm(spec, kind, area=(area, L93))
        full, _ = whole.osm(spec, kind)
        near, ref = _meeting(got, area), _meeting(full, area)
        pd.testing.assert_frame_equal(pd.DataFrame(near), pd.DataFrame(ref))
        nodes = near[near["osm_type"] == "node"]
        for oid, geom in zip(nodes["osm_id"], nodes.geometry, strict=True):  # the coordinates osmium reads
            assert (geom.x, geom.y) == pytest.approx(locations[oid], abs=1e-7)
            checked += 1
    assert checked > 5


# -- invalidation, concurrency, corruption -------------------------------------------------------

def test_changed_source_invalidates_its_entry(data, tmp_path):
    src = tmp_path / "waste.geojson"
    shutil.copy(data / "nantes/waste_containers_2016.geojson", src)
    folder = tmp_path / "cache"
    first, _ = SourceCache(folder).layer(_waste(src), "pois")
    [old] = _entries(folder)
    doc = json.loads(src.read_text())
    doc["features"][0]["geometry"]["coordinates"] = [-1.5, 47.25]  # one container moved
    src.write_text(json.dumps(doc))
    second, _ = SourceCache(folder).layer(_waste(src), "pois")
    [new] = _entries(folder)
    assert new != old and not old.exists()
    assert len(first) == len(second)
    moved = second.geometry.iloc[0]
    assert (moved.x, moved.y) == pytest.approx((-1.5, 47.25))
    assert first.geometry.iloc[0] != moved


def _write_entry(args):
    folder, path, barrier = args
    barrier.wait()
    gdf, _ = SourceCache(folder).layer(_waste(Path(path)), "pois")
    return len(gdf)


def test_concurrent_writers_leave_one_valid_entry(data, tmp_path):
    path = data / "nantes/waste_containers_2016.geojson"
    ctx = multiprocessing.get_context("spawn")
    with ctx.Manager() as manager:
        barrier = manager.Barrier(4)
        with ctx.Pool(4) as pool:
            counts = pool.map(_write_entry, [(tmp_path, str(path), barrier)] * 4)
    assert len(set(counts)) == 1
    assert len(_entries(tmp_path)) == 1, list(tmp_path.iterdir())
    assert not list(tmp_path.glob(".tmp-*"))
    gdf, meta = read_entry(_entries(tmp_path)[0])
    assert len(gdf) == counts[0] == meta["rows"]


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_corrupt_entry_is_rebuilt_with_a_warning(data, tmp_path, damage):
    path = data / "nantes/waste_containers_2016.geojson"
    reference, _ = SourceCache(tmp_path).layer(_waste(path), "pois")
    [entry] = _entries(tmp_path)
    raw = entry.read_bytes()
    if damage == "truncate":
        entry.write_bytes(raw[: len(raw) // 2])
    else:  # one byte of a data page changed: its CRC no longer matches
        entry.write_bytes(raw[:200] + bytes([raw[200] ^ 0xFF]) + raw[201:])
    with pytest.warns(CacheWarning, match="corrupt"):
        again, _ = SourceCache(tmp_path).layer(_waste(path), "pois")
    pd.testing.assert_frame_equal(pd.DataFrame(again), pd.DataFrame(reference))
    [rebuilt] = _entries(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheWarning)
        third, _ = SourceCache(tmp_path).layer(_waste(path), "pois")
    pd.testing.assert_frame_equal(pd.DataFrame(third), pd.DataFrame(reference))
    assert read_entry(rebuilt)[1]["rows"] == len(reference)


def test_cli_cache_info_and_clear(data, tmp_path, capsys):
    folder = sources_dir(tmp_path)
    SourceCache(folder).layer(_waste(data / "nantes/waste_containers_2016.geojson"), "pois")
    assert main(["cache", "info", "--cache-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "1 entries" in out and "waste_containers_2016.geojson" in out
    assert main(["cache", "clear", "--cache-dir", str(tmp_path)]) == 0
    assert "1 files removed" in capsys.readouterr().out
    assert not _entries(folder)
    assert main(["cache", "info"]) == 0  # $CPTED_CACHE_DIR (the test's own, see conftest.py)
    assert "0 entries" in capsys.readouterr().out
    assert cache_entries(folder) == []


# -- the answer: outputs identical with and without the cache; an edited source changes them ---

_SITES = """title = "cache test"
[defaults]
crs = "EPSG:2154"
context = 150
cell_size = 20
[[site]]
id = "graslin"
bbox = [355290, 6689150, 355750, 6689410]
approximate = false
[site.layers]
osm = "{osm}"
[[site]]
id = "reze"
bbox = [354700, 6685700, 355200, 6686100]
approximate = false
[site.layers]
buildings = {{ path = "{buildings}" }}
"""


def _read_outputs(out: Path, site: str) -> dict[str, gpd.GeoDataFrame]:
    return {layer: gpd.read_file(out / site / "audit.gpkg", layer=layer)
            for layer in pyogrio.list_layers(out / site / "audit.gpkg")[:, 0]}


def test_outputs_identical_with_and_without_the_cache(data, tmp_path):
    buildings = tmp_path / "reze.geojson"
    shutil.copy(data / "nantes/reze_chateau_bdtopo_buildings_partial.geojson", buildings)
    toml = tmp_path / "sites.toml"
    toml.write_text(_SITES.format(osm=data / "nantes/nantes_centre_graslin.osm.pbf", buildings=buildings))
    sites = read_sites_file(toml, data_dir=data)
    folder = tmp_path / "cache"
    runs = {name: batch(sites, tmp_path / name, source_cache=cache)
            for name, cache in (("none", False), ("cold", folder), ("warm", folder))}
    timing = ["seconds", "read_seconds", "prepare_seconds", "peak_memory_mb"]
    base = runs["none"].summary.drop(columns=timing)
    assert (base["status"] != "failed").all(), base["error"].tolist()
    for name in ("cold", "warm"):
        other = runs[name].summary.drop(columns=timing)
        pd.testing.assert_frame_equal(other, base, check_exact=False, rtol=1e-12, atol=1e-12)
        for site in ("graslin", "reze"):
            mine, ref = _read_outputs(tmp_path / name, site), _read_outputs(tmp_path / "none", site)
            assert mine.keys() == ref.keys()
            for layer in set(ref) - {"layer_styles"}:  # the QGIS styles table holds its write time
                pd.testing.assert_frame_equal(pd.DataFrame(mine[layer]), pd.DataFrame(ref[layer]), check_exact=False,
                                              rtol=1e-12, atol=1e-12, obj=f"{site}/{layer}")
    assert len(_entries(folder)) >= 2
    # one building of the site removed from the source: its entry is rebuilt and the audit counts one fewer
    doc = json.loads(buildings.read_text())
    site_box = shapely.box(354700, 6685700, 355200, 6686100)
    shapes = gpd.GeoSeries([shapely.geometry.shape(f["geometry"]) for f in doc["features"]], crs=4326).to_crs(L93)
    inside = np.flatnonzero(shapes.within(site_box))
    assert len(inside)
    del doc["features"][int(inside[0])]
    buildings.write_text(json.dumps(doc))
    edited = batch(sites, tmp_path / "edited", site_ids=["reze"], source_cache=folder).summary
    before = runs["warm"].summary.set_index("site_id").loc["reze", "n_buildings"]
    assert edited["n_buildings"].iloc[0] == before - 1


def test_a_cache_folder_that_cannot_be_written_never_fails_a_read(data, tmp_path, caplog):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    path = data / "nantes/waste_containers_2016.geojson"
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheWarning)
        got, _ = SourceCache(blocker / "sources").layer(_waste(path), "pois")
    ref, _ = SourceCache().layer(_waste(path), "pois")
    pd.testing.assert_frame_equal(pd.DataFrame(got), pd.DataFrame(ref))
    assert "not cached" in caplog.text and "corrupt" not in caplog.text
