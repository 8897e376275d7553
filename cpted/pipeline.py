"""The stages composed: ``load -> prepare -> measure -> score -> report``.

- :func:`load_site` reads a site of a sites file into a prepared :class:`~cpted.prepare.site.Site`
  (:mod:`cpted.prepare.sources`);
- :func:`audit` runs the measures available on a site and returns its output layers;
- :func:`batch` audits every site of a sites file and writes the outputs.
"""

from __future__ import annotations

import logging
import math
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from cpted import __version__
from cpted.config import MIN_NETWORK_COVERAGE
from cpted.atomic import output_folder
from cpted.errors import InputError
from cpted.load.cache import resolve_source_cache
from cpted.load.schema import LAYER_KINDS
from cpted.load.sites_file import SitesFile, SiteSpec, read_sites_file
from cpted.parallel import frozen_heap, release_memory, run_in_process, run_sites
from cpted.engines.network import RADII, nearest_edge, network_from_streets, street_centrality
from cpted.measure.access_control import access_control
from cpted.measure.coverage import restrict_to_coverage, scored_shares
from cpted.measure.activity import activity
from cpted.measure.maintenance import maintenance
from cpted.measure.surveillance import VIEW_RADIUS, surveillance
from cpted.measure.territoriality import territoriality
from cpted.score.scores import PRINCIPLES, problem_places, read_weights, score_cells, site_scores
from cpted.prepare.completeness import completeness
from cpted.prepare.coverage import building_coverage
from cpted.prepare.site import Site
from cpted.prepare.sources import SourceCache, load_site, site_area, site_boundary, site_polygon

__all__ = ["SourceCache", "load_site", "site_boundary", "site_area", "AuditResult", "MEASURES", "audit", "audit_to",
           "batch", "BatchResult", "expected_cost", "shared_source_notes", "SourceNote", "SHARED_WARNINGS", "PeakMemory", "STATUSES", "score_status"]

log = logging.getLogger(__name__)


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
    attachment = nearest_edge(site.grid[["x", "y"]].to_numpy(), streets)  # once, for every measure
    return net, segments, circuity, attachment, None


def _radius(r) -> float:
    """A network radius in metres; ``"n"`` or ``math.inf`` is radius n (the whole network, columns ``…_inf``)."""
    if isinstance(r, str) and r.strip().lower() in ("n", "inf"):
        return math.inf
    try:
        value = float(r)
    except (TypeError, ValueError):
        value = math.nan
    if not value > 0:
        msg = f"network radius {r!r} is not a positive number of metres; give e.g. 400, or 'n' for radius n"
        raise InputError(msg)
    return value


