"""The documentation: the site builds without warnings, and every column that an audit writes
to ``audit.gpkg`` is documented on a method page or in the data model."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyogrio
import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def test_the_docs_build_without_warnings(tmp_path):
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(ROOT / "mkdocs.yml"),
                           "-d", str(tmp_path / "site")], capture_output=True, text=True, cwd=ROOT, timeout=600,
                          env={**__import__("os").environ, "NO_MKDOCS_2_WARNING": "1"})
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    api = (tmp_path / "site" / "api" / "index.html").read_text(encoding="utf-8")
    assert "Exact isovists of observer points" in api and "Audit one prepared site" in api  # docstrings rendered
    for page in ("methods/surveillance", "methods/scores", "qgis", "python", "cli", "data_sources"):
        assert (tmp_path / "site" / page / "index.html").exists(), page


def documented_names() -> list[re.Pattern]:
    """Every `name` in backticks on the method pages and the data model; `<r>`-style parts are wildcards."""
    text = "\n".join(p.read_text(encoding="utf-8") for p in [*(DOCS / "methods").glob("*.md"), DOCS / "data_model.md"])
    names = set(re.findall(r"`([A-Za-z0-9_<>]+)`", text))
    return [re.compile("^" + re.sub(r"<[a-z]+>", "[A-Za-z0-9_]+", re.escape(n).replace(r"\<", "<").replace(r"\>", ">"))
                       + "$") for n in names]


def test_every_audit_column_is_documented(tmp_path, data):
    """An audit with every layer kind (Le Mans OSM, plus reports, a walk audit and a canopy
    raster), written as audit.gpkg: each of its columns must appear on a documentation page."""
    import geopandas as gpd
    import rasterio
    import shapely
    from affine import Affine

    import cpted

    site = cpted.load_site(cpted.read_sites_file(ROOT / "sample_sites" / "france_osm.toml",
                                                 data_dir=data).site("le_mans_centre"))
    xy = site.grid[["x", "y"]].to_numpy()[:: max(len(site.grid) // 6, 1)][:6]
    reports = gpd.GeoDataFrame({"category": ["graffiti", "bulky_waste", "broken_lamp", "graffiti", "other", "tag"],
                                "date": ["2024-05-01", "2025-01-10", None, "2023-03-02", "2025-06-30", "2025-07-01"]},
                               geometry=shapely.points(xy), crs=site.crs)
    reports.to_file(tmp_path / "reports.gpkg")
    with rasterio.open(tmp_path / "canopy.tif", "w", driver="GTiff", width=200, height=200, count=1, dtype="float32",
                       crs=site.crs.to_wkt(), transform=Affine(5, 0, site.boundary.bounds[0], 0, -5, site.boundary.bounds[3])) as out:
        out.write(np.full((1, 200, 200), 4.0, dtype="float32"))
    with pytest.warns(UserWarning, match="outside the vocabulary"):
        site.layers["reports"] = cpted.read_layer(tmp_path / "reports.gpkg", "reports", date_field="date")[0].to_crs(site.crs)
    site.rasters["canopy"] = cpted.read_raster(tmp_path / "canopy.tif")
    result = cpted.audit(site, isovist_polygons=True)
    path = cpted.write_audit(result, tmp_path / "audit.gpkg")
    patterns = documented_names()
    undocumented = {}
    for layer, _ in pyogrio.list_layers(path):
        if layer == "layer_styles":
            continue
        for column in pyogrio.read_info(path, layer=layer)["fields"]:
            if not any(p.match(column) for p in patterns):
                undocumented.setdefault(column, []).append(layer)
    assert not undocumented, f"document these columns in docs/methods/*.md or docs/data_model.md: {undocumented}"
    assert len(result.layers["cells"].columns) > 60
