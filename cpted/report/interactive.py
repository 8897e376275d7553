"""The interactive map of a site report: pan, zoom, layer toggles and a click for a place's scores.

One HTML fragment (a ``<div>``, its ``<style>`` and an inline ``<script>``) that needs no network:
the JavaScript is the project's own (``assets/imap.js``, a canvas renderer, inlined at write
time), and the data travel in the page. Cells go as a dense grid (origin, cell size, one byte per
cell and layer: the score rounded to 0-100, 255 for a cell whose score is unknown, 254 outside
the audited space); buildings, streets, the boundary and the problem places as rings of integer
decimetres relative to the grid's origin (simplified to 0.5 m, delta-coded). The binary part is
deflated and base64-coded; the browser inflates it with its own ``DecompressionStream``.

A clicked cell shows each principle's score, the night surveillance score and the CPTED index,
or ``n/a`` with the reason (the share of the principle's inputs that had data, the metrics
missing there, and why the buildings layer is incomplete there if it is); then its drivers and
their remedies. A clicked problem place shows its number, principle, street, area, mean score,
drivers and remedy. Every text is in the report's language (:func:`cpted.report.i18n.tr`).

Example
-------
>>> import geopandas as gpd, shapely
>>> from types import SimpleNamespace
>>> cells = gpd.GeoDataFrame({"x": [2.5, 7.5], "y": [2.5, 2.5], "score_surveillance": [80.0, float("nan")],
...                           "completeness_surveillance": [1.0, 0.25]},
...                          geometry=[shapely.box(0, 0, 5, 5), shapely.box(5, 0, 10, 5)], crs=2154)
>>> site = SimpleNamespace(boundary=shapely.box(0, 0, 10, 5), cell_size=5.0, layers={})
>>> result = SimpleNamespace(site=site, layers={"cells": cells}, summary={})
>>> data = map_data(result, lang="fr")
>>> data["grid"], data["t"]["buildings"]
({'x0': 0.0, 'y0': 0.0, 'size': 5.0, 'nx': 2, 'ny': 1}, 'Bâtiments')
>>> raw = zlib.decompress(base64.b64decode(data["blob"]))
>>> offset, n, kind = data["layers"][0]["grid"]
>>> list(raw[offset:offset + n])  # the unknown score is 255, and has its reason
[80, 255]
>>> data["reasons"][1:]
["25% de ses données d'entrée sont connues (il en faut 50%)", 'non calculé dans cet audit']
>>> interactive_map(result).startswith('<div class="cpted-imap"')
True
"""

from __future__ import annotations

import base64
import html
import json
import zlib
from itertools import count
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

from cpted.report.i18n import check_lang, tr, tr_list, tr_phrase

__all__ = ["interactive_map", "LAYERS", "map_data"]

#: The score layers of the map: key, cell column, and the completeness column that explains a NaN.
LAYERS = (
    ("surveillance", "score_surveillance", "completeness_surveillance"),
    ("territoriality", "score_territoriality", "completeness_territoriality"),
    ("access_control", "score_access_control", "completeness_access_control"),
    ("maintenance", "score_maintenance", "completeness_maintenance"),
    ("surveillance_night", "score_surveillance_night", "completeness_surveillance_night"),
    ("cpted_index", "cpted_index", "completeness_index"),
)
NAN, OUTSIDE = 255, 254
#: Geometry precision (m): coordinates rounded to it, lines and rings simplified to ``SIMPLIFY``.
PRECISION, SIMPLIFY = 0.1, 0.5
#: Context drawn around the site (m): buildings and streets beyond it are left out of the page.
MARGIN = 60.0
#: The words of the map's controls and panel, by the name the script knows them by (assets/imap.js).
_UI = {
    "area": "Area", "buildings": "Buildings", "cellAt": "Cell at", "cells": "Cells",
    "help": ("Click a cell or a numbered problem place for its scores, drivers and remedy. Drag to pan, use the wheel "
             "or the buttons to zoom."),
    "drivers": "Drivers", "fit": "Fit the site", "map": "Interactive map", "meanScore": "Mean score",
    "overlays": "Overlays", "principle": "Principle", "placeNo": "Problem place no.", "places": "Problem places",
    "remedy": "Remedy", "scoreShown": "Score shown", "boundary": "Site boundary", "street": "Street",
    "streets": "Streets",
    "oldBrowser": ("This browser cannot open the map (it needs DecompressionStream: Chrome 80, Firefox 113, "
                   "Safari 16.4 or newer)."),
    "zoomIn": "Zoom in", "zoomOut": "Zoom out", "na": "n/a", "noScore": "hide scores", "noneBelow50": "none below 50",
    "outside": "not in the audited open space", "unknown": "score unknown", "unnamed": "unnamed",
}
_ids = count(1)


