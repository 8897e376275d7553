"""Activity support: the land-use mix within walking distance, by day and by night.

Destinations bring people, and people bring natural surveillance (Jacobs 1961). For each place
the POIs reachable along the walk network within each radius are counted by category, and their
diversity is summarised by Hill numbers (Jost 2006, Oikos 113:363; Cervero & Kockelman 1997,
Transportation Research D 2:199), plain and distance-weighted:

.. math:: D_q = \\Big(\\sum_i p_i^q\\Big)^{1/(1-q)}, \\quad D_0 = \\text{richness},\\quad
          D_1 = e^{H},\\quad D_2 = 1/\\sum_i p_i^2,\\quad H_{norm} = H / \\ln K

with :math:`p_i` the share of category *i* and *K* the size of the category vocabulary
(:data:`cpted.config.POI_CATEGORIES`). Weighted variants weigh each POI by
:math:`e^{-\\beta d}` with :math:`\\beta = 4 / r` (a POI at the radius weighs 0.018).
With no POI within reach every Hill number is 0.
"""

from __future__ import annotations

import datetime as dt
import math

import geopandas as gpd
import numpy as np
import pandas as pd

from cpted.config import POI_CATEGORIES, column_name
from cpted.engines import _paths
from cpted.engines.network import RADII, Network, chunks, nearest_edge
from cpted.measure._result import MeasureResult, need, need_attribute

__all__ = ["hill_numbers", "land_use_mix", "open_at_night", "activity", "NIGHT_FROM", "HOURS_CATEGORIES"]

#: POIs open at any time from this hour to midnight count as night-time activity.
NIGHT_FROM = 20


def hill_numbers(counts: np.ndarray) -> dict[str, np.ndarray]:
    """Hill numbers D0, D1, D2 and normalised Shannon entropy of category counts (last axis).

    Examples
    --------
    >>> h = hill_numbers(np.array([[2.0, 2.0, 0.0], [4.0, 0.0, 0.0], [0.0, 0.0, 0.0]]))
    >>> h["d0"].tolist(), np.round(h["d1"], 6).tolist(), h["d2"].tolist()
    ([2.0, 1.0, 0.0], [2.0, 1.0, 0.0], [2.0, 1.0, 0.0])
    """
    total = counts.sum(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.where(total > 0, counts / total, 0.0)
        plogp = np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0)
        shannon = -plogp.sum(axis=-1)
        simpson = (p**2).sum(axis=-1)
        has = total[..., 0] > 0
        return {
            "d0": (counts > 0).sum(axis=-1).astype(float),
            "d1": np.where(has, np.exp(shannon), 0.0),
            "d2": np.where(has, 1.0 / np.where(has, simpson, 1.0), 0.0),
            "entropy": np.where(has, shannon / math.log(len(POI_CATEGORIES)), 0.0),
        }


_WEEK = [dt.datetime(2026, 6, 8) + dt.timedelta(days=d) for d in range(7)]  # a week with no holiday
_NIGHT_TIMES = [day.replace(hour=h, minute=m) for day in _WEEK for h in range(NIGHT_FROM, 24) for m in (0, 30)]


def open_at_night(opening_hours: pd.Series) -> pd.Series:
    """True for OSM ``opening_hours`` values open at some time from 20:00 to midnight in an
    ordinary week; False when closed then; NaN when absent or unparsable.

    Uses the maintained ``opening-hours-py`` parser (PyPI).

    Examples
    --------
    >>> open_at_night(pd.Series(["Mo-Sa 08:00-22:00", "Mo-Fr 09:00-18:00", None, "bogus"])).tolist()
    [True, False, nan, nan]
    """
    from opening_hours import OpeningHours

    def one(value):
        if value is None or (isinstance(value, float) and math.isnan(value)) or not str(value).strip():
            return np.nan
        try:
            oh = OpeningHours(str(value))
            return any(oh.is_open(t) for t in _NIGHT_TIMES)
        except Exception:  # noqa: BLE001 - the parser raises its own errors for bad syntax
            return np.nan

    return opening_hours.map(one).astype(object)


