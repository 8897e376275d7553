"""The report's maps at a working scale: one map per principle (and at night, and the problem
places), each filling the page width, with building footprints, the main streets' names, a scale
bar, a north arrow, the data attribution and the problem places numbered as in the report's table.

Ground that is not public or not reachable on foot (buildings and private plots, water, railway
land, motorways, beyond the walking reach: :func:`cpted.prepare.grid.classify_cells`) is drawn in
one neutral grey, never as a low score. A principle with no score gets a sentence saying why and
which layer would fill it instead of an empty frame (:func:`unscored_reason`).

Example
-------
>>> import geopandas as gpd
>>> from shapely import LineString, box
>>> from cpted.pipeline import audit
>>> from cpted.prepare.site import Site
>>> streets = gpd.GeoDataFrame({"walk_kind": ["street"], "name": ["Rue Haute"]},
...     geometry=[LineString([(0, 50), (200, 50)])], crs=2154)
>>> site = Site.from_layers("demo", box(0, 0, 200, 100), crs=2154, layers={"streets": streets}, cell_size=10)
>>> m = principle_map(audit(site, measures=["access_control"]), "score_access_control", title="Access control")
>>> m.src.startswith("data:image/png;base64,"), m.streets
(True, ('Rue Haute',))
"""

from __future__ import annotations

import base64
import html
import io
import math
import textwrap
from typing import NamedTuple

import numpy as np
import pandas as pd
import shapely

from cpted.report.i18n import as_html, tr
from cpted.report.method import PRINCIPLE_LABELS
from cpted.score.scores import PRINCIPLES, RULES

__all__ = ["MapFigure", "principle_map", "site_maps", "maps_html", "unscored_reason", "nice_length",
           "NEUTRAL", "MAP_WIDTH_PX", "TABLE_PLACES"]

#: The colour of ground outside the analysis (not public, or not reachable on foot).
NEUTRAL = "#bdbdbd"
#: Public cells whose score is unknown (inputs missing there).
_NO_DATA = "#e4dcec"
_BUILDINGS = "#6b6b6b"
_STREETS = "#2b2b2b"
_PLACES = "#1f3fd6"
#: Width of every map image, pixels (the site's long side fills it when the site is wide).
MAP_WIDTH_PX = 1440
_DPI = 120
#: Problem places numbered on the maps and listed in the report's table.
TABLE_PLACES = 10

_LABELS = PRINCIPLE_LABELS
#: The layers each scored metric is measured from (what would fill it when it is unknown).
_METRIC_LAYERS = {
    "eyes_43": ("buildings",), "eyes_15": ("buildings",), "isovist_area": ("buildings",),
    "mix_d1_800": ("streets", "pois"), "lux": ("lamps",), "night_pois_800": ("streets", "pois"),
    "ambiguous": ("buildings", "streets"), "depth_m": ("streets",), "boundary_marked": ("landuse", "barriers"),
    "through_share_800": ("streets",), "escape_routes": ("streets",), "disorder_density": ("reports",),
}
#: What each layer is, for the sentence saying which layer would fill an unscored map.
_LAYER_WORDS = {
    "buildings": "building footprints (`buildings`)", "streets": "a walk network (`streets`)",
    "pois": "points of interest (`pois`)", "lamps": "street lamps (`lamps`)", "landuse": "land use with private plots (`landuse`)",
    "barriers": "fences, walls and hedges (`barriers`)",
    "reports": "reported disorder (`reports`, or a walk audit filled in QGIS / QField)",
}
#: Where a place's number goes (points from the place), in order of preference.
_NUMBER_OFFSETS = ((9, 9), (-9, 9), (9, -9), (-9, -9), (0, 22), (0, -22), (22, 0), (-22, 0), (20, 20), (-20, 20),
                   (20, -20), (-20, -20), (0, 34), (0, -34))
_REASON_WORDS = {"private": "buildings and private plots", "water": "water", "railway": "railway land",
                 "motorway": "motorways", "beyond_data": "beyond the data's extent",
                 "beyond_reach": "beyond walking reach"}


