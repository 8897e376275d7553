"""The parsed-source cache: each source file parsed into cpted's canonical layers once per machine.

A source file (GraphML, OSM PBF/XML, GeoPackage, GeoJSON...) is parsed once, and each canonical
layer read from it is stored as a GeoParquet 1.1 file (``<cache>/sources/<slot>-<key>.parquet``):

- rows sorted along a Hilbert curve, in small row groups, with the ``bbox`` covering column
  (xmin, ymin, xmax, ymax per feature), so that reading the site plus its context ring touches the
  row groups whose statistics meet its bounding box only (:func:`read_entry`), not the whole file;
- ``slot`` names the source path and what was read from it (reader, layer kind, options);
  ``key`` hashes the file's **whole content** (SHA-256, with the files beside it sharing its stem:
  a shapefile's ``.dbf``, a grid's ``.prj``), the reader options, the cpted version and the source
  of cpted's readers. A full hash rather than size + mtime + head and tail: it costs about 1 s per
  GB (the sample graphs hash in 5 ms), far below parsing (minutes per GB of XML), and it misses no
  edit (an edit keeping size and mtime, a file restored from a backup, a copy with new times).
  A changed source gets a new key: its old entry is removed when the new one is written;
- written to a temporary file in the same folder, then hard-linked to its name: the first writer
  wins, the others drop theirs. Workers that want a file no one has cached yet each parse it (no
  lock: measured on 2 workers sharing two graphs, waiting for the other's parse left a core idle
  and made the cold batch slower than parsing twice at once);
- pages carry CRC checksums, verified on read: a truncated or damaged entry is detected (parquet
  read error or checksum mismatch), removed and rebuilt with a :class:`CacheWarning`, never used.

The folder is ``$CPTED_CACHE_DIR``, else the platform's user cache folder
(``platformdirs.user_cache_dir("cpted")``, ``~/.cache/cpted`` on Linux); ``cpted --cache-dir``
overrides both. ``cpted cache info`` / ``cpted cache clear`` manage it.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import os
import pickle
import secrets
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from cpted import __version__

__all__ = ["CacheWarning", "default_cache_dir", "sources_dir", "content_hash", "entry_path", "write_entry",
           "read_entry", "cached", "cache_entries", "clear_cache", "ROW_GROUP_SIZE"]

#: Rows per row group: small, so that a site's bounding box touches few of them.
ROW_GROUP_SIZE = 512
_SUFFIX = ".parquet"
_TEMP_PREFIX = ".tmp-"
_META = b"cpted"  # key of cpted's own metadata in the parquet footer
_FORMAT = 1  # bump when the entry layout changes


log = logging.getLogger(__name__)


class CacheWarning(UserWarning):
    """A cache entry was found corrupt: removed and rebuilt from the source."""


def default_cache_dir() -> Path:
    """``$CPTED_CACHE_DIR``, else the platform's user cache folder for cpted.

    Examples
    --------
    >>> default_cache_dir().is_absolute()
    True
    """
    if os.environ.get("CPTED_CACHE_DIR"):
        return Path(os.environ["CPTED_CACHE_DIR"])
    import platformdirs

    return Path(platformdirs.user_cache_dir("cpted"))


def sources_dir(root: str | Path | None = None) -> Path:
    """The parsed-source cache folder under the cache folder ``root`` (:func:`default_cache_dir`).

    Examples
    --------
    >>> sources_dir("/tmp/c")
    PosixPath('/tmp/c/sources')
    """
    return Path(root if root is not None else default_cache_dir()) / "sources"


def resolve_source_cache(source_cache: str | Path | bool | None) -> Path | None:
    """The parsed-source cache folder an API call's ``source_cache`` option names.

    None or True: :func:`sources_dir` (``$CPTED_CACHE_DIR/sources``, else the platform's user
    cache folder); False: no cache on disk (None); a path: that folder.

    Examples
    --------
    >>> resolve_source_cache("/tmp/c/sources"), resolve_source_cache(False)
    (PosixPath('/tmp/c/sources'), None)
    """
    if source_cache is False:
        return None
    if source_cache is None or source_cache is True:
        return sources_dir()
    return Path(source_cache)


def _source_files(path: Path) -> list[Path]:
    """The files whose content a read depends on: the file and those beside it sharing its stem
    (``a.shp`` with ``a.dbf``, ``a.prj``...), or every file of a folder dataset (``.gdb``)."""
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file())
    stem = path.name.split(".")[0]
    return sorted({path, *(p for p in path.parent.glob(f"{stem}.*") if p.is_file())})


@functools.lru_cache(maxsize=256)
def _hash_files(stamp: tuple) -> str:
    digest = hashlib.sha256()
    for name, *_ in stamp:
        digest.update(os.fsencode(Path(name).name) + b"\0")
        with open(name, "rb") as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
    return digest.hexdigest()


def content_hash(path: str | Path) -> str:
    """SHA-256 of the content of a source (its file and those beside it sharing its stem).

    Memoised in the process by each file's size, modification time and inode, so a file read
    for several sites is hashed once.

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "a.geojson"
    >>> _ = p.write_text("{}")
    >>> content_hash(p) == content_hash(p), len(content_hash(p))
    (True, 64)
    """
    stamp = []
    for p in _source_files(Path(path)):
        s = p.stat()
        stamp.append((str(p), s.st_size, s.st_mtime_ns, s.st_ino))
    return _hash_files(tuple(stamp))


@functools.lru_cache(maxsize=1)
def _code_digest() -> str:
    """The cpted version and the source of its readers: a change to how files are read
    (even without a new version) gives new keys."""
    import cpted

    here = Path(cpted.__file__).parent
    digest = hashlib.sha256(__version__.encode())
    for p in sorted([*(here / "load").glob("*.py"), *(here / "load").glob("*.ini"), here / "prepare" / "clean.py",
                     here / "config.py"]):
        if p.name != "cache.py":
            digest.update(p.name.encode() + b"\0" + p.read_bytes())
    return digest.hexdigest()


def entry_path(directory: str | Path, source: str | Path, product: dict) -> Path:
    """Where the entry of ``product`` (what is read: reader, kind, options) of ``source`` lives."""
    source = Path(source).resolve()
    what = json.dumps(product, sort_keys=True, default=str)
    slot = hashlib.sha256(f"{source}\0{what}".encode()).hexdigest()[:24]
    key = hashlib.sha256(f"{content_hash(source)}\0{what}\0{_code_digest()}\0{_FORMAT}".encode()).hexdigest()[:32]
    return Path(directory) / f"{slot}-{key}{_SUFFIX}"


# -- writing -------------------------------------------------------------------------------------

def _column(values: pd.Series):
    """A pandas column as an Arrow array, and how to restore it: ``native`` (Arrow + the pandas
    metadata), ``object`` (Python str / bool / int / float of one type, or None) or ``pickle``
    (mixed or other Python objects, e.g. OSM tag dicts), so that the values come back exactly."""
    import pyarrow as pa

    if values.dtype != object:
        return pa.Array.from_pandas(values), "native"
    kinds = {type(v) for v in values.to_numpy() if v is not None}
    if len(kinds) <= 1 and kinds <= {str, bool, int, float}:
        with contextlib.suppress(pa.ArrowException, OverflowError):
            return pa.array(values.to_numpy(), from_pandas=False), "object"
    return pa.array([None if v is None else pickle.dumps(v, protocol=5) for v in values], type=pa.binary()), "pickle"


def _geo_metadata(gdf: gpd.GeoDataFrame) -> dict:
    geom = gdf.geometry
    types = sorted(set(geom.geom_type.dropna()))
    return {
        "version": "1.1.0",
        "primary_column": "geometry",
        "columns": {"geometry": {
            "encoding": "WKB",
            "geometry_types": types,
            "crs": json.loads(gdf.crs.to_json()) if gdf.crs is not None else None,
            "covering": {"bbox": {k: ["bbox", k] for k in ("xmin", "ymin", "xmax", "ymax")}},
        }},
    }


def write_entry(path: Path, gdf: gpd.GeoDataFrame, info: dict, *, source: str, caught: list[tuple[str, str]]) -> bool:
    """Write one entry atomically; False when another writer got there first (its entry is kept).

    ``info`` (JSON) and ``caught`` (the warnings the parse raised, re-raised on each read) go in
    the footer metadata with the whole layer's extent and feature count.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    reserved = {"__row", "__index", "bbox", "geometry"} & {str(c) for c in gdf.columns if c != gdf.geometry.name}
    if reserved or len(set(map(str, gdf.columns))) < len(gdf.columns):
        msg = f"columns {sorted(reserved) or list(gdf.columns)} clash with the entry's own"
        raise ValueError(msg)
    path.parent.mkdir(parents=True, exist_ok=True)
    n = len(gdf)
    geometry = gdf.geometry.values
    bounds = shapely.bounds(geometry).reshape(n, 4)
    known = np.isfinite(bounds).all(axis=1)
    order = np.arange(n)
    if known.any():  # Hilbert order of the bounding-box centres: neighbours share row groups
        mid = np.where(known[:, None], (bounds[:, :2] + bounds[:, 2:]) / 2, 0.0)
        total = (*np.nanmin(bounds[known, :2], axis=0), *np.nanmax(bounds[known, 2:], axis=0))
        keys = gpd.GeoSeries(gpd.points_from_xy(mid[:, 0], mid[:, 1])).hilbert_distance(total_bounds=total).to_numpy()
        order = np.lexsort((np.arange(n), np.where(known, keys, np.iinfo(np.int64).max)))
    frame = pd.DataFrame(gdf.drop(columns=gdf.geometry.name)).iloc[order]
    columns, kinds = {}, {}
    for name in frame.columns:
        columns[str(name)], kinds[str(name)] = _column(frame[name])
    bbox = pa.StructArray.from_arrays(
        [pa.array(np.where(known, bounds[:, i], np.nan)[order], mask=~known[order]) for i in range(4)],
        names=["xmin", "ymin", "xmax", "ymax"])
    index = gdf.index
    plain = isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1
    columns["__row"] = pa.array(order.astype("int64"))
    if not plain:
        columns["__index"] = pa.Array.from_pandas(pd.Series(index.to_numpy()[order]))
    columns["geometry"] = pa.array(shapely.to_wkb(geometry[order]), type=pa.binary())
    columns["bbox"] = bbox
    table = pa.table(columns)
    native = [c for c, k in kinds.items() if k == "native"]
    pandas_meta = pa.Schema.from_pandas(frame[native], preserve_index=False).metadata if native else {}
    full = [float(b) for b in gdf.total_bounds] if known.any() else None
    meta = {
        "format": _FORMAT, "source": source, "rows": n, "kinds": kinds, "columns": [str(c) for c in frame.columns],
        "order": [str(c) for c in gdf.columns], "geometry_name": gdf.geometry.name, "index_name": index.name, "plain_index": plain,
        "info": info, "warnings": caught, "file_bounds": full, "created": time.time(), "cpted": __version__,
    }
    table = table.replace_schema_metadata({
        **(pandas_meta or {}), b"geo": json.dumps(_geo_metadata(gdf)).encode(),
        _META: json.dumps(meta, default=_json_default).encode(),
    })
    tmp = path.with_name(f"{_TEMP_PREFIX}{os.getpid()}-{secrets.token_hex(4)}{_SUFFIX}")
    try:
        pq.write_table(table, tmp, row_group_size=ROW_GROUP_SIZE, compression="zstd", write_page_checksum=True,
                       write_statistics=True)
        try:
            os.link(tmp, path)  # atomic, and fails if the entry exists: the first writer wins
        except FileExistsError:
            return False
        except OSError:  # a file system without hard links
            if path.exists():
                return False
            os.replace(tmp, path)
        for other in path.parent.glob(f"{path.name.split('-')[0]}-*{_SUFFIX}"):
            if other != path:  # the entry of an older version of the source: invalidated
                with contextlib.suppress(OSError):
                    other.unlink()
        return True
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


