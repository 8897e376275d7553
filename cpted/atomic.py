"""Atomic writes: every output is written to a temporary file beside it, then renamed.

A temporary file is named ``.<name>.<host>.<pid>.<random>.tmp<suffix>``, so that the files a
crashed run left behind (SIGKILL, power loss) can be told from those of a run still writing:
:func:`sweep_temporaries` removes the ones whose process is gone.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from cpted.errors import InputError

__all__ = ["atomic_path", "write_text_atomic", "sweep_temporaries", "output_folder", "STALE_AFTER"]

#: Age (s) past which a temporary file written from another machine (a shared output folder)
#: is taken as left by a crash.
STALE_AFTER = 6 * 3600.0
_HOST = re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())[:40] or "host"
# .<name>.<host>.<pid>.<random>.tmp[<suffix>][-journal|-wal|-shm]
_TEMP = re.compile(r"^\..+\.(?P<host>[A-Za-z0-9-]+)\.(?P<pid>\d+)\.[^.]+\.tmp[^/]*$")


def _companions(tmp: Path) -> list[Path]:
    """The file and the journals SQLite (GeoPackage) writes beside it."""
    return [tmp, *(tmp.with_name(tmp.name + s) for s in ("-journal", "-wal", "-shm"))]


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` if the block succeeds.

    On any error (or Ctrl-C, or SIGTERM / SIGHUP under the ``cpted`` command) the temporary
    file and its journals are removed and ``path`` is left as it was.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> with atomic_path(d / "a.txt") as tmp:
    ...     _ = tmp.write_text("done")
    >>> (d / "a.txt").read_text(), sorted(p.name for p in d.iterdir())
    ('done', ['a.txt'])
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.{_HOST}.{os.getpid()}.",
                                suffix=".tmp" + "".join(path.suffixes[-1:]), dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    tmp.unlink()  # writers such as GDAL want to create the file themselves
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        for leftover in _companions(tmp):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write a text file atomically (UTF-8).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = write_text_atomic(pathlib.Path(tempfile.mkdtemp()) / "x.csv", "a,b\\n")
    >>> p.read_text()
    'a,b\\n'
    """
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def sweep_temporaries(folders: Iterable[str | Path], *, stale_after: float = STALE_AFTER) -> list[Path]:
    """Remove the temporary files of atomic writes that a crashed run left in ``folders``.

    A temporary file written on this machine is removed when its process no longer runs; any
    (one written from another machine to a shared output folder) when it is older than
    ``stale_after`` seconds. Files of a write still under way are kept.

    Returns
    -------
    list of Path
        The files removed.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / f".audit.gpkg.{_HOST}.999999999.x1.tmp.gpkg").write_text("half")
    >>> _ = (d / f".audit.gpkg.{_HOST}.999999999.x1.tmp.gpkg-journal").write_text("")
    >>> [p.name.split(".")[-1] for p in sweep_temporaries([d])], list(d.iterdir())
    (['gpkg', 'gpkg-journal'], [])
    """
    removed = []
    now = time.time()
    for folder in folders:
        folder = Path(folder)
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob(".*.tmp*")):
            m = _TEMP.match(path.name)
            if m is None:
                continue
            try:
                old = now - path.stat().st_mtime > stale_after
                stale = old or (m["host"] == _HOST and not _alive(int(m["pid"])))
                if stale:
                    path.unlink()
                    removed.append(path)
            except FileNotFoundError:
                continue
    return removed


def output_folder(out: str | Path, site_ids: Iterable[str] = ()) -> Path:
    """Make the output folder ``out`` (and check it is one), then sweep the temporary files a
    crashed run left in it and in its sites' folders.

    Raises
    ------
    InputError
        When ``out`` is an existing file, or cannot be created.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "notes.txt"
    >>> _ = f.write_text("x")
    >>> output_folder(f)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    cpted.errors.InputError: --out '...notes.txt' is a file, not a folder; give a folder (it is created if absent)
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        msg = f"--out {str(out)!r} is a file, not a folder; give a folder (it is created if absent)"
        raise InputError(msg)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        msg = f"--out {str(out)!r} cannot be created ({exc.strerror}); give a folder you can write to"
        raise InputError(msg) from None
    if not os.access(out, os.W_OK | os.X_OK):
        msg = f"--out {str(out)!r} is not writable; give a folder you can write to"
        raise InputError(msg)
    sweep_temporaries([out, *(out / i for i in site_ids)])
    return out
