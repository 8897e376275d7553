"""Does the audit point at the places where incidents happen? Its scores checked against incidents.

:func:`evaluate` takes an audit (:func:`cpted.audit`) and a layer of incidents (points, with an
optional ``category``, ``date`` and ``time``) and asks, for the CPTED index and each principle,
whether the places it scores lowest are where the incidents are. Places are the site's cells
(exposure: area) and its street segments (exposure: length; each incident goes to the nearest
segment within :data:`SNAP_DISTANCE`). For each score and each kind of place:

- **hit rate** and **Predictive Accuracy Index** of the lowest-scored k % of the places
  (k in :data:`TOP_SHARES`; Chainey, Tompson & Uhlig 2008, Security Journal 21:4-28):
  ``hit rate = incidents in the flagged places / all incidents``,
  ``PAI = hit rate / (flagged exposure / all exposure)``. Places are flagged from the lowest
  score up until k % of the exposure is flagged; the place (or group of equal scores) that
  straddles the threshold counts pro rata, which is the expected value over every order of
  equal scores.
- **AUC**: the probability that a place with at least one incident scores lower than a place
  with none (ties count half): the Mann-Whitney U statistic divided by ``n1 n0``
  (Hanley & McNeil 1982, Radiology 143:29-36). 0.5 is chance; above it, low scores go with
  incidents.
- **Incidence rate ratios** per 10 points of score from a Poisson and a negative binomial (NB2)
  count model with the exposure as offset (statsmodels), with 95 % Wald intervals. A ratio below
  1: places that score higher have fewer incidents per m² (per m of street).
- **Permutation test**: the incidents are placed again at random, uniformly over the scored
  public space (each one in a place with a probability proportional to its exposure),
  :data:`PERMUTATIONS` times from a seed; the one-sided p-value of PAI and AUC is
  ``(1 + #{random >= observed}) / (1 + permutations)`` (Phipson & Smyth 2010, SAGMB 9:39).

With fewer than :data:`MIN_INCIDENTS` incidents on a kind of place, no number is given: the
``conclusion`` column says "too few incidents to conclude". Every result is an association,
never a cause.

The tables and the report are written by :func:`cpted.report.evaluation.write_evaluation`.
"""

from __future__ import annotations

import datetime as dt
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from cpted.errors import CRSError, GeometryError, InputError, MissingDependencyError, feature_ids

__all__ = ["evaluate", "read_incidents", "select_incidents", "EvaluationResult", "pai_curve", "auc",
           "rate_ratios", "require_statsmodels", "ALPHA", "IRR_STEP", "MIN_INCIDENTS", "SNAP_DISTANCE", "TOP_SHARES", "PERMUTATIONS", "NIGHT", "SCORES",
           "TOO_FEW"]

#: Fewest incidents on a kind of place for any number to be given. With 30 incidents the
#: lowest-scored 10 % hold 3 by chance, and a count model has ~30 events for its one predictor;
#: below that one incident more or less moves PAI by a third or more.
MIN_INCIDENTS = 30
#: Farthest (m) an incident is snapped to a street segment: half a wide street's right-of-way
#: plus the usual error of an address geocoded to its front.
SNAP_DISTANCE = 25.0
#: Shares of the exposure flagged (lowest scores first).
TOP_SHARES = (0.01, 0.05, 0.10, 0.20)
#: Random relocations of the incidents in the permutation test.
PERMUTATIONS = 999
#: Night hours [from, to): 20:00 to 06:00 (fixed clock hours; no sunset is computed).
NIGHT = (20, 6)
#: The scores evaluated by default (low = bad).
SCORES = ("cpted_index", "score_surveillance", "score_territoriality", "score_access_control", "score_maintenance",
          "score_surveillance_night")
#: What the table says below :data:`MIN_INCIDENTS`.
TOO_FEW = "too few incidents to conclude"
#: Level of the one-sided permutation tests behind ``conclusion``.
ALPHA = 0.05
_LEVELS = {"cells": "area_m2", "segments": "length_m"}
#: Rate ratios of scores are given per this many points; those of raw measures per standard deviation.
IRR_STEP = 10.0