class MapFigure(NamedTuple):
    """One map of the report: its title, the PNG as a data URI (None when the principle has no
    score), the sentence shown instead (else ""), and what was drawn on it: the problem place
    numbers and the street names labelled."""

    title: str
    src: str | None
    note: str = ""
    places: tuple[int, ...] = ()
    streets: tuple[str, ...] = ()


def nice_length(span: float) -> float:
    """The round length (1, 2 or 5 × 10^k metres) nearest below a fifth of ``span`` (m), for a scale bar.

    Examples
    --------
    >>> nice_length(3000), nice_length(1000), nice_length(140)
    (500.0, 200.0, 20.0)
    """
    target = span / 5
    k = 10 ** math.floor(math.log10(target))
    return float(max(m * k for m in (1, 2, 5) if m * k <= target))


def _scale_label(metres: float) -> str:
    return f"{metres / 1000:g} km" if metres >= 1000 else f"{metres:g} m"


def unscored_reason(result, key: str, lang: str = "en") -> str:
    """Why ``score_<key>`` has no value on this site and which layer would fill it, in one sentence.

    The metrics of the principle with no value anywhere in the site are looked up in the layers
    they are measured from; a layer with no source, or whose source has nothing in the site's
    area, is named with what adding it means.
    """
    site, s = result.site, result.summary
    period = {"surveillance_night": "day"}.get(key)
    principle = "surveillance" if key == "surveillance_night" else key
    cells = result.layers["cells"]
    metrics = [m for m, r in RULES.items() if r.principle == principle and r.period != period
               and (m not in cells or not cells[m].notna().any())]
    missing: dict[str, str] = {}
    unexplained = []  # no value although every layer it is measured from is given
    for m in metrics:
        unknown = [k for k in _METRIC_LAYERS.get(m, ()) if site.layer_state(k)[0] == "unknown"]
        if not unknown:
            unexplained.append(m)
        for kind in unknown:
            missing.setdefault(kind, tr("no {layer} layer was given", lang, layer=f"`{kind}`") if kind not in site.layers else
                               tr("the {layer} source has nothing in the site's area", lang, layer=f"`{kind}`"))
    share = s.get(f"completeness_{key}", np.nan)
    share = 0.0 if share is None or not np.isfinite(share) else float(share)
    text = tr("Not scored: {share:.0%} of its inputs have data (at least half is needed)", lang, share=share)
    if missing:
        fill = ", ".join(tr(_LAYER_WORDS.get(k, k), lang) for k in missing)
        how = ("Adding {layers} in the sites file would fill this map." if "reports" in missing  # not in OSM
               else "Adding {layers} in the sites file (or by `cpted fetch`) would fill this map.")
        colon, semicolon = (" : ", " ; ") if lang == "fr" else (": ", "; ")  # French spaces its colons
        text += f"{colon}{semicolon.join(missing.values())}. " + tr(how, lang, layers=fill)
    else:
        text += "."
    if unexplained:
        text += " " + tr("The values it is measured from ({metrics}) are unknown here; see the notes above.",
                         lang, metrics=", ".join(unexplained))
    return text


def _rgba8(colour) -> np.ndarray:
    import matplotlib as mpl

    return np.round(np.array(mpl.colors.to_rgba(colour)) * 255).astype(np.uint8)


