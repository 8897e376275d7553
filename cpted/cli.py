"""The ``cpted`` command line: ``cpted batch``, ``cpted fetch``, ``cpted sites``, ``cpted evaluate`` and ``cpted cache``.

It calls the public API only. Exit codes: 0 done, 1 a site failed or timed out (see
summary.csv), 2 bad input (the message names the file, key or layer and the fix), 3 a server
that cannot be reached (``cpted fetch``), 130 / 143 / 129 interrupted by Ctrl-C / SIGTERM /
SIGHUP (no half-written file is left; outputs written before stay whole).
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import signal
import sys
import threading
from pathlib import Path

from cpted import __version__
from cpted.errors import CptedError, NetworkError
from cpted.report.i18n import LANGS

__all__ = ["main"]

log = logging.getLogger("cpted")


def _cache_dir(arg: str | None) -> Path:
    if arg:
        return Path(arg)
    if os.environ.get("CPTED_CACHE_DIR"):
        return Path(os.environ["CPTED_CACHE_DIR"])
    return Path.home() / ".cache" / "cpted" / "osm"


def _sources_dir(arg: str | None) -> Path:
    """The parsed-source cache: ``sources/`` under --cache-dir, $CPTED_CACHE_DIR or the platform's cache folder."""
    from cpted.load.cache import sources_dir

    return sources_dir(arg)


def _source_cache(args) -> Path | bool:
    """The parsed-source cache a command reads: False with --no-source-cache."""
    return False if args.no_source_cache else _sources_dir(args.cache_dir)


def _fmt(value, share: bool = False) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.2f}" if share else f"{int(value)}"


