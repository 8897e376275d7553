"""The stages composed: ``load -> prepare -> measure -> score -> report``.

- :func:`load_site` reads a site of a sites file into a prepared :class:`~cpted.prepare.site.Site`;
- :func:`audit` runs the measures available on a site and returns its output layers;
- :func:`batch` audits every site of a sites file and writes the outputs.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from cpted import __version__
from cpted.config import ATTRIBUTION, MIN_NETWORK_COVERAGE
from cpted.atomic import output_folder
from cpted.errors import InputError
from cpted.load.fetch import cache_path, read_fetch_cache
from cpted.load.layers import read_layer
from cpted.load.osm import read_osm_raw
from cpted.load.osm_tags import osm_layers
from cpted.load.raster import read_raster
from cpted.load.schema import LAYER_KINDS, conform
from cpted.load.sites_file import LayerSpec, SitesFile, SiteSpec, read_sites_file
from cpted.load.vector import read_vector
from cpted.parallel import run_in_process, run_sites
from cpted.engines.network import RADII, nearest_edge, network_from_streets, street_centrality
from cpted.measure.access_control import access_control
from cpted.measure.activity import activity
from cpted.measure.maintenance import maintenance
from cpted.measure.surveillance import VIEW_RADIUS, surveillance
from cpted.measure.territoriality import territoriality
from cpted.score.scores import problem_places, read_weights, score_cells, site_scores
from cpted.prepare.completeness import completeness
from cpted.prepare.crs import choose_crs, to_crs
from cpted.prepare.grid import check_grid_size
from cpted.prepare.site import Site

__all__ = ["SourceCache", "load_site", "site_boundary", "site_area", "AuditResult", "MEASURES", "audit", "audit_to",
           "batch", "BatchResult", "PeakMemory"]

log = logging.getLogger(__name__)
_FORMAT_ATTRIBUTION = {
    "osm": ATTRIBUTION["osm"],
    "graphml": ATTRIBUTION["osm"],
    "fetch": ATTRIBUTION["osm"],
    "bdtopo": ATTRIBUTION["bdtopo"],
    "nantes_equipements": ATTRIBUTION["nantes"],
}
_OSM_KINDS = tuple(k for k in LAYER_KINDS if k != "reports")  # what OSM tags provide


class SourceCache:
    """Files already read in this run, so a file shared by many sites is read once."""

    def __init__(self) -> None:
        self._layers: dict[tuple, tuple[gpd.GeoDataFrame, dict]] = {}
        self._osm: dict[Path, dict[str, gpd.GeoDataFrame]] = {}
        self._other: dict[tuple, object] = {}

    def layer(self, spec: LayerSpec, kind: str) -> tuple[gpd.GeoDataFrame, dict]:
        """The canonical layer ``kind`` of a source, with facts about the read."""
        options = {k: v for k, v in spec.options.items() if k != "attribution"}
        key = (spec.path, kind, repr(sorted(options.items())))
        if key not in self._layers:
            self._layers[key] = read_layer(spec.path, kind, **options)
        gdf, info = self._layers[key]
        info = {**info, "attribution": spec.attribution or _FORMAT_ATTRIBUTION.get(info.get("format"))}
        return gdf, info

    def osm(self, spec: LayerSpec) -> dict[str, gpd.GeoDataFrame]:
        """Every canonical layer of an OSM file."""
        if spec.path not in self._osm:
            self._osm[spec.path] = osm_layers(read_osm_raw(spec.path))
        return self._osm[spec.path]

    def get(self, key: tuple, read: Callable[[], object]) -> object:
        """Any other read (fetch caches, reference grids, rasters), memoised by ``key``."""
        if key not in self._other:
            self._other[key] = read()
        return self._other[key]


def _boundary_shapes(spec: SiteSpec) -> gpd.GeoDataFrame:
    """The features of a site's boundary file (its ``where`` filter applied)."""
    shape = read_vector(spec.boundary.path, layer=spec.boundary.options.get("layer"),
                        where=spec.boundary.options.get("where"))
    if shape.empty:
        msg = f"site {spec.id!r}: the boundary file {str(spec.boundary.path)!r} selects no feature"
        raise InputError(msg)
    return shape