def _base_layers(site, streets, pad: float):
    """The buildings near the site (as matplotlib paths, holes kept) and the streets (as point
    arrays), drawn under every map (rather than through GeoPandas' plot, which also redraws the
    whole figure each time)."""
    from matplotlib.path import Path as MplPath

    paths, lines = [], []
    buildings = site.layers.get("buildings")
    if buildings is not None and len(buildings):
        near = buildings.geometry.values[buildings.sindex.query(site.boundary.buffer(pad * 2), predicate="intersects")]
        for poly in shapely.get_parts(near):
            if poly.is_empty or poly.geom_type != "Polygon":
                continue
            rings = [np.asarray(poly.exterior.coords)[:, :2]] + [np.asarray(r.coords)[:, :2] for r in poly.interiors]
            codes = [np.r_[MplPath.MOVETO, np.full(len(r) - 2, MplPath.LINETO), MplPath.CLOSEPOLY] for r in rings]
            paths.append(MplPath(np.concatenate(rings), np.concatenate(codes).astype(MplPath.code_type)))
    if streets is not None and len(streets):
        for line in shapely.get_parts(streets.geometry.values):
            if not line.is_empty:
                lines.append(np.asarray(line.coords)[:, :2])
    return paths, lines


def _cell_raster(site):
    """Where each cell of the site falls in the map's image (row and column arrays), which cells
    are public ground, the image's shape and its extent: the same for every map of the site."""
    allcells = site.cells
    x, y = allcells["x"].to_numpy(), allcells["y"].to_numpy()
    size = site.cell_size
    i = np.round((x - x.min()) / size).astype(int)
    j = np.round((y - y.min()) / size).astype(int)
    public = (allcells["reason"] == "public").to_numpy()
    half = size / 2
    return j, i, public, (j.max() + 1, i.max() + 1), (x.min() - half, x.max() + half, y.min() - half, y.max() + half)


def _cell_image(raster, values: np.ndarray | None) -> np.ndarray:
    """RGBA image of every cell of the site (:func:`_cell_raster`): a score colour, no-data or
    neutral. ``values`` are aligned to ``site.cells`` (NaN: unknown), or None for no score."""
    import matplotlib as mpl

    j, i, public, shape, _ = raster
    rgba = np.zeros((*shape, 4), dtype=np.uint8)  # 8 bits: drawn as given, not converted
    rgba[j[~public], i[~public]] = _rgba8(NEUTRAL)
    if values is not None:
        have = public & np.isfinite(values)
        rgba[j[public & ~have], i[public & ~have]] = _rgba8(_NO_DATA)
        rgba[j[have], i[have]] = mpl.colormaps["RdYlGn"](np.clip(values[have], 0, 100) / 100, bytes=True)
    else:
        rgba[j[public], i[public]] = _rgba8(_NO_DATA)
    return rgba


def _north_angle(site) -> float:
    """Angle (degrees, anticlockwise from the map's up) of true north at the site's centre."""
    from pyproj import Transformer

    c = site.boundary.centroid
    to_geo = Transformer.from_crs(site.crs, 4326, always_xy=True)
    to_map = Transformer.from_crs(4326, site.crs, always_xy=True)
    lon, lat = to_geo.transform(c.x, c.y)
    x1, y1 = to_map.transform(lon, lat + 0.01)
    return math.degrees(math.atan2(-(x1 - c.x), y1 - c.y))


