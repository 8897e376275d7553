"""The Site: a boundary, a context ring, one metre CRS, the layers clipped to them, and a grid."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from cpted.config import CELL_SIZE, CONTEXT
from cpted.errors import InputError, MissingDataError
from cpted.load.raster import Raster
from cpted.load.schema import LAYER_KINDS, conform, empty_layer
from cpted.load.sites_file import SITE_ID
from cpted.prepare.buildings import assign_heights
from cpted.prepare.coverage import extent_names, source_extent
from cpted.prepare.crs import require_projected, to_crs
from cpted.prepare.grid import (
    CARRIAGEWAY_HALF_WIDTH,
    EXCLUDED_REASONS,
    STREETS_EXTENT,
    WALK_REACH,
    classify_cells,
)
from cpted.prepare.network import node_streets, walk_graph

__all__ = ["Site", "KNOWN", "KNOWN_EMPTY", "UNKNOWN"]

log = logging.getLogger(__name__)
_PRIVATE_ACCESS = {"private", "no", "customers", "residents"}
#: Land-use categories where people walk anywhere (they count toward the walking reach).
_OPEN_TO_WALK = {"park", "playground"}

#: The three states of a layer (:meth:`Site.layer_state`).
KNOWN, KNOWN_EMPTY, UNKNOWN = "known", "known_empty", "unknown"


@dataclass(eq=False)
class Site:
    """A prepared site: every layer in one projected metre CRS, clipped to the analysis area.

    Build it with :meth:`Site.from_layers` (from GeoDataFrames) or
    :func:`cpted.prepare.sources.load_site` (from a sites file).

    Attributes
    ----------
    id, name
        Identifier (safe as a file name) and display name.
    boundary
        The site polygon in ``crs``.
    crs
        The site's projected metre CRS.
    approximate
        True when the boundary is a disc around an approximate centre.
    context
        Width of the context ring (m): layers are kept within ``boundary.buffer(context)``.
    cell_size
        Side of the analysis grid cells (m).
    layers
        Canonical layers present for this site (kind -> GeoDataFrame). A kind absent here
        had no source; a kind present but empty had a source with no feature in the area.
    known_empty
        Layer kinds declared surveyed and empty (``lamps = { empty = true }`` in the sites
        file, ``known_empty=`` here): their empty layer is a fact (no lamps: no light), where
        an empty layer otherwise means unknown. See :meth:`layer_state`.
    sources
        Kind -> list of facts about each source read (path, format, repairs).
    attribution
        Attribution texts of the data used.
    reference_buildings
        A building-count grid (``n_buildings`` per polygon) for completeness, or None.
    rasters
        Name -> :class:`~cpted.load.raster.Raster`.
    attributes
        Labels of the site carried into the summary and reports (``qpv_code``, ``qpv_name``...).
    walk_reach
        How far from a walkable way, entrance or public park a cell still counts as reachable
        on foot (m), see :data:`cpted.prepare.grid.WALK_REACH`.
    """

    id: str
    name: str
    boundary: shapely.Geometry
    crs: CRS
    approximate: bool = False
    context: float = CONTEXT
    cell_size: float = CELL_SIZE
    layers: dict[str, gpd.GeoDataFrame] = field(default_factory=dict)
    sources: dict[str, list[dict]] = field(default_factory=dict)
    attribution: tuple[str, ...] = ()
    reference_buildings: gpd.GeoDataFrame | None = None
    rasters: dict[str, Raster] = field(default_factory=dict)
    attributes: dict[str, str] = field(default_factory=dict)
    walk_reach: float = WALK_REACH
    known_empty: frozenset[str] = frozenset()

    @classmethod
    def from_layers(
        cls,
        id: str,  # noqa: A002 - the site's id, as in the sites file
        boundary,
        *,
        crs=None,
        layers: Mapping[str, gpd.GeoDataFrame | list[gpd.GeoDataFrame]] | None = None,
        name: str | None = None,
        approximate: bool = False,
        context: float = CONTEXT,
        cell_size: float = CELL_SIZE,
        building_heights: gpd.GeoDataFrame | None = None,
        reference_buildings: gpd.GeoDataFrame | None = None,
        rasters: Mapping[str, Raster] | None = None,
        sources: Mapping[str, list[dict]] | None = None,
        attribution: tuple[str, ...] = (),
        attributes: Mapping[str, str] | None = None,
        known_empty: Iterable[str] = (),
        walk_reach: float = WALK_REACH,
    ) -> Site:
        """Prepare a site from a boundary and canonical layers in any CRS.

        This is where layers are reprojected (once, to the site CRS), clipped to the site
        plus its context ring, their heights filled and their streets split at junctions.

        Parameters
        ----------
        id
            Site identifier: letters, digits, ``_``, ``-``, ``.``.
        boundary
            A GeoSeries / GeoDataFrame (with CRS) whose union is the site, or a shapely
            polygon already in ``crs``.
        crs
            The site CRS, projected with metre units; defaults to the boundary's CRS.
        layers
            Kind -> canonical GeoDataFrame (see :mod:`cpted.load.schema`), or a list of
            them (several sources of one kind, concatenated).
        building_heights
            Buildings with heights (BD TOPO) that fill missing heights by overlap.
        reference_buildings
            Polygons with ``n_buildings``, the reference for building completeness.
        attributes
            Labels of the site carried into its outputs (e.g. ``{"qpv_code": "QN04401M"}``).
        known_empty
            Layer kinds surveyed and found empty in the site's area (e.g. ``["lamps"]``: there
            is no lamp, so no light). A kind given here needs no layer (an empty one is made);
            a layer given for it must have no feature in the area. Without it, a kind with no
            layer, or with a layer that has no feature in the area, is unknown.
        walk_reach
            How far from a walkable way, entrance or public park a cell still counts as
            reachable on foot (m); the grid leaves out the ground beyond it
            (:data:`cpted.prepare.grid.WALK_REACH`).

        Returns
        -------
        Site

        Examples
        --------
        >>> import geopandas as gpd
        >>> from shapely import box, LineString
        >>> streets = gpd.GeoDataFrame({"walk_kind": ["street"]},
        ...     geometry=[LineString([(0, 50), (100, 50)])], crs=2154)
        >>> site = Site.from_layers("demo", box(0, 0, 100, 100), crs=2154,
        ...                         layers={"streets": streets}, context=50, cell_size=10)
        >>> len(site.grid), site.graph.number_of_edges()  # cells within 30 m of the street
        (60, 1)
        """
        if not isinstance(id, str) or not SITE_ID.match(id) or ".." in id:
            msg = f"site id {id!r} is not safe as a file name; use letters, digits, '_', '-', '.'"
            raise InputError(msg)
        if isinstance(boundary, gpd.GeoDataFrame | gpd.GeoSeries):
            if crs is None:
                crs = boundary.crs
            require_projected(crs, layer=f"site {id!r}")
            shape = gpd.GeoDataFrame(geometry=boundary.geometry.values, crs=boundary.crs)
            boundary = shapely.union_all(to_crs(shape, crs, layer=f"site {id!r}").geometry.values)
        crs = require_projected(crs, layer=f"site {id!r}")
        if boundary is None or shapely.is_empty(boundary) or shapely.get_dimensions(boundary) != 2:
            msg = f"site {id!r}: the boundary must be a non-empty polygon; check the boundary file"
            raise InputError(msg)
        if not shapely.is_valid(boundary):
            boundary = shapely.make_valid(boundary)
        area = boundary.buffer(context)
        clipped: dict[str, gpd.GeoDataFrame] = {}
        for kind, gdf in (layers or {}).items():
            if kind not in LAYER_KINDS:
                msg = f"site {id!r}: unknown layer kind {kind!r}; use one of {', '.join(LAYER_KINDS)}"
                raise InputError(msg)
            parts = gdf if isinstance(gdf, list | tuple) else [gdf]
            label = f"{kind} of site {id!r}"
            clipped[kind] = _concat([_clip(conform(p, kind, name=label), area, crs, label) for p in parts], crs)
        declared = _declared_empty(id, known_empty, clipped, crs)
        if building_heights is not None:
            building_heights = _clip(building_heights, area, crs, f"building heights of site {id!r}")
        if "buildings" in clipped:
            clipped["buildings"] = assign_heights(clipped["buildings"], reference=building_heights)
        if "streets" in clipped:
            streets = clipped["streets"]
            if {"u", "v", "osmid"} <= set(streets.columns):  # overlapping graphs merged: the same edge twice
                streets = streets[~_same_edges(streets)]  # (not two ways of one OSM way between two nodes)
            clipped["streets"] = node_streets(streets)
        if reference_buildings is not None:
            reference_buildings = _clip(reference_buildings, boundary, crs, "reference buildings")
        site = cls(
            id=id,
            name=name or id,
            boundary=boundary,
            crs=crs,
            approximate=approximate,
            context=float(context),
            cell_size=float(cell_size),
            layers=clipped,
            sources=dict(sources or {}),
            attribution=tuple(dict.fromkeys(attribution)),
            reference_buildings=reference_buildings,
            rasters=dict(rasters or {}),
            attributes={str(k): str(v) for k, v in (attributes or {}).items()},
            known_empty=declared,
            walk_reach=float(walk_reach),
        )
        site._check_data_overlap(layers or {})
        return site

    def _check_data_overlap(self, given: Mapping) -> None:
        nonempty = [k for k, g in given.items() if any(len(p) for p in (g if isinstance(g, list | tuple) else [g]))]
        if nonempty and all(self.layers[k].empty for k in nonempty):
            bounds = [round(b) for b in self.boundary.bounds]
            msg = (
                f"site {self.id!r}: its boundary {bounds} ({self.crs.name}) meets none of its "
                f"layers ({', '.join(nonempty)}); check the site's centre / bbox and its crs "
                f"(longitude comes before latitude in 'centre'), or point the layers at data "
                f"that covers the site"
            )
            raise InputError(msg)

    @property
    def analysis_area(self):
        """The site plus its context ring."""
        return self.boundary.buffer(self.context)

    def has(self, kind: str) -> bool:
        """True when a source for ``kind`` was given (even if it had no feature here)."""
        return kind in self.layers

    def layer_state(self, kind: str) -> tuple[str, str | None]:
        """Whether the layer ``kind`` is known, known empty or unknown, and why when unknown.

        - :data:`KNOWN`: it has at least one feature in the site and its context ring;
        - :data:`KNOWN_EMPTY`: it was declared surveyed and empty (``known_empty``);
        - :data:`UNKNOWN`: no source was given, or the source has no feature in the area and
          was not declared empty (an OSM extract without lamps is no proof of darkness).

        Examples
        --------
        >>> import geopandas as gpd
        >>> from shapely import box
        >>> none = gpd.GeoDataFrame(geometry=[], crs=2154)
        >>> site = Site.from_layers("demo", box(0, 0, 50, 50), crs=2154, layers={"trees": none},
        ...                         known_empty=["lamps"], cell_size=10)
        >>> site.layer_state("lamps"), site.layer_state("trees")[0], site.layer_state("entrances")
        (('known_empty', None), 'unknown', ('unknown', 'no entrances source'))
        """
        if kind in self.known_empty:
            return KNOWN_EMPTY, None
        if kind not in self.layers:
            return UNKNOWN, f"no {kind} source"
        if self.layers[kind].empty:
            return UNKNOWN, (f"its {kind} source has no feature in the site's area (not proof there is none; "
                             f"if surveyed, declare {kind} = {{ empty = true }})")
        return KNOWN, None

    def known(self, kind: str) -> bool:
        """True when the layer ``kind`` is known or known empty (:meth:`layer_state`)."""
        return self.layer_state(kind)[0] != UNKNOWN

    def layer(self, kind: str, *, within_site: bool = False) -> gpd.GeoDataFrame:
        """The layer of ``kind`` (site + context ring, or the site only).

        Raises
        ------
        MissingDataError
            When no source was given for ``kind``.
        """
        if kind not in self.layers:
            msg = (
                f"site {self.id!r} has no {kind} layer; add one under [layers] in the sites "
                f"file or run `cpted fetch` for the site"
            )
            raise MissingDataError(msg)
        gdf = self.layers[kind]
        if within_site and len(gdf):
            return gdf.iloc[gdf.sindex.query(self.boundary, predicate="intersects")].sort_index()
        return gdf

    @cached_property
    def private_land(self) -> gpd.GeoSeries:
        """Building footprints and private plots (land-use areas with private access)."""
        parts = []
        if "buildings" in self.layers:
            parts.append(self.layers["buildings"].geometry)
        if "landuse" in self.layers:
            lu = self.layers["landuse"]
            parts.append(lu.geometry[lu["access"].isin(_PRIVATE_ACCESS)])
        if not parts:
            return gpd.GeoSeries([], crs=self.crs)
        return gpd.GeoSeries(pd.concat(parts, ignore_index=True), crs=self.crs)

    @cached_property
    def unwalkable(self) -> dict[str, gpd.GeoSeries]:
        """Reason (``water``, ``railway``, ``motorway``) -> the areas where no one walks.

        Only the reasons whose source is known are keys: ``water`` needs a water layer,
        ``railway`` a traffic_land layer, ``motorway`` a traffic_land or streets layer.
        Carriageway lines are buffered by half their ``width_m``, else by
        :data:`~cpted.prepare.grid.CARRIAGEWAY_HALF_WIDTH`.
        """
        out: dict[str, gpd.GeoSeries] = {}
        if "water" in self.layers:
            out["water"] = self.layers["water"].geometry
        lines = []
        if "traffic_land" in self.layers:
            traffic = self.layers["traffic_land"]
            out["railway"] = traffic.geometry[traffic["kind"].astype(object) == "railway"]
            lines.append(traffic[traffic["kind"].astype(object).isin(CARRIAGEWAY_HALF_WIDTH)])
        if "streets" in self.layers:
            streets = self.layers["streets"]
            kind = streets["highway"].astype(object).map(_carriageway)
            lines.append(streets.assign(kind=kind, width_m=np.nan)[kind.notna().to_numpy()])
        if lines:
            parts = [g for g in lines if len(g)]
            if parts:
                kind = pd.concat([g["kind"].astype(object) for g in parts], ignore_index=True)
                width = pd.concat([pd.to_numeric(g["width_m"], errors="coerce") for g in parts], ignore_index=True)
                half = (width / 2).where(width > 0, kind.map(CARRIAGEWAY_HALF_WIDTH)).to_numpy(dtype=float)
                geoms = np.concatenate([g.geometry.values for g in parts])
                out["motorway"] = gpd.GeoSeries(shapely.buffer(geoms, half, cap_style="flat"), crs=self.crs)
            else:
                out["motorway"] = gpd.GeoSeries([], crs=self.crs)
        return out

    @cached_property
    def reach_from(self) -> gpd.GeoSeries | None:
        """What a walker reaches places from: walkable ways (not bridges nor tunnels: their deck
        or bore does not give onto the ground around), entrances and public parks / playgrounds.
        None when the site has no streets layer (then the walking reach is not applied)."""
        if "streets" not in self.layers:
            return None
        streets = self.layers["streets"]
        on_ground = ~(streets["bridge"].fillna(False).astype(bool) | streets["tunnel"].fillna(False).astype(bool))
        parts = [streets.geometry[on_ground.to_numpy()]]
        if "entrances" in self.layers:
            parts.append(self.layers["entrances"].geometry)
        if "landuse" in self.layers:
            lu = self.layers["landuse"]
            open_ = lu["category"].astype(object).isin(_OPEN_TO_WALK) & ~lu["access"].astype(object).isin(_PRIVATE_ACCESS)
            parts.append(lu.geometry[open_.to_numpy()])
        return gpd.GeoSeries(pd.concat(parts, ignore_index=True), crs=self.crs)

    @cached_property
    def data_extent(self) -> shapely.Geometry | None:
        """Where the streets source holds data (site CRS): an OSM extract's box or a declared
        ``extent`` (:func:`~cpted.prepare.coverage.source_extent`); None when unknown. Beyond it
        the ground is unknown, and its cells are ``beyond_data``."""
        return source_extent(self, "streets") if "streets" in self.layers else None

    @cached_property
    def known_area(self) -> shapely.Geometry:
        """The part of the site where its data say what is on the ground: the boundary, less what
        lies beyond :attr:`data_extent`. Site values per hectare, per metre of street or over the
        site's open space are measured over it."""
        extent = self.data_extent
        return self.boundary if extent is None else shapely.intersection(self.boundary, extent)

    def classify(self, area, *, without=None) -> gpd.GeoDataFrame:
        """Every cell of ``area`` (a polygon in the site CRS) with its ``reason``, by the site's
        layers (:func:`~cpted.prepare.grid.classify_cells`); the cells whose centre is in
        ``without`` are left out."""
        return classify_cells(
            area, crs=self.crs, cell_size=self.cell_size, private=self.private_land,
            unwalkable=self.unwalkable, reach_from=self.reach_from, reach=self.walk_reach,
            streets=self.layers["streets"].geometry if "streets" in self.layers else None,
            data_extent=self.data_extent, without=without,
        )

    @cached_property
    def cells(self) -> gpd.GeoDataFrame:
        """Every cell of the site with its ``reason`` (:func:`~cpted.prepare.grid.classify_cells`)."""
        return self.classify(self.boundary)

    @cached_property
    def grid(self) -> gpd.GeoDataFrame:
        """Analysis cells over the public space people can reach on foot (see
        :func:`~cpted.prepare.grid.classify_cells`): ``cell_id``, ``x``, ``y`` and the square."""
        cells = self.cells
        public = cells[(cells["reason"] == "public").to_numpy()]
        return public.drop(columns=["reason", "reach_known"]).reset_index(drop=True)

    @cached_property
    def excluded(self) -> gpd.GeoDataFrame:
        """The ground left out of the grid, one row per reason of
        :data:`~cpted.prepare.grid.EXCLUDED_REASONS` that has cells: ``reason``, ``area_ha`` and
        the union of its cells (for drawing them neutral)."""
        cells = self.cells
        rows = []
        for reason in EXCLUDED_REASONS:
            squares = cells.geometry.values[(cells["reason"] == reason).to_numpy()]
            if len(squares):
                rows.append({"reason": reason, "area_ha": len(squares) * self.cell_size**2 / 1e4,
                             "geometry": shapely.coverage_union_all(squares)})
        if not rows:
            return gpd.GeoDataFrame({"reason": pd.Series([], dtype=object), "area_ha": pd.Series([], dtype=float)},
                                    geometry=gpd.GeoSeries([], crs=self.crs), crs=self.crs)
        return gpd.GeoDataFrame(rows, geometry="geometry", crs=self.crs)

    @cached_property
    def exclusion_summary(self) -> dict[str, object]:
        """``excluded_<reason>_ha`` for each excluded reason (NaN when its source is unknown:
        no water layer; no traffic_land layer for railway and motorway; no extent of the streets
        source for the ground beyond the data; no streets layer for the walking reach) and
        ``grid_notes``."""
        cells = self.cells
        # A walk graph never holds motorways: without a traffic_land layer they are unknown.
        known = {"water": "water" in self.layers, "railway": "traffic_land" in self.layers,
                 "motorway": "traffic_land" in self.layers, "beyond_data": self.data_extent is not None,
                 "beyond_reach": self.reach_from is not None}
        out: dict[str, object] = {}
        for reason in EXCLUDED_REASONS:
            n = int((cells["reason"] == reason).sum())
            out[f"excluded_{reason}_ha"] = n * self.cell_size**2 / 1e4 if known.get(reason) else np.nan
        notes = []
        if self.reach_from is None:
            notes.append("walking reach not applied (no streets layer): the grid may hold unreachable ground")
        else:
            unknown = int((~cells["reach_known"].to_numpy(dtype=bool)).sum()) * self.cell_size**2 / 1e4
            if unknown > 0:
                notes.append(f"walking reach not applied on {unknown:.2f} ha farther than {STREETS_EXTENT:g} m "
                             f"from every street (the streets layer does not cover it)")
        beyond = out["excluded_beyond_data_ha"]
        if beyond > 0:
            notes.append(f"{beyond:.2f} ha of the site lie beyond the extent of the streets source "
                         f"({extent_names(self, 'streets')}): nothing is known of the ground there, and no place "
                         f"there is scored")
        if "water" not in self.layers:
            notes.append("no water layer: cells on water are not excluded (add one or run `cpted fetch`)")
        if "traffic_land" not in self.layers:
            notes.append("no traffic_land layer: cells on railway land and motorways are not excluded "
                         "(only trunk carriageways of the streets layer are; add one or run `cpted fetch`)")
        out["grid_notes"] = "; ".join(notes)
        return out

    @cached_property
    def graph(self) -> nx.MultiGraph:
        """The undirected walk graph of the site + context ring.

        Raises
        ------
        MissingDataError
            When the site has no streets layer or no walkable street in its area.
        """
        return walk_graph(self.layer("streets"), name=f"streets of site {self.id!r}")


