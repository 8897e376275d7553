"""Build a cpted site from spatstat.data's ``chicago`` crimes (the CSVs beside this file).

Run ``python tests/data/chicago/chicago_site.py DIR`` to write ``DIR/chicago.toml`` (a sites file),
``DIR/data/chicago.gpkg`` (layers ``boundary`` and ``streets``) and ``DIR/crimes.gpkg`` (the 116 crimes), then
``cpted evaluate DIR/chicago.toml --site chicago --incidents DIR/crimes.gpkg --data-dir DIR/data --out OUT``
(``--data-dir``: else ``../shared/data``, when it exists, is where relative paths resolve).

The source gives feet in a local frame with no georeference. Coordinates are converted to
metres (1 ft = 0.3048 m) and labelled with a local transverse Mercator (scale 1 at its origin,
placed near the University of Chicago, 41.79 N 87.60 W) so that distances and areas in metres are
those of the source; positions on the globe are approximate (hundreds of metres), and nothing
here uses them. The site is the survey window less a 20 m margin: the network's end points on
the window's edge lie in the context ring, so they act as the ways in from the rest of the city
(through-movement); the crimes in that margin are counted as outside the site.
"""

from __future__ import annotations

import sys
from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely

HERE = Path(__file__).parent
FOOT = 0.3048
#: A local metre CRS (see the module docstring).
CRS = "+proj=tmerc +lat_0=41.79 +lon_0=-87.6 +k=1 +x_0=0 +y_0=0 +ellps=WGS84 +units=m +no_defs"
MARGIN = 20.0
CELL_SIZE = 10.0


def layers() -> tuple[shapely.Polygon, gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """The site's boundary, its streets (the linnet's 503 edges) and the 116 crimes (``category``), in metres."""
    v = pd.read_csv(HERE / "vertices.csv") * FOOT
    e = pd.read_csv(HERE / "edges.csv") - 1  # R counts from 1
    w = pd.read_csv(HERE / "window.csv") * FOOT
    xy = v[["x", "y"]].to_numpy()
    lines = shapely.linestrings(list(zip(xy[e["from"]], xy[e["to"]], strict=True)))
    streets = gpd.GeoDataFrame({"highway": ["residential"] * len(e), "walk_kind": ["street"] * len(e)},
                               geometry=lines, crs=CRS)
    c = pd.read_csv(HERE / "crimes.csv")
    crimes = gpd.GeoDataFrame({"category": c["type"]}, geometry=shapely.points(c[["x", "y"]].to_numpy() * FOOT), crs=CRS)
    window = shapely.box(w.xmin[0], w.ymin[0], w.xmax[0], w.ymax[0])
    return window.buffer(-MARGIN, join_style="mitre"), streets, crimes


def write_site(folder: str | Path) -> Path:
    """Write the sites file, its layers and the crimes into ``folder``; returns the sites file."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    boundary, streets, crimes = layers()
    (folder / "data").mkdir(exist_ok=True)  # where the sites file's relative paths resolve
    gpd.GeoDataFrame(geometry=[boundary], crs=CRS).to_file(folder / "data" / "chicago.gpkg", layer="boundary")
    streets.to_file(folder / "data" / "chicago.gpkg", layer="streets")
    crimes.to_file(folder / "crimes.gpkg")
    toml = folder / "chicago.toml"
    toml.write_text(f'''title = "spatstat.data chicago (streets only)"
[[site]]
id = "chicago"
name = "Chicago, near the University of Chicago (spatstat.data)"
boundary = {{ path = "chicago.gpkg", layer = "boundary" }}
crs = "{CRS}"
context = {MARGIN:g}
cell_size = {CELL_SIZE:g}
[site.layers]
streets = {{ path = "chicago.gpkg", layer = "streets", attribution = "spatstat.data (GPL-2+): Chicago Weekly News 2002, digitised by A. Baddeley" }}
''', encoding="utf-8")
    return toml


if __name__ == "__main__":
    print(write_site(sys.argv[1]))
