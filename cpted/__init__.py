"""cpted: audit public spaces by the four principles of Crime Prevention Through Environmental Design.

The public API is imported lazily, so ``import cpted`` stays light (for the QGIS plugin).

Examples
--------
>>> import cpted
>>> cpted.__version__
'0.1.0'
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_API = {
    "Site": "cpted.prepare.site",
    "read_layer": "cpted.load.layers",
    "as_layer": "cpted.load.layers",
    "read_osm": "cpted.load.osm",
    "read_graphml": "cpted.load.graph",
    "read_raster": "cpted.load.raster",
    "read_sites_file": "cpted.load.sites_file",
    "fetch_osm": "cpted.load.fetch",
    "analysis_grid": "cpted.prepare.grid",
    "to_crs": "cpted.prepare.crs",
    "require_projected": "cpted.prepare.crs",
    "isovists": "cpted.engines.visibility",
    "prepare_scene": "cpted.engines.visibility",
    "openings": "cpted.measure.surveillance",
    "eyes_on_street": "cpted.measure.surveillance",
    "illuminance": "cpted.measure.lighting",
    "surveillance": "cpted.measure.surveillance",
    "node_centrality": "cpted.engines.network",
    "segment_centrality": "cpted.engines.angular",
    "land_use_mix": "cpted.measure.activity",
    "hill_numbers": "cpted.measure.activity",
    "entry_points": "cpted.measure.access_control",
    "escape_routes": "cpted.measure.access_control",
    "walk_graph": "cpted.prepare.network",
    "completeness": "cpted.prepare.completeness",
    "load_site": "cpted.pipeline",
    "audit": "cpted.pipeline",
    "MEASURES": "cpted.pipeline",
    "compare_designs": "cpted.scenario",
    "batch": "cpted.pipeline",
    "read_weights": "cpted.score.scores",
    "write_audit": "cpted.report.outputs",
    "write_site_report": "cpted.report.site_report",
    "evaluate": "cpted.evaluation",  # not cpted/evaluate.py: importing it would rebind cpted.evaluate to the module
    "read_incidents": "cpted.evaluation",
    "write_evaluation": "cpted.report.evaluation",
}
__all__ = ["__version__", *_API]


def __getattr__(name: str):
    if name in _API:
        return getattr(importlib.import_module(_API[name]), name)
    msg = f"module 'cpted' has no attribute {name!r}"
    raise AttributeError(msg)


def __dir__() -> list[str]:
    return sorted(__all__)
