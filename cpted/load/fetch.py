"""Online OSM fetch through osmnx, into a per-site cache GeoPackage that later runs read offline.

The cache ``<cache_dir>/<site_id>.gpkg`` holds two layers:

- ``walk_edges``: the osmnx ``walk`` network of the site + context ring (streets schema,
  with ``u``, ``v``, ``osmid``);
- ``osm_features``: every feature matching :data:`FETCH_TAGS`, with ``osm_type``, ``osm_id``
  and all its tags as JSON (``tags``), turned into layers by :mod:`cpted.load.osm_tags`.

Point osmnx at another Overpass server with ``osmnx.settings.overpass_url``.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import urllib.parse
from pathlib import Path

import geopandas as gpd
import numpy as np

from cpted.errors import CorruptFileError, MissingDataError, NetworkError
from cpted.load.graph import edges_to_streets
from cpted.load.osm_tags import osm_layers
from cpted.load.vector import read_vector
from cpted.atomic import atomic_path

__all__ = ["FETCH_TAGS", "fetch_osm", "read_fetch_cache", "cache_path", "check_reachable", "OFFLINE_HINT",
           "REACH_TIMEOUT", "DEFAULT_OVERPASS_URL"]

log = logging.getLogger(__name__)

#: The OSM tags fetched for every site (osmnx ``tags`` argument).
FETCH_TAGS: dict[str, bool | list[str]] = {
    "building": True,
    "entrance": True,
    "barrier": True,
    "highway": ["street_lamp", "bus_stop", "motorway", "motorway_link", "trunk", "trunk_link"],
    "natural": ["tree", "grass", "scrub", "wood", "water", "bay", "strait"],
    "water": True,
    "waterway": ["riverbank", "dock", "canal", "boatyard"],
    "railway": True,
    "amenity": True,
    "shop": True,
    "office": True,
    "tourism": True,
    "craft": True,
    "healthcare": True,
    "leisure": True,
    "landuse": True,
    "public_transport": ["platform", "stop_position", "station"],
}


#: The Overpass server used unless ``--overpass-url`` / ``$CPTED_OVERPASS_URL`` says otherwise (osmnx's default).
DEFAULT_OVERPASS_URL = "https://overpass-api.de/api"
#: Seconds given to each of the name lookup and the connection when checking a server is reachable.
REACH_TIMEOUT = 5.0
#: How to work without the server.
OFFLINE_HINT = (
    "To work offline, give the sites local files in the sites file (e.g. osm = \"city.osm.pbf\", a Geofabrik "
    "extract; see docs/sites_file.md), or run `cpted batch` on the cache an earlier `cpted fetch` wrote "
    "(--cache-dir, default ~/.cache/cpted/osm); or pass --overpass-url with a server you can reach"
)


def check_reachable(url: str, *, timeout: float = REACH_TIMEOUT) -> None:
    """Raise :class:`~cpted.errors.NetworkError` unless a TCP connection to ``url``'s host opens.

    The name lookup and the connection are each given ``timeout`` seconds, so an offline
    machine is told within about ``2 * timeout`` seconds.

    Examples
    --------
    >>> import socket
    >>> with socket.socket() as s:  # a local port that nothing listens on
    ...     s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]
    >>> check_reachable(f"http://127.0.0.1:{port}/api", timeout=2)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    cpted.errors.NetworkError: the Overpass server http://127.0.0.1:.../api cannot be reached (connection refused)...
    """
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname
    if not host or parts.scheme not in ("http", "https"):
        msg = f"--overpass-url {url!r} is not an http(s) address; give e.g. https://overpass-api.de/api"
        raise NetworkError(msg)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    found: dict = {}

    def lookup() -> None:
        try:
            found["addresses"] = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            found["error"] = exc

    thread = threading.Thread(target=lookup, daemon=True, name="cpted-dns")  # getaddrinfo has no timeout
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        _unreachable(url, f"the name {host!r} did not resolve within {timeout:g} s: no network or no DNS")
    if "error" in found:
        _unreachable(url, f"the name {host!r} does not resolve: {found['error'].strerror or found['error']}")
    reasons = []
    for family, kind, proto, _, address in found["addresses"]:
        with socket.socket(family, kind, proto) as sock:
            sock.settimeout(timeout)
            try:
                sock.connect(address)
                return
            except ConnectionRefusedError:
                reasons.append("connection refused")
            except TimeoutError:
                reasons.append(f"no answer within {timeout:g} s")
            except OSError as exc:
                reasons.append(exc.strerror or str(exc))
    _unreachable(url, ", ".join(dict.fromkeys(reasons)) or "no address")


def _unreachable(url: str, reason: str):
    msg = f"the Overpass server {url} cannot be reached ({reason}). {OFFLINE_HINT}"
    raise NetworkError(msg)


def cache_path(cache_dir: str | Path, site_id: str) -> Path:
    """The cache GeoPackage of a site.

    Examples
    --------
    >>> cache_path("/tmp/c", "nantes_nord").name
    'nantes_nord.gpkg'
    """
    return Path(cache_dir) / f"{site_id}.gpkg"


def fetch_osm(area_lonlat, path: str | Path) -> dict[str, int]:
    """Download the walk network and features of an area into a cache GeoPackage.

    Parameters
    ----------
    area_lonlat
        A shapely polygon in EPSG:4326 (the site plus its context ring).
    path
        The GeoPackage to write (atomically: an existing cache is replaced only on success).

    Returns
    -------
    dict
        Counts ``{"walk_edges": n, "osm_features": n}``.
    """
    import osmnx as ox
    import requests

    try:
        return _fetch(ox, area_lonlat, path)
    except requests.exceptions.RequestException as exc:  # the connection dropped, or timed out, mid-fetch
        _unreachable(ox.settings.overpass_url, f"{type(exc).__name__}: {exc}")


def _fetch(ox, area_lonlat, path: str | Path) -> dict[str, int]:
    try:
        graph = ox.graph.graph_from_polygon(area_lonlat, network_type="walk", simplify=True, retain_all=True)
        edges = edges_to_streets(ox.convert.graph_to_gdfs(graph, nodes=False, fill_edge_geometry=True).reset_index())
    except ox._errors.InsufficientResponseError:
        edges = gpd.GeoDataFrame({"u": [], "v": [], "osmid": []}, geometry=gpd.GeoSeries([]), crs=4326)
    try:
        feats = ox.features.features_from_polygon(area_lonlat, tags=FETCH_TAGS)
    except ox._errors.InsufficientResponseError:
        feats = gpd.GeoDataFrame(geometry=gpd.GeoSeries([]), crs=4326)
    raw = _raw_from_osmnx(feats)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        edges.to_file(tmp, layer="walk_edges", driver="GPKG")
        raw.to_file(tmp, layer="osm_features", driver="GPKG", mode="a")
    return {"walk_edges": len(edges), "osm_features": len(raw)}


def _raw_from_osmnx(feats: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """osmnx features (one column per tag) -> osm_type, osm_id, tags (JSON), geometry."""
    if feats.empty:
        return gpd.GeoDataFrame({"osm_type": [], "osm_id": [], "tags": []}, geometry=gpd.GeoSeries([]), crs=4326)
    feats = feats.reset_index()
    tag_cols = [c for c in feats.columns if c not in {"element", "id", "element_type", "osmid", "geometry", "nodes", "ways"}]
    values = feats[tag_cols].to_numpy(dtype=object)
    tags = [
        json.dumps({k: str(v) for k, v in zip(tag_cols, row, strict=True) if not _missing(v)}, ensure_ascii=False)
        for row in values
    ]
    kind = feats["element"] if "element" in feats else feats["element_type"]
    ident = feats["id"] if "id" in feats else feats["osmid"]
    return gpd.GeoDataFrame(
        {"osm_type": kind.to_numpy(dtype=object), "osm_id": ident.astype("int64").to_numpy(), "tags": tags},
        geometry=feats.geometry.values,
        crs=feats.crs,
    )


def _missing(v) -> bool:
    return v is None or (isinstance(v, float) and np.isnan(v))


def read_fetch_cache(path: str | Path) -> dict[str, gpd.GeoDataFrame]:
    """Read a cache GeoPackage written by :func:`fetch_osm` into canonical layers (EPSG:4326).

    Raises
    ------
    MissingDataError
        When the cache does not exist (run ``cpted fetch``).
    """
    path = Path(path)
    if not path.exists():
        msg = f"no fetch cache at {str(path)!r}; run `cpted fetch SITES_FILE --site ...` first"
        raise MissingDataError(msg)
    raw = read_vector(path, layer="osm_features")
    try:
        tags = raw["tags"].map(lambda t: json.loads(t) if t else {})
    except (ValueError, KeyError) as exc:
        msg = f"fetch cache {str(path)!r} is damaged ({exc}); delete it and run `cpted fetch` again"
        raise CorruptFileError(msg) from None
    raw = raw.assign(tags=tags)
    layers = osm_layers(raw, name=path.name) if len(raw) else {}
    edges = read_vector(path, layer="walk_edges")
    layers["streets"] = edges
    return layers
