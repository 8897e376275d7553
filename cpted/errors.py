"""The one hierarchy of errors raised by cpted.

Every message says what is wrong, where (layer, feature, file, key) and how to fix it.
Each class also subclasses the built-in exception a Python user would expect, so
``except ValueError`` keeps working around cpted calls.
"""

from __future__ import annotations

__all__ = [
    "CptedError",
    "InputError",
    "GeometryError",
    "CRSError",
    "MissingColumnsError",
    "DataNotFoundError",
    "CorruptFileError",
    "NotAFileError",
    "UnreadableFileError",
    "SitesFileError",
    "MissingDataError",
    "MissingDependencyError",
    "NetworkError",
]


class CptedError(Exception):
    """Base class of every error cpted raises on purpose."""


class InputError(CptedError, ValueError):
    """An input layer, file or option cannot be used as given."""


class GeometryError(InputError):
    """Invalid, empty or wrongly typed geometries in an input layer."""


class CRSError(InputError):
    """A missing, geographic or mismatched coordinate reference system."""


class MissingColumnsError(InputError, KeyError):
    """A layer lacks a column that its kind requires."""

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return str(self.args[0]) if self.args else ""


class DataNotFoundError(InputError, FileNotFoundError):
    """A path that does not exist, or a data directory that cannot be found."""


class CorruptFileError(InputError):
    """A file that exists but cannot be read (truncated, corrupt, wrong format)."""


class NotAFileError(InputError, IsADirectoryError):
    """A folder given where a data file is expected."""


class UnreadableFileError(InputError, PermissionError):
    """A file that exists but that this user may not read."""


class SitesFileError(InputError):
    """A sites file (TOML) that does not follow the documented format."""


class MissingDataError(CptedError):
    """A computation whose inputs are absent for this site (e.g. no streets at all)."""


class MissingDependencyError(CptedError, ImportError):
    """An optional dependency is not installed."""


class NetworkError(CptedError, ConnectionError):
    """A server (Overpass) that cannot be reached; the message says how to work offline."""


def feature_ids(index, most: int = 5) -> str:
    """Format the first few feature ids of ``index`` for an error message.

    Examples
    --------
    >>> feature_ids(range(8), most=3)
    '0, 1, 2 (and 5 more)'
    """
    ids = [str(i) for i in list(index)[:most]]
    more = f" (and {len(index) - most} more)" if len(index) > most else ""
    return ", ".join(ids) + more