# -- reading -------------------------------------------------------------------------------------

def _metadata(pf) -> dict:
    raw = pf.schema_arrow.metadata or {}
    if _META not in raw:
        raise ValueError("no cpted metadata")
    meta = json.loads(raw[_META])
    if meta.get("format") != _FORMAT:
        raise ValueError(f"entry format {meta.get('format')} is not {_FORMAT}")
    return meta


def _row_groups(pf, box: tuple[float, float, float, float]) -> list[int]:
    """The row groups whose bbox statistics meet ``box`` (xmin, ymin, xmax, ymax)."""
    md = pf.metadata
    paths = [md.schema.column(i).path for i in range(md.num_columns)]
    at = {k: paths.index(f"bbox.{k}") for k in ("xmin", "ymin", "xmax", "ymax")}
    keep = []
    for g in range(md.num_row_groups):
        rg = md.row_group(g)
        stats = {k: rg.column(i).statistics for k, i in at.items()}
        if any(s is None or not s.has_min_max for s in stats.values()):
            if rg.num_rows and all(s is not None and s.null_count == rg.num_rows for s in stats.values()):
                continue  # only features without geometry: never in a box
            keep.append(g)
            continue
        if (stats["xmin"].min <= box[2] and stats["xmax"].max >= box[0]
                and stats["ymin"].min <= box[3] and stats["ymax"].max >= box[1]):
            keep.append(g)
    return keep