def _same_edges(streets: gpd.GeoDataFrame) -> np.ndarray:
    """Graph edges already seen: same end nodes (either order), OSM way and geometry."""
    u, v = streets["u"].to_numpy(), streets["v"].to_numpy()
    key = pd.DataFrame({"lo": np.minimum(u, v), "hi": np.maximum(u, v), "osmid": streets["osmid"].astype(str).to_numpy(),
                        "geometry": shapely.to_wkb(shapely.normalize(streets.geometry.values))})
    return key.duplicated().to_numpy()


def _carriageway(highway) -> str | None:
    """The motorway / trunk class of a street's ``highway`` (a value or a list of them)."""
    values = highway if isinstance(highway, list | tuple) else [highway]
    return next((v for v in values if v in CARRIAGEWAY_HALF_WIDTH), None)


def _declared_empty(site_id: str, kinds: Iterable[str], clipped: dict[str, gpd.GeoDataFrame], crs) -> frozenset[str]:
    """The kinds declared surveyed-empty, checked; their (empty) layers are added to ``clipped``."""
    kinds = frozenset([kinds] if isinstance(kinds, str) else kinds)
    for kind in sorted(kinds):
        if kind not in LAYER_KINDS:
            msg = f"site {site_id!r}: known_empty names an unknown layer kind {kind!r}; use one of {', '.join(LAYER_KINDS)}"
            raise InputError(msg)
        if kind in clipped and len(clipped[kind]):
            msg = (f"site {site_id!r}: {kind} is declared empty but its layer has {len(clipped[kind])} feature(s) in the "
                   f"site's area; drop the empty declaration or the layer")
            raise InputError(msg)
        clipped.setdefault(kind, empty_layer(kind, crs=crs))
    return kinds


def _concat(parts: list[gpd.GeoDataFrame], crs) -> gpd.GeoDataFrame:
    if len(parts) == 1:
        return parts[0]
    return gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), geometry="geometry", crs=crs)


def _clip(gdf: gpd.GeoDataFrame, area, crs, name: str) -> gpd.GeoDataFrame:
    """Features of ``gdf`` meeting ``area`` (in ``crs``), reprojected to ``crs``.

    The area is first taken to the layer's CRS so that only the features near the site are
    reprojected.
    """
    if gdf.crs is None:
        require_projected(None, layer=name)
    if gdf.empty:
        return to_crs(gdf, crs, layer=name)
    local = gpd.GeoSeries([area], crs=crs).to_crs(gdf.crs).iloc[0]
    near = gdf.iloc[np.sort(gdf.sindex.query(local.envelope, predicate="intersects"))]  # the source's order, not the tree's
    near = to_crs(near, crs, layer=name)
    keep = near.sindex.query(area, predicate="intersects")
    return near.iloc[sorted(keep)]