def _street_labels(ax, streets, boundary, span: float) -> list[str]:
    """Name the longest named streets of the site once each, along the street at its middle,
    leaving out a name that would overlap one already drawn."""
    import matplotlib.patheffects as pe
    import shapely

    if streets is None or not len(streets) or "name" not in streets:
        return []
    named = streets[streets["name"].notna() & (streets["name"].astype(str).str.strip() != "")]
    if not len(named):
        return []
    clipped = shapely.intersection(named.geometry.values, boundary)
    lengths = shapely.length(clipped)
    by_name: dict[str, list] = {}
    total: dict[str, float] = {}
    for name, geom, length in zip(named["name"].astype(str), clipped, lengths, strict=True):
        if length > 0:
            by_name.setdefault(name, []).append(geom)
            total[name] = total.get(name, 0.0) + float(length)
    wanted = max(4, min(14, int(span / 150)))
    renderer = ax.figure.canvas.get_renderer()
    placed, boxes = [], []
    for name in sorted(total, key=lambda n: -total[n]):
        if len(placed) >= wanted or total[name] < span / 25:
            break
        merged = shapely.line_merge(shapely.union_all(by_name[name]))
        parts = list(getattr(merged, "geoms", [merged]))
        line = max((p for p in parts if p.geom_type == "LineString"), key=lambda p: p.length, default=None)
        if line is None:
            continue
        for at in (0.5, 0.3, 0.7):
            p0 = line.interpolate(max(0.0, at - 0.04), normalized=True)
            p1 = line.interpolate(min(1.0, at + 0.04), normalized=True)
            mid = line.interpolate(at, normalized=True)
            angle = math.degrees(math.atan2(p1.y - p0.y, p1.x - p0.x))
            angle = angle - 180 if angle > 90 else angle + 180 if angle < -90 else angle
            text = ax.text(mid.x, mid.y, name, rotation=angle, rotation_mode="anchor", ha="center", va="center",
                           fontsize=9, color="#111", zorder=6,
                           path_effects=[pe.withStroke(linewidth=3, foreground="white")])
            bbox = text.get_window_extent(renderer).expanded(1.05, 1.2)
            if not any(bbox.overlaps(b) for b in boxes) and ax.bbox.contains(bbox.x0, bbox.y0) and ax.bbox.contains(bbox.x1, bbox.y1):
                boxes.append(bbox)
                placed.append(name)
                break
            text.remove()
    return placed


def _legend_patches(reasons, *, buildings: bool, no_data: bool, places: bool, lang: str):
    """The legend of what the map draws, and only that."""
    from matplotlib.patches import Patch

    patches = [Patch(facecolor=_BUILDINGS, label=tr("buildings", lang))] if buildings else []
    if reasons:
        words = ", ".join(tr(_REASON_WORDS[r], lang) for r in reasons)
        head, _, why = tr("not public or not reachable on foot ({reasons})", lang, reasons=words).partition(" (")
        # the reasons wrapped: a long list would widen the legend over the colour bar
        patches.append(Patch(facecolor=NEUTRAL, label=head + ("\n" + textwrap.fill("(" + why, 56) if why else "")))
    if no_data:
        patches.append(Patch(facecolor=_NO_DATA, edgecolor="#999", label=tr("no data", lang)))
    if places:
        patches.append(Patch(facecolor="none", edgecolor=_PLACES, linewidth=1.5,
                             label=tr("problem places (numbered as in the table)", lang)))
    return patches


def _numbers(ax, places) -> tuple[list[int], list]:
    """Outline the places and number them (``place_no``) in a disc beside each, up and right, else
    at the first spot free of the numbers already drawn; and the artists drawn."""
    from matplotlib.collections import LineCollection

    rings = [np.asarray(line.coords)[:, :2] for line in shapely.get_parts(places.geometry.boundary.values)
             if not line.is_empty]
    drawn = [ax.add_collection(LineCollection(rings, colors=_PLACES, linewidths=1.6, zorder=5), autolim=False)]
    renderer, taken, numbers = ax.figure.canvas.get_renderer(), [], []
    for no, geom in zip(places["place_no"], places.geometry, strict=True):
        p = geom.representative_point()
        for offset in _NUMBER_OFFSETS:
            label = ax.annotate(str(int(no)), (p.x, p.y), xytext=offset, textcoords="offset points", ha="center",
                                va="center", fontsize=10, fontweight="bold", color="white", zorder=8,
                                bbox={"boxstyle": "circle,pad=0.25", "facecolor": _PLACES, "edgecolor": "white"},
                                arrowprops={"arrowstyle": "-", "color": _PLACES, "linewidth": 1.2})
            box = label.get_window_extent(renderer).expanded(1.8, 1.6)  # the digits, and their disc around
            if not any(box.overlaps(b) for b in taken) or offset == _NUMBER_OFFSETS[-1]:
                taken.append(box)
                drawn.append(label)
                break
            label.remove()
        numbers.append(int(no))
    return numbers, drawn