def read_entry(path: Path, *, box: tuple[float, float, float, float] | None = None) -> tuple[gpd.GeoDataFrame, dict]:
    """Read an entry: the features whose bounding box meets ``box`` (in the layer's CRS; all when
    None), in the source's order with its index, and the entry's metadata.

    Only the row groups whose statistics meet ``box`` are read. Raises on a damaged entry
    (parquet error, page checksum mismatch, missing metadata).
    """
    import pyarrow.parquet as pq
    from pyproj import CRS

    pf = pq.ParquetFile(path, page_checksum_verification=True)
    meta = _metadata(pf)
    geo = json.loads(pf.schema_arrow.metadata[b"geo"])["columns"]["geometry"]
    groups = list(range(pf.metadata.num_row_groups)) if box is None else _row_groups(pf, box)
    table = pf.read_row_groups(groups) if groups else pf.schema_arrow.empty_table()
    meta["row_groups_read"], meta["row_groups"] = len(groups), pf.metadata.num_row_groups
    if box is not None and table.num_rows:
        b = table.column("bbox").combine_chunks()
        xmin, ymin, xmax, ymax = (b.field(k).to_numpy(zero_copy_only=False) for k in ("xmin", "ymin", "xmax", "ymax"))
        with np.errstate(invalid="ignore"):
            hit = (xmin <= box[2]) & (xmax >= box[0]) & (ymin <= box[3]) & (ymax >= box[1])
        table = table.filter(hit)
    rows = table.column("__row").to_numpy()
    order = np.argsort(rows, kind="stable")
    table = table.take(order)
    kinds = meta["kinds"]
    native = [c for c, k in kinds.items() if k == "native"]
    frame = table.select(native).to_pandas() if native else pd.DataFrame(index=range(table.num_rows))
    for name, kind in kinds.items():
        if kind == "native":
            continue
        values = table.column(name).to_numpy(zero_copy_only=False)
        if kind == "pickle":
            values = [None if v is None else pickle.loads(v) for v in values]  # noqa: S301 - cpted's own cache
        frame[name] = pd.Series(np.asarray(values, dtype=object) if len(values) else np.empty(0, dtype=object),
                                dtype=object)
    frame = frame[meta["columns"]]
    if meta["plain_index"]:
        index = pd.Index(rows[order], name=meta["index_name"])
    else:
        index = pd.Index(table.column("__index").to_pandas().to_numpy(), name=meta["index_name"])
    frame.index = index
    geometry = shapely.from_wkb(table.column("geometry").to_numpy(zero_copy_only=False))
    crs = CRS.from_json_dict(geo["crs"]) if geo.get("crs") else None
    gdf = gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geometry, index=index, crs=crs), crs=crs)
    if meta["geometry_name"] != "geometry":
        gdf = gdf.rename_geometry(meta["geometry_name"])
    return gdf[meta["order"]], meta