class _Stopped(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised like Ctrl-C so that every write in progress is undone."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _on_signal(signum, frame) -> None:  # noqa: ARG001
    # a second signal while the first is being handled leaves at once (the next run in this
    # output folder sweeps any temporary file left)
    for sig in _STOP_SIGNALS:
        signal.signal(sig, _leave_now)
    raise _Stopped(signum) if signum != signal.SIGINT else KeyboardInterrupt


def _leave_now(signum, frame) -> None:  # noqa: ARG001
    print(f"cpted: {signal.Signals(signum).name} again: leaving without cleaning up", file=sys.stderr)
    os._exit(128 + signum)


_STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


def _handle_signals() -> None:
    """SIGTERM and SIGHUP are handled like Ctrl-C (from the main thread only)."""
    if threading.current_thread() is threading.main_thread():
        for sig in _STOP_SIGNALS:
            signal.signal(sig, _on_signal)


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        msg = f"must be a positive number of seconds, not {text}"
        raise argparse.ArgumentTypeError(msg)
    return value


def _num(value, spec: str = ".2f") -> str:
    """A number for the compare table; ``n/a`` when unknown (NaN)."""
    return "n/a" if value is None or not math.isfinite(value) else format(value, spec)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        msg = f"must be 1 or more, not {value}"
        raise argparse.ArgumentTypeError(msg)
    return value


def _site_log(out: Path, *, quiet: bool) -> logging.Logger:
    """One line per finished site: to ``OUT/batch.log``, and to stderr when it is not a terminal
    (on a terminal the progress bar shows the sites)."""
    site_log = logging.getLogger("cpted.batch")
    site_log.setLevel(logging.INFO)
    site_log.propagate = False
    for h in list(site_log.handlers):
        site_log.removeHandler(h)
        h.close()
    handler = logging.FileHandler(out / "batch.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    site_log.addHandler(handler)
    if not quiet and not sys.stderr.isatty():
        site_log.addHandler(logging.StreamHandler(sys.stderr))
    return site_log


def _precompile(quiet: bool) -> None:
    """Compile the kernels on every core before a first audit on this machine (once; see
    :mod:`cpted.precompile`)."""
    from cpted.precompile import precompile

    precompile(notify=None if quiet else lambda line: print(line, file=sys.stderr, flush=True))


def _cmd_batch(args) -> int:
    from cpted.atomic import output_folder
    from cpted.load.sites_file import read_sites_file

    sites = read_sites_file(args.sites_file, data_dir=args.data_dir)  # bad input refused before the heavy imports
    total = len(args.site) if args.site else len(sites.sites)
    out = output_folder(args.out, args.site or [s.id for s in sites.sites])

    from tqdm import tqdm

    from cpted.pipeline import batch

    if args.scheduler is None:  # a cluster of other machines compiles on its own
        _precompile(args.quiet)
    site_log = _site_log(out, quiet=args.quiet)
    bar = tqdm(total=total, unit="site", desc="audit", disable=args.quiet or None, file=sys.stderr)

    def progress(site_id: str, done: int, total: int) -> None:
        bar.set_postfix_str(site_id)
        bar.update(1)

    try:
        workers = args.workers if args.workers is not None else (1 if args.scheduler is None and total <= 1 else None)
        result = batch(sites, out, site_ids=args.site, cache_dir=_cache_dir(args.cache_dir), progress=progress,
                       isovist_polygons=args.isovists, weights=args.weights, workers=workers,
                       scheduler=args.scheduler, memory_limit=args.memory_limit, site_timeout=args.site_timeout,
                       pdf=args.pdf, lang=args.lang,
                       source_cache=_source_cache(args))
    finally:
        bar.close()
        for h in list(site_log.handlers):
            site_log.removeHandler(h)
            h.close()
    s = result.summary
    print(f"\n{'site':<22}{'status':<10}{'cells':>8}{'streets':>9}{'buildings':>10}{'coverage':>10}{'bldg/ref':>10}{'index':>7}")
    for _, r in s.iterrows():
        if r["status"] in ("failed", "timed_out"):
            print(f"{r['site_id']:<22}{str(r['status']).upper():<10}{r['error']}")
            continue
        print(f"{r['site_id']:<22}{r['status']:<10}{_fmt(r['n_cells']):>8}{_fmt(r['n_streets']):>9}"
              f"{_fmt(r['n_buildings']):>10}{_fmt(r['network_coverage'], True):>10}"
              f"{_fmt(r['building_completeness'], True):>10}{_fmt(r.get('cpted_index')):>7}")
        if r["status"] == "no_score":
            print(f"{'':<22}nothing scored: {r.get('notes') or r.get('score_notes') or ''}")
    if result.source_notes:
        print("\nshared sources (said once, not under each site):")
        for note in result.source_notes:
            print(f"  {note}")
    counts = s["status"].value_counts()
    print(f"\n{len(s)} sites: " + ", ".join(f"{counts.get(k, 0)} {k}" for k in ("ok", "partial", "no_score", "failed", "timed_out"))
          + f" -> {result.out / 'summary.csv'}, {result.out / 'index.html'}")
    return 1 if len(result.failed) else 0  # partial and no_score are outcomes of the data, not failures


def _cmd_fetch(args) -> int:
    from cpted.load.fetch import DEFAULT_OVERPASS_URL, cache_path, check_reachable, fetch_osm
    from cpted.load.sites_file import read_sites_file

    sites = read_sites_file(args.sites_file, data_dir=args.data_dir)
    specs = [sites.site(i) for i in args.site] if args.site else sites.sites
    url = args.overpass_url or DEFAULT_OVERPASS_URL
    check_reachable(url)  # offline: said within ~10 s, before the heavy imports and osmnx's retries

    import osmnx as ox

    from cpted.pipeline import site_area

    cache = _cache_dir(args.cache_dir)
    ox.settings.cache_folder = str(cache / "http")  # osmnx's own HTTP cache, not the cwd
    ox.settings.overpass_url = url
    ox.settings.requests_timeout = 120  # s per request once the server answers (osmnx: 180)
    failed = 0
    for spec in specs:
        try:
            area = site_area(spec).to_crs(4326).iloc[0]
            counts = fetch_osm(area, cache_path(cache, spec.id))
        except NetworkError:
            raise  # the server went away: the next sites would fail the same way
        except CptedError as exc:
            failed += 1
            print(f"{spec.id}: fetch failed: {exc}", file=sys.stderr)
            continue
        except Exception as exc:  # noqa: BLE001 - errors of osmnx of every kind
            failed += 1
            print(f"{spec.id}: fetch failed: {type(exc).__name__}: {exc}", file=sys.stderr)
            continue
        print(f"{spec.id}: {counts['walk_edges']} walk edges, {counts['osm_features']} OSM features -> {cache_path(cache, spec.id)}")
    return 1 if failed else 0


def _cmd_sites(args) -> int:
    from cpted.load.sites_file import read_sites_file

    sites = read_sites_file(args.sites_file, data_dir=args.data_dir)
    print(f"{sites.title}: {len(sites.sites)} sites (data directory: {sites.data_dir})")
    for s in sites.sites:
        shape = f"centre {s.centre} r={s.radius:g} m" if s.centre else (f"bbox {s.bbox}" if s.bbox else f"boundary {s.boundary.path}")
        kinds = sorted(set(s.layers) | set(s.shared_layers))
        print(f"  {s.id:<22}{shape}{' (approximate)' if s.approximate else ''}; layers: {', '.join(kinds) or 'none'}")
    return 0


def _cmd_compare(args) -> int:
    from cpted.scenario import compare

    _precompile(False)
    result = compare(args.sites_file, args.site, baseline=args.baseline, proposed=args.proposed, out=args.out,
                     data_dir=args.data_dir, cache_dir=_cache_dir(args.cache_dir), weights=args.weights,
                     lang=args.lang, source_cache=_source_cache(args))
    rows = result.site.set_index("value")
    print(f"{'value':<30}{'baseline':>12}{'proposed':>12}{'delta':>10}")
    for key in ["cpted_index", "score_surveillance", "score_surveillance_night", "score_territoriality",
                "score_access_control", "score_maintenance", "overseen_share", "lux_avg", "ambiguous_share"]:
        if key in rows.index:
            r = rows.loc[key]
            print(f"{key:<30}{_num(r['baseline']):>12}{_num(r['proposed']):>12}{_num(r['delta'], '+.2f'):>10}")
    changes = result.changes.groupby(["principle", "change"])["area_m2"].sum() if len(result.changes) else {}
    for (principle, change), area in (changes.items() if len(result.changes) else []):
        print(f"  {principle}: {change} over {area:,.0f} m²")
    print(f"-> {args.out / 'compare.html'}, {args.out / 'compare.gpkg'}, {args.out / 'compare.csv'}, baseline/ and proposed/ audits")
    return 0


def _measure(text: str) -> tuple[str, str]:
    column, _, end = text.partition("=")
    if end not in ("high", "low") or not column:
        msg = f"give COLUMN=high or COLUMN=low (the end flagged first), not {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return column, end


def _cmd_evaluate(args) -> int:
    from cpted.evaluation import read_incidents, require_statsmodels, select_incidents
    from cpted.load.sites_file import read_sites_file
    from cpted.report.i18n import check_lang

    require_statsmodels()
    sites = read_sites_file(args.sites_file, data_dir=args.data_dir)
    lang = check_lang(args.lang or sites.lang or "en")
    spec = sites.site(args.site)
    incidents = read_incidents(args.incidents, crs=args.incidents_crs)  # refused before the audit,
    filters = {"date_from": args.date_from, "date_to": args.date_to, "time_of_day": args.time_of_day}
    select_incidents(incidents, **filters)  # and so are filters it cannot apply

    from cpted.evaluation import evaluate
    from cpted.pipeline import SourceCache, audit, load_site
    from cpted.report.evaluation import format_table, write_evaluation
    from cpted.score.scores import read_weights

    _precompile(False)
    site = load_site(spec, cache_dir=_cache_dir(args.cache_dir), sources=SourceCache(_source_cache(args) or None))
    result = audit(site, weights=read_weights(args.weights))
    snap = {} if args.snap_distance is None else {"snap_distance": args.snap_distance}
    ev = evaluate(result, incidents, measures=dict(args.measure or []), **filters, **snap,
                  permutations=args.permutations, seed=args.seed)
    paths = write_evaluation(ev, args.out, lang=lang)
    print(format_table(ev))
    print("-> " + ", ".join(str(p) for p in paths.values()))
    return 0


def _cmd_cache(args) -> int:
    from cpted.load.cache import cache_entries, clear_cache

    folder = _sources_dir(args.cache_dir)
    if args.action == "clear":
        print(f"{clear_cache(folder)} files removed from {folder}")
        return 0
    entries = cache_entries(folder)
    size = sum(e["bytes"] for e in entries)
    print(f"parsed-source cache {folder}: {len(entries)} entries, {size / 2**20:.1f} MB")
    for e in entries:
        what = e.get("error") or f"{e['rows']} features ({e['kind'] or 'layer'}) from {e['source']}"
        print(f"  {Path(e['path']).name}  {e['bytes'] / 2**20:7.2f} MB  {what}")
    return 0


def _cmd_template(args) -> int:
    from cpted.measure.maintenance import write_walk_audit_template

    write_walk_audit_template(args.out, crs=args.crs)
    print(f"empty walk-audit GeoPackage written: {args.out} (layer walk_audit; see docs/methods/maintenance.md)")
    return 0


_LANG_HELP = ("language of the reports: en or fr (default: the sites file's lang, else en); "
              "CSV and GeoPackage column names stay in English")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="cpted", description="CPTED audits of public spaces from open geodata.")
    p.add_argument("--version", action="version", version=f"cpted {__version__}")
    p.add_argument("-v", "--verbose", action="store_true", help="log what is read and reprojected")
    sub = p.add_subparsers(dest="command", required=True)

    def _no_source_cache(q):
        q.add_argument("--no-source-cache", action="store_true",
                       help="parse every source file again instead of reading the parsed-source cache")

    def common(q):
        q.add_argument("sites_file", type=Path, help="the sites file (TOML, see docs/sites_file.md)")
        q.add_argument("--data-dir", help="where relative paths resolve (default: $CPTED_DATA_DIR, then ../shared/data)")
        q.add_argument("--cache-dir", help="cache folder: `cpted fetch` downloads, and parsed sources in its sources/ "
                       "(default: $CPTED_CACHE_DIR, then ~/.cache/cpted/osm for downloads and the platform's user "
                       "cache folder for parsed sources)")
        q.add_argument("--site", action="append", metavar="ID", help="only this site (repeatable)")

    b = sub.add_parser("batch", help="audit every site and write audit.gpkg files, summary.csv and index.html")
    common(b)
    b.add_argument("--out", required=True, type=Path, help="output directory")
    b.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    b.add_argument("--isovists", action="store_true", help="also write every cell's isovist polygon (large)")
    b.add_argument("--weights", type=Path, help="weights file for the scores (default: cpted/score/weights.toml)")
    b.add_argument("--workers", type=_positive_int, default=None,
                   help="sites audited at once on a local Dask cluster (default: one per core); "
                        "1: in this process, without Dask")
    b.add_argument("--scheduler", metavar="ADDRESS",
                   help="send the sites to an existing Dask scheduler (e.g. tcp://10.0.0.5:8786); the output "
                        "directory and the data must be at the same paths on its workers")
    b.add_argument("--memory-limit", metavar="LIMIT", help="memory limit per Dask worker, e.g. 4GiB (default: auto)")
    b.add_argument("--site-timeout", metavar="SECONDS", type=_positive_float,
                   help="a site running longer is stopped and reported as timed_out; the others go on "
                        "(default: no limit)")
    b.add_argument("--pdf", action="store_true",
                   help="also write report.pdf per site and index.pdf (A4), printed by headless Chromium")
    b.add_argument("--lang", choices=LANGS, help=_LANG_HELP)
    _no_source_cache(b)
    b.set_defaults(func=_cmd_batch)
    f = sub.add_parser("fetch", help="download each site's OSM walk network and features (needs the internet)")
    common(f)
    f.add_argument("--overpass-url", default=os.environ.get("CPTED_OVERPASS_URL"),
                   help="Overpass API endpoint (default: $CPTED_OVERPASS_URL, then https://overpass-api.de/api, osmnx's)")
    f.set_defaults(func=_cmd_fetch)
    c = sub.add_parser("compare", help="audit a baseline and a proposed design of one site on the same grid")
    c.add_argument("sites_file", type=Path, help="the sites file (TOML)")
    c.add_argument("--site", required=True, help="the site to compare")
    c.add_argument("--baseline", action="append", metavar="KIND=PATH",
                   help="replace (KIND=PATH) or extend (KIND+=PATH) a baseline layer, or declare it surveyed and empty "
                        "(KIND=empty, e.g. lamps=empty: no lamps, so no light)")
    c.add_argument("--proposed", action="append", metavar="KIND=PATH",
                   help="replace, extend or declare empty (KIND=empty) a layer in the proposed design")
    c.add_argument("--out", required=True, type=Path, help="output directory")
    c.add_argument("--data-dir", help="where relative paths of the sites file resolve")
    c.add_argument("--cache-dir", help="cache folder: `cpted fetch` downloads, and parsed sources in its sources/")
    _no_source_cache(c)
    c.add_argument("--weights", type=Path, help="weights file for the scores")
    c.add_argument("--lang", choices=LANGS, help=_LANG_HELP)
    c.set_defaults(func=_cmd_compare)
    e = sub.add_parser("evaluate", help="check a site's scores against incidents (PAI, AUC, rate ratios, permutation test)")
    e.add_argument("sites_file", type=Path, help="the sites file (TOML)")
    e.add_argument("--site", required=True, help="the site to audit and evaluate")
    e.add_argument("--incidents", required=True, type=Path,
                   help="incident points (GeoPackage, GeoJSON, or CSV with lon/lat), optional category, date, time")
    e.add_argument("--incidents-crs", help="CRS of an incidents CSV's x/y columns (e.g. EPSG:2154)")
    e.add_argument("--out", required=True, type=Path, help="output directory (evaluation.csv, evaluation.html...)")
    e.add_argument("--date-from", help="keep incidents from this date (YYYY-MM-DD)")
    e.add_argument("--date-to", help="keep incidents up to this date, inclusive (YYYY-MM-DD)")
    e.add_argument("--time-of-day", choices=("night", "day"), help="keep night (20:00-06:00) or day incidents")
    e.add_argument("--measure", action="append", type=_measure, metavar="COLUMN=high|low",
                   help="also evaluate a raw measure, flagging its high or low end first (e.g. betweenness_800=high)")
    e.add_argument("--snap-distance", type=float, help="farthest an incident snaps to a street segment (m; default 25)")
    e.add_argument("--permutations", type=_positive_int, default=999, help="random relocations (999)")
    e.add_argument("--seed", type=int, default=0, help="seed of the relocations (0)")
    e.add_argument("--lang", choices=LANGS, help=_LANG_HELP)
    e.add_argument("--data-dir", help="where relative paths of the sites file resolve")
    e.add_argument("--cache-dir", help="cache folder: `cpted fetch` downloads, and parsed sources in its sources/")
    _no_source_cache(e)
    e.add_argument("--weights", type=Path, help="weights file for the scores")
    e.set_defaults(func=_cmd_evaluate)
    t = sub.add_parser("walk-audit-template", help="write an empty walk-audit GeoPackage to fill in QGIS / QField")
    t.add_argument("out", type=Path, help="the GeoPackage to write")
    t.add_argument("--crs", default="EPSG:2154", help="its CRS (default Lambert-93)")
    t.set_defaults(func=_cmd_template)
    k = sub.add_parser("cache", help="the parsed-source cache: list its entries (info) or empty it (clear)")
    k.add_argument("action", choices=["info", "clear"])
    k.add_argument("--cache-dir", help="cache folder (default: $CPTED_CACHE_DIR, then the platform's user cache folder)")
    k.set_defaults(func=_cmd_cache)
    s = sub.add_parser("sites", help="check a sites file and list its sites")
    common(s)
    s.set_defaults(func=_cmd_sites)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the ``cpted`` command; returns the exit code."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    previous = {sig: signal.getsignal(sig) for sig in _STOP_SIGNALS}
    _handle_signals()
    try:
        return args.func(args)
    except NetworkError as exc:
        print(f"cpted: error: {exc}", file=sys.stderr)
        return 3
    except CptedError as exc:
        print(f"cpted: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        signum = exc.signum if isinstance(exc, _Stopped) else signal.SIGINT
        print(f"cpted: stopped by {signal.Signals(signum).name}; files written so far are complete, nothing "
              f"half-written was kept", file=sys.stderr)
        return 128 + signum
    finally:
        if threading.current_thread() is threading.main_thread():
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def run() -> None:
    """The ``cpted`` command (the entry point ``pip`` installs, and ``python -m cpted.cli``):
    :func:`main`, then the process ends at once with its exit code, its output flushed, instead of
    tearing down every module it imported (0.6-0.8 s after a batch, as long as some of its sites).
    Everything :func:`main` starts (Dask clusters, temporary folders, atomic writes) is closed or
    finished before it returns; an unexpected error still ends with its traceback."""
    code = main()
    logging.shutdown()  # flushes and closes every log handler (batch.log)
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os._exit(code)


if __name__ == "__main__":
    run()