def _north_arrow(ax, degrees: float, lang: str) -> None:
    """An arrow to true north (``degrees`` anticlockwise from the map's up) in the top right corner."""
    from matplotlib.patches import FancyArrow

    box = ax.get_window_extent()
    stretch = box.width / box.height  # axes fractions to equal lengths on the page
    angle = math.radians(degrees)
    dx, dy = -math.sin(angle) * 0.06, math.cos(angle) * 0.06 * stretch
    cx, cy = 0.965, 1 - 0.1 * stretch
    ax.add_patch(FancyArrow(cx - dx / 2, cy - dy / 2, dx, dy * 0.9, width=0.006, head_width=0.018, head_length=0.03 * stretch,
                            transform=ax.transAxes, color="black", zorder=9, length_includes_head=True))
    ax.text(cx + dx / 2 * 1.2, cy + dy / 2 + 0.02 * stretch, tr("N", lang), transform=ax.transAxes, ha="center", va="bottom",
            fontsize=12, fontweight="bold", zorder=9,
            bbox={"boxstyle": "round,pad=0.2", "facecolor": "white", "edgecolor": "none", "alpha": 0.8})


class _Frame(NamedTuple):
    """A site's map drawn once without its scores: the figure, the map's axes, the cells' image
    (its data set by each map), where the cells fall in it, each cell's row in the result's cells,
    the street names labelled, the grounds left out (for the legend) and whether buildings are drawn."""

    fig: object
    ax: object
    image: object
    raster: tuple
    rows: np.ndarray
    streets: list[str]
    reasons: list[str]
    buildings: bool