@dataclass
class EvaluationResult:
    """What :func:`evaluate` found.

    ``table``: one row per kind of place (``level``) and score, the columns of
    ``docs/methods/evaluation.md``; ``curve``: PAI against the share flagged (1 to 100 %) with the
    2.5-97.5 % band of the random relocations; ``incidents``: every incident with ``status``
    (``outside_site``, ``filtered_out``, ``in_site``), its ``cell_id`` and ``segment``;
    ``summary``: the counts and options.
    """

    table: pd.DataFrame
    curve: pd.DataFrame
    incidents: gpd.GeoDataFrame
    summary: dict[str, object] = field(default_factory=dict)


def _refuse(cls, layer: str, what: str, index, fix: str):
    msg = f"{layer}: {what} at feature(s) {feature_ids(index)}; {fix}"
    raise cls(msg)


def read_incidents(source, *, crs=None, layer: str = "incidents") -> gpd.GeoDataFrame:
    """Read and check a layer of incidents: points with an optional ``category``, ``date`` and ``time``.

    Parameters
    ----------
    source
        A vector file GDAL reads (GeoPackage, GeoJSON, Shapefile...), a CSV with ``lon`` and
        ``lat`` (WGS 84) or ``x`` and ``y`` columns (then ``crs`` is required), or a GeoDataFrame.
    crs
        The CRS of a CSV's ``x`` / ``y``, or of a GeoDataFrame that declares none (a vector file
        must declare its own).
    layer
        The layer's name in error messages.

    Returns
    -------
    geopandas.GeoDataFrame
        Points with ``category`` (text or missing), ``date`` (datetime, NaT when not given) and
        ``hour`` (0-24, NaN when no time is given).

    Raises
    ------
    CRSError, GeometryError, InputError
        A missing CRS, geometries that are not points, dates or times that do not parse: the
        message names the layer, the features and the fix.

    Examples
    --------
    >>> from shapely import Point
    >>> gdf = gpd.GeoDataFrame({"date": ["2002-04-25", ""], "time": ["23:30", None]},
    ...                        geometry=[Point(0, 0), Point(5, 5)], crs=2154)
    >>> out = read_incidents(gdf)
    >>> out["hour"].tolist(), out["date"].isna().tolist()
    ([23.5, nan], [False, True])
    """
    if isinstance(source, gpd.GeoDataFrame):
        gdf = source.copy()
    else:
        path = Path(source)
        if path.suffix.lower() == ".csv":
            from cpted.load.vector import check_readable

            table = pd.read_csv(check_readable(path, what=f"{layer} file"), dtype=str)
            xy = next(((a, b) for a, b in (("lon", "lat"), ("x", "y")) if {a, b} <= set(table.columns)), None)
            if xy is None:
                msg = f"{layer}: {str(path)!r} has no lon/lat nor x/y columns; add them (lon/lat in WGS 84) or give a GeoPackage"
                raise InputError(msg)
            if xy == ("x", "y") and crs is None:
                msg = f"{layer}: {str(path)!r} gives x/y but no CRS; pass crs= (--incidents-crs), e.g. EPSG:2154"
                raise CRSError(msg)
            coords = table[list(xy)].apply(pd.to_numeric, errors="coerce")
            bad = table.index[coords.isna().any(axis=1)]
            if len(bad):
                _refuse(GeometryError, layer, f"{xy[0]}/{xy[1]} missing or not numbers", bad, "give every row numeric coordinates")
            off = table.index[(coords["lon"].abs() > 180) | (coords["lat"].abs() > 90)] if xy == ("lon", "lat") else []
            if len(off):
                _refuse(GeometryError, layer, "lon/lat beyond ±180/±90 degrees", off,
                        "give WGS 84 degrees, longitude first, or name projected columns x/y with --incidents-crs")
            gdf = gpd.GeoDataFrame(table.drop(columns=list(xy)), geometry=shapely.points(coords.to_numpy()),
                                   crs=4326 if xy == ("lon", "lat") else crs)
        else:
            from cpted.load.vector import read_vector

            gdf = read_vector(path)
    if gdf.crs is None:
        if crs is None:
            msg = f"{layer}: no CRS declared; declare it in the file (ogr2ogr -a_srs EPSG:2154) or pass crs="
            raise CRSError(msg)
        gdf = gdf.set_crs(crs)
    geoms = gdf.geometry.values
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if missing.any():
        _refuse(GeometryError, layer, "empty geometry", gdf.index[missing], "remove these features or give their location")
    kinds = shapely.get_type_id(geoms)
    if (kinds != 0).any():
        _refuse(GeometryError, layer, "not a point", gdf.index[kinds != 0], "give one point per incident (split multipoints)")
    out = gpd.GeoDataFrame({"category": gdf["category"].astype("string") if "category" in gdf else pd.NA},
                           geometry=gdf.geometry, crs=gdf.crs, index=gdf.index)
    out["date"] = _parse(gdf, "date", layer, "write dates as YYYY-MM-DD")
    out["hour"] = _hours(gdf, layer)
    return out


