"""Fixtures of the plugin tests: a real QGIS (pytest-qgis), the plugin loaded, and layers of
real data from ../shared/data written as GeoPackages the way a planner would have them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

PLUGIN_ROOT = Path(__file__).resolve().parents[1]  # the folder holding cpted_qgis/
ROOT = PLUGIN_ROOT.parent
DATA = Path(os.environ.get("CPTED_DATA_DIR") or ROOT.parent / "shared" / "data")  # as ../tests/conftest.py
ARTEFACTS = ROOT / "tests" / "artefacts"
sys.path.insert(0, str(PLUGIN_ROOT))
sys.path.append("/usr/share/qgis/python/plugins")  # Processing


def need_data(*parts: str) -> Path:
    path = DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real data {path} is absent (../shared/data)")
    return path


@pytest.fixture(scope="session")
def compiled_translations():
    """The .qm files, compiled from the .ts sources as the zip build does."""
    subprocess.run([sys.executable, str(PLUGIN_ROOT / "scripts" / "build.py"), "translations"], check=True)


@pytest.fixture(scope="session")
def plugin(qgis_processing, qgis_iface, compiled_translations):
    """The plugin, loaded through classFactory as QGIS loads it."""
    from cpted_qgis import classFactory

    loaded = classFactory(qgis_iface)
    loaded.initGui()
    yield loaded
    loaded.unload()


@pytest.fixture(scope="session")
def ile_de_nantes(tmp_path_factory) -> dict[str, str]:
    """A 300 m square of Île de Nantes: BD TOPO buildings (HEIGHT field) and the OSM walk graph
    edges kept in their geographic CRS (the plugin reprojects them to the site's)."""
    import cpted
    import geopandas as gpd
    import shapely

    buildings_path = need_data("nantes", "ile_de_nantes_bdtopo_buildings.geojson")
    graph_path = need_data("nantes", "streets", "walk_nantes_centre_4km.graphml.bz2")
    folder = tmp_path_factory.mktemp("ile_de_nantes")
    site = shapely.box(355400, 6688000, 355700, 6688300)
    area = site.buffer(600)
    gpd.GeoDataFrame({"name": ["Île de Nantes test square"]}, geometry=[site], crs=2154).to_file(
        folder / "site.gpkg", layer="site")
    buildings = gpd.read_file(buildings_path)
    buildings[buildings.intersects(area)].to_file(folder / "buildings.gpkg", layer="buildings")
    streets = cpted.read_graphml(graph_path)
    window = gpd.GeoSeries([area], crs=2154).to_crs(streets.crs).iloc[0]
    streets = streets[streets.intersects(window)].drop(columns=["osmid"])
    streets.to_file(folder / "streets.gpkg", layer="streets")
    waste = gpd.read_file(need_data("nantes", "waste_containers_2016.geojson")).to_crs(2154)
    waste[waste.intersects(area)].assign(category="waste").to_file(folder / "waste.gpkg", layer="waste")
    return {k: str(folder / f"{k}.gpkg") for k in ("site", "buildings", "streets", "waste")}


@pytest.fixture(scope="session")
def le_mans(tmp_path_factory) -> dict[str, str]:
    """Le Mans centre: every layer cpted reads from the OSM extract, as GeoPackages in WGS 84,
    and the site box of sample_sites/france_osm.toml in Lambert-93."""
    import cpted
    import geopandas as gpd
    import shapely

    pbf = need_data("france", "le_mans_centre.osm.pbf")
    folder = tmp_path_factory.mktemp("le_mans")
    gpd.GeoDataFrame({"name": ["Le Mans centre"]}, geometry=[shapely.box(491100, 6771330, 491760, 6771770)],
                     crs=2154).to_file(folder / "site.gpkg", layer="site")
    paths = {"site": str(folder / "site.gpkg")}
    for kind, layer in cpted.read_osm(pbf).items():
        if kind in {"buildings", "streets", "entrances", "barriers", "lamps", "pois", "landuse"} and len(layer):
            keep = [c for c in layer.columns if layer[c].map(lambda v: isinstance(v, (dict, list))).sum() == 0]
            layer = layer[keep]
            if kind == "barriers":  # a GeoPackage layer holds one geometry type: the fences, walls, hedges
                layer = layer[layer.geom_type.isin(["LineString", "MultiLineString"])]
            layer.to_file(folder / f"{kind}.gpkg", layer=kind)
            paths[kind] = str(folder / f"{kind}.gpkg")
    return paths
