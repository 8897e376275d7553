"""QGIS styles for the result layers, stored in the GeoPackage's ``layer_styles`` table.

QGIS reads that table (the same one it writes when saving a style "in the database") and opens
the layers already styled.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from xml.sax.saxutils import quoteattr

from cpted.config import POI_CATEGORIES

__all__ = ["STYLES", "write_styles", "graduated_qml", "categorized_qml", "single_qml"]

_RAMP = ["215,48,39", "252,141,89", "254,224,139", "217,239,139", "145,207,96", "26,152,80"]  # red -> green
# worse -> unchanged (within ±5 points, as in changed_places) -> better
_DIVERGING = ["178,24,43", "239,138,98", "253,219,199", "247,247,247", "209,229,240", "103,169,207", "33,102,172"]
# buildings by height: light (low) to dark (tall)
_GREYS = ["217,217,217", "189,189,189", "150,150,150", "115,115,115", "82,82,82", "37,37,37"]
_QUALITATIVE = ["228,26,28", "55,126,184", "77,175,74", "152,78,163", "255,127,0", "166,86,40", "247,129,191",
                "153,153,153", "27,158,119", "217,95,2", "117,112,179", "231,41,138"]
_PRINCIPLES = ("surveillance", "territoriality", "access_control", "maintenance")
_COLORS = {"better": "26,152,80", "worse": "215,48,39","surveillance": "228,26,28", "territoriality": "55,126,184", "access_control": "152,78,163",
           "maintenance": "255,127,0", "blind_spot": "255,127,0", "entrapment_spot": "228,26,28", "recess": "152,78,163",
           "street": "80,80,80", "footway": "77,175,74", "steps": "228,26,28", "gated": "0,0,0"}


def _symbol(name: str, kind: str, color: str, *, outline: bool = False) -> str:
    if kind == "fill" and outline:  # an outline only, so what lies beneath stays visible
        layer = (f'<layer class="SimpleFill" pass="0" locked="0" enabled="1"><Option type="Map">'
                 f'<Option name="color" type="QString" value="{color},40"/><Option name="style" type="QString" value="solid"/>'
                 f'<Option name="outline_color" type="QString" value="{color},255"/>'
                 f'<Option name="outline_style" type="QString" value="solid"/>'
                 f'<Option name="outline_width" type="QString" value="0.8"/></Option></layer>')
    elif kind == "fill":
        layer = (f'<layer class="SimpleFill" pass="0" locked="0" enabled="1"><Option type="Map">'
                 f'<Option name="color" type="QString" value="{color},255"/><Option name="style" type="QString" value="solid"/>'
                 f'<Option name="outline_style" type="QString" value="no"/></Option></layer>')
    elif kind == "line":
        layer = (f'<layer class="SimpleLine" pass="0" locked="0" enabled="1"><Option type="Map">'
                 f'<Option name="line_color" type="QString" value="{color},255"/><Option name="line_width" type="QString" value="0.6"/>'
                 f'</Option></layer>')
    else:
        layer = (f'<layer class="SimpleMarker" pass="0" locked="0" enabled="1"><Option type="Map">'
                 f'<Option name="color" type="QString" value="{color},255"/><Option name="size" type="QString" value="2.4"/>'
                 f'</Option></layer>')
    return f'<symbol type="{kind}" name="{name}" alpha="1" clip_to_extent="1" force_rhr="0">{layer}</symbol>'


def _wrap(renderer: str) -> str:
    return ("<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"
            f'<qgis version="3.22.16" styleCategories="Symbology">{renderer}</qgis>\n')


def graduated_qml(attribute: str, kind: str = "fill", lower: float = 0, upper: float = 100,
                  ramp: list[str] | None = None, open_ends: bool = False) -> str:
    """A graduated style over ``attribute`` from ``lower`` to ``upper``, red to green by default.

    Examples
    --------
    >>> graduated_qml("cpted_index").count("<range ")
    6
    """
    ramp = ramp or _RAMP
    step = (upper - lower) / len(ramp)
    bounds = [lower + i * step for i in range(len(ramp) + 1)]
    labels = [f"{a:g} - {b:g}" for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    if open_ends:  # values beyond the ends take the end colours
        bounds[0], bounds[-1] = -1e12, 1e12
        labels[0], labels[-1] = f"< {lower + step:g}", f"> {upper - step:g}"
    ranges = "".join(
        f'<range lower="{bounds[i]:g}" upper="{bounds[i + 1]:g}" symbol="{i}" label={quoteattr(labels[i])} render="true"/>'
        for i in range(len(ramp))
    )
    symbols = "".join(_symbol(str(i), kind, c) for i, c in enumerate(ramp))
    return _wrap(f'<renderer-v2 type="graduatedSymbol" attr={quoteattr(attribute)} graduatedMethod="GraduatedColor" '
                 f'symbollevels="0" enableorderby="0" forceraster="0"><ranges>{ranges}</ranges><symbols>{symbols}</symbols>'
                 f'</renderer-v2>')


def categorized_qml(attribute: str, values: list[str], kind: str = "fill", *, outline: bool = False,
                    colors: dict[str, str] | None = None) -> str:
    """A categorized style over ``attribute``, one colour per value (outlines only with ``outline``)."""
    colors = colors or _COLORS
    cats = "".join(f'<category value={quoteattr(v)} symbol="{i}" label={quoteattr(v.replace("_", " "))} render="true"/>'
                   for i, v in enumerate(values))
    symbols = "".join(_symbol(str(i), kind, colors.get(v, "120,120,120"), outline=outline) for i, v in enumerate(values))
    return _wrap(f'<renderer-v2 type="categorizedSymbol" attr={quoteattr(attribute)} symbollevels="0" enableorderby="0" '
                 f'forceraster="0"><categories>{cats}</categories><symbols>{symbols}</symbols></renderer-v2>')


def single_qml(kind: str, color: str, *, outline: bool = False) -> str:
    """One symbol for every feature."""
    return _wrap(f'<renderer-v2 type="singleSymbol" symbollevels="0" enableorderby="0" forceraster="0">'
                 f'<symbols>{_symbol("0", kind, color, outline=outline)}</symbols></renderer-v2>')


#: Layer name -> QML of its default style.
STYLES = {
    "cells": graduated_qml("cpted_index"),
    **{f"cells_{p}": graduated_qml(f"score_{p}") for p in _PRINCIPLES},
    "cells_activity": graduated_qml("mix_d1_800", lower=1, upper=6),
    "problem_places": categorized_qml("principle", list(_PRINCIPLES), outline=True),
    "blind_spots": categorized_qml("kind", ["blind_spot", "entrapment_spot", "recess"]),
    "entry_points": categorized_qml("kind", ["street", "footway", "steps", "gated"], kind="marker"),
    "segments": graduated_qml("nach_800", kind="line", lower=0.0, upper=1.5),
    "movement_predictors": single_qml("line", _COLORS["steps"]),
    "deltas": graduated_qml("delta_cpted_index", lower=-35, upper=35, ramp=_DIVERGING, open_ends=True),
    "changes": categorized_qml("change", ["better", "worse"], outline=True),
    "isovists": single_qml("fill", "31,120,180", outline=True),
    # context layers (cpted.report.outputs.context_layers): the inputs as the audit used them
    "buildings": graduated_qml("height_m", lower=0, upper=30, ramp=_GREYS, open_ends=True),
    "pois": categorized_qml("category", list(POI_CATEGORIES), kind="marker",
                            colors=dict(zip(POI_CATEGORIES, _QUALITATIVE * 3, strict=False))),
    "lamps": single_qml("marker", "255,200,0"),
    "water": single_qml("fill", "166,206,227"),
}


def write_styles(path: str | Path, layers: list[str]) -> None:
    """Store the default style of each of ``layers`` that has one in the GeoPackage at ``path``."""
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE IF NOT EXISTS layer_styles (id INTEGER PRIMARY KEY AUTOINCREMENT, f_table_catalog TEXT(256), "
            "f_table_schema TEXT(256), f_table_name TEXT(256), f_geometry_column TEXT(256), styleName TEXT(30), "
            "styleQML TEXT, styleSLD TEXT, useAsDefault BOOLEAN, description TEXT, owner TEXT(30), ui TEXT(30), "
            "update_time DATETIME DEFAULT CURRENT_TIMESTAMP)"
        )
        db.execute("INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, identifier) VALUES "
                   "('layer_styles', 'attributes', 'layer_styles')")
        geometry = dict(db.execute("SELECT table_name, column_name FROM gpkg_geometry_columns").fetchall())
        for name in layers:
            if name in STYLES and name in geometry:
                db.execute(
                    "INSERT INTO layer_styles (f_table_catalog, f_table_schema, f_table_name, f_geometry_column, styleName, "
                    "styleQML, styleSLD, useAsDefault, description, owner, ui, update_time) VALUES "
                    "('', '', ?, ?, ?, ?, '', 1, ?, '', '', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))",
                    (name, geometry[name], f"cpted {name}", STYLES[name], "default style written by cpted"),
                )
