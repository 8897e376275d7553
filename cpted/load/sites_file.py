"""The sites file (TOML): which sites to audit, their boundaries and their layers.

The format is documented in ``docs/sites_file.md``; every error names the key (and the line
where it can be found) and says how to fix it.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd

from cpted.config import CELL_SIZE, CONTEXT, SITE_RADIUS, cell_count_problem
from cpted.errors import DataNotFoundError, SitesFileError
from cpted.load.layers import LAYER_OPTIONS
from cpted.load.schema import LAYER_KINDS
from cpted.report.i18n import LANGS

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["LayerSpec", "SiteSpec", "SitesFile", "read_sites_file", "resolve_data_dir", "SITE_ID"]

#: Layer keys beyond the canonical kinds: an OSM file giving every kind, the reference
#: building-count grid, reference building heights (BD TOPO), rasters, and walk-audit
#: GeoPackages (read as reports, and kept as their own layer).
EXTRA_LAYER_KEYS = ("osm", "reference_buildings", "building_heights", "rasters", "walk_audits")
SITE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_SITE_KEYS = {"id", "name", "centre", "centre_crs", "bbox", "boundary", "crs", "radius",
              "context", "cell_size", "approximate", "layers", "attributes"}
_DEFAULT_KEYS = {"crs", "radius", "context", "cell_size", "approximate"}
_FROM_KEYS = {"path", "id_field", "name_field", "fields", "layer", "radius", "approximate"}
_TOP_KEYS = {"defaults", "lang", "layers", "site", "sites_from", "site_layers", "title"}
#: Layer options the sites file reads itself (not passed to the reader): ``extent``, a polygon
#: file outside which the layer is known to be incomplete (see docs/methods/completeness.md).
SITES_FILE_LAYER_OPTIONS = {"extent": "a polygon file: the layer is complete only inside it"}


@dataclass(frozen=True)
class LayerSpec:
    """One source file of a layer, with its reading options; or, with no path, the declaration
    that the layer was surveyed and is empty (``lamps = { empty = true }``)."""

    path: Path | None
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def attribution(self) -> str | None:
        """The attribution text declared for this source."""
        return self.options.get("attribution")

    @property
    def empty(self) -> bool:
        """True for a layer declared surveyed and empty (no file)."""
        return self.path is None and self.options.get("empty") is True

    @classmethod
    def declared_empty(cls) -> LayerSpec:
        """The declaration that a layer was surveyed and has no feature (``{ empty = true }``)."""
        return cls(None, {"empty": True})


@dataclass(frozen=True)
class SiteSpec:
    """A site as the sites file describes it (nothing read yet).

    ``layers`` are the site's own sources, ``shared_layers`` those of the file's [layers]
    table; the site's own win, kind by kind (see :func:`cpted.prepare.sources.load_site`).
    """

    id: str
    name: str
    crs: str | None
    radius: float
    context: float
    cell_size: float
    approximate: bool
    centre: tuple[float, float] | None = None
    centre_crs: str = "EPSG:4326"
    bbox: tuple[float, float, float, float] | None = None
    boundary: LayerSpec | None = None
    layers: dict[str, list[LayerSpec]] = field(default_factory=dict)
    shared_layers: dict[str, list[LayerSpec]] = field(default_factory=dict)
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SitesFile:
    """A parsed sites file."""

    path: Path
    title: str
    data_dir: Path | None
    sites: list[SiteSpec]
    #: The reports' language (``lang = "fr"``), None when the file does not say; ``--lang`` wins.
    lang: str | None = None

    def site(self, site_id: str) -> SiteSpec:
        """The site with this id."""
        for s in self.sites:
            if s.id == site_id:
                return s
        msg = f"no site {site_id!r} in {str(self.path)!r}; its sites are {[s.id for s in self.sites]}"
        raise SitesFileError(msg)


def resolve_data_dir(data_dir: str | Path | None = None, *, sites_file: Path | None = None) -> Path | None:
    """The data directory: ``data_dir``, then ``$CPTED_DATA_DIR``, then ``../shared/data``, then
    the sample data shipped beside the sites file.

    ``../shared/data`` is looked for beside the current directory and beside the project
    that holds the sites file. The shipped sample data is the folder ``data`` beside the sites
    file (``sample_sites/data`` for the sample sites files): a fresh clone with no network runs
    the sample sites from it. Returns None when none exists.

    Examples
    --------
    >>> resolve_data_dir("/nonexistent")  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    cpted.errors.DataNotFoundError: data directory '/nonexistent' does not exist
    """
    if data_dir is not None or os.environ.get("CPTED_DATA_DIR"):
        chosen = Path(data_dir if data_dir is not None else os.environ["CPTED_DATA_DIR"])
        if not chosen.is_dir():
            how = "--data-dir" if data_dir is not None else "CPTED_DATA_DIR"
            msg = f"data directory {str(chosen)!r} does not exist (from {how}); fix the path"
            raise DataNotFoundError(msg)
        return chosen.resolve()
    candidates = [Path.cwd() / ".." / "shared" / "data"]
    if sites_file is not None:
        candidates.append(sites_file.resolve().parent.parent / ".." / "shared" / "data")
        candidates.append(sites_file.resolve().parent / "data")  # shipped sample data
    for c in candidates:
        if c.is_dir():
            return c.resolve()
    return None


def _line_of(text: str, needle: str) -> str:
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            return f" (line {number})"
    return ""


class _Parser:
    def __init__(self, path: Path, text: str, data_dir: Path | None):
        self.path, self.text, self.data_dir = path, text, data_dir

    def fail(self, where: str, problem: str, needle: str | None = None):
        line = _line_of(self.text, needle) if needle else ""
        msg = f"{self.path.name}: {where}{line}: {problem}"
        raise SitesFileError(msg)

    def path_of(self, value: Any, where: str) -> Path:
        if not isinstance(value, str) or not value:
            self.fail(where, f"a path must be a non-empty string, got {value!r}")
        p = Path(value).expanduser()
        if p.is_absolute():
            return p
        if self.data_dir is None:
            msg = (
                f"{self.path.name}: {where}: {value!r} is relative to the data directory, but no "
                f"data directory was found; pass --data-dir, set CPTED_DATA_DIR, place the data "
                f"in ../shared/data or in a folder 'data' beside the sites file, or run "
                f"`cpted fetch {self.path}` to download OSM data"
            )
            raise DataNotFoundError(msg)
        return self.data_dir / p

    def layer(self, value: Any, where: str) -> LayerSpec:
        if isinstance(value, str):
            return LayerSpec(self.path_of(value, where))
        if isinstance(value, dict) and "empty" in value:
            if value != {"empty": True}:
                self.fail(where, "write `{ empty = true }` alone to declare a layer surveyed and empty "
                                 "(no path, no other option); otherwise drop the `empty` key", "empty")
            return LayerSpec.declared_empty()
        if not isinstance(value, dict) or "path" not in value:
            self.fail(where, "a layer is a path string or a table with a 'path' key")
        options = {k: v for k, v in value.items() if k != "path"}
        allowed = {*LAYER_OPTIONS, *SITES_FILE_LAYER_OPTIONS}
        unknown = sorted(set(options) - allowed)
        if unknown:
            self.fail(where, f"unknown option(s) {unknown}; allowed: {sorted(allowed)}", unknown[0])
        if "extent" in options:
            options["extent"] = self.path_of(options["extent"], f"{where}.extent")
        return LayerSpec(self.path_of(value["path"], f"{where}.path"), options)

    def layers(self, table: Any, where: str) -> dict[str, list[LayerSpec]]:
        if not isinstance(table, dict):
            self.fail(where, "must be a table of layer kind = path(s)")
        allowed = (*LAYER_KINDS, *EXTRA_LAYER_KEYS)
        out: dict[str, list[LayerSpec]] = {}
        for kind, value in table.items():
            if kind not in allowed:
                self.fail(where, f"unknown layer kind {kind!r}; use one of {', '.join(allowed)}", f"{kind}")
            if kind == "rasters":
                if not isinstance(value, dict):
                    self.fail(f"{where}.rasters", "must be a table name = path")
                out[kind] = [
                    LayerSpec(self.path_of(v, f"{where}.rasters.{k}"), {"name": k}) for k, v in value.items()
                ]
                continue
            values = value if isinstance(value, list) else [value]
            out[kind] = [self.layer(v, f"{where}.{kind}[{i}]") for i, v in enumerate(values)]
            if any(spec.empty for spec in out[kind]) and (len(out[kind]) > 1 or kind not in LAYER_KINDS):
                self.fail(f"{where}.{kind}", "only a layer kind can be declared `{ empty = true }`, and then with "
                                             "no file beside it", f"{kind}")
        return out

    def number(self, table: dict, key: str, default: float, where: str) -> float:
        value = table.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            self.fail(f"{where}.{key}", f"must be a positive number of metres, got {value!r}", f"{key}")
        return float(value)

    def site(self, raw: Any, defaults: dict, shared: dict, where: str) -> SiteSpec:
        if not isinstance(raw, dict):
            self.fail(where, "must be a table")
        unknown = sorted(set(raw) - _SITE_KEYS)
        if unknown:
            self.fail(where, f"unknown key(s) {unknown}; allowed: {sorted(_SITE_KEYS)}", unknown[0])
        site_id = raw.get("id")
        if not isinstance(site_id, str) or not SITE_ID.match(site_id) or ".." in site_id:
            self.fail(
                f"{where}.id",
                f"{site_id!r} is not a safe site id: use 1-64 ASCII letters, digits, '_', '-' or '.', "
                f"starting with a letter or digit (it names the output folder){_non_ascii(site_id)}",
                f'"{site_id}"' if isinstance(site_id, str) else "id",
            )
        where = f"site {site_id!r}"
        merged = {**defaults, **raw}
        shapes = [k for k in ("centre", "bbox", "boundary") if k in raw]
        if len(shapes) != 1:
            self.fail(where, f"give exactly one of centre, bbox, boundary (got {shapes or 'none'})", f'"{site_id}"')
        centre = bbox = boundary = None
        if "centre" in raw:
            centre = raw["centre"]
            if not (isinstance(centre, list) and len(centre) == 2 and all(isinstance(c, int | float) for c in centre)):
                self.fail(f"{where}.centre", f"must be [x, y] (lon, lat by default), got {centre!r}", "centre")
            centre = (float(centre[0]), float(centre[1]))
        elif "bbox" in raw:
            bbox = raw["bbox"]
            ok = isinstance(bbox, list) and len(bbox) == 4 and all(isinstance(c, int | float) for c in bbox)
            if not ok or bbox[0] >= bbox[2] or bbox[1] >= bbox[3]:
                self.fail(f"{where}.bbox", f"must be [xmin, ymin, xmax, ymax] in the site crs, got {bbox!r}", "bbox")
            bbox = tuple(float(c) for c in bbox)
        else:
            boundary = self.layer(raw["boundary"], f"{where}.boundary")
        crs = merged.get("crs")
        if bbox is not None and crs is None:
            self.fail(f"{where}.crs", "a bbox needs the crs it is expressed in", "bbox")
        self.check_site(raw, merged, where, centre=centre, bbox=bbox)
        layers = self.layers(raw.get("layers", {}), f"{where}.layers")
        attributes = raw.get("attributes", {})
        if not isinstance(attributes, dict) or not all(
            isinstance(v, str | int | float) and not isinstance(v, bool) for v in attributes.values()
        ):
            self.fail(f"{where}.attributes", 'must be a table of labels, e.g. { qpv_code = "QN04401M" }', "attributes")
        return SiteSpec(
            id=site_id,
            name=str(raw.get("name", site_id)),
            crs=crs,
            radius=self.number(merged, "radius", SITE_RADIUS, where),
            context=self.number(merged, "context", CONTEXT, where),
            cell_size=self.number(merged, "cell_size", CELL_SIZE, where),
            approximate=bool(merged.get("approximate", centre is not None)),
            centre=centre,
            centre_crs=str(raw.get("centre_crs", "EPSG:4326")),
            bbox=bbox,
            boundary=boundary,
            layers=layers,
            shared_layers=shared,
            attributes={str(k): str(v) for k, v in attributes.items()},
        )

    def crs_of(self, value: Any, where: str, needle: str):
        """The pyproj CRS a ``crs`` / ``centre_crs`` value names, or a failure naming the key."""
        from pyproj import CRS
        from pyproj.exceptions import CRSError as ProjCRSError

        if not isinstance(value, str | int) or isinstance(value, bool):
            self.fail(where, f"must be a CRS code such as \"EPSG:2154\", got {value!r}", needle)
        try:
            return CRS.from_user_input(value)
        except ProjCRSError:
            self.fail(where, f"{value!r} is not a known CRS; use an EPSG code such as \"EPSG:2154\" (Lambert-93) "
                             f"or \"EPSG:4326\" (longitude, latitude), see https://epsg.io", needle)

    def check_site(self, raw: dict, merged: dict, where: str, *, centre, bbox) -> None:
        """CRS codes that resolve, a centre in range (or named as swapped), a grid of a sane size."""
        crs = self.crs_of(merged["crs"], f"{where}.crs", "crs") if merged.get("crs") is not None else None
        if centre is not None:
            centre_crs = self.crs_of(raw.get("centre_crs", "EPSG:4326"), f"{where}.centre_crs", "centre_crs")
            if centre_crs.is_geographic:
                self.check_lonlat(centre, where)
            radius = self.number(merged, "radius", SITE_RADIUS, where)
            area, bbox_area = 3.14159 * radius**2, (2 * radius) ** 2
        elif bbox is not None and crs is not None and crs.is_projected:
            area = bbox_area = (bbox[2] - bbox[0]) * (bbox[3] - bbox[1])
        else:
            return  # a boundary file: checked when read (cpted.prepare.grid.check_grid_size)
        cell_size = self.number(merged, "cell_size", CELL_SIZE, where)
        problem = cell_count_problem(area, bbox_area, cell_size)
        if problem is not None:
            self.fail(f"{where}.cell_size", problem, "cell_size")

    def check_lonlat(self, centre: tuple[float, float], where: str) -> None:
        lon, lat = centre
        if -180 <= lon <= 180 and -90 <= lat <= 90:
            return
        if -90 <= lon <= 90 and -180 <= lat <= 180:
            self.fail(f"{where}.centre", f"[{lon:g}, {lat:g}] looks like [latitude, longitude] swapped: latitude "
                                         f"{lat:g} is outside [-90, 90]; write [{lat:g}, {lon:g}] "
                                         f"(longitude first)", "centre")
        self.fail(f"{where}.centre", f"[{lon:g}, {lat:g}] is not [longitude, latitude] in degrees (longitude in "
                                     f"[-180, 180], latitude in [-90, 90]); if these are projected coordinates, "
                                     f"say so with centre_crs = \"EPSG:...\" (e.g. EPSG:2154)", "centre")

    def sites_from(self, raw: Any, where: str) -> list[dict]:
        from cpted.load.vector import read_vector

        if not isinstance(raw, dict) or "path" not in raw:
            self.fail(where, "needs a table with 'path', 'id_field' (and optional 'name_field')")
        unknown = sorted(set(raw) - _FROM_KEYS)
        if unknown:
            self.fail(where, f"unknown key(s) {unknown}; allowed: {sorted(_FROM_KEYS)}", unknown[0])
        points = read_vector(self.path_of(raw["path"], f"{where}.path"), layer=raw.get("layer"))
        id_field = raw.get("id_field", "id")
        if id_field not in points.columns:
            self.fail(f"{where}.id_field", f"{id_field!r} is not a column of {raw['path']!r}; columns: {list(points.columns)}", "id_field")
        fields = raw.get("fields", [])
        if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
            self.fail(f"{where}.fields", f"must be a list of column names, got {fields!r}", "fields")
        absent = [f for f in fields if f not in points.columns]
        if absent:
            self.fail(f"{where}.fields", f"{absent} are not columns of {raw['path']!r}; columns: {list(points.columns)}",
                      "fields")
        points = points.to_crs(4326)
        out = []
        for _, row in points.iterrows():
            site = {"id": row[id_field], "centre": [row.geometry.x, row.geometry.y]}
            if raw.get("name_field") in points.columns:
                site["name"] = row[raw["name_field"]]
            for key in ("radius", "approximate"):
                if key in raw:
                    site[key] = raw[key]
            site["attributes"] = {f: "" if pd.isna(row[f]) else str(row[f]) for f in fields}
            out.append(site)
        return out


def _non_ascii(site_id: Any) -> str:
    if isinstance(site_id, str) and not site_id.isascii():
        chars = "".join(dict.fromkeys(c for c in site_id if not c.isascii()))
        return f"; {chars!r} is not ASCII"
    return ""


def read_sites_file(path: str | Path, *, data_dir: str | Path | None = None) -> SitesFile:
    """Read and validate a sites file.

    Parameters
    ----------
    path
        The TOML file.
    data_dir
        Directory relative layer paths resolve against; see :func:`resolve_data_dir`.

    Returns
    -------
    SitesFile

    Examples
    --------
    >>> sf = read_sites_file("sample_sites/nantes_renewal.toml")
    >>> [s.id for s in sf.sites][:2]
    ['grand_bellevue', 'bottiere_pin_sec']
    """
    path = Path(path)
    if not path.is_file():
        msg = f"sites file {str(path)!r} does not exist; see docs/sites_file.md for the format"
        raise DataNotFoundError(msg)
    text = path.read_text(encoding="utf-8")
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        msg = f"{path.name}: not valid TOML: {exc}; fix the syntax there"
        raise SitesFileError(msg) from None
    parser = _Parser(path, text, resolve_data_dir(data_dir, sites_file=path))
    unknown = sorted(set(doc) - _TOP_KEYS)
    if unknown:
        parser.fail("top level", f"unknown key(s) {unknown}; allowed: {sorted(_TOP_KEYS)}", unknown[0])
    defaults = doc.get("defaults", {})
    if not isinstance(defaults, dict) or set(defaults) - _DEFAULT_KEYS:
        parser.fail("[defaults]", f"allowed keys: {sorted(_DEFAULT_KEYS)}", "[defaults]")
    shared = parser.layers(doc.get("layers", {}), "[layers]")
    raws: list[tuple[str, Any]] = []
    for i, block in enumerate(doc.get("sites_from", [])):
        raws += [(f"sites_from[{i}] site {j}", s) for j, s in enumerate(parser.sites_from(block, f"[[sites_from]] #{i + 1}"))]
    raws += [(f"[[site]] #{i + 1}", s) for i, s in enumerate(doc.get("site", []))]
    if not raws:
        parser.fail("top level", "defines no site: add [[site]] tables or a [[sites_from]] table")
    sites = [parser.site(raw, defaults, shared, where) for where, raw in raws]
    sites = _with_site_layers(parser, sites, doc.get("site_layers", {}))
    seen: set[str] = set()
    for s in sites:
        if s.id in seen:
            parser.fail(f"site {s.id!r}", "this id is used twice; site ids must be unique", f'"{s.id}"')
        seen.add(s.id)
    lang = doc.get("lang")
    if lang is not None and lang not in LANGS:
        parser.fail("top level", f"lang = {lang!r}: the reports are written in {' or '.join(map(repr, LANGS))}", "lang")
    return SitesFile(path=path, title=str(doc.get("title", path.stem)), data_dir=parser.data_dir, sites=sites, lang=lang)


def _with_site_layers(parser: _Parser, sites: list[SiteSpec], table: Any) -> list[SiteSpec]:
    """Add the ``[site_layers.<site_id>]`` tables to their sites' layers.

    The way to give a site of ``[[sites_from]]`` (which has no ``[site.layers]``) layers of its
    own. They take the place of the file-wide ``[layers]`` for that site, kind by kind, at the
    same level of precedence: a ``cpted fetch`` cache still wins over them (offline data as a
    fallback, fuller fetched data when there is some). A kind given both there and in the
    site's own ``[site.layers]`` is an error.
    """
    if not isinstance(table, dict):
        parser.fail("[site_layers]", "must be a table of site id = layer table, e.g. [site_layers.my_site]",
                    "site_layers")
    ids = [s.id for s in sites]
    unknown = sorted(set(table) - set(ids))
    if unknown:
        parser.fail("[site_layers]", f"no site {unknown[0]!r} in this file; its sites are {ids}", f"{unknown[0]}")
    out = []
    for s in sites:
        if s.id not in table:
            out.append(s)
            continue
        extra = parser.layers(table[s.id], f"[site_layers.{s.id}]")
        twice = sorted(set(extra) & set(s.layers))
        if twice:
            parser.fail(f"[site_layers.{s.id}]", f"{twice} also given in the site's own [site.layers]; keep one",
                        f"site_layers.{s.id}")
        out.append(replace(s, shared_layers={**s.shared_layers, **extra}))
    return out