def _given(values: pd.Series) -> pd.Series:
    return values.notna() & (values.astype(str).str.strip() != "")


def _parse(gdf, column: str, layer: str, fix: str) -> pd.Series:
    if column not in gdf:
        return pd.Series(pd.NaT, index=gdf.index, dtype="datetime64[ns]")
    raw = gdf[column]
    if pd.api.types.is_datetime64_any_dtype(raw):
        return pd.to_datetime(raw).dt.tz_localize(None) if getattr(raw.dt, "tz", None) else pd.to_datetime(raw)
    given = _given(raw)
    parsed = pd.to_datetime(raw.where(given).astype(object), errors="coerce", format="mixed")
    bad = given & parsed.isna()
    if bad.any():
        _refuse(InputError, layer, f"{column} that does not parse ({raw[bad].iloc[0]!r})", gdf.index[bad], fix)
    return parsed


def _hours(gdf, layer: str) -> pd.Series:
    if "time" not in gdf:
        return pd.Series(np.nan, index=gdf.index)
    raw = gdf["time"]
    if raw.map(lambda v: isinstance(v, dt.time)).any():
        raw = raw.map(lambda v: v.strftime("%H:%M:%S") if isinstance(v, dt.time) else v)
    given = _given(raw)
    parts = raw.where(given).astype(str).str.strip().str.extract(r"^(\d{1,2})[:hH](\d{2})(?::(\d{2}))?$").astype(float)
    hour = parts[0] + parts[1] / 60 + parts[2].fillna(0) / 3600
    bad = given & (hour.isna() | (parts[0] > 23) | (parts[1] > 59))
    if bad.any():
        _refuse(InputError, layer, f"time that does not parse ({raw[bad].iloc[0]!r})", gdf.index[bad], "write times as HH:MM (24 h)")
    return hour.where(given)


def select_incidents(incidents: gpd.GeoDataFrame, *, date_from=None, date_to=None, time_of_day: str | None = None,
                     layer: str = "incidents") -> np.ndarray:
    """Which incidents the filters keep (a boolean array); a filter on a column the layer lacks is an error.

    ``date_to`` is inclusive (the whole day). Night is :data:`NIGHT`, day the other hours.

    Examples
    --------
    >>> from shapely import Point
    >>> inc = read_incidents(gpd.GeoDataFrame({"time": ["23:00", "12:00"]}, geometry=[Point(0, 0)] * 2, crs=2154))
    >>> select_incidents(inc, time_of_day="night").tolist()
    [True, False]
    """
    keep = np.ones(len(incidents), dtype=bool)
    for bound, cmp in ((date_from, np.greater_equal), (date_to, np.less)):
        if bound is None:
            continue
        if incidents["date"].isna().all():
            msg = f"{layer}: no dates, so no date filter; add a date column (YYYY-MM-DD) or drop --date-from/--date-to"
            raise InputError(msg)
        try:
            when = pd.Timestamp(bound) + (pd.Timedelta(days=1) if cmp is np.less else pd.Timedelta(0))
        except ValueError:
            msg = f"date filter {bound!r} does not parse; write it as YYYY-MM-DD"
            raise InputError(msg) from None
        keep &= cmp(incidents["date"], when).fillna(False).to_numpy(dtype=bool)
    if time_of_day is not None:
        if time_of_day not in ("night", "day"):
            msg = f"time_of_day must be 'night' or 'day', not {time_of_day!r}"
            raise InputError(msg)
        hour = incidents["hour"].to_numpy(dtype=float)
        if np.isnan(hour).all():
            msg = f"{layer}: no times, so no --time-of-day filter; add a time column (HH:MM) or drop the option"
            raise InputError(msg)
        night = (hour >= NIGHT[0]) | (hour < NIGHT[1])
        keep &= np.isfinite(hour) & (night if time_of_day == "night" else ~night)
    return keep