def _frame(result, *, lang: str = "en") -> _Frame:
    """Everything a map of the site draws whatever its scores: the frame, buildings, streets and
    their names, the boundary, the scale bar, the north arrow and the data attribution."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection, PathCollection
    from mpl_toolkits.axes_grid1.anchored_artists import AnchoredSizeBar

    site = result.site
    raster = _cell_raster(site)
    x0, y0, x1, y1 = site.boundary.bounds
    pad = 0.02 * max(x1 - x0, y1 - y0)
    x0, y0, x1, y1 = x0 - pad, y0 - pad, x1 + pad, y1 + pad
    width_in = MAP_WIDTH_PX / _DPI
    map_w = width_in * 0.98
    map_h = min(map_w * (y1 - y0) / (x1 - x0), 1.25 * width_in)
    head, foot = 0.5, 1.25
    height_in = head + map_h + foot
    fig = plt.figure(figsize=(width_in, height_in), dpi=_DPI)
    try:
        ax = fig.add_axes((0.01, foot / height_in, 0.98, map_h / height_in))
        ax.set_xlim(x0, x1)
        ax.set_ylim(y0, y1)
        ax.set_aspect("equal", adjustable="box", anchor="C")
        ax.set_axis_off()
        image = ax.imshow(_cell_image(raster, None), origin="lower", extent=raster[4], interpolation="nearest", zorder=1)
        streets = result.layers.get("streets")
        near, lines = _base_layers(site, streets, pad)
        if near:
            ax.add_collection(PathCollection(near, facecolors=_BUILDINGS, edgecolors=_BUILDINGS, linewidths=0, zorder=2))
        if lines:
            ax.add_collection(LineCollection(lines, colors=_STREETS, linewidths=0.35, zorder=3))
        gx, gy = site.boundary.exterior.xy if site.boundary.geom_type == "Polygon" else site.boundary.envelope.exterior.xy
        ax.plot(gx, gy, color="black", linewidth=1.2, zorder=4)
        ax.set_xlim(x0, x1)
        ax.set_ylim(y0, y1)
        ax.apply_aspect()  # the axes box as drawn (equal aspect), for placing the labels without drawing
        span = max(x1 - x0, y1 - y0)
        street_names = _street_labels(ax, streets[streets["in_site"]] if streets is not None and "in_site" in streets
                                      else streets, site.boundary, span)
        metres = nice_length(x1 - x0)
        ax.add_artist(AnchoredSizeBar(ax.transData, metres, _scale_label(metres), "lower left", pad=0.6, sep=4,
                                      frameon=True, size_vertical=span / 300, fontproperties={"size": 10}))
        _north_arrow(ax, _north_angle(site), lang)
        attribution = str(result.summary.get("attribution") or "") or tr("no attribution recorded", lang)
        fig.text(0.01, 0.12 / height_in, tr("Data: {attribution}", lang, attribution=attribution), fontsize=8,
                 color="#333", va="bottom", wrap=True)
        # each cell of the site as a row of the result's cells (-1: none there)
        rows = pd.Index(result.layers["cells"]["cell_id"]).get_indexer(site.cells["cell_id"])
        reasons = [r for r in _REASON_WORDS if (site.cells["reason"] == r).any()]
        return _Frame(fig, ax, image, raster, rows, street_names, reasons, len(near) > 0)
    except BaseException:  # no figure left open in pyplot
        plt.close(fig)
        raise


def _paint(frame: _Frame, result, column: str | None, *, title: str, lang: str = "en", places=None,
           colorbar: bool = True) -> tuple[list[int], list]:
    """One map on the site's frame: ``column``'s colours, the title, the colour bar, the legend and
    the numbered places; returns the place numbers drawn and the artists to remove for the next map."""
    import matplotlib

    fig = frame.fig
    height_in = fig.get_size_inches()[1]
    values = None
    if column:
        scores = result.layers["cells"][column].to_numpy(dtype=float)
        values, there = np.full(len(frame.rows), np.nan), frame.rows >= 0
        values[there] = scores[frame.rows[there]]
    rgba = _cell_image(frame.raster, values)
    frame.image.set_data(rgba)
    numbers, drawn = _numbers(frame.ax, places) if places is not None and len(places) else ([], [])
    drawn.append(fig.text(0.01, 1 - 0.3 / height_in, title, fontsize=15, fontweight="bold", va="center"))
    if colorbar and column:
        cax = fig.add_axes((0.01, 0.72 / height_in, 0.3, 0.16 / height_in))
        bar = fig.colorbar(matplotlib.cm.ScalarMappable(norm=matplotlib.colors.Normalize(0, 100), cmap="RdYlGn"),
                           cax=cax, orientation="horizontal")
        bar.set_label(tr("score (0-100): low is a problem", lang), fontsize=9)
        bar.ax.tick_params(labelsize=8)
        drawn.append(cax)
    no_data = bool((rgba[..., :3] == _rgba8(_NO_DATA)[:3]).all(axis=2).any())
    legend = _legend_patches(frame.reasons, buildings=frame.buildings, no_data=no_data, places=bool(numbers), lang=lang)
    drawn.append(fig.legend(handles=legend, loc="lower right", bbox_to_anchor=(0.99, 0.3 / height_in), ncol=2,
                            fontsize=9, frameon=False))
    return numbers, drawn


def _draw(result, column: str | None, *, title: str, lang: str = "en", places=None, colorbar: bool = True):
    """One map as a matplotlib figure (not yet saved) with its axes and what was labelled."""
    import matplotlib.pyplot as plt

    frame = _frame(result, lang=lang)
    try:
        numbers, _ = _paint(frame, result, column, title=title, lang=lang, places=places, colorbar=colorbar)
    except BaseException:
        plt.close(frame.fig)
        raise
    return frame.fig, frame.ax, numbers, frame.streets


def _png(fig, *, close: bool = True) -> str:
    """The figure as a data URI of a 128-colour PNG (a third of the full-colour size); ``close``
    False keeps the figure for the next map of the site."""
    import matplotlib
    import matplotlib.pyplot as plt
    from PIL import Image

    try:
        fig.canvas.draw()
        image = Image.fromarray(np.asarray(fig.canvas.buffer_rgba())[..., :3])
    finally:
        if close:
            plt.close(fig)
    small = image.quantize(colors=128, method=Image.Quantize.FASTOCTREE)
    palette = np.array(small.getpalette()[: 3 * 128], dtype=float).reshape(-1, 3)
    flat = np.array([matplotlib.colors.to_rgb(c) for c in ("#ffffff", NEUTRAL, _NO_DATA, _BUILDINGS, "#000000")]) * 255
    gap = np.abs(palette[:, None, :] - flat[None, :, :]).max(axis=2)
    near = gap.min(axis=1) <= 8  # the flat colours stay exact
    palette[near] = flat[gap.argmin(axis=1)[near]]
    small.putpalette(palette.round().astype(np.uint8).ravel().tolist())
    buf = io.BytesIO()
    small.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def principle_map(result, column: str | None, *, title: str, lang: str = "en", places=None) -> MapFigure:
    """One map of an audit: ``column`` of the cells (0-100, red to green) at a working scale.

    Parameters
    ----------
    result
        An :class:`~cpted.pipeline.AuditResult`.
    column
        A score column of the cells (``score_<principle>``, ``score_surveillance_night``,
        ``cpted_index``), or None for the base map only (buildings, streets, excluded ground).
    title
        The title drawn on the map (already in ``lang``).
    lang
        The language of the map's words (:data:`cpted.report.i18n.LANGS`).
    places
        Problem places to outline and number (``place_no``), as listed in the report's table.

    Returns
    -------
    MapFigure
        With ``src`` the PNG as a data URI, ``places`` and ``streets`` what was labelled.
    """
    fig, _, numbers, names = _draw(result, column, title=title, lang=lang, places=places)
    return MapFigure(title=title, src=_png(fig), places=tuple(numbers), streets=tuple(names))


def _scored(result, column: str) -> bool:
    cells = result.layers["cells"]
    return column in cells and bool(cells[column].notna().any())


def site_maps(result, *, lang: str = "en", places=None) -> list[MapFigure]:
    """The maps of the site report: each principle, surveillance at night, then the problem places
    (over the CPTED index when it is scored). A principle with no score gives its sentence
    (:func:`unscored_reason`) instead of a map. ``places`` are the rows of the report's table.

    The site's frame (buildings, streets and their names, scale, attribution) is built once and
    each map only sets its colours, title, legend and places on it."""
    import matplotlib.pyplot as plt

    frame = _frame(result, lang=lang)

    def draw(column: str | None, title: str, mine) -> MapFigure:
        numbers, drawn = _paint(frame, result, column, title=title, lang=lang, places=mine, colorbar=column is not None)
        src = _png(frame.fig, close=False)
        for artist in drawn:
            artist.remove()
        return MapFigure(title=title, src=src, places=tuple(numbers), streets=tuple(frame.streets))

    out = []
    try:
        for key in (*PRINCIPLES, "surveillance_night"):
            title = tr(_LABELS[key], lang)
            if _scored(result, f"score_{key}"):
                out.append(draw(f"score_{key}", title, places[places["principle"] == key]
                                if places is not None and key in PRINCIPLES else None))
            else:
                out.append(MapFigure(title=title, src=None, note=unscored_reason(result, key, lang)))
        if _scored(result, "cpted_index"):
            out.append(draw("cpted_index", tr("Problem places over the CPTED index", lang), places))
        else:
            out.append(draw(None, tr("Problem places (the CPTED index is n/a)", lang), places))
    finally:
        plt.close(frame.fig)
    return out


def maps_html(maps: list[MapFigure]) -> str:
    """The maps as HTML figures, one per row; a map with no score as its sentence."""
    parts = []
    for m in maps:
        if m.src is None:
            parts.append(f'<figure class="map unscored"><figcaption><b>{html.escape(m.title)}</b></figcaption>'
                         f'<p>{as_html(m.note)}</p></figure>')
        else:
            parts.append(f'<figure class="map" data-places="{" ".join(map(str, m.places))}">'
                         f'<img src="{m.src}" alt="{html.escape(m.title)}">'
                         f'<figcaption>{html.escape(m.title)}</figcaption></figure>')
    return "".join(parts)
