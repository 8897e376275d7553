"""Scores that explain themselves: 0–100 per principle, per cell and per site.

Each metric is normalised by a fixed rule (:data:`RULES`): a value at or beyond ``bad`` scores 0,
at or beyond ``good`` scores 100, linearly in between. Fixed thresholds come from the literature
where it gives them (15 / 43 m eyes, EN 13201 lux); otherwise they are documented reference
ranges. Rules never depend on the site, so sites stay comparable.

A principle's score is the weighted mean of its available metric scores; ``completeness`` is the
share of its weight that had data. A principle with less than half of its weight available is
NaN (:data:`MIN_COMPLETENESS`), and ``score_notes`` says so; so is the index when less than half
of the principles' weight has a score. The CPTED index is the
weighted mean of the available principle scores. The night surveillance score replaces daytime
activity by lighting and night-time activity.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from cpted.errors import InputError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["Rule", "RULES", "PRINCIPLES", "read_weights", "metric_scores", "score_cells", "site_scores", "problem_places",
           "REMEDIES", "PLACE_MAX_AREA", "STREET_NAME_REACH"]

PRINCIPLES = ("surveillance", "territoriality", "access_control", "maintenance")


@dataclass(frozen=True)
class Rule:
    """How one metric becomes a 0–100 score, and how to say it is low."""

    column: str
    principle: str
    bad: float
    good: float
    low: str
    remedy: str
    source: str
    period: str = "both"  # "day", "night" or "both"

    def score(self, values: pd.Series) -> pd.Series:
        """0 at ``bad``, 100 at ``good``, linear between; NaN stays NaN.

        Examples
        --------
        >>> RULES["eyes_43"].score(pd.Series([0.0, 1.5, 9.0])).tolist()
        [0.0, 50.0, 100.0]
        """
        x = pd.to_numeric(values, errors="coerce").astype(float)
        return ((x - self.bad) / (self.good - self.bad)).clip(0.0, 1.0) * 100.0


RULES: dict[str, Rule] = {
    r.column: r
    for r in (
        Rule("eyes_43", "surveillance", 0, 3, "no dependable eyes (no opening within 43 m)", "add active frontage",
             "van Asten et al. 2023: dependable eyes within 43 m"),
        Rule("eyes_15", "surveillance", 0, 2, "no reliable eyes (no opening within 15 m)", "add active frontage",
             "van Asten et al. 2023: reliable eyes within 15 m"),
        Rule("isovist_area", "surveillance", 500, 5000, "enclosed view (small isovist)", "trim/lower vegetation",
             "reference range (project's own): 500 m² enclosed to 5,000 m² open within 100 m"),
        Rule("mix_d1_800", "surveillance", 1, 6, "little activity nearby (low land-use mix within 800 m)",
             "add active frontage", "reference range (project's own) of Hill D1 within 800 m; Jacobs 1961", period="day"),
        Rule("lux", "surveillance", 0.4, 3.0, "unlit (below the EN 13201 P6 minimum of 0.4 lx)", "add lighting",
             "EN 13201-2 P-class minima: P6 0.4 lx to P1 3 lx", period="night"),
        Rule("night_pois_800", "surveillance", 0, 5, "nothing open at night within 800 m", "add active frontage",
             "reference range (project's own)", period="night"),
        Rule("ambiguous", "territoriality", 1, 0, "left-over space (far from doors and fronts)", "mark boundary",
             "space left over after planning; project's own 30 m rule"),
        Rule("depth_m", "territoriality", 150, 0, "deep in the site, far from a public street", "open a through route",
             "Newman 1972; Shu 2000: reference range 0-150 m"),
        Rule("boundary_marked", "territoriality", 0, 1, "unmarked public/private edge", "mark boundary",
             "boundary definition (Space Syntax Toolkit classes)"),
        Rule("through_share_800", "access_control", 0.5, 0.0, "much through-movement", "mark boundary",
             "Davies & Johnson 2015: through-movement and burglary; reference range 0-0.5"),
        Rule("escape_routes", "access_control", 1, 2, "a single way out (dead end)", "open a through route",
             "METRAC 1989: escape routes; Johnson & Bowers 2010"),
        Rule("disorder_density", "maintenance", 5, 0, "reported disorder nearby", "clean and repair",
             "Wilson & Kelling 1982; O'Brien & Sampson 2015: reference range 0-5 reports/ha"),
    )
}
#: The families of remedy a problem place can suggest.
REMEDIES = ("trim/lower vegetation", "add lighting", "add active frontage", "mark boundary", "open a through route",
            "clean and repair")
_DEFAULT_WEIGHTS = Path(__file__).with_name("weights.toml")


def read_weights(path: str | Path | None = None) -> dict[str, dict[str, float]]:
    """Read and validate a weights file (TOML); the packaged defaults when ``path`` is None.

    Raises :class:`~cpted.errors.InputError` naming the key for unknown keys, negative weights,
    or a principle whose weights are all zero.

    Examples
    --------
    >>> read_weights()["principles"]["surveillance"]
    1.0
    """
    source = Path(path) if path is not None else _DEFAULT_WEIGHTS
    try:
        doc = tomllib.loads(source.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        msg = f"weights file {str(source)!r} cannot be read: {exc}; start from cpted/score/weights.toml"
        raise InputError(msg) from None
    defaults = tomllib.loads(_DEFAULT_WEIGHTS.read_text(encoding="utf-8"))
    out = {"principles": dict(defaults["principles"]), "metrics": dict(defaults["metrics"])}
    for section in doc:
        if section not in out:
            msg = f"weights file {source.name}: unknown section [{section}]; use [principles] and [metrics]"
            raise InputError(msg)
        for key, value in doc[section].items():
            if key not in out[section]:
                msg = f"weights file {source.name}: unknown key {section}.{key}; known: {', '.join(out[section])}"
                raise InputError(msg)
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                msg = f"weights file {source.name}: {section}.{key} = {value!r} must be a number >= 0"
                raise InputError(msg)
            out[section][key] = float(value)
    for principle in PRINCIPLES:
        names = [m for m, r in RULES.items() if r.principle == principle]
        if all(out["metrics"][m] == 0 for m in names):
            msg = (f"weights file {source.name}: every metric of {principle} ({', '.join(names)}) has weight 0, so "
                   f"{principle} cannot be scored; set at least one of them above 0 in [metrics] (e.g. {names[0]} = 1)")
            raise InputError(msg)
    if all(v == 0 for v in out["principles"].values()):
        msg = (f"weights file {source.name}: every weight in [principles] is 0, so no CPTED index can be made; "
               f"set at least one of [principles] {', '.join(out['principles'])} above 0 (e.g. "
               f"{next(iter(out['principles']))} = 1)")
        raise InputError(msg)
    return out


def metric_scores(cells: pd.DataFrame) -> pd.DataFrame:
    """The 0–100 score of every rule's metric present in ``cells`` (NaN where absent)."""
    return pd.DataFrame({m: r.score(cells[m]) if m in cells else np.nan for m, r in RULES.items()}, index=cells.index)


