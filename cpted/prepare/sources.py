"""A site of a sites file, read and prepared: its sources in order of precedence, its boundary,
its CRS, and the :class:`~cpted.prepare.site.Site` made of them.

The ``load`` and ``prepare`` stages composed for one site (:func:`load_site`); files shared by
many sites are read once (:class:`SourceCache`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import shapely

from cpted.config import ATTRIBUTION
from cpted.errors import InputError
from cpted.load.fetch import cache_path, read_fetch_cache
from cpted.load.layers import read_layer, tidy_layer
from cpted.load.osm import osm_extent, read_osm
from cpted.load.raster import read_raster
from cpted.load.schema import LAYER_KINDS
from cpted.load.sites_file import LayerSpec, SiteSpec
from cpted.load.vector import read_vector
from cpted.prepare.coverage import read_extent
from cpted.prepare.crs import choose_crs, to_crs
from cpted.prepare.grid import check_grid_size
from cpted.prepare.site import Site

__all__ = ["SourceCache", "load_site", "site_boundary", "site_area", "site_polygon"]

log = logging.getLogger(__name__)
_FORMAT_ATTRIBUTION = {
    "osm": ATTRIBUTION["osm"],
    "graphml": ATTRIBUTION["osm"],
    "fetch": ATTRIBUTION["osm"],
    "bdtopo": ATTRIBUTION["bdtopo"],
    "nantes_equipements": ATTRIBUTION["nantes"],
}
_OSM_KINDS = tuple(k for k in LAYER_KINDS if k != "reports")  # what OSM tags provide


class SourceCache:
    """Files already read in this run, so a file shared by many sites is read once; and, with a
    ``directory``, the parsed-source cache shared by every run and worker of the machine
    (:mod:`cpted.load.cache`): a file is parsed once per machine and each site then reads only its
    bounding box plus context ring.

    Parameters
    ----------
    directory
        The parsed-source cache folder (:func:`cpted.load.cache.sources_dir`); None keeps the
        files read in memory only, for this run.
    """

    def __init__(self, directory: str | Path | None = None) -> None:
        self.directory = Path(directory) if directory is not None else None
        self._layers: dict[tuple, tuple[gpd.GeoDataFrame, dict]] = {}
        self._other: dict[tuple, object] = {}
        self._warned: set = set()
        self.seconds = 0.0  # spent reading files (parsing them, or reading the cache)

    def _read(self, source, products: dict, build: Callable, want: str, area):
        start = time.perf_counter()
        try:
            return self._read_timed(source, products, build, want, area)
        finally:
            self.seconds += time.perf_counter() - start

    def _read_timed(self, source, products: dict, build: Callable, want: str, area):
        if self.directory is None:
            memo = lambda name: (str(source), repr(sorted(products[name].items())))  # noqa: E731
            if memo(want) not in self._layers:
                self._layers.update({memo(name): read for name, read in build().items()})
            return self._layers[memo(want)]
        from cpted.load.cache import cached

        return cached(self.directory, source, products, build, want, area=area, warned=self._warned)

    def layer(self, spec: LayerSpec, kind: str, *, area: tuple | None = None) -> tuple[gpd.GeoDataFrame, dict]:
        """The canonical layer ``kind`` of a source, with facts about the read.

        ``area`` = (geometry, CRS): with a cache directory, only the features whose bounding box
        meets the area's are read (the caller clips); the whole layer otherwise."""
        options = {k: v for k, v in spec.options.items() if k not in ("attribution", "extent")}
        product = {"reader": "layer", "kind": kind, "options": options}
        gdf, info = self._read(spec.path, {kind: product}, lambda: {kind: read_layer(spec.path, kind, **options)}, kind, area)
        info = {**info, "attribution": spec.attribution or _FORMAT_ATTRIBUTION.get(info.get("format"))}
        if "extent" in spec.options:  # read by load_site into the site CRS (cpted.prepare.coverage)
            info["extent"] = spec.options["extent"]
        return gdf, info

    def osm(self, spec: LayerSpec, kind: str, *, area: tuple | None = None) -> tuple[gpd.GeoDataFrame, dict]:
        """The canonical layer ``kind`` of an OSM file (every kind is parsed at once)."""

        def build():
            layers = read_osm(spec.path)
            facts = {"source": str(spec.path), "format": "osm", **osm_extent(spec.path)}
            return {k: tidy_layer(layers[k], k, name=f"{k} ({spec.path.name})", info=facts) for k in _OSM_KINDS}

        products = {k: {"reader": "osm", "kind": k} for k in _OSM_KINDS}
        gdf, info = self._read(spec.path, products, build, kind, area)
        info = {**info, "attribution": spec.attribution or ATTRIBUTION["osm"]}
        if "extent" in spec.options:  # declared: it wins over the extract's header box (read_extent)
            info["extent"] = spec.options["extent"]
        return gdf, info

    def vector(self, path: Path, *, area: tuple | None = None) -> gpd.GeoDataFrame:
        """A vector file as it is (e.g. a reference grid)."""
        gdf, _ = self._read(path, {"vector": {"reader": "vector"}}, lambda: {"vector": (read_vector(path), {})},
                            "vector", area)
        return gdf

    def get(self, key: tuple, read: Callable[[], object]) -> object:
        """Any other read (fetch caches, reference grids, rasters), memoised by ``key``."""
        if key not in self._other:
            start = time.perf_counter()
            self._other[key] = read()
            self.seconds += time.perf_counter() - start
        return self._other[key]


