"""The batch on Dask: the same outputs in one process, on a 2-worker LocalCluster and on a
scheduler and workers started here as processes; a killed worker's site is retried; a failing
site is reported while the others complete; Ctrl-C leaves no half-written file."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio
import pytest

from cpted.pipeline import batch

TIMING = ["seconds", "peak_memory_mb"]


@pytest.fixture(scope="module")
def sites_file(data, tmp_path_factory) -> Path:
    """Two real sites with 10 m cells, and one that fails (its box is off the data)."""
    path = tmp_path_factory.mktemp("sites") / "sites.toml"
    path.write_text(f'''title = "Dask test"
[defaults]
crs = "EPSG:2154"
cell_size = 10
context = 200
[[site]]
id = "le_mans_centre"
bbox = [491100, 6771330, 491760, 6771770]
[site.layers]
osm = "{data}/france/le_mans_centre.osm.pbf"
[[site]]
id = "nantes_graslin"
bbox = [355290, 6689150, 355750, 6689410]
[site.layers]
osm = "{data}/nantes/nantes_centre_graslin.osm.pbf"
[[site]]
id = "off_the_data"
bbox = [100000, 6000000, 100400, 6000400]
[site.layers]
osm = "{data}/france/le_mans_centre.osm.pbf"
''', encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def in_process(sites_file, tmp_path_factory):
    return batch(sites_file, tmp_path_factory.mktemp("w1"), workers=1)


def assert_same(a, b) -> None:
    """Same summary (but timings), same layers, feature counts and scores to 1e-12."""
    sa, sb = a.summary.drop(columns=TIMING), b.summary.drop(columns=TIMING)
    pd.testing.assert_frame_equal(sa, sb, check_exact=False, rtol=0, atol=1e-12)
    for site_id in sa.loc[sa["status"] == "ok", "site_id"]:
        pa, pb = a.out / site_id / "audit.gpkg", b.out / site_id / "audit.gpkg"
        layers = [name for name, _ in pyogrio.list_layers(pa)]
        assert layers == [name for name, _ in pyogrio.list_layers(pb)]
        for layer in layers:
            assert pyogrio.read_info(pa, layer=layer)["features"] == pyogrio.read_info(pb, layer=layer)["features"]
        ca = pyogrio.read_dataframe(pa, layer="cells", read_geometry=False)
        cb = pyogrio.read_dataframe(pb, layer="cells", read_geometry=False)
        for column in [c for c in ca.columns if c.startswith("score_") or c == "cpted_index"]:
            np.testing.assert_allclose(cb[column].to_numpy(float), ca[column].to_numpy(float), rtol=0, atol=1e-12)


def test_a_failing_site_is_reported_and_the_others_complete(in_process):
    status = in_process.summary.set_index("site_id")["status"]
    assert status.to_dict() == {"le_mans_centre": "ok", "nantes_graslin": "ok", "off_the_data": "failed"}
    assert "meets none of its layers" in in_process.summary.set_index("site_id").loc["off_the_data", "error"]
    assert (in_process.summary["peak_memory_mb"] > 50).all() and (in_process.summary["seconds"] > 0).all()


def test_a_local_cluster_gives_identical_outputs(sites_file, in_process, tmp_path, capfd):
    assert_same(in_process, batch(sites_file, tmp_path, workers=2))
    assert "dashboard http://" in capfd.readouterr().err


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def cluster(tmp_path):
    """A `dask scheduler` and two `dask worker` processes on 127.0.0.1, and their pids."""
    from distributed import Client

    address = f"tcp://127.0.0.1:{_free_port()}"
    env = {**os.environ, "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "1", "NUMBA_NUM_THREADS": "1"}
    bin_dir = Path(sys.executable).parent
    dask = [str(bin_dir / "dask")] if (bin_dir / "dask").exists() else [sys.executable, "-m", "distributed.cli.dask_spawn"]
    procs = [subprocess.Popen([*dask, "scheduler", "--host", "127.0.0.1", "--port", address.rsplit(":", 1)[1],
                               "--dashboard-address", ":0"], env=env, cwd=tmp_path,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    time.sleep(2)
    procs.append(subprocess.Popen([*dask, "worker", address, "--nworkers", "2", "--nthreads", "1", "--host", "127.0.0.1"],
                                  env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    with Client(address, timeout=60) as client:
        client.wait_for_workers(2, timeout=120)
        pids = client.run(os.getpid)
    try:
        yield address, pids
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            p.wait(timeout=60)


def test_an_existing_scheduler_gives_identical_outputs(sites_file, in_process, cluster, tmp_path):
    address, _ = cluster
    assert_same(in_process, batch(sites_file, tmp_path, scheduler=address))


def test_a_killed_worker_has_its_site_retried(sites_file, in_process, cluster, tmp_path):
    from distributed import Client

    address, pids = cluster
    result: dict = {}

    def run_batch():
        try:
            result["out"] = batch(sites_file, tmp_path, scheduler=address)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            result["error"] = exc

    run = threading.Thread(target=run_batch)
    run.start()
    killed = None
    with Client(address, timeout=60) as client:
        deadline = time.time() + 120
        while killed is None and time.time() < deadline:
            try:  # the workers that are executing (not only holding) the longest site: kill one mid-run
                executing = client.run(lambda dask_worker: [str(t.key) for t in dask_worker.state.executing])
            except Exception:  # noqa: BLE001 - a worker restarting
                executing = {}
            for worker, keys in executing.items():
                if any("le_mans_centre" in k for k in keys):
                    os.kill(pids[worker], signal.SIGKILL)
                    killed = worker
                    break
            time.sleep(0.05)
    run.join(timeout=600)
    assert killed is not None, "no worker was seen auditing le_mans_centre"
    assert "out" in result, f"the batch did not complete: {result.get('error', 'still running after 600 s')!r}"
    assert_same(in_process, result["out"])  # retried on the other (or the restarted) worker: all complete


def test_ctrl_c_leaves_no_half_written_file(sites_file, tmp_path):
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "cpted.cli", "batch", str(sites_file), "--out", str(out),
                             "--workers", "2", "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while time.time() < deadline and not any(out.glob("*/.*.tmp*")) and not any(out.glob("*/audit.gpkg")):
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=120)
    assert proc.returncode != 0
    leftovers = [p for p in out.rglob("*") if ".tmp" in p.name]
    assert leftovers == []
    for gpkg in out.glob("*/audit.gpkg"):  # whatever was written is whole
        assert pyogrio.read_info(gpkg, layer="cells")["features"] > 0