def _check_options(measures, radii, view_radius) -> tuple[tuple[str, ...], tuple[float, ...]]:
    measures = MEASURES if measures is None else tuple(measures)
    unknown = [m for m in measures if m not in MEASURES]
    if unknown or not measures:
        msg = f"unknown measures {unknown}; choose among {', '.join(MEASURES)}"
        raise InputError(msg)
    radii = tuple(sorted({_radius(r) for r in radii}))
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
    visual_integration: bool = False,
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
        the scores use. ``math.inf`` or ``"n"`` is radius n, the whole network (columns ``…_inf``).
    isovist_polygons
        Add the ``isovists`` layer (one polygon per cell: large).
    visual_integration
        Add ``vga_mean_depth`` and ``vga_integration_hh`` (visual mean depth and integration [HH]
        over the visibility graph of the site and its context ring,
        :func:`cpted.measure.surveillance.visual_field`): a search over the whole graph from
        every place, minutes on a large site, so off by default. No score uses them.
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
    net = segments = circuity = attachment = why = None
    if networked:
        report("network", 1, len(steps))
        net, segments, circuity, attachment, why = _network(site, facts["network_coverage"], radii)
    nearest = None if attachment is None else attachment[0]
    run = {
        "surveillance": lambda: surveillance(site, view_radius=view_radius, isovist_polygons=isovist_polygons,
                                             visual_integration=visual_integration),
        "access_control": lambda: access_control(site, net, segments, circuity, nearest, radii=radii, reason=why),
        "activity": lambda: activity(site, net, radii=radii, reason=why, attachment=attachment),
        "territoriality": lambda: territoriality(site, net, attachment=attachment),
        "maintenance": lambda: maintenance(site),
    }
    parts = []
    for m in measures:
        report(m, steps.index(m), len(steps))
        parts.append(run[m]())
    report("scores", len(steps) - 1, len(steps))
    exclusions = site.exclusion_summary
    facts["notes"] = "; ".join(
        n for n in [facts["notes"], exclusions["grid_notes"], *(r for p in parts for r in p.reasons)] if n
    )
    summary: dict[str, object] = {
        "site_id": site.id,
        "name": site.name,
        **site.attributes,
        "approximate_boundary": site.approximate,
        "crs": site.crs.to_string(),
        "area_ha": site.boundary.area / 1e4,
        "cell_size": site.cell_size,
        **facts,
        **{k: v for k, v in exclusions.items() if k != "grid_notes"},
        "known_empty_layers": ", ".join(k for k in LAYER_KINDS if site.layer_state(k)[0] == "known_empty"),
        "unknown_layers": ", ".join(k for k in LAYER_KINDS if site.layer_state(k)[0] == "unknown"),
        **{k: v for p in parts for k, v in p.summary.items()},
        "attribution": " | ".join(site.attribution),
        "cpted_version": __version__,
    }
    cells = site.grid.assign(site_id=site.id)
    for p in parts:
        cells = cells.join(p.cells)
    cells, part_layers, summary = restrict_to_coverage(site, cells, {k: v for p in parts for k, v in p.layers.items()},
                                                       summary, building_coverage(site))
    scored = score_cells(cells, weights)
    cells = cells.join(scored)
    summary.update(site_scores(cells, scored))
    summary.update(scored_shares(cells))
    summary["status"] = score_status(summary)
    site_layer = gpd.GeoDataFrame({k: [v] for k, v in summary.items()}, geometry=[site.boundary], crs=site.crs)
    layers = {"site": site_layer, "cells": cells, "problem_places": problem_places(cells, streets=site.layers.get("streets"))}
    if site.has("streets"):
        streets = site.layer("streets")
        in_site = np.zeros(len(streets), dtype=bool)
        if len(streets):
            in_site[streets.sindex.query(site.boundary, predicate="intersects")] = True
        layers["streets"] = streets.assign(in_site=in_site)
    layers.update(part_layers)
    report("done", len(steps), len(steps))
    return AuditResult(site=site, summary=summary, layers=layers)


#: What a site's ``status`` says: its CPTED index was scored; only some principles were; no
#: principle was (the ``notes`` say why); its audit raised an error (in ``error``); it ran past the
#: batch's ``site_timeout``.
STATUSES = ("ok", "partial", "no_score", "failed", "timed_out")


def score_status(summary: dict) -> str:
    """``ok`` when the CPTED index was scored, ``partial`` when some principle was, else ``no_score``.

    Examples
    --------
    >>> score_status({"cpted_index": 61.0, "score_surveillance": 70.0})
    'ok'
    >>> score_status({"cpted_index": float("nan"), "score_surveillance": 70.0, "score_maintenance": float("nan")})
    'partial'
    >>> score_status({"cpted_index": float("nan"), "score_surveillance": float("nan")})
    'no_score'
    """
    def scored(key: str) -> bool:
        value = summary.get(key)
        return isinstance(value, int | float | np.number) and bool(np.isfinite(value))

    if scored("cpted_index"):
        return "ok"
    if any(scored(f"score_{p}") for p in PRINCIPLES):
        return "partial"
    return "no_score"


@dataclass
class BatchResult:
    """The summary table of a batch (one row per site) and where the outputs are."""

    summary: pd.DataFrame
    out: Path
    #: The warnings of the sites file's shared sources (``[layers]``), each once, with the sites
    #: that read them (:func:`shared_source_notes`); the sites' own ``notes`` leave them out.
    source_notes: list[SourceNote] = field(default_factory=list)

    @property
    def failed(self) -> pd.DataFrame:
        """Rows of the sites whose audit failed or ran past its time limit (``failed``, ``timed_out``)."""
        return self.summary[self.summary["status"].isin(["failed", "timed_out"])]

    @property
    def unscored(self) -> pd.DataFrame:
        """Rows of the sites audited without any score (``status == "no_score"``)."""
        return self.summary[self.summary["status"] == "no_score"]