def _boundary_shapes(spec: SiteSpec) -> gpd.GeoDataFrame:
    """The features of a site's boundary file (its ``where`` filter applied)."""
    shape = read_vector(spec.boundary.path, layer=spec.boundary.options.get("layer"),
                        where=spec.boundary.options.get("where"))
    if shape.empty:
        msg = f"site {spec.id!r}: the boundary file {str(spec.boundary.path)!r} selects no feature"
        raise InputError(msg)
    return shape


def site_boundary(spec: SiteSpec, crs, shapes: gpd.GeoDataFrame | None = None) -> shapely.Geometry:
    """The boundary polygon of a site spec in ``crs``: disc, box or polygon file (``shapes``
    when already read)."""
    if spec.centre is not None:
        point = gpd.GeoDataFrame(geometry=[shapely.Point(spec.centre)], crs=spec.centre_crs)
        centre = to_crs(point, crs, layer=f"centre of site {spec.id!r}").geometry.iloc[0]
        return centre.buffer(spec.radius, quad_segs=32)
    if spec.bbox is not None:
        return shapely.box(*spec.bbox)
    shapes = _boundary_shapes(spec) if shapes is None else shapes
    return shapely.union_all(to_crs(shapes, crs, layer=f"boundary of site {spec.id!r}").geometry.values)


def site_polygon(spec: SiteSpec) -> gpd.GeoSeries:
    """The site's boundary, as a one-row GeoSeries in the site CRS (nothing else is read)."""
    shapes = _boundary_shapes(spec) if spec.boundary is not None else None
    crs = _site_crs(spec, shapes)
    return gpd.GeoSeries([site_boundary(spec, crs, shapes)], crs=crs)


def site_area(spec: SiteSpec) -> gpd.GeoSeries:
    """The site plus its context ring, as a one-row GeoSeries in the site CRS (nothing else is read)."""
    return site_polygon(spec).buffer(spec.context)


def _site_crs(spec: SiteSpec, shapes: gpd.GeoDataFrame | None):
    if spec.crs is not None:
        return spec.crs
    if spec.centre is not None:
        lonlat = gpd.GeoSeries([shapely.Point(spec.centre)], crs=spec.centre_crs).to_crs(4326).iloc[0]
    else:
        lonlat = shapely.union_all(shapes.to_crs(4326).geometry.values)
    return choose_crs(lonlat)


