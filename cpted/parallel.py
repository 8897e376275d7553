"""Run the sites of a batch in parallel on Dask (``dask.distributed``), and always return.

The unit of work is one site: a function (:func:`cpted.pipeline.batch` passes the one that
loads, prepares, measures, scores and writes a site) runs on a worker and returns the site's
summary row. It writes the site's files to the output directory with the same atomic writes as a
run in one process, so workers on other machines need the output directory (and the data) at
the same path: a shared file system. This module knows nothing of what a site's work is: the
dependency goes one way, ``cpted.pipeline`` -> ``cpted.parallel``.

- ``workers=N``: a ``LocalCluster`` of N single-threaded worker processes (each site's compiled
  kernels use ``cores // N`` threads);
- ``scheduler="tcp://host:8786"``: an existing cluster (``dask scheduler`` / ``dask worker``,
  dask-jobqueue, Kubernetes...).

Every site ends as done (its row), ``failed`` or ``timed_out``, within a bounded time of any
failure:

- a worker that dies (killed, out of memory) has its site run again once on another worker,
  then the site fails with ``KilledWorker`` (Dask's ``distributed.scheduler.allowed-failures``,
  set to 1 for the clusters cpted starts; set ``DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES=1``
  on a scheduler you run);
- a site running longer than ``site_timeout`` seconds (counted from when it is handed to a
  worker, retries included) is ``timed_out``, and the worker running it is restarted;
- a lost scheduler (dead, or no answer for :data:`SCHEDULER_LOST_AFTER` s) or a cluster with no
  worker for :data:`NO_WORKER_TIMEOUT` s fails the sites not done.

Sites are handed to workers no faster than they have threads free, so a site's clock starts
when it starts. Ctrl-C (or SIGTERM/SIGHUP under the ``cpted`` command) cancels the sites not
done, closes the cluster cpted started and removes the temporary files of the writes it
interrupted.

Why a batch could hang before (issue "batches that always finish"): it waited with
``distributed.as_completed(futures)``, which tracks futures on the event loop of Dask's *default*
client: the client created last in the process, not necessarily the batch's own. When another
client was created meanwhile (the killed-worker test creates one, from another thread, to find
and kill the worker) the batch's futures were tracked on that client's loop; when it closed, no
completion was ever seen and the batch waited forever, and its thread kept pytest alive. The
batch's client is now never the default (``set_as_default=False``) and the loop below polls its
own futures, with every wait bounded.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

from cpted.atomic import sweep_temporaries
from cpted.errors import NetworkError
from cpted.load.sites_file import SiteSpec

__all__ = ["ALLOWED_FAILURES", "NO_WORKER_TIMEOUT", "SCHEDULER_LOST_AFTER", "FAILED", "TIMED_OUT", "run_sites",
           "run_in_process", "site_row_line", "quiet_dask_logs", "release_memory"]

log = logging.getLogger(__name__)
batch_log = logging.getLogger("cpted.batch")  # one line per finished site

#: How many times a site is run again after its worker died.
ALLOWED_FAILURES = 1
#: Seconds without any worker after which the sites not done fail.
NO_WORKER_TIMEOUT = 120.0
#: Seconds without an answer from the scheduler after which the sites not done fail.
SCHEDULER_LOST_AFTER = 60.0
#: Status of a site that raised, whose worker died too often, or whose scheduler was lost.
FAILED = "failed"
#: Status of a site that ran past ``site_timeout``.
TIMED_OUT = "timed_out"
_POLL = 0.1  # s between looks at the futures
_PING_EVERY = 2.0  # s between looks at the scheduler (its workers, and whether it answers)
_PING_TIMEOUT = 10.0  # s the scheduler has to answer
_CLOSE_TIMEOUT = 30  # s given to the client and the cluster to close
_CONNECT_TIMEOUT = 30  # s given to the first connection to a scheduler


def quiet_dask_logs() -> None:
    """Keep Dask's INFO lines off the terminal unless the root logger asks for INFO.

    ``import distributed`` sets its own loggers to INFO with their own handler, so this is
    called after it is imported (and the workers cpted starts get the same setting).
    """
    if logging.getLogger().getEffectiveLevel() > logging.INFO:
        for name in ("distributed", "dask", "bokeh", "tornado"):
            logging.getLogger(name).setLevel(logging.WARNING)
        logging.getLogger("bokeh.server.util").setLevel(logging.ERROR)  # the dashboard's "Host wildcard '*'" note


def dask_setup(worker) -> None:  # noqa: ARG001 - Dask's preload hook, run in each worker process
    """Preload of the workers cpted starts: Ctrl-C in the terminal goes to the ``cpted``
    command, which stops them, not to each worker (which would print its own traceback)."""
    import signal
    import threading

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    quiet_dask_logs()


#: The environment cpted gives the workers it starts. Dask's nanny sets it in *this* process's
#: ``os.environ`` before spawning them; :func:`run_sites` puts ours back afterwards (a changed
#: NUMBA_NUM_THREADS makes numba's next compile here refuse: its threads are launched).
_WORKER_ENV = ("NUMBA_NUM_THREADS", "DASK_LOGGING__DISTRIBUTED", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
               "OPENBLAS_NUM_THREADS", "MALLOC_TRIM_THRESHOLD_")


def _restore_environ(saved: dict[str, str | None]) -> None:
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def _start(workers: int | None, scheduler: str | None, memory_limit: str | None):
    import dask
    from distributed import Client, LocalCluster

    quiet_dask_logs()
    if scheduler is not None:
        if memory_limit is not None:
            log.warning("--memory-limit applies to the workers cpted starts; set it on your own cluster's workers")
        try:
            return Client(scheduler, set_as_default=False, timeout=_CONNECT_TIMEOUT), None
        except (OSError, TimeoutError) as exc:
            msg = (f"the Dask scheduler {scheduler} cannot be reached within {_CONNECT_TIMEOUT:g} s ({exc}); check the "
                   f"address and that `dask scheduler` runs there, or leave out --scheduler to use a local cluster")
            raise NetworkError(msg) from None
    cores = os.cpu_count() or 1
    n = workers or cores
    quiet = logging.getLogger().getEffectiveLevel() > logging.INFO
    threads = str(max(1, cores // n))
    # Dask's own pre-spawn environment (MALLOC_TRIM_THRESHOLD_, which returns freed memory to the
    # system, and one thread per BLAS/OpenMP pool) is replaced by the config below: kept, with the
    # threads of each pool set to the worker's share of the cores
    env = dict(dask.config.get("distributed.nanny.pre-spawn-environ", default=None) or {})
    env.update({k: threads for k in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")})
    env.setdefault("MALLOC_TRIM_THRESHOLD_", 65536)
    env = {k: str(v) for k, v in env.items()}
    if quiet:
        env["DASK_LOGGING__DISTRIBUTED"] = "warning"
    config = {"distributed.scheduler.allowed-failures": ALLOWED_FAILURES,
              "distributed.nanny.pre-spawn-environ": env}  # set before a worker process imports anything
    with dask.config.set(config):
        cluster = LocalCluster(
            n_workers=n, threads_per_worker=1, processes=True, memory_limit=memory_limit or "auto",
            dashboard_address=":0", silence_logs=logging.WARNING if quiet else False,
            env=env, preload=["cpted.parallel"],  # dask_setup above
        )
        try:
            client = Client(cluster, set_as_default=False)
        except BaseException:
            cluster.close(timeout=_CLOSE_TIMEOUT)
            raise
    return client, cluster


def _row(spec: SiteSpec, status: str, message: str) -> dict:
    return {"site_id": spec.id, "name": spec.name, **spec.attributes, "status": status, "error": message}


def site_row_line(row: dict) -> str:
    """The log line of a finished site.

    Examples
    --------
    >>> site_row_line({"site_id": "a", "status": "ok", "seconds": 1.234, "peak_memory_mb": 300.0, "error": ""})
    'a: ok in 1.2 s (peak 300 MB)'
    >>> site_row_line({"site_id": "b", "status": "failed", "error": "KilledWorker: ..."})
    'b: failed: KilledWorker: ...'
    """
    text = f"{row['site_id']}: {row['status']}"
    if isinstance(row.get("seconds"), int | float):
        text += f" in {row['seconds']:.1f} s"
    if isinstance(row.get("peak_memory_mb"), int | float):
        text += f" (peak {row['peak_memory_mb']:.0f} MB)"
    if row.get("error"):
        text += f": {row['error']}"
    return text


def _refresh(client) -> int | None:
    """Worker threads the scheduler has now, or None when it does not answer in time."""
    try:
        client.sync(client._update_scheduler_info, n_workers=-1, callback_timeout=_PING_TIMEOUT)  # noqa: SLF001
    except Exception:  # noqa: BLE001 - any failure to answer
        return None
    workers = (client._scheduler_identity or {}).get("workers", {})  # noqa: SLF001 - the copy just fetched
    return sum(int(w.get("nthreads", 1)) for w in workers.values())


def _outcome(future, spec: SiteSpec) -> dict:
    """The row of a finished future: the site's own, or why it failed."""
    from distributed import KilledWorker

    try:
        return future.result(timeout=SCHEDULER_LOST_AFTER)
    except KilledWorker:
        return _row(spec, FAILED, f"KilledWorker: the worker auditing it died {ALLOWED_FAILURES + 1} times "
                                  f"(out of memory? see --memory-limit)")
    except Exception as exc:  # noqa: BLE001 - cancelled (scheduler lost), or an error outside the site's own
        if future.status == "cancelled":
            return _row(spec, FAILED, "lost the connection to the Dask scheduler; run the batch again")
        return _row(spec, FAILED, f"{type(exc).__name__}: {exc}")