def _box_in(area: tuple, crs) -> tuple[float, float, float, float] | None:
    """The bounding box, in ``crs``, of ``area`` = (geometry, its CRS), padded by 1e-6 of its size
    (a box a little larger only reads a few more features, which the clip drops)."""
    if area is None or crs is None:
        return None
    geometry, area_crs = area
    local = gpd.GeoSeries([geometry], crs=area_crs).to_crs(crs).iloc[0]
    xmin, ymin, xmax, ymax = local.bounds
    pad = 1e-6 * max(xmax - xmin, ymax - ymin, 1e-9)
    return xmin - pad, ymin - pad, xmax + pad, ymax + pad


@contextlib.contextmanager
def _catching() -> Iterator[list]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield caught


def _rewarn(caught: list[tuple[str, str]]) -> None:
    import importlib

    for category, message in caught:
        module, _, name = category.rpartition(".")
        try:
            cls = getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError, ValueError):
            cls = UserWarning
        warnings.warn(message, cls, stacklevel=4)


def cached(
    directory: str | Path,
    source: str | Path,
    products: dict[str, dict],
    build: Callable[[], dict[str, tuple[gpd.GeoDataFrame, dict]]],
    want: str,
    *,
    area: tuple | None = None,
    warned: set | None = None,
) -> tuple[gpd.GeoDataFrame, dict]:
    """The layer ``want`` of ``source``, from the cache or parsed (then cached).

    Parameters
    ----------
    directory
        The parsed-source cache folder (:func:`sources_dir`).
    source
        The source file.
    products
        Name -> what is read (reader, kind, options): the layers one parse of the file gives.
    build
        Parses the file; returns name -> (layer, info) for every name of ``products``.
    want
        The product returned.
    area
        (geometry, CRS): only the features whose bounding box meets that of the area are read;
        the whole layer when None.
    warned
        Entries whose parse warnings were already re-raised in this process (each once).

    Returns
    -------
    tuple
        The layer and its info, with ``file_bounds`` and ``file_features``: the extent (layer
        CRS) and feature count of the whole layer.
    """
    try:
        path = entry_path(directory, source, products[want])
    except OSError:  # a missing or unreadable source: its reader says so, with its own error
        return build()[want]
    found = _load(path, source, area, warned)
    if found is not None:
        return found
    with _catching() as caught:
        built = build()
    raised = [(f"{w.category.__module__}.{w.category.__qualname__}", str(w.message)) for w in caught]
    for name, (gdf, info) in built.items():
        try:
            write_entry(entry_path(directory, source, products[name]), gdf, info, source=str(source), caught=raised)
        except Exception as exc:  # noqa: BLE001 - a cache that cannot be written never fails a read
            log.warning("%s (%s) not cached: %s: %s", source, name, type(exc).__name__, exc)
    _rewarn(raised)
    if warned is not None:
        warned.add(path)
    gdf, info = built[want]
    bounds = [float(b) for b in gdf.total_bounds] if len(gdf) and gdf.geometry.notna().any() else None
    return gdf, {**info, "file_bounds": bounds, "file_features": len(gdf)}