def load_site(
    spec: SiteSpec,
    *,
    cache_dir: str | Path | None = None,
    sources: SourceCache | None = None,
) -> Site:
    """Read a site of a sites file and prepare it.

    For each layer kind, the sources are, in order of precedence: the site's own
    ``[site.layers]``, then the fetch cache ``<cache_dir>/<site_id>.gpkg`` (written by
    ``cpted fetch``), then the file-wide ``[layers]``. At each level, a source named for the
    kind wins over an ``osm`` file of that level; ``kind = { empty = true }`` is such a source:
    the kind is then known to be empty (:meth:`Site.layer_state <cpted.prepare.site.Site.layer_state>`).

    Parameters
    ----------
    spec
        One site of :func:`cpted.load.sites_file.read_sites_file`.
    cache_dir
        Where ``cpted fetch`` wrote its caches.
    sources
        Files already read in this run.

    Returns
    -------
    Site
    """
    sources = sources or SourceCache()
    shapes = _boundary_shapes(spec) if spec.boundary is not None else None
    crs = _site_crs(spec, shapes)
    boundary = site_boundary(spec, crs, shapes)
    check_grid_size(boundary, spec.cell_size, name=f"site {spec.id!r}")  # before any layer is read
    cache = cache_path(cache_dir, spec.id) if cache_dir is not None else None
    fetched = (
        sources.get(("fetch", cache), lambda: read_fetch_cache(cache)) if cache is not None and cache.exists() else {}
    )
    area = (boundary.buffer(spec.context), crs)
    layers, info, known_empty = _read_layers(spec, sources, fetched, cache, area)
    if all(not len(p) for parts in layers.values() for p in parts) and any(
            i.get("file_features") for facts in info.values() for i in facts):
        # no feature of any layer near the site: read them whole, for the error that says where they are
        layers, info, known_empty = _read_layers(spec, sources, fetched, cache, None)
    for kind in ("buildings", "streets"):  # where each is complete (an OSM extract: its box)
        for facts in info.get(kind, []):
            read_extent(facts, crs, sources.get, kind=kind)
    _check_layers_meet_site(spec, area[0], crs, layers, info)
    heights = _first_source(spec, "building_heights")
    building_heights = None
    if heights is not None:
        building_heights, hinfo = sources.layer(heights, "buildings", area=area)
        info["building_heights"] = [hinfo]
    reference = _first_source(spec, "reference_buildings")
    reference_gdf = None
    if reference is not None:
        reference_gdf = sources.vector(reference.path, area=area)
        if "n_buildings" not in reference_gdf.columns:
            msg = f"reference grid {str(reference.path)!r} needs an 'n_buildings' column"
            raise InputError(msg)
        info["reference_buildings"] = [{"source": str(reference.path), "attribution": reference.attribution}]
    rasters = {}
    for r in spec.layers.get("rasters", spec.shared_layers.get("rasters", [])):
        rasters[r.options["name"]] = sources.get(("raster", r.path), lambda r=r: read_raster(r.path))
    attribution = tuple(i["attribution"] for facts in info.values() for i in facts if i.get("attribution"))
    return Site.from_layers(
        spec.id,
        boundary,
        crs=crs,
        layers=layers,
        name=spec.name,
        approximate=spec.approximate,
        context=spec.context,
        cell_size=spec.cell_size,
        building_heights=building_heights,
        reference_buildings=reference_gdf,
        rasters=rasters,
        sources=info,
        attribution=attribution,
        attributes=spec.attributes,
        known_empty=known_empty,
    )


def _read_layers(spec: SiteSpec, sources: SourceCache, fetched: dict, cache: Path | None, area: tuple | None):
    """Each layer kind's parts (features near ``area`` when not None), their facts, and the kinds
    declared empty."""
    layers: dict[str, list[gpd.GeoDataFrame]] = {}
    info: dict[str, list[dict]] = {}
    known_empty = set()
    for kind in LAYER_KINDS:
        parts = (
            _from_specs(spec.layers, kind, sources, area)
            or _from_cache(fetched, kind, cache)
            or _from_specs(spec.shared_layers, kind, sources, area)
        )
        if parts is _DECLARED_EMPTY:
            known_empty.add(kind)
            info[kind] = [{"source": "declared empty (surveyed, no feature)", "format": "empty"}]
        elif parts:
            layers[kind] = [p for p, _ in parts]
            info[kind] = [i for _, i in parts]
    audits = spec.layers.get("walk_audits") or spec.shared_layers.get("walk_audits") or []
    for audit_spec in audits:
        gdf, ainfo = sources.layer(audit_spec, "reports", area=area)
        layers.setdefault("reports", [p.assign(source="reports") for p in layers.get("reports", [])])
        layers["reports"].append(gdf.assign(source="walk_audit"))
        info.setdefault("reports", []).append({**ainfo, "format": "walk_audit"})
    return layers, info, known_empty