#: A principle score needs at least this share of its weight to have data, else it is NaN.
MIN_COMPLETENESS = 0.5


def _weighted(scores: pd.DataFrame, weights: dict[str, float], names: list[str]) -> tuple[pd.Series, pd.Series]:
    w = np.array([weights[n] for n in names])
    values = scores[names].to_numpy(dtype=float)
    have = np.isfinite(values) & (w > 0)
    total = (np.where(have, values, 0.0) * w).sum(axis=1)
    wsum = (have * w).sum(axis=1)
    complete = wsum / w.sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        score = np.where((wsum > 0) & (complete >= MIN_COMPLETENESS), total / wsum, np.nan)
    return pd.Series(score, index=scores.index), pd.Series(complete, index=scores.index)


def score_cells(cells: pd.DataFrame, weights: dict[str, dict[str, float]] | None = None) -> pd.DataFrame:
    """Principle scores, completeness, the CPTED index, the night surveillance score and the
    drivers (the two or three metrics pulling a cell's score down most) for every cell.

    Examples
    --------
    >>> cells = pd.DataFrame({"eyes_43": [0.0, 6.0], "eyes_15": [0.0, 3.0], "isovist_area": [300.0, 9000.0]})
    >>> s = score_cells(cells)
    >>> s["score_surveillance"].tolist(), s["drivers"].iloc[0].split("; ")[0]
    ([0.0, 100.0], 'no dependable eyes (no opening within 43 m)')
    """
    weights = weights or read_weights()
    mw = weights["metrics"]
    scores = metric_scores(cells)
    out = pd.DataFrame(index=cells.index)
    for principle in PRINCIPLES:
        names = [m for m, r in RULES.items() if r.principle == principle and r.period != "night"]
        out[f"score_{principle}"], out[f"completeness_{principle}"] = _weighted(scores, mw, names)
    night = [m for m, r in RULES.items() if r.principle == "surveillance" and r.period != "day"]
    night_score, out["completeness_surveillance_night"] = _weighted(scores, mw, night)
    # Without light levels there is no night score: eyes and views alone would repeat the day's.
    lux_known = cells["lux"].notna() if "lux" in cells else pd.Series(False, index=cells.index)
    out["score_surveillance_night"] = night_score.where(lux_known)
    pw = np.array([weights["principles"][p] for p in PRINCIPLES])
    values = out[[f"score_{p}" for p in PRINCIPLES]].to_numpy(dtype=float)
    have = np.isfinite(values) & (pw > 0)
    share = (have * pw).sum(axis=1) / pw.sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        index = (np.where(have, values, 0) * pw).sum(axis=1) / (have * pw).sum(axis=1)
    out["cpted_index"] = np.where(share >= MIN_COMPLETENESS, index, np.nan)  # not from one principle alone
    out["completeness_index"] = share
    deficit = (100.0 - scores).mul(pd.Series(mw)[scores.columns], axis=1)
    deficit = deficit.where(scores < 50)
    texts = [RULES[m].low for m in scores.columns]
    deficits = np.nan_to_num(deficit.to_numpy(), nan=-1.0)
    order = np.argsort(-deficits, axis=1)[:, :3]
    ranked = np.take_along_axis(deficits, order, axis=1)
    # the metrics named, largest deficit first (-1: none); few distinct triples (Île de Nantes: 65 in 72,664 cells)
    named = np.where(ranked > 0, order, -1)
    if len(out):
        triples, which = np.unique(named, axis=0, return_inverse=True)
        labels = np.array(["; ".join(texts[k] for k in triple if k >= 0) for triple in triples], dtype=object)
        out["drivers"] = labels[which.ravel()].tolist()
    else:
        out["drivers"] = pd.Series([], index=out.index, dtype=object)
    return out


