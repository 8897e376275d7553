"""Compare two designs of one site ("existing" against "proposed") on the same grid.

Any subset of layers can be replaced (``kind=path``) or extended (``kind+=path``) in either
design, e.g. proposed buildings, streets, lamps, entrances, barriers.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio

from cpted.atomic import atomic_path
from cpted.errors import InputError
from cpted.load.schema import LAYER_KINDS, empty_layer
from cpted.load.sites_file import LayerSpec, SitesFile, SiteSpec, read_sites_file
from cpted.pipeline import AuditResult, SourceCache, audit, load_site
from cpted.prepare.site import Site
from cpted.report.outputs import write_audit, write_summary
from cpted.score.compare import cell_deltas, changed_places, site_deltas
from cpted.score.scores import read_weights

__all__ = ["parse_overrides", "apply_overrides", "compare", "compare_designs", "Comparison"]


def parse_overrides(items: list[str] | None) -> dict[str, tuple[str, list[Path]]]:
    """``["lamps=new.geojson", "buildings+=extra.gpkg"]`` -> {kind: (mode, paths)}.

    Examples
    --------
    >>> parse_overrides(["lamps=a.geojson", "lamps=b.geojson", "buildings+=c.gpkg"])
    {'lamps': ('replace', [PosixPath('a.geojson'), PosixPath('b.geojson')]), 'buildings': ('add', [PosixPath('c.gpkg')])}
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
        if kind in out and out[kind][0] != mode:
            msg = f"layer override {item!r}: {kind} is both replaced and added to; choose one"
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
        if mode == "replace":
            layers[kind] = new
        else:  # what the baseline reads for this kind (its own, the shared, or its OSM files), plus the new
            current = spec.layers.get(kind) or spec.shared_layers.get(kind)
            if not current:
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
) -> Comparison:
    """Audit a baseline and a proposed design of one site on the same grid, and compare them.

    The proposed design is audited on the baseline's cells (so cells line up one to one);
    cells it builds over are flagged ``built_over``. A layer one design gives and the other
    lacks is empty in the other (no lamps: no light), not unknown. With ``out``, writes
    ``out/baseline/audit.gpkg``, ``out/proposed/audit.gpkg``, ``out/compare.gpkg`` (layers
    ``deltas`` and ``changes``) and ``out/compare.csv`` (site values of both designs and deltas).
    """
    if not isinstance(sites, SitesFile):
        sites = read_sites_file(sites, data_dir=data_dir)
    spec = sites.site(site_id)
    table = read_weights(weights)
    sources = SourceCache()
    base_overrides, prop_overrides = parse_overrides(baseline), parse_overrides(proposed)
    base_site = load_site(apply_overrides(spec, base_overrides), cache_dir=cache_dir, sources=sources)
    prop_site = load_site(apply_overrides(spec, prop_overrides), cache_dir=cache_dir, sources=sources)
    changed = set(base_overrides) | set(prop_overrides)
    result = compare_designs(base_site, prop_site, weights=table, changed=changed)
    base, prop, deltas = result.baseline, result.proposed, result.deltas
    if out is not None:
        out = Path(out)
        write_audit(base, out / "baseline" / "audit.gpkg")
        write_audit(prop, out / "proposed" / "audit.gpkg")
        with atomic_path(out / "compare.gpkg") as tmp:
            pyogrio.write_dataframe(deltas, tmp, layer="deltas", driver="GPKG")
            pyogrio.write_dataframe(result.changes, tmp, layer="changes", driver="GPKG", append=True)
        write_summary(result.site, out / "compare.csv")
    return result


def compare_designs(
    baseline: Site,
    proposed: Site,
    *,
    weights: dict | None = None,
    changed: Iterable[str] | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    **options,
) -> Comparison:
    """Audit two designs of one site, prepared as Sites, on the baseline's grid and compare them.

    The proposed design is audited on the baseline's cells, so cells line up one to one. A
    layer kind of ``changed`` (all kinds when None) that one design has and the other lacks is
    known to be empty in the other (a design without lamps has no light), not unknown. Neither
    Site is modified.

    Parameters
    ----------
    baseline, proposed
        The two designs (e.g. :meth:`Site.from_layers <cpted.prepare.site.Site.from_layers>`
        with the existing and the proposed buildings).
    weights
        Weights of the scores; the defaults when None.
    changed
        The layer kinds that differ between the designs.
    progress
        Called as ``progress(step, done, total)`` over both audits (see :func:`cpted.audit`).
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
    >>> def design(layers):
    ...     return Site.from_layers("demo", box(0, 0, 100, 100), crs=2154, context=50, cell_size=10,
    ...                             layers={"streets": streets, "buildings": houses, **layers})
    >>> c = compare_designs(design({}), design({"lamps": lamps}), measures=["surveillance"])
    >>> bool((c.deltas["delta_lux"] >= 0).all()), bool((c.deltas["delta_lux"] > 0).any())
    (True, True)
    """
    if baseline.crs != proposed.crs:
        msg = (f"the designs are in different CRSs ({baseline.crs.to_string()} and {proposed.crs.to_string()}); "
               f"prepare both Sites with the same crs")
        raise InputError(msg)
    proposed = dataclasses.replace(proposed, layers=dict(proposed.layers))
    proposed.__dict__["grid"] = baseline.grid  # the same cells for both designs
    proposed.__dict__["cells"] = baseline.cells  # and the same ground left out of them
    baseline = dataclasses.replace(baseline, layers=dict(baseline.layers))
    for kind in set(LAYER_KINDS if changed is None else changed):
        for one, other in ((baseline, proposed), (proposed, baseline)):
            if one.has(kind) and not other.has(kind):
                other.layers[kind] = empty_layer(kind, crs=other.crs)
                other.layers[kind].attrs["known_empty"] = True

    def half(offset: int):
        if progress is None:
            return None
        return lambda step, done, total: progress(step, offset + done, 2 * total)

    base = audit(baseline, weights=weights, progress=half(0), **options)
    prop = audit(proposed, weights=weights, progress=half(1), **options)
    deltas = cell_deltas(base.layers["cells"], prop.layers["cells"])
    return Comparison(base, prop, deltas, site_deltas(base.summary, prop.summary), changed_places(deltas))