def _stop(client, future) -> None:
    """Stop a timed-out site: cancel it, and restart the worker executing it (a Dask task
    cannot be interrupted otherwise; needs a Nanny, as the workers cpted starts have). The
    worker is looked up first: once cancelled, the scheduler forgets where the task ran."""
    address = None
    try:
        address = client.run_on_scheduler(_processing_on, key=future.key)
    except Exception as exc:  # noqa: BLE001 - the site is reported anyway
        log.warning("could not find the worker running %s (%s)", future.key, exc)
    with contextlib.suppress(Exception):
        client.cancel([future], force=True)
    if not address:
        return
    try:  # a worker on this machine is killed at once (its Nanny starts another): the site writes nothing more
        if address.split("://")[-1].rsplit(":", 1)[0] in ("127.0.0.1", "localhost", socket.gethostname()):
            pid = client.run(os.getpid, workers=[address])[address]
            os.kill(pid, signal.SIGKILL)
            return
    except Exception as exc:  # noqa: BLE001 - then restart it through Dask
        log.debug("could not kill the worker running %s: %s", future.key, exc)
    try:
        client.restart_workers([address], timeout=_CLOSE_TIMEOUT, raise_for_error=False)
    except Exception as exc:  # noqa: BLE001
        log.warning("could not restart the worker running %s (%s); it may go on until it ends", future.key, exc)