def site_boundary(spec: SiteSpec, crs, shapes: gpd.GeoDataFrame | None = None) -> shapely.Geometry:
    """The boundary polygon of a site spec in ``crs``: disc, box or polygon file (``shapes``
    when already read)."""
    if spec.centre is not None:
        point = gpd.GeoDataFrame(geometry=[shapely.Point(spec.centre)], crs=spec.centre_crs)
        centre = to_crs(point, crs, layer=f"centre of site {spec.id!r}").geometry.iloc[0]
        return centre.buffer(spec.radius, quad_segs=32)
    if spec.bbox is not None:
        return shapely.box(*spec.bbox)
    shapes = _boundary_shapes(spec) if shapes is None else shapes
    return shapely.union_all(to_crs(shapes, crs, layer=f"boundary of site {spec.id!r}").geometry.values)


def site_area(spec: SiteSpec) -> gpd.GeoSeries:
    """The site plus its context ring, as a one-row GeoSeries in the site CRS (nothing else is read)."""
    shapes = _boundary_shapes(spec) if spec.boundary is not None else None
    crs = _site_crs(spec, shapes)
    return gpd.GeoSeries([site_boundary(spec, crs, shapes).buffer(spec.context)], crs=crs)


def _site_crs(spec: SiteSpec, shapes: gpd.GeoDataFrame | None):
    if spec.crs is not None:
        return spec.crs
    if spec.centre is not None:
        lonlat = gpd.GeoSeries([shapely.Point(spec.centre)], crs=spec.centre_crs).to_crs(4326).iloc[0]
    else:
        lonlat = shapely.union_all(shapes.to_crs(4326).geometry.values)
    return choose_crs(lonlat)


def load_site(
    spec: SiteSpec,
    *,
    cache_dir: str | Path | None = None,
    sources: SourceCache | None = None,
) -> Site:
    """Read a site of a sites file and prepare it.

    For each layer kind, the sources are, in order of precedence: the site's own
    ``[site.layers]``, then the fetch cache ``<cache_dir>/<site_id>.gpkg`` (written by
    ``cpted fetch``), then the file-wide ``[layers]``. At each level, a source named for the
    kind wins over an ``osm`` file of that level.

    Parameters
    ----------
    spec
        One site of :func:`cpted.load.sites_file.read_sites_file`.
    cache_dir
        Where ``cpted fetch`` wrote its caches.
    sources
        Files already read in this run.

    Returns
    -------
    Site
    """
    sources = sources or SourceCache()
    shapes = _boundary_shapes(spec) if spec.boundary is not None else None
    crs = _site_crs(spec, shapes)
    boundary = site_boundary(spec, crs, shapes)
    check_grid_size(boundary, spec.cell_size, name=f"site {spec.id!r}")  # before any layer is read
    cache = cache_path(cache_dir, spec.id) if cache_dir is not None else None
    fetched = (
        sources.get(("fetch", cache), lambda: read_fetch_cache(cache)) if cache is not None and cache.exists() else {}
    )
    layers: dict[str, list[gpd.GeoDataFrame]] = {}
    info: dict[str, list[dict]] = {}
    for kind in LAYER_KINDS:
        parts = (
            _from_specs(spec.layers, kind, sources)
            or _from_cache(fetched, kind, cache)
            or _from_specs(spec.shared_layers, kind, sources)
        )
        if parts:
            layers[kind] = [p for p, _ in parts]
            info[kind] = [i for _, i in parts]
    audits = spec.layers.get("walk_audits") or spec.shared_layers.get("walk_audits") or []
    for audit_spec in audits:
        gdf, ainfo = sources.layer(audit_spec, "reports")
        layers.setdefault("reports", [p.assign(source="reports") for p in layers.get("reports", [])])
        layers["reports"].append(gdf.assign(source="walk_audit"))
        info.setdefault("reports", []).append({**ainfo, "format": "walk_audit"})
    _check_layers_meet_site(spec, boundary.buffer(spec.context), crs, layers, info)
    heights = _first_source(spec, "building_heights")
    building_heights = None
    if heights is not None:
        building_heights, hinfo = sources.layer(heights, "buildings")
        info["building_heights"] = [hinfo]
    reference = _first_source(spec, "reference_buildings")
    reference_gdf = None
    if reference is not None:
        reference_gdf = sources.get(("reference", reference.path), lambda: read_vector(reference.path))
        if "n_buildings" not in reference_gdf.columns:
            msg = f"reference grid {str(reference.path)!r} needs an 'n_buildings' column"
            raise InputError(msg)
        info["reference_buildings"] = [{"source": str(reference.path), "attribution": reference.attribution}]
    rasters = {}
    for r in spec.layers.get("rasters", spec.shared_layers.get("rasters", [])):
        rasters[r.options["name"]] = sources.get(("raster", r.path), lambda r=r: read_raster(r.path))
    attribution = tuple(i["attribution"] for facts in info.values() for i in facts if i.get("attribution"))
    return Site.from_layers(
        spec.id,
        boundary,
        crs=crs,
        layers=layers,
        name=spec.name,
        approximate=spec.approximate,
        context=spec.context,
        cell_size=spec.cell_size,
        building_heights=building_heights,
        reference_buildings=reference_gdf,
        rasters=rasters,
        sources=info,
        attribution=attribution,
    )