def audit_to(
    spec: SiteSpec,
    out: str | Path,
    *,
    cache_dir: str | Path | None = None,
    sources: SourceCache | None = None,
    isovist_polygons: bool = False,
    weights: dict | None = None,
    pdf: bool = False,
    lang: str = "en",
) -> dict[str, object]:
    """Audit one site of a sites file and write ``out/<site_id>/audit.gpkg`` and ``report.html``
    (and ``report.pdf`` with ``pdf``, printed by headless Chromium: :func:`cpted.report.pdf.write_pdf`).

    The unit of work of :func:`batch`, on a Dask worker or in-process. Never raises for a
    failing site: the returned summary row says ``status = failed`` with the message in
    ``error``; otherwise its ``status`` is ``ok``, ``partial`` or ``no_score`` (:func:`score_status`). The row
    also gives ``seconds``, ``read_seconds`` (reading the source files, or the parsed-source
    cache), ``prepare_seconds`` (reprojecting, clipping and noding the layers, building the grid;
    both part of ``seconds``) and ``peak_memory_mb`` (the peak resident memory of the process while
    the site ran). ``report.html`` is written in ``lang`` (``"en"`` or ``"fr"``). The warnings of the
    sites file's shared sources (``[layers]``: facts about the whole file, the same for every site)
    are left out of the site's ``notes`` and returned under :data:`SHARED_WARNINGS`, for
    :func:`batch` to say each once.
    """
    from cpted.report.outputs import write_audit
    from cpted.report.site_report import write_site_report

    out = Path(out)
    sources = SourceCache() if sources is None else sources
    start, read, prepare, before = time.perf_counter(), float("nan"), float("nan"), sources.seconds
    with frozen_heap(), PeakMemory() as memory:
        try:
            site = load_site(spec, cache_dir=cache_dir, sources=sources)
            shared = _set_apart_shared_warnings(site, spec)
            read = sources.seconds - before
            prepare = time.perf_counter() - start - read
            result = audit(site, isovist_polygons=isovist_polygons, weights=weights)
            write_audit(result, out / spec.id / "audit.gpkg")
            write_site_report(result, out / spec.id / "report.html", lang=lang, weights=weights)
            if pdf:
                from cpted.report.pdf import write_pdf

                write_pdf(out / spec.id / "report.html", out / spec.id / "report.pdf")
            row = {**result.summary, "error": "", SHARED_WARNINGS: shared}
        except Exception as exc:  # noqa: BLE001 - one failing site must not stop the batch
            log.debug("site %s failed:\n%s", spec.id, traceback.format_exc())
            row = {"site_id": spec.id, "name": spec.name, **spec.attributes, "status": "failed",
                   "error": f"{type(exc).__name__}: {exc}"}
    row["seconds"] = round(time.perf_counter() - start, 2)
    row["read_seconds"], row["prepare_seconds"] = round(read, 2), round(prepare, 2)
    row["peak_memory_mb"] = round(memory.peak / 2**20, 1)
    release_memory()
    return row


#: The key of :func:`audit_to`'s row that holds the warnings of the sites file's shared sources.
SHARED_WARNINGS = "shared_source_warnings"


def _set_apart_shared_warnings(site: Site, spec: SiteSpec) -> list[str]:
    """Take the warnings of the sources of the sites file's ``[layers]`` (read by every site:
    duplicates dropped, streets drawn twice... over the whole file) out of the site's notes, and
    return them: :func:`batch` says each once for the run, naming the sites that read it."""
    own = {str(ls.path) for specs in spec.layers.values() for ls in specs if ls.path is not None}
    shared = {str(ls.path) for specs in spec.shared_layers.values() for ls in specs if ls.path is not None} - own
    found: list[str] = []
    for kind, facts in site.sources.items():
        kept = []
        for info in facts:
            if str(info.get("source")) in shared and info.get("warnings"):
                found.extend(info["warnings"])
                info = {**info, "warnings": []}
            kept.append(info)
        site.sources[kind] = kept
    return list(dict.fromkeys(found))


class SourceNote(NamedTuple):
    """A shared source's warning, said once for a batch: ``sites`` that read the source, or None
    when every site did. ``str()`` gives it as one English line (the terminal, ``batch.log``)."""

    warning: str
    sites: tuple[str, ...] | None

    def __str__(self) -> str:
        if self.sites is None:
            return f"{self.warning} (read by every site)"
        return f"{self.warning} (read by site{'s' if len(self.sites) > 1 else ''} {', '.join(self.sites)})"


