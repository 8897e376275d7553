"""Compile the kernels once per machine, on every core, before the first audit.

The kernels of :mod:`cpted.engines` are compiled by numba at their first call and cached
(``cache=True``). On a fresh machine that first call is most of the first run: about 110 s of
one core for an audit that takes 30 s afterwards. In a Dask batch every worker compiled the
same kernels at once (twice the CPU for no gain, and each worker peaked at 1.2-1.3 GB while
compiling, over the 1 GB a worker should stay under).

:func:`precompile` audits a small built-in scene in separate processes, each running a share
of the measures, so that the kernels compile side by side on several cores and the workers
find them cached. A marker beside numba's cached kernels records the sources, numba, Python
and the CPU it was done for; while it matches, :func:`precompile` does nothing. Whatever fails
here only costs time: a kernel that is not cached compiles at its first call, as it would.
"""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from cpted.atomic import write_text_atomic

log = logging.getLogger(__name__)

#: The measures each compiling process runs on the built-in scene: visibility kernels in the
#: first, network kernels in the second (73 s and 104 s alone on one core of machine C; side by
#: side 61-73 s, the second loading the kernels they share once the first has cached them).
GROUPS = (("surveillance",), ("access_control", "activity", "territoriality", "maintenance"))
MARKER = "cpted-precompiled"


def _engines_folder() -> Path:
    import cpted.engines

    return Path(cpted.engines.__file__).parent


def _key() -> str:
    """What the cached kernels were compiled for: the engines' sources, numba, Python and the
    CPU (numba's own codegen tuple, which its cache index checks too)."""
    import numba
    from numba.core.registry import cpu_target

    from cpted.engines._stale import sources_stamp

    parts = (sources_stamp(_engines_folder()), numba.__version__, sys.version,
             repr(cpu_target.target_context.codegen().magic_tuple()))
    return hashlib.blake2b("\0".join(parts).encode(), digest_size=16).hexdigest()


def _marker() -> Path | None:
    from cpted.engines._stale import kernel_cache_dir

    folder = kernel_cache_dir(_engines_folder())
    return None if folder is None else folder / MARKER


def _recorded(marker: Path | None) -> str | None:
    try:
        return None if marker is None else marker.read_text()
    except OSError:
        return None


def is_precompiled() -> bool:
    """True when :func:`precompile` already ran for these sources, numba, Python and CPU.

    Examples
    --------
    >>> isinstance(is_precompiled(), bool)
    True
    """
    return _recorded(_marker()) == _key()


def precompile(*, processes: int | None = None, timeout: float = 900.0,
               notify: Callable[[str], None] | None = None) -> bool:
    """Compile and cache the kernels on up to ``processes`` cores (default: all), unless done.

    Returns True when it compiled, False when there was nothing to do (already done for these
    sources, numba, Python and CPU; a single core, where compiling at first use costs the
    same; numba's JIT turned off) or when a compiling process failed or ran past ``timeout``
    seconds: that is logged as a warning, and its kernels compile at their first use instead.
    ``notify`` is called with a line to show the user when compiling starts and ends. Needs
    ``sys.executable`` to be a Python interpreter (it is not inside QGIS, whose plugin
    compiles at first use).

    Examples
    --------
    ``precompile()`` once after installing (the ``cpted`` command calls it before auditing);
    with one process there is nothing to gain:

    >>> from cpted.precompile import precompile
    >>> precompile(processes=1)
    False
    """
    import numba

    cores = os.cpu_count() or 1
    n = min(len(GROUPS), max(1, processes or cores))
    if n < 2 or numba.config.DISABLE_JIT:
        return False
    marker, key = _marker(), _key()
    if marker is None or _recorded(marker) == key:
        return False
    say = notify or log.info
    start = time.monotonic()
    say(f"compiling cpted's kernels for this machine, once, on {n} cores (one to two minutes)...")
    runs = []
    try:
        for k in range(n):
            names = ",".join(m for i, group in enumerate(GROUPS) if i % n == k for m in group)
            errors = tempfile.TemporaryFile()
            proc = subprocess.Popen([sys.executable, "-m", "cpted.precompile", names],  # noqa: S603 - our own module
                                    stdout=subprocess.DEVNULL, stderr=errors)
            runs.append((names, proc, errors))
        failed = [why for why in (_wait(*run, start + timeout) for run in runs) if why]  # every one waited for
    finally:  # interrupted: no compiling process outlives the call
        for _, proc, errors in runs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            errors.close()
    for why in failed:
        log.warning("%s; those kernels compile at their first use instead", why)
    if failed:
        return False
    try:
        write_text_atomic(marker, key)
    except OSError as exc:  # a read-only cache folder: numba compiles in memory there anyway
        log.warning("could not record the compiled kernels in %s: %s", marker.parent, exc)
    say(f"kernels compiled in {time.monotonic() - start:.0f} s")
    return True