def _check_layers_meet_site(spec: SiteSpec, area, crs, layers: dict[str, list], info: dict[str, list]) -> None:
    """Each layer kind that the site's own ``[site.layers]`` give must meet the site or its
    context ring (``area``, in ``crs``) with at least one feature: a kind none of whose files
    does is the wrong file, or the site is in the wrong place. (The file-wide ``[layers]`` serve
    many sites, and may rightly miss some.)"""
    from pyproj import CRS

    if not CRS.from_user_input(crs).is_projected:
        return  # refused by Site.from_layers, with its own message
    own = {str(ls.path) for specs in spec.layers.values() for ls in specs}
    for kind, parts in layers.items():
        given = [(p, f) for p, f in zip(parts, info.get(kind, []), strict=False)
                 if f.get("source") in own and len(p) and p.crs is not None]
        if not given:
            continue
        missed = []
        for part, facts in given:
            local = gpd.GeoSeries([area], crs=crs).to_crs(part.crs).iloc[0]
            if len(part.sindex.query(local, predicate="intersects")):
                break
            extent = gpd.GeoSeries([shapely.box(*part.total_bounds)], crs=part.crs).to_crs(crs).iloc[0]
            missed.append((facts["source"], len(part), shapely.distance(area, extent)))
        else:
            files = ", ".join(f"{src!r}" for src, _, _ in missed)
            n = sum(count for _, count, _ in missed)
            away = min(d for _, _, d in missed)
            where = f"they lie {away / 1000:,.1f} km away" if away > 0 else "none is near, in an extent that covers it"
            msg = (
                f"site {spec.id!r}: the {kind} layer {files} has {n} features, none within the site or its "
                f"{spec.context:g} m context ring: {where}. Check the site's centre / bbox and crs (longitude "
                f"comes before latitude in 'centre'), or give a {kind} file that covers the site"
            )
            raise InputError(msg)


def _first_source(spec: SiteSpec, key: str) -> LayerSpec | None:
    found = spec.layers.get(key) or spec.shared_layers.get(key)
    return found[0] if found else None


def _from_specs(level: dict[str, list[LayerSpec]], kind: str, sources: SourceCache) -> list[tuple]:
    """The parts of ``kind`` a sites-file level provides: named sources, else its OSM files."""
    if kind in level:
        return [sources.layer(spec, kind) for spec in level[kind]]
    if kind not in _OSM_KINDS:
        return []
    return [
        (
            conform(sources.osm(spec)[kind], kind, name=f"{kind} ({spec.path.name})"),
            {"source": str(spec.path), "format": "osm", "attribution": spec.attribution or ATTRIBUTION["osm"]},
        )
        for spec in level.get("osm", [])
    ]


def _from_cache(fetched: dict[str, gpd.GeoDataFrame], kind: str, cache: Path | None) -> list[tuple]:
    """The part of ``kind`` a fetch cache provides."""
    if kind not in fetched:
        return []
    gdf = conform(fetched[kind], kind, name=f"{kind} (fetch cache {cache})")
    return [(gdf, {"source": str(cache), "format": "fetch", "attribution": ATTRIBUTION["osm"]})]


@dataclass
class AuditResult:
    """What an audit of one site produced: its summary row and its output layers."""

    site: Site
    summary: dict[str, object]
    layers: dict[str, gpd.GeoDataFrame] = field(default_factory=dict)


#: The measures :func:`audit` can run, in order.
MEASURES = ("surveillance", "access_control", "activity", "territoriality", "maintenance")
#: Network radius (m) of the measures the scores use (``mix_d1_800``, ``through_share_800``...).
SCORED_RADIUS = 800.0