def _load(path: Path, source, area, warned: set | None) -> tuple[gpd.GeoDataFrame, dict] | None:
    """An entry's layer and info; None when it is missing, or corrupt (then removed, with a warning)."""
    if not path.is_file():
        return None
    try:
        gdf, meta = read_entry(path, box=None) if area is None else _read_box(path, area)
    except FileNotFoundError:
        return None
    except Exception as exc:  # noqa: BLE001 - any read error: a damaged entry, never used
        warnings.warn(f"cache entry {str(path)!r} of {str(source)!r} is corrupt ({type(exc).__name__}: {exc}); "
                      f"removed, and the source is read again", CacheWarning, stacklevel=4)
        with contextlib.suppress(OSError):
            path.unlink()
        return None
    if warned is None or path not in warned:
        _rewarn([tuple(w) for w in meta["warnings"]])
        if warned is not None:
            warned.add(path)
    return gdf, {**meta["info"], "file_bounds": meta["file_bounds"], "file_features": meta["rows"]}


def _read_box(path: Path, area: tuple) -> tuple[gpd.GeoDataFrame, dict]:
    import pyarrow.parquet as pq
    from pyproj import CRS

    with open(path, "rb"):  # FileNotFoundError before anything else
        pass
    geo = json.loads(pq.read_schema(path).metadata[b"geo"])["columns"]["geometry"]
    crs = CRS.from_json_dict(geo["crs"]) if geo.get("crs") else None
    return read_entry(path, box=_box_in(area, crs))


# -- management ----------------------------------------------------------------------------------

def cache_entries(directory: str | Path) -> list[dict]:
    """The entries of a parsed-source cache folder: path, source, rows, bytes, created;
    ``error`` for an entry that cannot be read."""
    import pyarrow.parquet as pq

    out = []
    for p in sorted(Path(directory).glob(f"*{_SUFFIX}")):
        if p.name.startswith(_TEMP_PREFIX):
            continue
        row = {"path": str(p), "bytes": p.stat().st_size}
        try:
            meta = _metadata(pq.ParquetFile(p))
            row.update(source=meta["source"], rows=meta["rows"], created=meta["created"],
                       kind=meta["info"].get("format", ""))
        except Exception as exc:  # noqa: BLE001
            row["error"] = f"{type(exc).__name__}: {exc}"
        out.append(row)
    return out


def clear_cache(directory: str | Path) -> int:
    """Remove every entry (and temporary file) of a parsed-source cache folder; returns how many
    files were removed. Entries being written meanwhile by another process are kept."""
    removed = 0
    for p in Path(directory).glob(f"*{_SUFFIX}"):
        if p.name.startswith(_TEMP_PREFIX) and time.time() - p.stat().st_mtime < 3600:
            continue  # another process may be writing it
        with contextlib.suppress(OSError):
            p.unlink()
            removed += 1
    return removed