def land_use_mix(
    places: gpd.GeoSeries,
    pois: gpd.GeoDataFrame,
    streets: gpd.GeoDataFrame,
    net: Network,
    *,
    radii=RADII,
    by_category: bool = False,
    attachment: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> pd.DataFrame:
    """POI counts and land-use mix within network radii of each place.

    ``attachment`` is :func:`~cpted.engines.network.nearest_edge` of the places on ``streets``
    when the caller has it already (the audit computes it once for its grid).

    Places and POIs attach to their nearest street at their true position along it; the
    distance is the walk along the network plus both attachment offsets.

    Returns
    -------
    pandas.DataFrame
        Aligned to ``places``, for each radius r: ``pois_<r>`` (count), ``mix_d0_<r>``,
        ``mix_d1_<r>``, ``mix_d2_<r>``, ``mix_entropy_<r>``, the weighted ``mix_w_d1_<r>``,
        ``mix_w_d2_<r>``, and ``night_pois_<r>`` (POIs whose opening hours say they are open
        after 20:00; a POI without opening hours does not count: :func:`activity` makes the
        column NaN when too few POIs carry them). With ``by_category``, also ``pois_<category>_<r>`` for every
        category of :data:`cpted.config.POI_CATEGORIES`.
    """
    radii = np.asarray(sorted(float(r) for r in radii))
    pxy = np.column_stack([places.x.to_numpy(), places.y.to_numpy()])
    cats = pd.Categorical(pois["category"], categories=POI_CATEGORIES)
    night = open_at_night(pois["opening_hours"]) if "opening_hours" in pois else pd.Series(np.nan, index=pois.index)
    codes = np.asarray(cats.codes, dtype=np.int64)
    attached = _attach(pxy, streets, net, attachment) if len(pxy) and len(streets) else None
    counts, weighted = _reach(attached, pxy, pois, codes, len(POI_CATEGORIES), streets, net, radii)
    is_night = night.map(lambda v: v is True).to_numpy(dtype=bool)
    night_counts, _ = _reach(attached, pxy, pois[is_night], np.zeros(int(is_night.sum()), dtype=np.int64), 1, streets, net, radii)
    out = {}
    plain, wh = hill_numbers(counts), hill_numbers(weighted)
    for j, r in enumerate(radii):
        out[column_name("pois", r)] = counts[:, j, :].sum(axis=1)
        for key in ("d0", "d1", "d2", "entropy"):
            out[column_name(f"mix_{key}", r)] = plain[key][:, j]
        out[column_name("mix_w_d1", r)] = wh["d1"][:, j]
        out[column_name("mix_w_d2", r)] = wh["d2"][:, j]
        out[column_name("night_pois", r)] = night_counts[:, j, 0]
        if by_category:
            for c, name in enumerate(POI_CATEGORIES):
                out[column_name(f"pois_{name}", r)] = counts[:, j, c]
    return pd.DataFrame(out, index=places.index)


def _attach(pxy: np.ndarray, streets: gpd.GeoDataFrame, net: Network, attachment=None):
    """Places on their nearest usable edge: (edge or -1, along, offset)."""
    edge, along, offset = nearest_edge(pxy, streets) if attachment is None else attachment
    usable = np.isfinite(net.edge_length[edge])
    return np.where(usable, edge, -1).astype(np.int64), along, offset


def _reach(attached, pxy, pois, codes, n_cat, streets, net: Network, radii):
    from scipy.spatial import cKDTree

    n = len(pxy)
    k = len(radii)
    if attached is None or len(pois) == 0:
        return np.zeros((n, k, n_cat)), np.zeros((n, k, n_cat))
    p_edge, p_along, p_off = attached
    txy = np.column_stack([pois.geometry.x.to_numpy(), pois.geometry.y.to_numpy()])
    t_edge, t_along, t_off = nearest_edge(txy, streets)
    edge_u, edge_v = net.edges[:, 0].astype(np.int64), net.edges[:, 1].astype(np.int64)
    edge_len = np.nan_to_num(net.edge_length, nan=np.inf, posinf=np.inf)
    t_ok = np.isfinite(edge_len[t_edge])
    # distances from each POI (a point on its edge) to the nodes within the largest radius; the
    # nodes within that straight-line distance of the POI bound how many it can reach
    rmax = float(radii[-1])
    room = cKDTree(net.xy).query_ball_point(txy, r=rmax, return_length=True).astype(np.int64)
    offsets = np.concatenate([[0], np.cumsum(room)]).astype(np.int64)
    found, nodes, dists = _paths.target_distances(
        net.indptr, net.nbr, net.length, edge_u[t_edge], np.where(t_ok, t_along + t_off, np.inf),
        edge_v[t_edge], np.where(t_ok, edge_len[t_edge] - t_along + t_off, np.inf), rmax, chunks(len(txy)), offsets,
    )
    keep = np.arange(offsets[-1]) - np.repeat(offsets[:-1], room) < np.repeat(found, room)
    owner = np.repeat(np.arange(len(txy)), room)[keep]
    nodes, dists = nodes[keep], dists[keep]
    order = np.argsort(nodes, kind="stable")
    node_ptr = np.concatenate([[0], np.cumsum(np.bincount(nodes, minlength=net.n))]).astype(np.int64)
    t_edge_ok = np.where(t_ok, t_edge, len(net.edges))  # unusable POIs sit on no edge
    e_order = np.argsort(t_edge_ok, kind="stable")
    edge_tptr = np.concatenate([[0], np.cumsum(np.bincount(t_edge_ok, minlength=len(net.edges) + 1))[:-1]]).astype(np.int64)
    return _paths.reach_targets(
        p_edge, p_along, p_off, edge_u, edge_v, edge_len,
        node_ptr, owner[order].astype(np.int64), dists[order], edge_tptr, e_order.astype(np.int64),
        t_along, t_off, codes.astype(np.int64), n_cat, radii, 4.0 / radii,
    )


#: POI categories that keep opening hours (venues that open and close): the night-time count
#: needs enough of them to carry ``opening_hours`` (:data:`~cpted.measure._result.MIN_ATTRIBUTE_SHARE`).
HOURS_CATEGORIES = ("shop", "food_drink", "culture", "health", "public_service", "office", "community", "social",
                    "sport", "tourism", "worship", "education", "childcare", "security")
_MIX_COLUMNS = ("pois", "mix_d0", "mix_d1", "mix_d2", "mix_entropy", "mix_w_d1", "mix_w_d2", "night_pois")


def activity(site, net: Network | None, *, radii=RADII, reason: str | None = None,
             attachment: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> MeasureResult:
    """Activity-support measures of a site: land-use mix per cell and site means.

    Returns a :class:`~cpted.measure._result.MeasureResult` (``cells``, no ``layers``,
    ``summary``, ``reasons``). Everything is NaN with ``reason`` when ``net`` is None, and
    NaN with the reason when the POIs are unknown; known-empty POIs give zero counts.
    ``night_pois_<r>`` is NaN with a reason unless at least
    :data:`~cpted.measure._result.MIN_ATTRIBUTE_SHARE` of the venues (:data:`HOURS_CATEGORIES`)
    in the site and its context ring carry ``opening_hours``; ``pois_opening_hours_share``
    gives that share (NaN with no venue, when the night count is a true count). ``attachment``:
    the grid cells' :func:`~cpted.engines.network.nearest_edge` on the site's streets, when known.
    """
    cells = site.grid
    columns = [column_name(c, r) for r in sorted(radii) for c in _MIX_COLUMNS]
    summary = ("pois_800_mean", "mix_d1_800_mean", "mix_entropy_800_mean", "night_pois_800_mean", "pois_opening_hours_share")
    result = MeasureResult.unknown(cells.index, columns, summary)
    if net is None:
        result.missing("activity", reason or "no usable walk network")
        return result
    pois = need(site, "pois", result, what="activity")
    if pois is None:
        return result
    centres = gpd.GeoSeries(gpd.points_from_xy(cells["x"], cells["y"]), index=cells.index, crs=site.crs)
    mix = land_use_mix(centres, pois, site.layer("streets"), net, radii=radii, attachment=attachment)
    venues = pois[pois["category"].isin(HOURS_CATEGORIES)]
    if len(venues):  # with none, nothing could be open at night: the zero count is a fact
        share, hours_known = need_attribute(venues, ["opening_hours"], result, what="night-time POIs",
                                            features="shops and venues", attribute="opening hours")
        result.summary["pois_opening_hours_share"] = share
        if not hours_known:
            mix[[c for c in mix.columns if c.startswith("night_pois_")]] = np.nan
    result.cells = mix
    for key in summary[:-1]:
        result.summary[key] = float(mix[key.removesuffix("_mean")].mean())
    return result