def _network(site: Site, coverage: float, radii):
    """The site's network and street centralities, or the reason there are none."""
    if not site.has("streets"):
        return None, None, None, None, "no streets layer given"
    if not coverage >= MIN_NETWORK_COVERAGE:
        return None, None, None, None, (
            f"the walk network covers {coverage:.0%} of the site (< {MIN_NETWORK_COVERAGE:.0%}): "
            f"add streets or run `cpted fetch`"
        )
    streets = site.layer("streets")
    net = network_from_streets(streets)
    outside = ~shapely.contains_xy(site.boundary, net.xy[:, 0], net.xy[:, 1])
    segments, circuity = street_centrality(streets, net, outside=outside, radii=radii)
    nearest = nearest_edge(site.grid[["x", "y"]].to_numpy(), streets)[0]
    return net, segments, circuity, nearest, None


def _check_options(measures, radii, view_radius) -> tuple[tuple[str, ...], tuple[float, ...]]:
    measures = MEASURES if measures is None else tuple(measures)
    unknown = [m for m in measures if m not in MEASURES]
    if unknown or not measures:
        msg = f"unknown measures {unknown}; choose among {', '.join(MEASURES)}"
        raise InputError(msg)
    radii = tuple(sorted({float(r) for r in radii}))
    if SCORED_RADIUS not in radii or radii[0] <= 0:
        msg = (f"network radii {list(radii)} must be positive and include {SCORED_RADIUS:g} m, "
               f"the radius the scores use; add {SCORED_RADIUS:g}")
        raise InputError(msg)
    if not view_radius > 0:
        msg = f"view_radius must be a positive number of metres, not {view_radius!r}"
        raise InputError(msg)
    return measures, radii


