"""Compare two designs of one site ("existing" against "proposed") on the same grid.

Any subset of layers can be replaced (``kind=path``), extended (``kind+=path``) or declared
surveyed and empty (``kind=empty``) in either design, e.g. proposed buildings, streets, lamps,
entrances, barriers. Both designs must know the same layers (known or known empty, see
:meth:`Site.layer_state <cpted.prepare.site.Site.layer_state>`), and their scores are compared
over the metrics known in both (:func:`cpted.score.compare.common_scores`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio

from cpted.atomic import atomic_path
from cpted.errors import InputError
from cpted.load.cache import resolve_source_cache
from cpted.load.schema import LAYER_KINDS
from cpted.load.sites_file import LayerSpec, SitesFile, SiteSpec, read_sites_file
from cpted.pipeline import AuditResult, SourceCache, audit, load_site
from cpted.prepare.site import UNKNOWN, Site
from cpted.report.compare_report import write_compare_report
from cpted.report.i18n import check_lang
from cpted.report.outputs import write_audit, write_summary
from cpted.score.compare import cell_deltas, changed_places, common_scores, site_deltas
from cpted.score.scores import read_weights

__all__ = ["parse_overrides", "apply_overrides", "compare", "compare_designs", "Comparison"]


#: The override value that declares a layer surveyed and empty (``--baseline lamps=empty``).
EMPTY = "empty"


def parse_overrides(items: list[str] | None) -> dict[str, tuple[str, list[Path]]]:
    """``["lamps=new.geojson", "buildings+=extra.gpkg", "trees=empty"]`` -> {kind: (mode, paths)}.

    ``KIND=empty`` declares the layer surveyed and empty (mode ``empty``, no path).

    Examples
    --------
    >>> parse_overrides(["lamps=a.geojson", "lamps=b.geojson", "buildings+=c.gpkg", "trees=empty"])
    {'lamps': ('replace', [PosixPath('a.geojson'), PosixPath('b.geojson')]), 'buildings': ('add', [PosixPath('c.gpkg')]), 'trees': ('empty', [])}
    """
    out: dict[str, tuple[str, list[Path]]] = {}
    for item in items or []:
        add = "+=" in item
        kind, sep, path = item.partition("+=" if add else "=")
        kind = kind.strip()
        if not sep or not path or kind not in LAYER_KINDS:
            msg = f"layer override {item!r}: write KIND=PATH (replace) or KIND+=PATH (add), KIND one of {', '.join(LAYER_KINDS)}"
            raise InputError(msg)
        mode = "add" if add else "replace"
        if path.strip() == EMPTY:
            if add or kind in out:
                msg = f"layer override {item!r}: a layer declared {kind}={EMPTY} takes no other file; give it alone"
                raise InputError(msg)
            out[kind] = ("empty", [])
            continue
        if kind in out and out[kind][0] != mode:
            what = "declared empty" if out[kind][0] == "empty" else "both replaced and added to"
            msg = f"layer override {item!r}: {kind} is {what}; choose one"
            raise InputError(msg)
        out.setdefault(kind, (mode, []))[1].append(Path(path))
    return out


def apply_overrides(spec: SiteSpec, overrides: dict[str, tuple[str, list[Path]]]) -> SiteSpec:
    """A site spec whose layers are replaced or extended by ``overrides``."""
    layers = dict(spec.layers)
    for kind, (mode, paths) in overrides.items():
        for p in paths:
            if not p.exists():
                msg = f"layer override for {kind}: {str(p)!r} does not exist"
                raise InputError(msg)
        new = [LayerSpec(p.resolve()) for p in paths]
        if mode == "empty":
            layers[kind] = [LayerSpec.declared_empty()]
        elif mode == "replace":
            layers[kind] = new
        else:  # what the baseline reads for this kind (its own, the shared, or its OSM files), plus the new
            current = spec.layers.get(kind) or spec.shared_layers.get(kind)
            if current and all(c.empty for c in current):  # surveyed and empty: the added features are all there is
                current = []
            elif not current:
                current = list(spec.layers.get("osm") or spec.shared_layers.get("osm") or [])
            layers[kind] = [*current, *new]
    return dataclasses.replace(spec, layers=layers)


@dataclass
class Comparison:
    """Both audits, the per-cell deltas, the site deltas and the places that changed."""

    baseline: AuditResult
    proposed: AuditResult
    deltas: gpd.GeoDataFrame
    site: pd.DataFrame
    changes: gpd.GeoDataFrame


def compare(
    sites: SitesFile | str | Path,
    site_id: str,
    *,
    baseline: list[str] | None = None,
    proposed: list[str] | None = None,
    out: str | Path | None = None,
    data_dir: str | Path | None = None,
    cache_dir: str | Path | None = None,
    weights: str | Path | None = None,
    lang: str | None = None,
    source_cache: str | Path | bool | None = None,
) -> Comparison:
    """Audit a baseline and a proposed design of one site on the same grid, and compare them.

    The proposed design is audited on the baseline's cells (so cells line up one to one);
    cells it builds over are flagged ``built_over``. A layer known in one design and unknown
    in the other is an :class:`~cpted.errors.InputError` that says how to fix it: declare it
    surveyed and empty (``KIND=empty`` in ``baseline`` / ``proposed``, or ``{ empty = true }``
    in the sites file) or supply it. With ``out``, writes
    ``out/baseline/audit.gpkg``, ``out/proposed/audit.gpkg``, ``out/compare.gpkg`` (layers
    ``deltas`` and ``changes``), ``out/compare.csv`` (site values of both designs and deltas) and
    ``out/compare.html`` (their report, in ``lang``: ``"en"`` or ``"fr"``; None: the sites file's
    ``lang``, else English).

    ``source_cache`` is the parsed-source cache folder, as in :func:`cpted.pipeline.batch`: None
    reads ``$CPTED_CACHE_DIR/sources`` (else the platform's user cache folder), so that a comparison
    reads only the site's area of sources a batch has already parsed; False parses every file.
    """
    if not isinstance(sites, SitesFile):
        sites = read_sites_file(sites, data_dir=data_dir)
    spec = sites.site(site_id)
    lang = check_lang(lang or sites.lang or "en")
    table = read_weights(weights)
    sources = SourceCache(resolve_source_cache(source_cache))
    base_overrides, prop_overrides = parse_overrides(baseline), parse_overrides(proposed)
    base_site = load_site(apply_overrides(spec, base_overrides), cache_dir=cache_dir, sources=sources)
    prop_site = load_site(apply_overrides(spec, prop_overrides), cache_dir=cache_dir, sources=sources)
    result = compare_designs(base_site, prop_site, weights=table, how_to_declare="--{side} {kind}=empty")
    base, prop, deltas = result.baseline, result.proposed, result.deltas
    if out is not None:
        out = Path(out)
        write_audit(base, out / "baseline" / "audit.gpkg")
        write_audit(prop, out / "proposed" / "audit.gpkg")
        with atomic_path(out / "compare.gpkg") as tmp:
            pyogrio.write_dataframe(deltas, tmp, layer="deltas", driver="GPKG")
            pyogrio.write_dataframe(result.changes, tmp, layer="changes", driver="GPKG", append=True)
        write_summary(result.site, out / "compare.csv")
        write_compare_report(result, out / "compare.html", lang=lang, weights=table)
    return result


def compare_designs(
    baseline: Site,
    proposed: Site,
    *,
    weights: dict | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    how_to_declare: str = "Site.from_layers(..., known_empty=['{kind}']) for the {side}",
    **options,
) -> Comparison:
    """Audit two designs of one site, prepared as Sites, on the baseline's grid and compare them.

    The proposed design is audited on the baseline's cells, so cells line up one to one.
    Both designs must know the same layer kinds: a kind known (or known empty) in one and
    unknown in the other raises :class:`~cpted.errors.InputError`, since the comparison would
    otherwise set different metrics against each other (no lamp data in the baseline is not
    darkness). Deltas are reported only for the metrics known in both designs, cell by cell
    (:func:`cpted.score.compare.common_scores`). Neither Site is modified.

    Parameters
    ----------
    baseline, proposed
        The two designs (e.g. :meth:`Site.from_layers <cpted.prepare.site.Site.from_layers>`
        with the existing and the proposed buildings; ``known_empty=["lamps"]`` for a design
        surveyed without lamps).
    weights
        Weights of the scores; the defaults when None.
    progress
        Called as ``progress(step, done, total)`` over both audits (see :func:`cpted.audit`).
    how_to_declare
        How the caller declares a layer surveyed and empty, for the error message: a
        template with ``{kind}`` and ``{side}`` (``baseline`` or ``proposed``).
    **options
        Passed to :func:`cpted.audit` (``measures``, ``view_radius``, ``radii``).

    Returns
    -------
    Comparison

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely import box, LineString, Point
    >>> streets = gpd.GeoDataFrame({"walk_kind": ["street"]},
    ...     geometry=[LineString([(0, 50), (100, 50)])], crs=2154)
    >>> houses = gpd.GeoDataFrame({"height_m": [9.0]}, geometry=[box(70, 70, 90, 90)], crs=2154)
    >>> lamps = gpd.GeoDataFrame({"height_m": [6.0]}, geometry=[Point(50, 50)], crs=2154)
    >>> def design(layers, **kw):
    ...     return Site.from_layers("demo", box(0, 0, 100, 100), crs=2154, context=50, cell_size=10,
    ...                             layers={"streets": streets, "buildings": houses, **layers}, **kw)
    >>> c = compare_designs(design({}, known_empty=["lamps"]), design({"lamps": lamps}), measures=["surveillance"])
    >>> bool((c.deltas["delta_lux"] >= 0).all()), bool((c.deltas["delta_lux"] > 0).any())
    (True, True)
    >>> compare_designs(design({}), design({"lamps": lamps}))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    cpted.errors.InputError: the designs do not know the same layers: lamps is unknown in the baseline (no lamps source) but known in the proposed design. ... declare it empty (Site.from_layers(..., known_empty=['lamps']) for the baseline); otherwise supply the baseline's lamps
    """
    if baseline.crs != proposed.crs:
        msg = (f"the designs are in different CRSs ({baseline.crs.to_string()} and {proposed.crs.to_string()}); "
               f"prepare both Sites with the same crs")
        raise InputError(msg)
    _require_same_knowledge(baseline, proposed, how_to_declare)
    proposed = dataclasses.replace(proposed, layers=dict(proposed.layers))
    proposed.__dict__["grid"] = baseline.grid  # the same cells for both designs
    proposed.__dict__["cells"] = baseline.cells  # and the same ground left out of them

    def half(offset: int):
        if progress is None:
            return None
        return lambda step, done, total: progress(step, offset + done, 2 * total)

    base = audit(baseline, weights=weights, progress=half(0), **options)
    prop = audit(proposed, weights=weights, progress=half(1), **options)
    base_cells, prop_cells = base.layers["cells"], prop.layers["cells"]
    base_scores, prop_scores, base_site, prop_site = common_scores(base_cells, prop_cells, weights=weights)
    deltas = cell_deltas(_with_scores(base_cells, base_scores), _with_scores(prop_cells, prop_scores))
    site = site_deltas({**base.summary, **base_site}, {**prop.summary, **prop_site})
    return Comparison(base, prop, deltas, site, changed_places(deltas))


def _with_scores(cells: gpd.GeoDataFrame, scores: pd.DataFrame) -> gpd.GeoDataFrame:
    """``cells`` with its score columns replaced by ``scores`` (indexed by ``cell_id``)."""
    aligned = scores.reindex(cells["cell_id"].to_numpy()).set_axis(cells.index)
    return cells.drop(columns=[c for c in aligned.columns if c in cells]).join(aligned)


def _require_same_knowledge(baseline: Site, proposed: Site, how_to_declare: str) -> None:
    """Refuse two designs that do not know the same layer kinds, saying how to fix it."""
    problems, fixes, supply = [], [], []
    for kind in LAYER_KINDS:
        (b, why_b), (p, why_p) = baseline.layer_state(kind), proposed.layer_state(kind)
        if (b == UNKNOWN) != (p == UNKNOWN):
            side, why, other = ("baseline", why_b, "proposed design") if b == UNKNOWN else ("proposed", why_p, "baseline")
            problems.append(f"{kind} is unknown in the {side} ({why}) but known in the {other}")
            fixes.append(how_to_declare.format(kind=kind, side=side))
            supply.append(f"the {side}'s {kind}")
    if problems:
        msg = (f"the designs do not know the same layers: {'; '.join(problems)}. Comparing them would set different "
               f"metrics against each other. If surveyed and there is none, declare it empty ({', '.join(fixes)}); "
               f"otherwise supply {' and '.join(supply)}")
        raise InputError(msg)