def _labels(lang: str) -> dict[str, str]:
    from cpted.report.method import PRINCIPLE_LABELS as _LABELS

    return {**{k: tr(v, lang) for k, v in _LABELS.items()}, "cpted_index": tr("CPTED index", lang)}


def _remedies(drivers: str) -> str:
    """The distinct remedies of a cell's drivers, in the drivers' order."""
    from cpted.score.scores import RULES

    remedy = {r.low: r.remedy for r in RULES.values()}
    return "; ".join(dict.fromkeys(remedy[d] for d in drivers.split("; ") if d in remedy))


def _nan_reasons(cells: pd.DataFrame, key: str, column: str, completeness: str, lang: str) -> list[str]:
    """Why each cell's ``column`` is NaN ('' where it is known)."""
    from cpted.score.scores import MIN_COMPLETENESS, PRINCIPLES, RULES

    n = len(cells)
    if column not in cells:
        return [tr("not scored in this audit", lang)] * n
    values = cells[column].to_numpy(dtype=float)
    share = cells[completeness].to_numpy(dtype=float) if completeness in cells else np.full(n, np.nan)
    if key == "cpted_index":
        metrics = [f"score_{p}" for p in PRINCIPLES]
        text = "{share} of the principles' weight scored (needs {need})"
    else:
        principle = "surveillance" if key == "surveillance_night" else key
        period = "day" if key == "surveillance_night" else "night"
        metrics = [m for m, r in RULES.items() if r.principle == principle and r.period != period]
        text = "{share} of its inputs have data (needs {need})"
    present = [m for m in metrics if m in cells]
    missing = np.zeros((n, len(metrics)), dtype=bool)
    for k, m in enumerate(metrics):
        missing[:, k] = cells[m].isna().to_numpy() if m in cells else True
    coverage = cells["coverage_reason"].fillna("").astype(str).to_numpy() if "coverage_reason" in cells else np.full(n, "")
    names = [_labels(lang)[m.removeprefix("score_")] if key == "cpted_index" else m for m in metrics]
    out = np.full(n, "", dtype=object)
    nan = np.flatnonzero(np.isnan(values))
    if not len(nan):
        return out.tolist()
    # the cells with the same reason at once: (share as written, missing inputs, coverage reason)
    shares, share_code = np.unique(share[nan], return_inverse=True)  # NaN shares: one code, written ''
    share_text = [f"{v:.0%}" if np.isfinite(v) else "" for v in shares]
    cov_code, cov_text = pd.factorize(coverage[nan])
    bits = missing[nan].astype(np.int64) @ (np.int64(1) << np.arange(len(metrics), dtype=np.int64))
    # one integer per (share, missing inputs, coverage reason): a 1-D unique, much faster than rows'
    ncov, npattern = max(len(cov_text), 1), np.int64(1) << len(metrics)
    keys, group = np.unique((share_code.ravel() * npattern + bits) * ncov + cov_code, return_inverse=True)
    said, texts = {}, []
    for key in keys.tolist():
        rest, cov = divmod(key, ncov)
        code, pattern = divmod(rest, int(npattern))
        why = (share_text[code], tuple(bool(pattern >> k & 1) for k in range(len(metrics))), cov_text[cov])
        if why not in said:
            parts = [tr(text, lang, share=why[0], need=f"{MIN_COMPLETENESS:.0%}")] if why[0] else []
            gone = [name for name, miss in zip(names, why[1]) if miss]
            if gone and present:
                parts.append(tr("no data for {metrics}", lang, metrics=", ".join(gone)))
            if why[2]:
                parts.append(tr_phrase(why[2], lang))
            said[why] = "; ".join(parts) or tr("not scored", lang)
        texts.append(said[why])
    out[nan] = np.array(texts, dtype=object)[group.ravel()]
    return out.tolist()


def _table(strings) -> tuple[list[str], np.ndarray]:
    """Unique strings (the first is '') and each item's index into them."""
    table = [""]
    where = {"": 0}
    index = np.empty(len(strings), dtype=np.uint16)
    for k, s in enumerate(strings):
        if s not in where:
            where[s] = len(table)
            table.append(s)
        index[k] = where[s]
    if len(table) > 65535:
        msg = f"more than 65,535 distinct texts in one map ({len(table)})"
        raise ValueError(msg)
    return table, index