def site_scores(cells: pd.DataFrame, scored: pd.DataFrame) -> dict[str, object]:
    """Site values: the mean of each cell score and completeness, the site's drivers, and
    ``score_notes`` saying why a score is NaN."""
    out: dict[str, object] = {}
    for col in scored.columns:
        if col.startswith(("score_", "completeness_")) or col == "cpted_index":
            out[col] = float(scored[col].mean()) if scored[col].notna().any() else np.nan
    notes = []
    for p in (*PRINCIPLES, "surveillance_night"):
        if p == "surveillance_night" and ("lux" not in cells or cells["lux"].isna().all()):
            notes.append("score_surveillance_night: no light levels (lamps layer unknown)")
        elif np.isnan(out.get(f"score_{p}", np.nan)):
            notes.append(f"score_{p}: {out.get(f'completeness_{p}', 0):.0%} of its inputs (needs {MIN_COMPLETENESS:.0%})")
    if np.isnan(out.get("cpted_index", np.nan)):
        notes.append(f"cpted_index: {out.get('completeness_index', 0):.0%} of the principles' weight scored (needs {MIN_COMPLETENESS:.0%})")
    out["score_notes"] = "; ".join(notes)
    scores = metric_scores(cells)
    deficit = (100.0 - scores).mean()
    low = deficit[(scores.mean() < 50) & deficit.notna()].sort_values(ascending=False)
    out["drivers"] = "; ".join(RULES[m].low for m in low.index[:3])
    return out


#: Largest problem place (m²): about what one team can look at and fix at once.
PLACE_MAX_AREA = 5000.0
#: How far (m) from a problem place the nearest named street may be to name it: about a block's depth.
STREET_NAME_REACH = 100.0
_PLACE_COLUMNS = {
    "place_no": "int64", "principle": "object", "street": "object", "street_distance_m": "float64",
    "x": "float64", "y": "float64", "lon": "float64", "lat": "float64", "area_m2": "float64",
    "cells": "int64", "mean_score": "float64", "drivers": "object", "remedy": "object", "priority": "float64",
}


def _cell_side(cells: gpd.GeoDataFrame) -> float:
    b = shapely.bounds(cells.geometry.values[:1])[0]
    return float(b[2] - b[0])