def _processing_on(dask_scheduler, key: str) -> str | None:
    ts = dask_scheduler.tasks.get(key)
    return ts.processing_on.address if ts is not None and ts.processing_on is not None else None


def run_sites(
    specs: Sequence[SiteSpec],
    out: str | Path,
    task: Callable[[SiteSpec, str, dict], dict],
    options: dict,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    memory_limit: str | None = None,
    site_timeout: float | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> list[dict]:
    """Run ``task(spec, out, options)`` for each site on Dask workers; one row per site, in the
    order of ``specs``.

    ``task`` must return the site's summary row (with ``status``) and never raise for a site's
    own failure. A site that raises anyway, whose worker died twice, whose scheduler was lost or
    that ran past ``site_timeout`` gets a row with ``status`` :data:`FAILED` or
    :data:`TIMED_OUT` and the reason in ``error``. The dashboard's address is printed when the
    cluster starts. Returns within a bounded time of any failure; no thread or process started
    here outlives the call.
    """
    out = Path(out)
    saved = {key: os.environ.get(key) for key in _WORKER_ENV}
    try:
        client, cluster = _start(workers, scheduler, memory_limit)
    except BaseException:
        _restore_environ(saved)
        raise
    print(f"Dask: {len(client.scheduler_info(n_workers=-1)['workers'])} workers, dashboard {client.dashboard_link}",
          file=sys.stderr)
    run = uuid.uuid4().hex[:8]
    todo = list(specs)
    running: dict = {}  # future -> (spec, handed at)
    rows: dict[str, dict] = {}
    no_worker_since: float | None = None
    threads = _refresh(client) or 0
    answered = last_ping = time.monotonic()

    def finish(spec: SiteSpec, row: dict) -> None:
        rows[spec.id] = row
        batch_log.info(site_row_line(row))
        if progress is not None:
            progress(spec.id, len(rows), len(specs))

    def fail_the_rest(message: str) -> None:
        for spec, _ in running.values():
            finish(spec, _row(spec, FAILED, message))
        for spec in todo:
            finish(spec, _row(spec, FAILED, message))
        with contextlib.suppress(Exception):
            client.cancel(list(running), force=True)
        running.clear()
        todo.clear()

    try:
        while todo or running:
            now = time.monotonic()
            if now - last_ping >= _PING_EVERY:
                last_ping = now
                found = _refresh(client)
                if found is not None:
                    threads, answered = found, now
            while todo and len(running) < max(threads, 1):
                spec = todo.pop(0)
                future = client.submit(task, spec, str(out), options, key=f"cpted-{spec.id}-{run}", pure=False)
                running[future] = (spec, now)
            for future in [f for f in running if f.done()]:
                spec, _ = running.pop(future)
                finish(spec, _outcome(future, spec))
            if site_timeout is not None:
                for future, (spec, handed) in list(running.items()):
                    if now - handed > site_timeout:
                        del running[future]
                        finish(spec, _row(spec, TIMED_OUT, f"ran past --site-timeout {site_timeout:g} s; "
                                                           f"raise the timeout or use a larger cell_size"))
                        _stop(client, future)
            if client.status != "running":  # connection lost: Dask has cancelled every future
                fail_the_rest("lost the connection to the Dask scheduler; run the batch again")
            elif now - answered > SCHEDULER_LOST_AFTER:
                fail_the_rest(f"the Dask scheduler gave no answer for {SCHEDULER_LOST_AFTER:g} s; "
                              f"check it and run the batch again")
            no_worker_since = None if threads else (no_worker_since or now)
            if no_worker_since is not None and now - no_worker_since > NO_WORKER_TIMEOUT:
                fail_the_rest(f"no Dask worker for {NO_WORKER_TIMEOUT:g} s; start workers "
                              f"(`dask worker {scheduler or 'ADDRESS'}`) and run the batch again")
            time.sleep(_POLL)
    except BaseException:
        with contextlib.suppress(Exception):
            client.cancel(list(running), force=True)
        raise
    finally:
        _close(client, cluster)
        _restore_environ(saved)
        sweep_temporaries([out, *(out / s.id for s in specs)])  # of the writes of workers it stopped
    return [rows[s.id] for s in specs]


def run_in_process(
    specs: Sequence[SiteSpec],
    out: str | Path,
    task: Callable[[SiteSpec, str, dict], dict],
    options: dict,
    *,
    progress: Callable[[str, int, int], None] | None = None,
) -> list[dict]:
    """Run ``task(spec, out, options)`` for each site in this process, one after the other.

    The same rows as :func:`run_sites`, without a time limit: a site can be stopped safely only
    in a process of its own (an alarm raised inside a compiled kernel can crash the process),
    so :func:`cpted.pipeline.batch` runs sites on a one-worker local cluster when a
    ``site_timeout`` is given.
    """
    rows = []
    for done, spec in enumerate(specs, start=1):
        row = task(spec, str(out), options)
        rows.append(row)
        batch_log.info(site_row_line(row))
        if progress is not None:
            progress(spec.id, done, len(specs))
    return rows


def _close(client, cluster) -> None:
    """Close the client and the cluster cpted started, each within a bounded time."""
    try:
        client.close(timeout=_CLOSE_TIMEOUT)
    except Exception as exc:  # noqa: BLE001 - the cluster must still be closed
        log.debug("closing the Dask client: %s", exc)
    if cluster is not None:
        nanny = logging.getLogger("distributed.nanny")
        level = nanny.level
        if logging.getLogger().getEffectiveLevel() > logging.INFO:  # "still alive after 4 s, killing": as meant
            nanny.setLevel(logging.ERROR)
        try:
            cluster.close(timeout=_CLOSE_TIMEOUT)
        except Exception as exc:  # noqa: BLE001
            log.warning("closing the local Dask cluster: %s", exc)
        finally:
            nanny.setLevel(level)


@contextlib.contextmanager
def frozen_heap():
    """Within the block, what lived before it (modules, caches) is left out of the garbage
    collector's full passes (``gc.freeze()``), which then look only at the objects the block makes
    (one site's: Île de Nantes' passes 1.4 s -> 0.6 s); unfrozen at its end, however it ends. Does
    nothing when something is frozen already (a caller's own freeze, or another site running in
    another thread of the process), which it leaves as it was."""
    import gc

    owned = gc.get_freeze_count() == 0
    if owned:
        gc.freeze()
    try:
        yield
    finally:
        if owned:
            gc.unfreeze()


def release_memory() -> None:
    """Give the memory freed by a site back to the system before the next site of the process.

    A collection, then glibc's ``malloc_trim(0)`` where there is one (Linux): without it the heap
    keeps the pages of a site's freed arrays, and the next site's peak counts them again
    (chateau_reze left 553 MB resident, 445 MB after this; Île de Nantes after it peaked at
    879 MB, 845 MB then). Does nothing elsewhere.
    """
    import ctypes
    import ctypes.util
    import gc

    gc.collect()
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):  # not glibc
        return
    trim(0)