def shared_source_notes(rows: list[dict]) -> list[SourceNote]:
    """The warnings of the shared sources of a batch's rows (:data:`SHARED_WARNINGS`), each once,
    with the sites that read the source (None: every site).

    Examples
    --------
    >>> notes = shared_source_notes([{"site_id": "a", SHARED_WARNINGS: ["w1", "w2"]}, {"site_id": "b", SHARED_WARNINGS: ["w1"]},
    ...                              {"site_id": "c", "status": "failed"}])
    >>> [str(n) for n in notes]
    ['w1 (read by sites a, b)', 'w2 (read by site a)']
    >>> shared_source_notes([{"site_id": "a", SHARED_WARNINGS: ["w1"]}])
    [SourceNote(warning='w1', sites=None)]
    """
    sites: dict[str, list[str]] = {}
    for row in rows:
        for warning in row.get(SHARED_WARNINGS) or ():
            sites.setdefault(warning, []).append(str(row["site_id"]))
    return [SourceNote(warning, None if len(ids) == len(rows) else tuple(ids)) for warning, ids in sites.items()]


class PeakMemory:
    """The peak resident memory (bytes) of this process while the block runs.

    On Linux the kernel keeps it: the peak is reset on entry (``/proc/self/clear_refs``) and read
    on exit (``VmHWM``), exact and free. Elsewhere a thread samples the resident size every
    ``interval`` seconds.
    """

    def __init__(self, interval: float = 0.02) -> None:
        self.interval, self.peak = interval, 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @staticmethod
    def _kernel_peak() -> int | None:
        try:
            with open("/proc/self/status") as status:
                for line in status:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1]) * 1024
        except OSError:
            return None
        return None

    def _sample(self) -> None:
        import psutil

        process = psutil.Process()
        while True:
            self.peak = max(self.peak, process.memory_info().rss)
            if self._stop.wait(self.interval):
                return

    def __enter__(self) -> PeakMemory:
        try:
            with open("/proc/self/clear_refs", "w") as refs:
                refs.write("5")  # resets the peak to the current resident size
        except OSError:
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        if self._thread is None:
            self.peak = self._kernel_peak() or 0
            return
        self._stop.set()
        self._thread.join()


_SOURCES: SourceCache | None = None  # one cache of files read per Dask worker process


def _audit_on_worker(spec: SiteSpec, out: str, options: dict) -> dict:
    """The task :func:`cpted.parallel.run_sites` runs on a Dask worker for each site."""
    global _SOURCES  # noqa: PLW0603 - per worker process
    options = dict(options)
    directory = options.pop("source_cache")
    if _SOURCES is None or _SOURCES.directory != directory:
        _SOURCES = SourceCache(directory)
    return audit_to(spec, out, sources=_SOURCES, **options)