def _components(ij: np.ndarray, group: np.ndarray | None = None) -> np.ndarray:
    """Label the cells (integer grid positions ``ij``) by connected component, cells joining
    when they share a side (and, with ``group``, are in the same group)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n = len(ij)
    where = {(int(i), int(j)): k for k, (i, j) in enumerate(ij)}
    rows, cols = [], []
    for k, (i, j) in enumerate(ij):
        for nb in ((i + 1, j), (i, j + 1)):
            m = where.get((int(nb[0]), int(nb[1])))
            if m is not None and (group is None or group[k] == group[m]):
                rows.append(k)
                cols.append(m)
    adjacency = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
    return connected_components(adjacency, directed=False)[1]


def _split(ij: np.ndarray, *, max_cells: int, lattice: int, min_cells: int) -> np.ndarray:
    """Piece labels (-1: dropped) of the low cells ``ij``: connected clusters, each cut along a
    square lattice of ``lattice`` cells when larger than ``max_cells``; a piece under ``min_cells``
    joins the neighbouring piece of its cluster it shares most sides with (when the two stay within
    ``max_cells``), or is dropped."""
    cluster = _components(ij)
    sizes = np.bincount(cluster)
    big = sizes[cluster] > max_cells
    # Adjacent cells are always in one cluster, so grouping by lattice square is enough.
    square = pd.factorize(pd.MultiIndex.from_arrays([ij[:, 0] // lattice, ij[:, 1] // lattice]))[0]
    piece = _components(ij, group=np.where(big, square, -1))
    counts = np.bincount(piece).astype(int)
    where = {(int(i), int(j)): k for k, (i, j) in enumerate(ij)}
    for p in np.argsort(counts, kind="stable"):
        if counts[p] == 0 or counts[p] >= min_cells:
            continue
        shared: dict[int, int] = {}
        for k in np.flatnonzero(piece == p):
            i, j = int(ij[k, 0]), int(ij[k, 1])
            for nb in ((i + 1, j), (i - 1, j), (i, j + 1), (i, j - 1)):
                m = where.get(nb)
                if m is not None and piece[m] != p and cluster[m] == cluster[k]:
                    shared[piece[m]] = shared.get(piece[m], 0) + 1
        fits = [q for q in shared if counts[q] + counts[p] <= max_cells]
        if fits:
            q = max(fits, key=lambda q: (shared[q], -q))
            piece[piece == p] = q
            counts[q] += counts[p]
        else:
            piece[piece == p] = -1
        counts[p] = 0
    return piece


def _street_names(streets: gpd.GeoDataFrame | None, crs) -> gpd.GeoDataFrame | None:
    if streets is None or "name" not in streets or not len(streets):
        return None

    def text(v) -> str:
        if isinstance(v, list | tuple | np.ndarray):
            return " / ".join(dict.fromkeys(str(x) for x in v if isinstance(x, str) and x.strip()))
        return v.strip() if isinstance(v, str) else ""

    names = streets["name"].astype(object).map(text).astype(object)
    named = streets.assign(name=names)[(names != "").to_numpy()]
    if named.empty:
        return None
    return named.to_crs(crs) if named.crs is not None and crs is not None and named.crs != crs else named


def problem_places(
    cells: gpd.GeoDataFrame,
    *,
    threshold: float = 40.0,
    min_cells: int = 4,
    max_area: float = PLACE_MAX_AREA,
    streets: gpd.GeoDataFrame | None = None,
    street_reach: float = STREET_NAME_REACH,
) -> gpd.GeoDataFrame:
    """Places someone can find and fix: small clusters of low-scoring cells, per principle, ranked.

    A cell is a problem for a principle when its score is below ``threshold``. Cells sharing a
    side form a cluster. A cluster larger than ``max_area`` is cut along a square lattice aligned
    on the CRS origin, whose side is the largest multiple of the cell size with a square no larger
    than ``max_area`` (70 m for 5 m cells and 0.5 ha); each connected part of a cluster within one
    lattice square is a piece. A piece smaller than ``min_cells`` joins the neighbouring piece of
    its cluster with which it shares most sides, when the two together stay within ``max_area``;
    otherwise it is dropped, and so is a whole cluster smaller than ``min_cells``.

    Each place gets its principle, area, mean score, main drivers (the most frequent low metrics of
    its cells), a family of remedy from :data:`REMEDIES`, its centroid (``x``, ``y`` in the cells'
    CRS; ``lon``, ``lat`` in WGS 84), the nearest street with a name within ``street_reach`` of it
    (``street``, ``street_distance_m``; NaN when none is, or when no streets are given), and
    ``priority`` = area × (threshold − mean score), the sum over its cells of how far each falls
    below the threshold (m²·points). ``place_no`` numbers them by priority, 1 first.

    Parameters
    ----------
    cells
        Scored cells (square geometries on one grid, ``score_<principle>`` columns).
    threshold
        Score below which a cell is a problem.
    min_cells
        Smallest place, in cells.
    max_area
        Largest place, m².
    streets
        The streets layer (its ``name`` column names places).
    street_reach
        How far a named street may be from a place to name it (m).

    Returns
    -------
    geopandas.GeoDataFrame
        One row per place, in ``place_no`` order.

    Examples
    --------
    >>> from shapely import box
    >>> squares = [box(x, y, x + 5, y + 5) for x in range(0, 100, 5) for y in range(0, 100, 5)]
    >>> cells = gpd.GeoDataFrame({"score_surveillance": [10.0] * 400}, geometry=squares, crs=2154)
    >>> places = problem_places(cells)
    >>> len(places), int(places["cells"].sum()), bool(places["area_m2"].max() <= 5000)
    (4, 400, True)
    """
    frames = []
    scores = metric_scores(cells)
    side = _cell_side(cells) if len(cells) else 1.0
    max_cells = int(np.floor(max_area / side**2 + 1e-9))
    lattice = max(1, int(np.floor(np.sqrt(max_area) / side + 1e-9)))
    bounds = shapely.bounds(cells.geometry.values)
    ij_all = np.round(bounds[:, :2] / side).astype(np.int64) if len(cells) else np.zeros((0, 2), dtype=np.int64)
    for principle in PRINCIPLES:
        col = f"score_{principle}"
        if col not in cells:
            continue
        low = (cells[col] < threshold).to_numpy(dtype=bool)
        if not low.any():
            continue
        idx = np.flatnonzero(low)
        piece = _split(ij_all[idx], max_cells=max_cells, lattice=lattice, min_cells=min_cells)
        names = [m for m, r in RULES.items() if r.principle == principle and r.period != "night"]
        for p in np.unique(piece[piece >= 0]):
            members = idx[piece == p]
            if len(members) < min_cells:
                continue
            poly = shapely.coverage_union_all(cells.geometry.values[members])
            mean = float(cells[col].iloc[members].mean())
            sub = scores.iloc[members][names]
            lowest = (sub < 50).sum().sort_values(ascending=False)
            drivers = [m for m in lowest.index if lowest[m] > 0][:3]
            area = len(members) * side**2
            frames.append({
                "principle": principle, "area_m2": area, "cells": len(members), "mean_score": mean,
                "drivers": "; ".join(RULES[m].low for m in drivers),
                "remedy": RULES[drivers[0]].remedy if drivers else "",
                "priority": area * (threshold - mean), "geometry": poly,
            })
    if not frames:
        empty = {c: pd.Series([], dtype=t) for c, t in _PLACE_COLUMNS.items()}
        return gpd.GeoDataFrame(empty, geometry=gpd.GeoSeries([], crs=cells.crs), crs=cells.crs)
    out = gpd.GeoDataFrame(frames, geometry="geometry", crs=cells.crs)
    out = out.sort_values(["priority", "principle"], ascending=[False, True], kind="stable").reset_index(drop=True)
    out["place_no"] = np.arange(1, len(out) + 1, dtype=np.int64)
    centre = shapely.centroid(out.geometry.values)
    out["x"], out["y"] = shapely.get_x(centre), shapely.get_y(centre)
    out["lon"], out["lat"] = _lonlat(out["x"].to_numpy(), out["y"].to_numpy(), cells.crs)
    out["street"], out["street_distance_m"] = _nearest_names(out.geometry.values, streets, cells.crs, street_reach)
    return out[[*_PLACE_COLUMNS, "geometry"]].astype(_PLACE_COLUMNS)


def _lonlat(x: np.ndarray, y: np.ndarray, crs) -> tuple[np.ndarray, np.ndarray]:
    if crs is None:
        return np.full(len(x), np.nan), np.full(len(x), np.nan)
    from pyproj import Transformer

    lon, lat = Transformer.from_crs(crs, "EPSG:4326", always_xy=True).transform(x, y)
    return np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)


def _nearest_names(places: np.ndarray, streets, crs, reach: float) -> tuple[list, np.ndarray]:
    named = _street_names(streets, crs)
    street = [np.nan] * len(places)
    distance = np.full(len(places), np.nan)
    if named is None:
        return street, distance
    (pi, si), d = shapely.STRtree(named.geometry.values).query_nearest(
        places, max_distance=reach, return_distance=True, all_matches=False
    )
    values = named["name"].to_numpy(dtype=object)
    for p, s_, dist in zip(pi, si, d, strict=True):
        street[p] = values[s_]
        distance[p] = dist
    return street, distance
