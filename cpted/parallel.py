"""Audit the sites of a batch in parallel on Dask (``dask.distributed``).

The unit of work is one site: :func:`cpted.pipeline.audit_to` loads, prepares, measures and
scores it on a worker, and writes its GeoPackage and report to the output directory with the
same atomic writes as a run in one process. Workers on other machines therefore need the output
directory (and the data) at the same path: a shared file system.

- ``workers=N``: a ``LocalCluster`` of N single-threaded worker processes (each site's compiled
  kernels use ``cores // N`` threads);
- ``scheduler="tcp://host:8786"``: an existing cluster (``dask scheduler`` / ``dask worker``,
  dask-jobqueue, Kubernetes...).

A site whose worker dies (killed, out of memory) is run again once on another worker, then
reported as failed (Dask's ``distributed.scheduler.allowed-failures``, set to 1 for the clusters
cpted starts; set ``DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES=1`` on a scheduler you run).
Ctrl-C cancels the sites not done, and removes the temporary files of the writes it interrupted.
"""

from __future__ import annotations

import logging
import os
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

from cpted.load.sites_file import SiteSpec

__all__ = ["ALLOWED_FAILURES", "run_sites"]

log = logging.getLogger(__name__)

#: How many times a site is run again after its worker died.
ALLOWED_FAILURES = 1
_SOURCES = None  # one cache of files read per worker process, shared by the sites it audits


def _audit_on_worker(spec: SiteSpec, out: str, options: dict) -> dict:
    global _SOURCES  # noqa: PLW0603 - per worker process
    from cpted.pipeline import SourceCache, audit_to

    if _SOURCES is None:
        _SOURCES = SourceCache()
    return audit_to(spec, out, sources=_SOURCES, **options)


def _start(workers: int | None, scheduler: str | None, memory_limit: str | None):
    import dask
    from distributed import Client, LocalCluster

    if scheduler is not None:
        if memory_limit is not None:
            log.warning("--memory-limit applies to the workers cpted starts; set it on your own cluster's workers")
        return Client(scheduler), None
    cores = os.cpu_count() or 1
    n = workers or cores
    with dask.config.set({"distributed.scheduler.allowed-failures": ALLOWED_FAILURES}):
        cluster = LocalCluster(
            n_workers=n, threads_per_worker=1, processes=True, memory_limit=memory_limit or "auto",
            dashboard_address=":0", silence_logs=logging.CRITICAL,  # a failure reaches us through its task
            env={"NUMBA_NUM_THREADS": str(max(1, cores // n))},  # passed to each worker (Nanny)
        )
    return Client(cluster), cluster


def _error_row(spec: SiteSpec, message: str) -> dict:
    return {"site_id": spec.id, "name": spec.name, "status": "failed", "error": message}


def _remove_temporaries(out: Path, specs: Sequence[SiteSpec], since: float) -> None:
    """Temporary files of atomic writes that a cancelled or killed worker left behind."""
    for folder in [out, *(out / s.id for s in specs)]:
        for path in folder.glob(".*.tmp*"):
            if path.stat().st_mtime >= since:
                path.unlink(missing_ok=True)


def run_sites(
    specs: Sequence[SiteSpec],
    out: str | Path,
    options: dict,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    memory_limit: str | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> list[dict]:
    """Audit ``specs`` on Dask workers; one summary row per site, in the order of ``specs``.

    ``options`` are the keyword arguments of :func:`cpted.pipeline.audit_to`. The dashboard's
    address is printed when the cluster starts.
    """
    from distributed import KilledWorker, as_completed

    out = Path(out)
    since = time.time() - 1
    client, cluster = _start(workers, scheduler, memory_limit)
    print(f"Dask: {len(client.scheduler_info()['workers'])} workers, dashboard {client.dashboard_link}",
          file=sys.stderr)
    run = uuid.uuid4().hex[:8]
    futures = {client.submit(_audit_on_worker, spec, str(out), options, key=f"cpted-{spec.id}-{run}", pure=False): spec
               for spec in specs}
    rows: dict[str, dict] = {}
    try:
        for done, future in enumerate(as_completed(futures), start=1):
            spec = futures[future]
            try:
                rows[spec.id] = future.result()
            except KilledWorker:
                rows[spec.id] = _error_row(spec, f"KilledWorker: the worker auditing it died {ALLOWED_FAILURES + 1} "
                                                 f"times (out of memory? see --memory-limit)")
            except Exception as exc:  # noqa: BLE001 - e.g. the cluster lost; the other sites go on
                rows[spec.id] = _error_row(spec, f"{type(exc).__name__}: {exc}")
            if progress is not None:
                progress(spec.id, done, len(specs))
    except BaseException:
        client.cancel(list(futures), force=True)
        raise
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
        _remove_temporaries(out, specs, since)
    return [rows[s.id] for s in specs]