def expected_cost(spec: SiteSpec) -> float:
    """A site's expected audit time, in arbitrary units, for handing the longest sites out first.

    The number of cells of its grid (site area / ``cell_size``²), four times more when buildings
    are given (its own, or the file's ``buildings`` or ``osm`` layers): visibility then runs over
    every cell, and it is most of an audit (Île de Nantes: 25 of 50 s; the sites without
    buildings: none). 0 when the site's boundary cannot be read (its audit then fails at once).

    Examples
    --------
    >>> from cpted.load.sites_file import SiteSpec
    >>> small = SiteSpec(id="a", name="a", crs="EPSG:2154", radius=0, context=0, cell_size=5, approximate=False,
    ...                  bbox=(0, 0, 100, 100))
    >>> large = SiteSpec(id="b", name="b", crs="EPSG:2154", radius=0, context=0, cell_size=5, approximate=False,
    ...                  bbox=(0, 0, 300, 300))
    >>> [s.id for s in sorted([small, large], key=expected_cost, reverse=True)]
    ['b', 'a']
    """
    try:
        area = float(site_polygon(spec).area.iloc[0])
    except Exception:  # noqa: BLE001 - the site's own run says what is wrong
        return 0.0
    kinds = {*spec.layers, *spec.shared_layers}
    buildings = bool(kinds & {"buildings", "osm"})
    return area / spec.cell_size**2 * (4.0 if buildings else 1.0)


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
    pdf: bool = False,
    lang: str | None = None,
    source_cache: str | Path | bool | None = None,
) -> BatchResult:
    """Audit every site of a sites file and write ``out/<site_id>/audit.gpkg``,
    ``out/<site_id>/report.html``, ``out/summary.csv`` and ``out/index.html``.

    A site that fails is reported in ``summary.csv`` (``status = failed`` with the message
    in ``error``; ``timed_out`` past ``site_timeout``) and the others go on; a site audited is
    ``ok``, ``partial`` or ``no_score`` (:data:`STATUSES`). Every file is written atomically; the
    temporary files a crashed earlier run left in ``out`` are removed first
    (:func:`cpted.atomic.sweep_temporaries`).

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
        (None: one per core). See :func:`cpted.parallel.run_sites`. On a fresh machine the
        kernels are then compiled first, once, on every core
        (:func:`cpted.precompile.precompile`, one to two minutes; nothing once done), instead
        of every worker compiling them at its first site.
    scheduler
        The address of an existing Dask scheduler (e.g. ``tcp://10.0.0.5:8786``) to send the
        sites to, instead of starting a cluster.
    memory_limit
        Memory limit per Dask worker (e.g. ``"4GiB"``), passed to Dask.
    source_cache
        The parsed-source cache folder (:mod:`cpted.load.cache`): each source file is parsed once
        per machine and each site reads only its bounding box plus context ring from it. None:
        ``$CPTED_CACHE_DIR/sources``, else the platform's user cache folder; False: no cache (each
        file is parsed in every process that reads it).
    site_timeout
        Seconds a site may run (from when a worker starts it, retries included); past it the
        site is reported with ``status = timed_out``, its worker is restarted and the others go
        on. No limit by default. With ``workers=1`` it runs the sites on a one-worker local
        Dask cluster, since a site can be stopped safely only in a process of its own.
    pdf
        Also write ``out/<site_id>/report.pdf`` and ``out/index.pdf`` (A4), printed by headless
        Chromium, which must then be installed (checked before any site runs).
    lang
        The reports' language, ``"en"`` or ``"fr"``; None: the sites file's ``lang``, else English.
        ``summary.csv`` and the GeoPackages keep their English column names and values.

    Returns
    -------
    BatchResult
    """
    from cpted.report.html import write_index
    from cpted.report.i18n import check_lang
    from cpted.report.outputs import write_summary

    if not isinstance(sites, SitesFile):
        sites = read_sites_file(sites, data_dir=data_dir)
    specs = sites.sites
    if site_ids is not None:
        wanted = list(site_ids)
        specs = [sites.site(i) for i in wanted]
    lang = check_lang(lang or sites.lang or "en")
    out = output_folder(out, [s.id for s in specs])
    weight_table = read_weights(weights)  # validated before any site runs
    if pdf:
        from cpted.report.pdf import chromium

        chromium()  # absent: said now, not after the audits
    options = {"cache_dir": cache_dir, "isovist_polygons": isovist_polygons, "weights": weight_table, "pdf": pdf,
               "lang": lang}
    directory = resolve_source_cache(source_cache)
    if workers == 1 and scheduler is None and site_timeout is None:
        cache = SourceCache(directory)  # files read once per batch (once per machine with a directory)
        rows = run_in_process(specs, out, lambda spec, out, options: audit_to(spec, out, sources=cache, **options),
                              options, progress=progress)
    else:  # the longest sites first, so that none starts last on an otherwise idle cluster
        if scheduler is None:  # workers on this machine: they find the kernels compiled
            from cpted.precompile import precompile

            precompile()
        longest_first = sorted(specs, key=expected_cost, reverse=True)
        done = run_sites(longest_first, out, _audit_on_worker, {**options, "source_cache": directory}, workers=workers,
                         scheduler=scheduler, memory_limit=memory_limit, site_timeout=site_timeout, progress=progress)
        by_id = {row["site_id"]: row for row in done}
        rows = [by_id[s.id] for s in specs]
    notes = shared_source_notes(rows)
    for note in notes:
        logging.getLogger("cpted.batch").info("shared source: %s", note)  # batch.log, with the sites' lines
    summary = pd.DataFrame([{k: v for k, v in row.items() if k != SHARED_WARNINGS} for row in rows])
    front = ["site_id", "name", "status"]
    summary = summary[front + [c for c in summary.columns if c not in front]]
    write_summary(summary, out / "summary.csv")
    write_index(summary, out / "index.html", title=sites.title, lang=lang, source_notes=notes)
    if pdf:
        from cpted.report.pdf import write_pdf

        write_pdf(out / "index.html", out / "index.pdf")
    return BatchResult(summary=summary, out=out, source_notes=notes)