def _check_layers_meet_site(spec: SiteSpec, area, crs, layers: dict[str, list], info: dict[str, list]) -> None:
    """Each source file of the site's own ``[site.layers]`` must reach the site or its context ring
    (``area``, in ``crs``): one whose whole extent lies away from it is the wrong file, or the site
    is in the wrong place. (The file-wide ``[layers]`` serve many sites, and may rightly miss some.)

    The extent is that of the file: every kind an OSM file gives together, one layer for other
    files. A file whose extent covers the site but has no feature of a kind in it (an extract that
    maps doors elsewhere, none here) is no input error: that kind is unknown for the site
    (:meth:`Site.layer_state <cpted.prepare.site.Site.layer_state>`)."""
    from pyproj import CRS

    if not CRS.from_user_input(crs).is_projected:
        return  # refused by Site.from_layers, with its own message
    own = {str(ls.path) for specs in spec.layers.values() for ls in specs if ls.path is not None}
    files: dict[str, list[tuple[str, gpd.GeoDataFrame, dict]]] = {}
    for kind, parts in layers.items():
        for part, facts in zip(parts, info.get(kind, []), strict=False):
            # a part read from the parsed-source cache holds the features near the site only:
            # the whole layer's extent and count are in its facts
            if facts.get("source") in own and facts.get("file_features", len(part)) and part.crs is not None:
                files.setdefault(str(facts.get("source", kind)), []).append((kind, part, facts))
    for source, parts in files.items():
        boxes = []
        for _, part, facts in parts:
            local = gpd.GeoSeries([area], crs=crs).to_crs(part.crs).iloc[0]
            if len(part.sindex.query(local, predicate="intersects")):
                break  # the file has features here
            bounds = facts.get("file_bounds") or part.total_bounds
            boxes.append(gpd.GeoSeries([shapely.box(*bounds)], crs=part.crs).to_crs(crs).iloc[0])
        else:
            away = shapely.distance(area, shapely.union_all(boxes))
            if not away > 0:
                continue  # its extent covers the site: nothing of those kinds here (unknown, not an error)
            kinds = ", ".join(k for k, *_ in parts)
            count = sum(facts.get("file_features", len(p)) for _, p, facts in parts)
            msg = (
                f"site {spec.id!r}: the {kinds} layer {source!r} has {count} features, none within the site or its "
                f"{spec.context:g} m context ring: they lie {away / 1000:,.1f} km away. Check the site's centre / bbox "
                f"and crs (longitude comes before latitude in 'centre'), or give a {parts[0][0]} file that covers the site"
            )
            raise InputError(msg)


def _first_source(spec: SiteSpec, key: str) -> LayerSpec | None:
    found = spec.layers.get(key) or spec.shared_layers.get(key)
    return found[0] if found else None


#: What :func:`_from_specs` returns for a kind declared ``{ empty = true }``.
_DECLARED_EMPTY = [("declared empty", {})]


def _from_specs(level: dict[str, list[LayerSpec]], kind: str, sources: SourceCache, area: tuple | None) -> list[tuple]:
    """The parts of ``kind`` a sites-file level provides: named sources, else its OSM files
    (:data:`_DECLARED_EMPTY` when the level declares the kind surveyed and empty)."""
    if any(spec.empty for spec in level.get(kind, [])):
        return _DECLARED_EMPTY
    if kind in level:
        return [sources.layer(spec, kind, area=area) for spec in level[kind]]
    if kind not in _OSM_KINDS:
        return []
    return [sources.osm(spec, kind, area=area) for spec in level.get("osm", [])]


def _from_cache(fetched: dict[str, gpd.GeoDataFrame], kind: str, cache: Path | None) -> list[tuple]:
    """The part of ``kind`` a fetch cache provides."""
    if kind not in fetched:
        return []
    return [tidy_layer(fetched[kind], kind, name=f"{kind} (fetch cache {cache})",
                       info={"source": str(cache), "format": "fetch", "attribution": ATTRIBUTION["osm"]})]
