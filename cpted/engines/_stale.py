"""Drop numba's cached kernels of a folder when any of its sources changed.

numba's cache (``cache=True``) stamps each kernel with its own file only: a kernel that calls a
kernel of another file keeps its cached machine code when only the callee's file changes, and
returns the old callee's answers without a word (numba 0.59-0.68; a kernel of ``b.py`` calling
``a.f`` still returned ``f``'s old value after ``a.py`` was edited). The kernels of
``cpted.engines`` call each other across files, so an editable install (``pip install -e .``)
updated by ``git pull`` could audit with stale kernels. A stamp of every source of the folder is
kept beside the cached kernels; when it differs, they are deleted and compiled again at their
first call. A reinstalled package is safe either way (every file is rewritten).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

STAMP = "cpted-kernels.stamp"


def _probe():  # a function for numba's locators to place; never called
    return None


def kernel_cache_dir(folder: Path) -> Path | None:
    """The folder where numba caches the kernels of the sources in ``folder``, or None.

    Asks numba's own locators, in numba's order (``NUMBA_CACHE_DIR``, the ``__pycache__`` beside
    the sources, the user-wide cache), as a kernel of ``folder/__init__.py`` would.

    Examples
    --------
    >>> from pathlib import Path
    >>> import cpted.engines as engines
    >>> kernel_cache_dir(Path(engines.__file__).parent) is not None
    True
    """
    from numba.core import caching

    for locator in getattr(caching.CacheImpl, "_locator_classes", ()):  # numba 0.59-0.68
        try:
            found = locator.from_function(_probe, str(folder / "__init__.py"))
        except Exception:  # noqa: BLE001 - a locator that cannot place the file is skipped, as numba does
            continue
        if found is not None:
            return Path(found.get_cache_path())
    return None


def sources_stamp(folder: Path) -> str:
    """A hash of the names and contents of every ``.py`` file in ``folder``.

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> _ = (d / "a.py").write_text("x = 1")
    >>> s = sources_stamp(d)
    >>> _ = (d / "a.py").write_text("x = 2")
    >>> sources_stamp(d) == s
    False
    """
    digest = hashlib.blake2b(digest_size=16)
    for path in sorted(folder.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def drop_stale_kernels(folder: Path) -> int:
    """Delete the cached kernels of ``folder`` if its sources changed since they were cached.

    Returns the number of cache files deleted. Never raises on a cache folder it cannot read or
    write: numba then compiles in memory, as it would.

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> _ = (d / "__init__.py").write_text("")
    >>> drop_stale_kernels(d)
    0
    """
    cache = kernel_cache_dir(folder)
    if cache is None:
        return 0
    stamp = sources_stamp(folder)
    stamp_file = cache / STAMP
    try:
        if stamp_file.read_text() == stamp:
            return 0
    except OSError:
        pass
    dropped = 0
    try:
        for path in [*cache.glob("*.nbi"), *cache.glob("*.nbc")]:
            try:
                path.unlink()
                dropped += 1
            except FileNotFoundError:  # another process dropped it first
                pass
        fd, tmp = tempfile.mkstemp(dir=cache, prefix=".stamp-")
        with os.fdopen(fd, "w") as f:
            f.write(stamp)
        os.replace(tmp, stamp_file)
    except OSError:
        pass
    return dropped