def _wait(names: str, proc: subprocess.Popen, errors, deadline: float) -> str | None:
    """None when the compiling process of ``names`` succeeds, else why it did not."""
    try:
        code = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        return f"compiling the kernels of {names} did not end in time"
    if code == 0:
        return None
    errors.seek(0)
    tail = " | ".join(errors.read().decode(errors="replace").strip().splitlines()[-5:])
    return f"compiling the kernels of {names} failed (exit code {code}: {tail})"


def scene():
    """The built-in scene the kernels are compiled on: a 2 x 2 block grid of streets with
    buildings, entrances, lamps, barriers, land use and points of interest (a site of
    160 x 120 m, 5 m cells), enough for every measure to reach its kernels.

    Examples
    --------
    >>> sorted(scene().layers)[:3]
    ['barriers', 'buildings', 'entrances']
    """
    import geopandas as gpd
    from shapely import LineString, Point, box

    from cpted.prepare.site import Site

    def layer(geoms, **columns):
        return gpd.GeoDataFrame(columns, geometry=geoms, crs=2154)

    xs, ys = (0.0, 80.0, 160.0), (0.0, 60.0, 120.0)
    lines = [LineString([(x, ys[0]), (x, ys[-1])]) for x in xs] + [LineString([(xs[0], y), (xs[-1], y)]) for y in ys]
    lines += [LineString([(xs[1], y), (xs[1] + 40, y + 30)]) for y in ys[:2]]  # diagonal footways
    streets = layer(lines, walk_kind=["street"] * 6 + ["footway"] * 2)
    blocks = [box(x + 10, y + 10, x + 35, y + 25) for x in xs[:2] for y in ys[:2]]
    blocks += [box(x + 45, y + 35, x + 70, y + 50) for x in xs[:2] for y in ys[:2]]
    buildings = layer(blocks, height_m=[6.0, 9.0, 12.0, 15.0] * 2)
    entrances = layer([Point(b.bounds[0] + 5, b.bounds[1]) for b in blocks], kind=["main"] * len(blocks))
    lamps = layer([Point(x + 40, y + 2) for x in xs[:2] for y in ys], height_m=[6.0] * 6)
    barriers = layer([LineString([(90, 70), (120, 70)]), Point(40, 59)], kind=["fence", "bollard"], height_m=[1.8, 1.0])
    landuse = layer([box(85, 65, 150, 110), box(5, 65, 75, 110)], category=["residential", "park"],
                    access=["private", None])
    pois = layer([Point(20, 5), Point(100, 5), Point(140, 62), Point(60, 118)],
                 category=["shop", "food_drink", "education", "transit"], name=["a", "b", "c", "d"],
                 opening_hours=["Mo-Su 08:00-23:00", None, "Mo-Fr 08:00-18:00", None])
    return Site.from_layers("precompile", box(0, 0, 160, 120), crs=2154, context=40, cell_size=5,
                            layers={"streets": streets, "buildings": buildings, "entrances": entrances,
                                    "lamps": lamps, "barriers": barriers, "landuse": landuse, "pois": pois})


def _run(measures: list[str]) -> None:
    from cpted.pipeline import audit

    audit(scene(), measures=measures)


if __name__ == "__main__":
    _run(sys.argv[1].split(","))