def audit(
    site: Site,
    *,
    measures: Iterable[str] | None = None,
    view_radius: float = VIEW_RADIUS,
    radii: Iterable[float] = RADII,
    isovist_polygons: bool = False,
    weights: dict | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> AuditResult:
    """Audit one prepared site.

    Returns the ``site`` layer (boundary with the site-level values), the ``cells`` grid with
    the per-place measures, the ``streets`` of the site and its context ring (``in_site`` flags
    the site's own), and each principle's own layers (``openings``, ``blind_spots``, ``lamps``,
    ``segments``, ``entry_points``, ``movement_predictors``, ``boundaries``, ``ambiguous_space``,
    ``reports``, ``vegetation_obstruction``). A principle whose inputs are missing gets
    NaN values and its reason in ``notes``. Scores (0–100 per principle, the CPTED index, the
    night surveillance score, drivers) and the ``problem_places`` layer follow ``weights``.

    Parameters
    ----------
    site
        A prepared site (:meth:`Site.from_layers <cpted.prepare.site.Site.from_layers>` or
        :func:`load_site`).
    measures
        Which of :data:`MEASURES` to run (all by default). The scores of the principles whose
        measures are not run are NaN, and so is the index when less than half of the principles'
        weight is left.
    view_radius
        Radius of the visual field (isovists, connectivity), metres. The isovist-area score's
        reference range is set for the default 100 m.
    radii
        Network radii (m) of centralities and land-use mix; must include 800 m, the radius
        the scores use.
    isovist_polygons
        Add the ``isovists`` layer (one polygon per cell: large).
    weights
        Weights of the scores (:func:`cpted.score.scores.read_weights`); the defaults when None.
    progress
        Called as ``progress(step, done, total)`` before each step and once at the end
        (``step == "done"``). An exception it raises stops the audit (how the QGIS plugin cancels).

    Returns
    -------
    AuditResult

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely import box, LineString
    >>> streets = gpd.GeoDataFrame({"walk_kind": ["street"]},
    ...     geometry=[LineString([(0, 50), (100, 50)])], crs=2154)
    >>> site = Site.from_layers("demo", box(0, 0, 100, 100), crs=2154,
    ...                         layers={"streets": streets}, context=50, cell_size=10)
    >>> result = audit(site, measures=["access_control"])
    >>> sorted(result.layers)[:3], int(result.layers["cells"]["escape_routes"].max())
    (['cells', 'entry_points', 'movement_predictors'], 2)
    """
    measures, radii = _check_options(measures, radii, view_radius)
    networked = {"access_control", "activity", "territoriality"} & set(measures)
    steps = ["completeness", *(["network"] if networked else []), *measures, "scores"]
    report = progress or (lambda *_: None)
    report(steps[0], 0, len(steps))
    facts = completeness(site)
    net = segments = circuity = nearest = why = None
    if networked:
        report("network", 1, len(steps))
        net, segments, circuity, nearest, why = _network(site, facts["network_coverage"], radii)
    run = {
        "surveillance": lambda: surveillance(site, view_radius=view_radius, isovist_polygons=isovist_polygons),
        "access_control": lambda: access_control(site, net, segments, circuity, nearest, radii=radii, reason=why),
        "activity": lambda: activity(site, net, radii=radii, reason=why),
        "territoriality": lambda: territoriality(site, net),
        "maintenance": lambda: maintenance(site),
    }
    parts = []
    for m in measures:
        report(m, steps.index(m), len(steps))
        parts.append(run[m]())
    report("scores", len(steps) - 1, len(steps))
    facts["notes"] = "; ".join(n for n in [facts["notes"], *(r for p in parts for r in p["reasons"])] if n)
    summary: dict[str, object] = {
        "site_id": site.id,
        "name": site.name,
        "approximate_boundary": site.approximate,
        "crs": site.crs.to_string(),
        "area_ha": site.boundary.area / 1e4,
        "cell_size": site.cell_size,
        **facts,
        **{k: v for p in parts for k, v in p["summary"].items()},
        "attribution": " | ".join(site.attribution),
        "cpted_version": __version__,
    }
    cells = site.grid.assign(site_id=site.id)
    for p in parts:
        cells = cells.join(p["cells"])
    scored = score_cells(cells, weights)
    cells = cells.join(scored)
    summary.update(site_scores(cells, scored))
    site_layer = gpd.GeoDataFrame({k: [v] for k, v in summary.items()}, geometry=[site.boundary], crs=site.crs)
    layers = {"site": site_layer, "cells": cells, "problem_places": problem_places(cells)}
    if site.has("streets"):
        streets = site.layer("streets")
        in_site = np.zeros(len(streets), dtype=bool)
        if len(streets):
            in_site[streets.sindex.query(site.boundary, predicate="intersects")] = True
        layers["streets"] = streets.assign(in_site=in_site)
    for p in parts:
        layers.update(p["layers"])
    report("done", len(steps), len(steps))
    return AuditResult(site=site, summary=summary, layers=layers)


@dataclass
class BatchResult:
    """The summary table of a batch (one row per site) and where the outputs are."""

    summary: pd.DataFrame
    out: Path

    @property
    def failed(self) -> pd.DataFrame:
        """Rows of the sites that failed."""
        return self.summary[self.summary["status"] != "ok"]


def audit_to(
    spec: SiteSpec,
    out: str | Path,
    *,
    cache_dir: str | Path | None = None,
    sources: SourceCache | None = None,
    isovist_polygons: bool = False,
    weights: dict | None = None,
) -> dict[str, object]:
    """Audit one site of a sites file and write ``out/<site_id>/audit.gpkg`` and ``report.html``.

    The unit of work of :func:`batch`, on a Dask worker or in-process. Never raises for a
    failing site: the returned summary row says ``status = error`` with the message. The row
    also gives ``seconds`` and ``peak_memory_mb`` (the peak resident memory of the process while
    the site ran).
    """
    from cpted.report.outputs import write_audit
    from cpted.report.site_report import write_site_report

    out = Path(out)
    start = time.perf_counter()
    with PeakMemory() as memory:
        try:
            result = audit(load_site(spec, cache_dir=cache_dir, sources=sources), isovist_polygons=isovist_polygons,
                           weights=weights)
            write_audit(result, out / spec.id / "audit.gpkg")
            write_site_report(result, out / spec.id / "report.html")
            row = {**result.summary, "status": "ok", "error": ""}
        except Exception as exc:  # noqa: BLE001 - one failing site must not stop the batch
            log.debug("site %s failed:\n%s", spec.id, traceback.format_exc())
            row = {"site_id": spec.id, "name": spec.name, "status": "error", "error": f"{type(exc).__name__}: {exc}"}
    row["seconds"] = round(time.perf_counter() - start, 2)
    row["peak_memory_mb"] = round(memory.peak / 2**20, 1)
    return row


class PeakMemory:
    """The peak resident memory (bytes) of this process while the block runs, sampled every 20 ms."""

    def __init__(self, interval: float = 0.02) -> None:
        self.interval, self.peak = interval, 0
        self._stop = threading.Event()

    def _sample(self) -> None:
        import psutil

        process = psutil.Process()
        while True:
            self.peak = max(self.peak, process.memory_info().rss)
            if self._stop.wait(self.interval):
                return

    def __enter__(self) -> PeakMemory:
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


_SOURCES: SourceCache | None = None  # one cache of files read per Dask worker process


def _audit_on_worker(spec: SiteSpec, out: str, options: dict) -> dict:
    """The task :func:`cpted.parallel.run_sites` runs on a Dask worker for each site."""
    global _SOURCES  # noqa: PLW0603 - per worker process
    if _SOURCES is None:
        _SOURCES = SourceCache()
    return audit_to(spec, out, sources=_SOURCES, **options)


def batch(
    sites: SitesFile | str | Path,
    out: str | Path,
    *,
    site_ids: Iterable[str] | None = None,
    data_dir: str | Path | None = None,
    cache_dir: str | Path | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    isovist_polygons: bool = False,
    weights: str | Path | None = None,
    workers: int | None = 1,
    scheduler: str | None = None,
    memory_limit: str | None = None,
    site_timeout: float | None = None,
) -> BatchResult:
    """Audit every site of a sites file and write ``out/<site_id>/audit.gpkg``,
    ``out/<site_id>/report.html``, ``out/summary.csv`` and ``out/index.html``.

    A site that fails is reported in ``summary.csv`` (``status = error`` with the message)
    and the others go on. Every file is written atomically; the temporary files a crashed
    earlier run left in ``out`` are removed first (:func:`cpted.atomic.sweep_temporaries`).

    Parameters
    ----------
    sites
        A sites file or its path.
    out
        Output directory. With Dask workers on other machines, a path they all see (a shared
        file system), since each worker writes its sites' files there.
    site_ids
        Only these sites (all by default).
    data_dir, cache_dir
        See :func:`~cpted.load.sites_file.read_sites_file` and :func:`load_site`.
    progress
        Called as ``progress(site_id, done, total)`` after each site.
    isovist_polygons
        Also write each cell's isovist polygon (layer ``isovists``; large).
    weights
        A weights file (TOML) for the scores; the packaged defaults when None.
    workers
        Sites audited at once. 1 (the default of this function): in this process, without Dask.
        More: on a Dask ``LocalCluster`` of that many single-threaded worker processes
        (None: one per core). See :func:`cpted.parallel.run_sites`.
    scheduler
        The address of an existing Dask scheduler (e.g. ``tcp://10.0.0.5:8786``) to send the
        sites to, instead of starting a cluster.
    memory_limit
        Memory limit per Dask worker (e.g. ``"4GiB"``), passed to Dask.
    site_timeout
        Seconds a site may run (from when a worker starts it, retries included); past it the
        site is reported with ``status = timed_out``, its worker is restarted and the others go
        on. No limit by default. With ``workers=1`` it runs the sites on a one-worker local
        Dask cluster, since a site can be stopped safely only in a process of its own.

    Returns
    -------
    BatchResult
    """
    from cpted.report.html import write_index
    from cpted.report.outputs import write_summary

    if not isinstance(sites, SitesFile):
        sites = read_sites_file(sites, data_dir=data_dir)
    specs = sites.sites
    if site_ids is not None:
        wanted = list(site_ids)
        specs = [sites.site(i) for i in wanted]
    out = output_folder(out, [s.id for s in specs])
    weight_table = read_weights(weights)  # validated before any site runs
    options = {"cache_dir": cache_dir, "isovist_polygons": isovist_polygons, "weights": weight_table}
    if workers == 1 and scheduler is None and site_timeout is None:
        cache = SourceCache()  # files read once per batch
        rows = run_in_process(specs, out, lambda spec, out, options: audit_to(spec, out, sources=cache, **options),
                              options, progress=progress)
    else:
        rows = run_sites(specs, out, _audit_on_worker, options, workers=workers, scheduler=scheduler,
                         memory_limit=memory_limit, site_timeout=site_timeout, progress=progress)
    summary = pd.DataFrame(rows)
    front = ["site_id", "name", "status"]
    summary = summary[front + [c for c in summary.columns if c not in front]]
    write_summary(summary, out / "summary.csv")
    write_index(summary, out / "index.html", title=sites.title)
    return BatchResult(summary=summary, out=out)
