"""numba's cached kernels are dropped when a kernel they call changes in another file.

numba stamps a cached kernel with its own file only. The scene: a package whose ``b.g`` calls
``a.f``, both cached; ``a.py`` is edited between two processes. The truth is plain arithmetic:
``g(1) = (1 + k) * 10`` for the ``k`` that ``a.py`` holds when the process starts.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import cpted.engines as engines
from cpted.engines._stale import STAMP, drop_stale_kernels, kernel_cache_dir, sources_stamp

A = """
from numba import njit

@njit(cache=True)
def f(x):
    return x + {k}
"""
B = """
from numba import njit
from .a import f

@njit(cache=True)
def g(x):
    return f(x) * 10
"""


def _package(root: Path, guarded: bool) -> Path:
    pkg = root / "pkg"
    pkg.mkdir()
    init = "from pathlib import Path\nfrom cpted.engines._stale import drop_stale_kernels\n"
    init += "drop_stale_kernels(Path(__file__).parent)\n" if guarded else ""
    (pkg / "__init__.py").write_text(init)
    (pkg / "a.py").write_text(textwrap.dedent(A.format(k=1)))
    (pkg / "b.py").write_text(textwrap.dedent(B))
    return pkg


def _g_of_1(root: Path) -> int:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), *sys.path])}
    env.pop("NUMBA_CACHE_DIR", None)
    env.pop("NUMBA_DISABLE_JIT", None)
    out = subprocess.run([sys.executable, "-c", "from pkg.b import g; print(g(1))"], cwd=root, env=env,
                         capture_output=True, text=True, timeout=300, check=True)
    return int(out.stdout.split()[-1])


@pytest.mark.parametrize("guarded", [True, False])
def test_editing_a_callee_reaches_its_cached_caller(tmp_path, guarded):
    pkg = _package(tmp_path, guarded)
    assert _g_of_1(tmp_path) == 20
    assert list((pkg / "__pycache__").glob("b.g-*.nbi")), "numba did not cache the caller: the scene tests nothing"
    (pkg / "a.py").write_text(textwrap.dedent(A.format(k=2)))
    if guarded:
        assert _g_of_1(tmp_path) == 30
    else:  # the hazard itself, as numba has it: if numba ever fixes it, the guard can go
        assert _g_of_1(tmp_path) == 20


def test_unchanged_sources_keep_their_kernels(tmp_path):
    pkg = _package(tmp_path, guarded=True)
    _g_of_1(tmp_path)
    cache = pkg / "__pycache__"
    before = sorted(p.name for p in cache.glob("*.nb?"))
    assert before and (cache / STAMP).read_text() == sources_stamp(pkg)
    assert drop_stale_kernels(pkg) == 0
    assert sorted(p.name for p in cache.glob("*.nb?")) == before
    (pkg / "a.py").write_text(textwrap.dedent(A.format(k=3)))
    assert drop_stale_kernels(pkg) == len(before)
    assert not list(cache.glob("*.nb?")) and (cache / STAMP).read_text() == sources_stamp(pkg)


def test_cpted_engines_stamp_matches_its_sources():
    folder = Path(engines.__file__).parent
    cache = kernel_cache_dir(folder)
    if cache is None:
        pytest.skip("numba has no writable cache folder for cpted.engines here")
    assert (cache / STAMP).read_text() == sources_stamp(folder)