def pai_curve(score, exposure, counts, shares) -> np.ndarray:
    """Incidents captured by the lowest-scored ``shares`` of the exposure (pro rata at the threshold).

    ``counts`` may be 2-D (one row per relocation); the result then has one row per row of it.

    Examples
    --------
    >>> pai_curve([1, 2, 3, 4], [1, 1, 1, 1], [3, 1, 0, 0], [0.25, 0.5, 0.125]).tolist()
    [3.0, 4.0, 1.5]
    >>> pai_curve([1, 1, 3, 4], [1, 1, 1, 1], [2, 0, 0, 0], [0.25]).tolist()  # a tie shares pro rata
    [1.0]
    """
    score, exposure = np.asarray(score, float), np.asarray(exposure, float)
    counts = np.asarray(counts, float)
    order = np.argsort(score, kind="stable")
    s = score[order]
    ends = np.r_[np.nonzero(np.diff(s))[0], len(s) - 1]
    e = np.r_[0.0, np.cumsum(exposure[order])[ends]]
    c = np.cumsum(counts[..., order], axis=-1)[..., ends]
    c = np.concatenate([np.zeros((*c.shape[:-1], 1)), c], axis=-1)
    target = np.asarray(shares, float) * e[-1]
    hi = np.clip(np.searchsorted(e, target, side="left"), 1, len(e) - 1)
    f = (target - e[hi - 1]) / (e[hi] - e[hi - 1])
    return c[..., hi - 1] + f * (c[..., hi] - c[..., hi - 1])


def auc(score, hit) -> np.ndarray:
    """Probability that a place with an incident (``hit``) scores lower than one without (ties half).

    ``hit`` may be 2-D (one row per relocation). NaN when every place or no place has an incident.

    Examples
    --------
    >>> float(auc([10, 20, 30, 40], [True, False, True, False]))
    0.75
    """
    from scipy.stats import rankdata

    ranks = rankdata(-np.asarray(score, float))  # the lowest score has the highest rank
    hit = np.asarray(hit, bool)
    n1 = hit.sum(axis=-1).astype(float)
    n0 = hit.shape[-1] - n1
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where((n1 > 0) & (n0 > 0), (hit @ ranks - n1 * (n1 + 1) / 2) / (n1 * n0), np.nan)


def require_statsmodels():
    """``statsmodels.api``, or a MissingDependencyError that says how to install it (the extra ``evaluate``)."""
    try:
        import statsmodels.api as sm
    except ImportError:
        msg = "the evaluation's rate ratios need statsmodels: pip install 'cpted[evaluate]'"
        raise MissingDependencyError(msg) from None
    return sm


def rate_ratios(score, exposure, counts, *, step: float = IRR_STEP) -> dict[str, float]:
    """Incidence rate ratios per ``step`` (10 points) of ``score`` (Poisson and negative binomial NB2,
    exposure as offset) with 95 % Wald intervals; NaN with ``irr_note`` when a model cannot be fitted.

    Examples
    --------
    >>> r = rate_ratios([0, 0, 50, 50, 100, 100], [1] * 6, [4, 6, 2, 3, 1, 1])
    >>> round(float(r["irr_poisson"]), 3)  # rates 5, 2.5, 1 at 0, 50, 100 points
    0.857
    """
    sm = require_statsmodels()
    import warnings

    x = sm.add_constant(np.asarray(score, float) / step)
    y, a = np.asarray(counts, float), np.asarray(exposure, float)
    out: dict[str, float] = {}
    notes = []
    for name, fit in (("poisson", lambda: sm.GLM(y, x, family=sm.families.Poisson(), exposure=a).fit()),
                      ("nb", lambda: sm.NegativeBinomial(y, x, exposure=a).fit(disp=0, maxiter=200))):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = fit()
            beta, ci = float(np.asarray(model.params)[1]), np.asarray(model.conf_int())[1]
            if name == "nb" and not model.mle_retvals.get("converged", True):
                raise RuntimeError("did not converge")
            if not (np.isfinite(beta) and np.all(np.isfinite(ci))):
                raise RuntimeError("no finite estimate")
            out.update({f"irr_{name}": np.exp(beta), f"irr_{name}_lo": np.exp(ci[0]), f"irr_{name}_hi": np.exp(ci[1])})
        except Exception as exc:  # noqa: BLE001 - any failure of a fit is reported, not raised
            out.update({f"irr_{name}": np.nan, f"irr_{name}_lo": np.nan, f"irr_{name}_hi": np.nan})
            notes.append(f"{name}: {exc}")
    out["irr_note"] = "; ".join(notes)
    return out