class _Blob:
    """Typed arrays packed into one buffer, each aligned to 4 bytes, described by (offset, length, type)."""

    def __init__(self):
        self.parts, self.size = [], 0

    def add(self, array: np.ndarray) -> list:
        kind = {"u1": "u8", "u2": "u16", "i4": "i32", "u4": "u32"}[f"{array.dtype.kind}{array.dtype.itemsize}"]
        data = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).tobytes()
        ref = [self.size, int(array.size), kind]
        pad = (-len(data)) % 4
        self.parts.append(data + b"\0" * pad)
        self.size += len(data) + pad
        return ref

    def encoded(self) -> str:
        return base64.b64encode(zlib.compress(b"".join(self.parts), 6)).decode("ascii")


def _rings(geoms, origin: tuple[float, float], blob: _Blob) -> dict:
    """Rings or lines as delta-coded decimetres: ``lens`` (points per ring) and ``xy``."""
    lens, coords = [], []
    for geom in shapely.simplify(np.asarray(geoms, dtype=object), SIMPLIFY, preserve_topology=True):
        if geom is None or geom.is_empty:
            continue
        for part in getattr(geom, "geoms", [geom]):
            rings = [part.exterior, *part.interiors] if part.geom_type == "Polygon" else [part]
            for ring in rings:
                xy = np.round((np.asarray(ring.coords)[:, :2] - origin) / PRECISION).astype(np.int64)
                if len(xy) < 2:
                    continue
                lens.append(len(xy))
                coords.append(np.diff(xy, axis=0, prepend=np.zeros((1, 2), dtype=np.int64)))
    flat = np.concatenate(coords).astype("<i4").ravel() if coords else np.zeros(0, "<i4")
    return {"lens": blob.add(np.asarray(lens, dtype="<u4")), "xy": blob.add(flat)}


def _near(frame, area):
    if frame is None or not len(frame):
        return []
    geoms = frame.geometry.values
    return geoms[shapely.intersects(geoms, area)]


def map_data(result, *, lang: str = "en") -> dict:
    """The map's data as a JSON-ready dict (``blob``: the deflated, base64-coded arrays).

    Coordinates are in the site's metre CRS relative to ``origin``, in units of :data:`PRECISION`.
    """
    site = result.site
    cells = result.layers.get("cells")
    if cells is None:
        cells = pd.DataFrame({"x": [], "y": []})
    size = float(site.cell_size)
    boundary = site.boundary
    bx0, by0, bx1, by1 = boundary.bounds
    x = cells["x"].to_numpy(dtype=float)
    y = cells["y"].to_numpy(dtype=float)
    gx0 = float(x.min() if len(x) else bx0 + size / 2) - size / 2
    gy0 = float(y.min() if len(y) else by0 + size / 2) - size / 2
    origin = (float(np.floor(gx0)), float(np.floor(gy0)))
    col = np.round((x - gx0) / size - 0.5).astype(int)  # centres sit half a cell in
    row = np.round((y - gy0) / size - 0.5).astype(int)
    nx = int(col.max()) + 1 if len(x) else 0
    ny = int(row.max()) + 1 if len(y) else 0
    flat = (ny - 1 - row) * nx + col  # rows from the top, as an image
    blob = _Blob()
    labels = _labels(lang)
    layers, reasons_all = [], []
    for key, column, completeness in LAYERS:
        grid = np.full(nx * ny, OUTSIDE, dtype=np.uint8)
        values = cells[column].to_numpy(dtype=float) if column in cells else np.full(len(cells), np.nan)
        grid[flat] = np.where(np.isfinite(values), np.round(np.clip(values, 0, 100)), NAN).astype(np.uint8)
        reasons_all.append(_nan_reasons(cells, key, column, completeness, lang))
        layers.append({"key": key, "label": labels[key], "grid": blob.add(grid)})
    reason_table, reason_index = _table([r for rs in reasons_all for r in rs])
    for k, layer in enumerate(layers):
        grid = np.zeros(nx * ny, dtype="<u2")
        grid[flat] = reason_index[k * len(cells):(k + 1) * len(cells)]
        layer["reason"] = blob.add(grid)
    has_drivers = "drivers" in cells
    drivers = cells["drivers"].fillna("").astype(str).tolist() if has_drivers else [""] * len(cells)
    driver_table, driver_index = _table(drivers)
    grid = np.zeros(nx * ny, dtype="<u2")
    grid[flat] = driver_index
    area = shapely.box(bx0 - MARGIN, by0 - MARGIN, bx1 + MARGIN, by1 + MARGIN)
    places = result.layers.get("problem_places")
    place_rows = []
    if places is not None and len(places):
        for _, p in places.sort_values("place_no").iterrows():
            place_rows.append({
                "no": int(p["place_no"]), "principle": labels.get(p["principle"], tr(str(p["principle"]), lang)),
                "street": p["street"] if isinstance(p["street"], str) else None,
                "x": round(float(p["x"]) - origin[0], 1), "y": round(float(p["y"]) - origin[1], 1),
                "area": float(p["area_m2"]), "cells": int(p["cells"]),
                "score": float(p["mean_score"]) if np.isfinite(p["mean_score"]) else None,
                "drivers": tr_list(str(p["drivers"]), lang), "remedy": tr_list(str(p["remedy"]), lang),
                "ring": _rings([p.geometry], origin, blob)})
    streets = result.layers.get("streets")
    return {
        "origin": origin, "crs": str(site.crs.to_string()) if getattr(site, "crs", None) is not None else "",
        "precision": PRECISION, "bounds": [float(v) for v in (bx0 - origin[0], by0 - origin[1], bx1 - origin[0], by1 - origin[1])],
        "grid": {"x0": gx0 - origin[0], "y0": gy0 - origin[1], "size": size, "nx": nx, "ny": ny},
        "layers": layers, "reasons": reason_table,
        "drivers": {"grid": blob.add(grid), "known": has_drivers,
                    "texts": [[tr_list(str(d), lang), tr_list(_remedies(d), lang)] for d in driver_table]},
        "buildings": _rings(_near(site.layers.get("buildings"), area), origin, blob),
        "streets": _rings(_near(streets, area), origin, blob),
        "boundary": _rings([boundary], origin, blob),
        "places": place_rows,
        "colors": _colors(),
        "attribution": str((getattr(result, "summary", None) or {}).get("attribution") or ""),
        "t": {key: tr(text, lang) for key, text in _UI.items()},
        "blob": blob.encoded(),
    }


