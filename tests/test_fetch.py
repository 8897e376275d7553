"""`cpted fetch` through osmnx against a local Overpass server answering from a real extract."""

from __future__ import annotations

import os
import subprocess
import sys

import pandas as pd
import pyogrio
import pytest
import shapely

from cpted.load.fetch import read_fetch_cache
from cpted.load.osm import read_osm

SITES = """
title = "fetch test"
[defaults]
crs = "EPSG:2154"
context = 60
[[site]]
id = "graslin"
name = "Graslin"
centre = [-1.5535, 47.2143]
radius = 120
"""


@pytest.fixture(scope="module")
def fetched(data, tmp_path_factory):
    from overpass_server import OverpassServer

    work = tmp_path_factory.mktemp("fetch")
    sites = work / "sites.toml"
    sites.write_text(SITES)
    cache = work / "osm-cache"
    with OverpassServer(str(data / "nantes/nantes_centre_graslin.osm.pbf")) as server:
        run = subprocess.run(
            [sys.executable, "-m", "cpted.cli", "fetch", str(sites), "--cache-dir", str(cache), "--overpass-url", server.url],
            capture_output=True, text=True, timeout=300, cwd=work, env={**os.environ, "CPTED_DATA_DIR": str(data)},
        )
        queries = list(server.queries)
    return run, queries, sites, cache, work


def test_fetch_writes_the_cache(fetched):
    run, queries, _, cache, work = fetched
    assert run.returncode == 0, run.stderr
    assert "graslin:" in run.stdout and "walk edges" in run.stdout
    assert len(queries) == 2  # the walk network, then the features
    assert all("poly:" in q for q in queries)
    assert '["highway"]["area"!~"yes"]' in queries[0]
    layers = {name for name, _ in pyogrio.list_layers(cache / "graslin.gpkg")}
    assert layers == {"walk_edges", "osm_features"}
    assert [p.name for p in cache.iterdir() if p.is_file()] == ["graslin.gpkg"]  # no temp file left
    assert not (work / "cache").exists()  # osmnx's HTTP cache goes under the cache dir, not the cwd


def test_fetched_layers_equal_the_osm_file(fetched, data):
    _, _, _, cache, _ = fetched
    online = read_fetch_cache(cache / "graslin.gpkg")
    offline = read_osm(data / "nantes/nantes_centre_graslin.osm.pbf")
    centre = shapely.Point(-1.5535, 47.2143)
    disc = shapely.buffer(centre, 0.0012)  # well inside the fetched area (~180 m radius)
    for kind in ("buildings", "entrances", "lamps", "trees", "barriers"):
        a = online[kind][online[kind].within(disc)]
        b = offline[kind][offline[kind].within(disc)]
        ids_a = set(zip(a["osm_type"], a["osm_id"].astype(int), strict=True))
        ids_b = set(zip(b["osm_type"], b["osm_id"].astype(int), strict=True))
        assert ids_a == ids_b, kind
        assert len(ids_a) > 0 or kind == "entrances", kind
    # the walk network: the same OSM ways pass the walk filter. (osmnx truncates edges that
    # leave the fetched area, so lengths are compared way by way, not summed.)
    def way_ids(streets):
        return {int(i) for v in streets["osmid"].astype(str) for i in v.split(",")}

    online_ways = way_ids(online["streets"])
    offline_streets = offline["streets"]
    within = set(offline_streets.loc[offline_streets.within(disc), "osm_id"].astype(int))
    meeting = set(offline_streets.loc[offline_streets.intersects(disc), "osm_id"].astype(int))
    assert within and within <= online_ways
    online_inside = way_ids(online["streets"][online["streets"].within(disc)])
    assert online_inside <= meeting


def test_batch_reads_the_cache_offline(fetched):
    _, _, sites, cache, work = fetched
    out = work / "out"
    run = subprocess.run(
        [sys.executable, "-m", "cpted.cli", "batch", str(sites), "--out", str(out), "--cache-dir", str(cache), "--quiet"],
        capture_output=True, text=True, timeout=300, cwd=work,
    )
    assert run.returncode == 0, run.stderr
    s = pd.read_csv(out / "summary.csv").set_index("site_id")
    assert s.loc["graslin", "n_buildings"] > 50
    assert s.loc["graslin", "n_lamps"] > 0
    assert s.loc["graslin", "network_coverage"] > 0.9
    assert 0 < s.loc["graslin", "overseen_share"] <= 1  # fetched buildings fill surveillance
    assert "© OpenStreetMap contributors" in s.loc["graslin", "attribution"]