def _places(result, columns: dict[str, str]) -> dict[str, tuple[gpd.GeoDataFrame, pd.DataFrame]]:
    """Each kind of place with its exposure and the values to rank (low = flagged)."""
    cells = result.layers["cells"]
    sign = {c: (-1.0 if d == "high" else 1.0) for c, d in columns.items()}

    def ranked(frame: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({c: pd.to_numeric(frame[c], errors="coerce") * sign[c] if c in frame else np.nan
                             for c in columns}, index=frame.index)

    out = {"cells": (cells.assign(area_m2=cells.geometry.area), ranked(cells))}
    segments = result.layers.get("segments")
    if segments is not None and len(segments) and len(cells):
        segments = segments.reset_index(drop=True)
        # a segment's scores: the mean over the cells whose nearest segment it is (its own value
        # for the measures the segments layer carries)
        cell_values = ranked(cells)
        cell_at, segment_at = segments.sindex.nearest(cells.geometry.centroid, return_all=False)
        nearest = np.empty(len(cells), dtype=int)
        nearest[cell_at] = segment_at
        mean = cell_values.groupby(nearest).mean().reindex(segments.index)
        own = ranked(segments)
        values = pd.DataFrame({c: own[c] if own[c].notna().any() else mean[c] for c in columns})
        out["segments"] = (segments.assign(length_m=segments.geometry.length), values)
    return out


def _counts(places: gpd.GeoDataFrame, points: np.ndarray, level: str, snap: float) -> np.ndarray:
    """The place (position) of each point, -1 when none: the cell that holds it, or the nearest
    segment within ``snap`` metres."""
    at = np.full(len(points), -1)
    if not len(points):
        return at
    if level == "cells":
        pi, ci = places.sindex.query(points, predicate="intersects")
        first = np.unique(pi, return_index=True)[1]
        at[pi[first]] = ci[first]
    else:
        pi, si = places.sindex.nearest(points, max_distance=snap, return_all=False)
        at[pi] = si
    return at


def _row(score, exposure, counts, shares, rng, permutations, n_min, raw_sign: float | None) -> tuple[dict, np.ndarray, np.ndarray]:
    """One score on one kind of place: the numbers of the table and its PAI curve with the band."""
    n = int(counts.sum())
    grid = np.linspace(0.01, 1.0, 100)
    row: dict[str, object] = {"n_places": len(score), "n_incidents": n,
                              "exposure": float(exposure.sum())}
    nan_curve = np.full((3, len(grid)), np.nan)
    if n < n_min:
        row["conclusion"] = f"{TOO_FEW} ({n} < {n_min})"
        return row, nan_curve, grid
    if np.ptp(score) == 0:
        row["conclusion"] = "the score is the same everywhere: it ranks nothing"
        return row, nan_curve, grid
    captured = pai_curve(score, exposure, counts, shares)
    rand_captured, rand_auc, band = [], [], []
    chunk = max(1, min(permutations, 4_000_000 // len(score)))  # relocations at once: bounded memory
    for start in range(0, permutations, chunk):
        random = rng.multinomial(n, exposure / exposure.sum(), size=min(chunk, permutations - start))
        rand_captured.append(pai_curve(score, exposure, random, shares))
        rand_auc.append(auc(score, random > 0))
        band.append(pai_curve(score, exposure, random, grid) / n / grid)
    rand_captured, rand_auc, band = np.concatenate(rand_captured), np.concatenate(rand_auc), np.concatenate(band)
    for k, got, rand in zip(shares, captured, rand_captured.T, strict=True):
        tag = f"{k * 100:g}"
        row[f"hit_rate_{tag}"] = got / n
        row[f"pai_{tag}"] = got / n / k
        row[f"p_pai_{tag}"] = (1 + np.sum(rand >= got - 1e-9)) / (1 + permutations)
    row["auc"] = float(auc(score, counts > 0))
    row["p_auc"] = (1 + np.sum(rand_auc >= row["auc"] - 1e-12)) / (1 + permutations) if np.isfinite(row["auc"]) else np.nan
    if raw_sign is not None:  # a raw measure, its sign restored: per standard deviation
        sd = float(np.std(score))
        row.update(rate_ratios(raw_sign * score, exposure, counts, step=sd), irr_per=f"1 SD ({sd:.4g})")
    else:
        row.update(rate_ratios(score, exposure, counts), irr_per=f"{IRR_STEP:g} points")
    row["p_auc_reverse"] = (1 + np.sum(rand_auc <= row["auc"] + 1e-12)) / (1 + permutations) if np.isfinite(row["auc"]) else np.nan
    row["conclusion"] = ("low scores associated with incidents" if row["p_auc"] < ALPHA else
                         "high scores associated with incidents (the reverse)" if row["p_auc_reverse"] < ALPHA else
                         "no association shown")
    curve = np.vstack([pai_curve(score, exposure, counts, grid) / n / grid, *np.percentile(band, [2.5, 97.5], axis=0)])
    return row, curve, grid


def evaluate(
    result,
    incidents,
    *,
    scores: tuple[str, ...] = SCORES,
    measures: dict[str, str] | None = None,
    date_from=None,
    date_to=None,
    time_of_day: str | None = None,
    snap_distance: float = SNAP_DISTANCE,
    shares: tuple[float, ...] = TOP_SHARES,
    permutations: int = PERMUTATIONS,
    seed: int = 0,
    min_incidents: int = MIN_INCIDENTS,
    incidents_crs=None,
) -> EvaluationResult:
    """Check an audit's scores against incidents: hit rate, PAI, AUC, rate ratios, permutation test.

    Parameters
    ----------
    result
        An audit (:class:`cpted.pipeline.AuditResult`): its ``cells`` and ``segments`` layers and its site.
    incidents
        Points, or their file (see :func:`read_incidents`).
    scores
        Score columns to evaluate (low = bad); a score the audit could not compute gets a row
        that says so.
    measures
        Raw measure columns to evaluate too, each with the end flagged: ``{"betweenness_800":
        "high"}`` flags the most central segments first.
    date_from, date_to
        Keep the incidents between these dates (inclusive; YYYY-MM-DD).
    time_of_day
        ``"night"`` or ``"day"`` (:data:`NIGHT`): keep the incidents of that part of the day.
    snap_distance
        Farthest an incident is snapped to a street segment (m).
    shares
        Shares of the exposure flagged.
    permutations
        Random relocations (at least 999 for a p-value to the third decimal).
    seed
        Seed of the relocations: the same seed gives the same p-values (each row draws from its own
        stream, seeded by ``seed`` and its place kind and score, so adding a measure changes no other row).
    min_incidents
        Below this many incidents on a kind of place, no number: "too few incidents to conclude".
    incidents_crs
        CRS of a CSV's x / y (or of a GeoDataFrame that declares none).

    Returns
    -------
    EvaluationResult

    Examples
    --------
    >>> import geopandas as gpd, cpted
    >>> from shapely import box, LineString, Point
    >>> streets = gpd.GeoDataFrame({"walk_kind": ["street"]}, geometry=[LineString([(0, 50), (100, 50)])], crs=2154)
    >>> site = cpted.Site.from_layers("demo", box(0, 0, 100, 100), crs=2154, layers={"streets": streets},
    ...                               context=50, cell_size=10)
    >>> audit = cpted.audit(site, measures=["access_control"])
    >>> inc = gpd.GeoDataFrame(geometry=[Point(5, 55), Point(500, 500)], crs=2154)
    >>> ev = evaluate(audit, inc, scores=("cpted_index", "score_access_control"), permutations=99)
    >>> ev.summary["n_outside_site"], ev.table["conclusion"].tolist()[:2]  # doctest: +NORMALIZE_WHITESPACE
    (1, ['unknown: the audit has no value for it here (its inputs are missing)',
         'too few incidents to conclude (1 < 30)'])
    """
    if permutations < 1 or min_incidents < 1 or not snap_distance >= 0 or seed < 0:
        msg = (f"permutations ({permutations}) and min_incidents ({min_incidents}) must be 1 or more, "
               f"snap_distance ({snap_distance}) and seed ({seed}) 0 or more")
        raise InputError(msg)
    if any(not 0 < k <= 1 for k in shares):
        msg = f"shares {list(shares)} must lie in (0, 1], e.g. 0.05 for the lowest-scored 5 %"
        raise InputError(msg)
    require_statsmodels()  # before any work
    measures = dict(measures or {})
    if any(d not in ("high", "low") for d in measures.values()):
        msg = f"measures {measures}: say which end is flagged, 'high' or 'low'"
        raise InputError(msg)
    inc = read_incidents(incidents, crs=incidents_crs)
    site_crs = result.layers["cells"].crs
    inc = inc.to_crs(site_crs) if inc.crs != site_crs else inc
    boundary = result.site.boundary
    inside = shapely.contains_xy(boundary, shapely.get_x(inc.geometry.values), shapely.get_y(inc.geometry.values))
    keep = select_incidents(inc, date_from=date_from, date_to=date_to, time_of_day=time_of_day)
    inc["status"] = np.where(~inside, "outside_site", np.where(keep, "in_site", "filtered_out"))
    used = inc["status"].to_numpy() == "in_site"
    columns = {**{s: "low" for s in scores}, **measures}
    rows, curves = [], []
    summary: dict[str, object] = {
        "site_id": result.summary.get("site_id"), "n_incidents_given": len(inc),
        "n_outside_site": int((~inside).sum()), "n_filtered_out": int((inside & ~keep).sum()), "n_in_site": int(used.sum()),
        "date_from": date_from, "date_to": date_to, "time_of_day": time_of_day, "snap_distance": snap_distance,
        "permutations": permutations, "seed": seed, "min_incidents": min_incidents,
    }
    for level, (places, values) in _places(result, columns).items():
        at = _counts(places, inc.geometry.values[used], level, snap_distance)
        placed = np.full(len(inc), -1)
        placed[used] = at
        ids = places["cell_id"].to_numpy() if level == "cells" and "cell_id" in places else np.arange(len(places))
        found = pd.Series(ids[np.maximum(placed, 0)], index=inc.index)
        found = found.astype("Int64") if found.dtype.kind in "iu" else found
        inc["cell_id" if level == "cells" else "segment"] = found.where(placed >= 0)
        summary[f"n_on_{level}"] = int((at >= 0).sum())
        summary[f"n_off_{level}"] = int((at < 0).sum())
        counts_all = np.bincount(at[at >= 0], minlength=len(places)).astype(float)
        exposure_all = places[_LEVELS[level]].to_numpy(dtype=float)
        for col, direction in columns.items():
            v = values[col].to_numpy(dtype=float)
            ok = np.isfinite(v) & (exposure_all > 0)
            base = {"level": level, "score": col, "flagged": direction}
            if not ok.any():
                rows.append({**base, "n_places": 0, "n_incidents": 0,
                             "conclusion": "unknown: the audit has no value for it here (its inputs are missing)"})
                continue
            rng = np.random.default_rng([seed, zlib.crc32(f"{level}/{col}".encode())])  # a row's p-values: its own
            row, curve, grid = _row(v[ok], exposure_all[ok], counts_all[ok], shares, rng, permutations, min_incidents,
                                    raw_sign=(-1.0 if direction == "high" else 1.0) if col in measures else None)
            if col in measures and "associated" in row["conclusion"]:  # values, not scores
                other = "low" if direction == "high" else "high"
                row["conclusion"] = row["conclusion"].replace("low scores", f"{direction} values").replace(
                    "high scores", f"{other} values")
            rows.append({**base, **row})
            curves.append(pd.DataFrame({"level": level, "score": col, "share": grid, "pai": curve[0],
                                        "pai_random_lo": curve[1], "pai_random_hi": curve[2]}))
    table = pd.DataFrame(rows)
    curve = pd.concat(curves, ignore_index=True) if curves else pd.DataFrame(
        columns=["level", "score", "share", "pai", "pai_random_lo", "pai_random_hi"])
    return EvaluationResult(table=table, curve=curve, incidents=inc, summary=summary)
