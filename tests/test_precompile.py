"""The kernels compiled once per machine on every core (cpted.precompile), before the first audit."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

import cpted.precompile as pc

ROOT = Path(__file__).resolve().parents[1]


def _kernels(folder: Path) -> dict[str, tuple[int, int]]:
    return {p.name: (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*.nb[ic]")}


def test_precompiled_kernels_are_all_the_sample_batch_needs(data, samples, tmp_path):
    """After precompile() in an empty kernel cache, the README's batch (7 real sites, 2 Dask
    workers) compiles nothing: every kernel it calls, with the argument types it calls them
    with, was compiled on the built-in scene. Before, each worker compiled them again at once
    (1.2-1.3 GB per worker, twice the CPU)."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "kernels"), "TQDM_DISABLE": "1"}
    first = subprocess.run([sys.executable, "-c", "from cpted.precompile import precompile, is_precompiled; "
                            "assert precompile(processes=2) and is_precompiled()"],
                           env=env, capture_output=True, text=True, timeout=900)
    assert first.returncode == 0, first.stderr[-3000:]
    compiled = _kernels(tmp_path / "kernels")
    assert len(compiled) > 40 and (next((tmp_path / "kernels").rglob(pc.MARKER))).read_text()
    run = subprocess.run([sys.executable, "-m", "cpted.cli", "batch", str(samples / "nantes_renewal.toml"),
                          "--out", str(tmp_path / "out"), "--workers", "2", "--data-dir", str(data)],
                         env=env, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "compiling" not in run.stderr  # the marker matched: nothing compiled again up front
    assert _kernels(tmp_path / "kernels") == compiled  # nor by the workers


@pytest.fixture
def marker(tmp_path, monkeypatch):
    path = tmp_path / pc.MARKER
    monkeypatch.setattr(pc, "_marker", lambda: path)
    return path


def test_a_matching_marker_means_nothing_to_do(marker, monkeypatch):
    marker.write_text("compiled for other sources")
    assert not pc.is_precompiled()
    marker.write_text(pc._key())
    assert pc.is_precompiled()

    def never(*args, **kwargs):
        raise AssertionError("no process should start")

    monkeypatch.setattr(subprocess, "Popen", never)
    assert pc.precompile(processes=2) is False


def test_a_failed_compile_costs_only_time(marker, monkeypatch, caplog):
    """A compiling process that fails is a warning with its reason, and no marker is written
    (the kernels then compile at their first use)."""
    monkeypatch.setattr(pc, "GROUPS", (("no_such_measure",), ("nor_this_one",)))
    with caplog.at_level(logging.WARNING, logger="cpted.precompile"):
        assert pc.precompile(processes=2) is False
    said = " ".join(r.getMessage() for r in caplog.records)
    assert "no_such_measure failed (exit code 1" in said and "nor_this_one failed" in said
    assert "compile at their first use" in said
    assert not marker.exists()


def test_an_interrupted_compile_leaves_no_process(marker, monkeypatch):
    started = []
    real = subprocess.Popen

    def popen(*args, **kwargs):
        started.append(real(*args, **kwargs))
        return started[-1]

    def interrupted(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(subprocess, "Popen", popen)
    monkeypatch.setattr(pc, "_wait", interrupted)
    with pytest.raises(KeyboardInterrupt):
        pc.precompile(processes=2)
    assert len(started) == 2 and all(p.poll() is not None for p in started)
    assert not marker.exists()


@pytest.mark.parametrize(("workers", "scheduler", "compiles"), [(2, None, True), (None, None, True), (1, None, False),
                                                               (2, "tcp://10.0.0.5:8786", False)])
def test_a_local_batch_from_python_compiles_first(samples, tmp_path, monkeypatch, workers, scheduler, compiles):
    """batch() on a local cluster compiles the kernels once before its workers start (as the
    ``cpted`` command does); in one process or on a remote cluster it does not (nothing to gain
    here: in-process kernels compile at first use, and remote workers are on other machines)."""
    import cpted.pipeline as pipeline

    calls = []
    monkeypatch.setattr(pc, "precompile", lambda **kw: calls.append(kw) or False)
    monkeypatch.setattr(pipeline, "run_sites", lambda specs, *a, **kw: [
        {"site_id": s.id, "name": s.name, "status": "failed", "error": "not run"} for s in specs])
    monkeypatch.setattr(pipeline, "run_in_process", lambda specs, *a, **kw: [
        {"site_id": s.id, "name": s.name, "status": "failed", "error": "not run"} for s in specs])
    pipeline.batch(samples / "france_osm.toml", tmp_path / "out", workers=workers, scheduler=scheduler)
    assert len(calls) == (1 if compiles else 0)