def _colors() -> list[str]:
    """101 colours of matplotlib's RdYlGn for the scores 0-100, as the static maps use."""
    from matplotlib import colormaps

    ramp = colormaps["RdYlGn"](np.linspace(0, 1, 101))
    return ["#%02x%02x%02x" % tuple(int(round(c * 255)) for c in rgba[:3]) for rgba in ramp]


def interactive_map(result, *, lang: str = "en") -> str:
    """The interactive map of one audited site, as an HTML fragment that works offline.

    Parameters
    ----------
    result
        An :class:`~cpted.pipeline.AuditResult` (its ``site``, and its ``cells``, ``streets``
        and ``problem_places`` layers; any of them may be missing or empty).
    lang
        The report's language (``"en"`` or ``"fr"``).

    Returns
    -------
    str
        A ``<div>`` with its ``<style>``, the data (``<script type="application/json">``) and
        the renderer (``<script>``). The page exposes ``window.cptedMap`` (see ``assets/imap.js``).

    Example
    -------
    A site without cells still gets its map (its outline, buildings and streets):

    >>> from types import SimpleNamespace
    >>> site = SimpleNamespace(boundary=shapely.box(0, 0, 50, 50), cell_size=5.0, layers={})
    >>> page = interactive_map(SimpleNamespace(site=site, layers={}, summary={}), lang="fr")
    >>> "chargement de la carte…" in page and "cptedInteractiveMap(" in page
    True
    """
    check_lang(lang)
    uid = f"cpted-imap-{next(_ids)}"
    data = json.dumps(map_data(result, lang=lang), separators=(",", ":"), ensure_ascii=False).replace("</", "<\\/")
    assets = Path(__file__).with_name("assets")
    script = (assets / "imap.js").read_text(encoding="utf-8")
    style = (assets / "imap.css").read_text(encoding="utf-8")
    return (f'<div class="cpted-imap" id="{uid}" lang="{html.escape(lang)}"><style>{style}</style>'
            f'<script type="application/json" class="cpted-imap-data">{data}</script>'
            f'<p class="cpted-imap-loading">{html.escape(tr("loading the map…", lang))}</p></div>'
            f'<script>{script}\ncptedInteractiveMap(document.getElementById("{uid}"));</script>')
