"""Angular segment analysis (space syntax) on a street network: node count, total depth, choice, NACH and NAIN.

Definitions follow depthmapX's segment analysis (Turner 2007, From axial to road-centre lines, EPB 34(3);
Hillier, Yang & Turner 2012, Normalising least angle choice in Depthmap, JOSS 3(2)):

- a walker leaves a segment by the end it walks towards; turning onto the next segment costs the turn angle / 90°
  (0 straight on, 1 at a right angle, 2 for a U-turn), rounded to 2^-24 (:data:`COST_QUANTUM`) so that path costs
  add exactly and equal-cost paths tie;
- a search from a segment is bounded by a metric radius r: the length of the least-angle path, midpoint to
  midpoint, stays ≤ r (``math.inf``, radius n, bounds nothing); each radius has its own search;
- node count NC: the segments reached, the segment itself included; total depth TD: the sum of their least costs;
- choice CH: the least-angle paths between pairs of segments through a segment, ties split equally among
  equal-cost paths. ``pairs="ordered"`` counts both directions of every pair (depthmapX's convention, on which
  NACH was calibrated); ``"unordered"`` counts each pair once (half of the ordered count);
- NACH = log(CH + 1) / log(TD + 3) with ordered choice; NAIN = NC^1.2 / (TD + 2).

depthmapX's tulip analysis rounds each turn cost down to one of ``tulip_bins / 2 + 1`` bins over 180°;
``tulip_bins`` reproduces it (its total depth, to float rounding), for comparisons with published values.
Its choice differs where several least-angle paths tie: depthmapX follows one of them, cpted splits the pair
among all of them.
"""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd

from cpted.config import column_name
from cpted.engines.network import RADII, Network, chunks
from cpted.errors import InputError

__all__ = ["segment_centrality", "PAIRS"]

#: The conventions of choice: both directions of a pair (depthmapX) or each pair once.
PAIRS = ("ordered", "unordered")


def _turns(streets: gpd.GeoDataFrame, net: Network) -> tuple[np.ndarray, ...]:
    """The arcs of the directed segment graph (segment i traversed first to last point: node 2i; reversed: 2i + 1).

    Returns (tails, heads, turn angle / 90°, metric length: half of each segment).
    """
    geoms = streets.geometry.values
    ok = np.flatnonzero(np.isfinite(net.edge_length))
    seg_len = net.edge_length
    ends = np.concatenate([net.edges[ok, 0], net.edges[ok, 1]])
    seg = np.concatenate([ok, ok])
    at_first = np.concatenate([np.ones(len(ok), bool), np.zeros(len(ok), bool)])
    # direction leaving each end along the segment
    first_dir = np.array([np.subtract(*np.asarray(geoms[i].coords)[[1, 0]]) for i in ok]).reshape(-1, 2)
    last_dir = np.array([np.subtract(*np.asarray(geoms[i].coords)[[-2, -1]]) for i in ok]).reshape(-1, 2)
    leave = np.concatenate([first_dir, last_dir])
    norm = np.linalg.norm(leave, axis=1)
    by_node = np.argsort(ends, kind="stable")
    bounds = np.flatnonzero(np.diff(ends[by_node])) + 1
    tails, heads, cosv = [], [], []
    for group in np.split(by_node, bounds):
        if len(group) < 2:
            continue
        a, b = np.meshgrid(group, group, indexing="ij")
        keep = seg[a] != seg[b]
        a, b = a[keep], b[keep]
        tails.append(2 * seg[a] + at_first[a])  # arriving at this end along segment a
        heads.append(2 * seg[b] + ~at_first[b])  # leaving along segment b
        cosv.append(-np.einsum("ij,ij->i", leave[a], leave[b]) / (norm[a] * norm[b]))  # the way in is -leave[a]
    if not tails:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0), np.zeros(0)
    tails, heads, cosv = np.concatenate(tails), np.concatenate(heads), np.concatenate(cosv)
    angle = np.degrees(np.arccos(np.clip(cosv, -1.0, 1.0))) / 90.0
    length = (seg_len[tails >> 1] + seg_len[heads >> 1]) / 2.0
    return tails.astype(np.int64), heads.astype(np.int64), angle, length


#: Exact turn costs are rounded to multiples of this (in units of 90°: 5e-6 degree), so that path costs add up exactly
#: in floating point: two paths whose turns are equal tie whatever the order of their turns and the rounding of each.
COST_QUANTUM = 2.0**-24


def _binned(angle: np.ndarray, tulip_bins: int) -> tuple[np.ndarray, float]:
    """depthmapX's tulip costs: integer bins (floor of angle/90° × (bins/2 + 1) / 2, in single precision as
    depthmapX computes it) and the divisor turning their sum back into units of 90°."""
    half = tulip_bins // 2 + 1
    scaled = np.float32(angle.astype(np.float32) * np.float32(half)).astype(np.float64) * 0.5
    return np.floor(scaled), (half - 1) * 0.5


def _csr(n: int, tails: np.ndarray, heads: np.ndarray, cost: np.ndarray, length: np.ndarray):
    order = np.lexsort((heads, tails))
    indptr = np.concatenate([[0], np.cumsum(np.bincount(tails, minlength=n))]).astype(np.int64)
    return (indptr, np.ascontiguousarray(heads[order]), np.ascontiguousarray(cost[order]),
            np.ascontiguousarray(length[order]))


def _run(streets, net, radii, rows, tulip_bins, *, contract=True):
    """(reach, depth, ordered choice, depth divisor) from ``rows`` at ``radii``; ``contract=False`` searches the
    uncontracted directed segment graph (:mod:`cpted.engines._angular`, the reference the contracted search is
    tested against)."""
    from cpted.engines import _angular, _angular_chains

    m = len(streets)
    tails, heads, angle, length = _turns(streets, net)
    if tulip_bins is None:
        cost, scale = np.round(angle / COST_QUANTUM) * COST_QUANTUM, 1.0
    else:
        cost, scale = _binned(angle, int(tulip_bins))
    if not contract:
        n_buckets = 0 if tulip_bins is None else int(cost.max(initial=0.0)) + 1
        indptr, nbr, cost_f, len_f = _csr(2 * m, tails, heads, cost, length)
        rindptr, rnbr, cost_r, len_r = _csr(2 * m, heads, tails, cost, length)
        out = _angular.angular(m, indptr, nbr, cost_f, len_f, rindptr, rnbr, cost_r, len_r, radii, rows,
                               chunks(len(rows)), n_buckets)
        return (*out, scale)
    graph, new_id = _angular_chains.contract(m, tails, heads, cost, length)
    # the bucket queue spans the largest arc of the contracted graph (a chain's total cost)
    n_buckets = 0 if tulip_bins is None else int(graph[2].max(initial=0.0)) + 1
    reach, depth, choice = _angular_chains.angular(m, *graph, radii, new_id[rows], chunks(len(rows)), n_buckets)
    return reach, depth, choice[new_id], scale


def segment_centrality(streets: gpd.GeoDataFrame, net: Network, *, radii=RADII, sources=None,
                       pairs: str = "ordered", tulip_bins: int | None = None) -> pd.DataFrame:
    """Angular segment analysis (depthmapX's conventions) of every street row.

    Parameters
    ----------
    streets
        The noded streets layer the network was built from (row i is edge i).
    net
        Its :class:`~cpted.engines.network.Network` (:func:`~cpted.engines.network.network_from_streets`).
    radii
        Metric radii in metres; ``math.inf`` is radius n (the whole network). Each radius is searched alone:
        its values never depend on the other radii requested.
    sources
        Street rows to analyse (NC, TD, NAIN); choice then counts only paths from them. All by default.
    pairs
        ``"ordered"`` (default): choice counts both directions of each pair, as depthmapX does and as NACH was
        calibrated; ``"unordered"``: each pair once (half the ordered count). NACH always uses ordered choice.
    tulip_bins
        None (default) for exact turn costs; an even number (depthmapX uses 1024) to round turn costs into
        depthmapX's tulip bins and reproduce its values. Integer costs are searched with a bucket queue.

    Returns
    -------
    pandas.DataFrame
        Indexed like ``streets``, per radius r (``inf`` for radius n): ``angular_reach_<r>`` (NC, the segment
        itself included), ``angular_depth_<r>`` (TD, in units of 90°), ``angular_choice_ordered_<r>`` or
        ``angular_choice_unordered_<r>`` (CH, by ``pairs``), ``nach_<r>`` and ``nain_<r>``. Rows without a usable
        geometry are NaN.

    Examples
    --------
    >>> from shapely import LineString
    >>> from cpted.engines.network import network_from_streets
    >>> from cpted.prepare.network import node_streets
    >>> s = node_streets(gpd.GeoDataFrame({"walk_kind": ["street"] * 3}, crs=2154, geometry=[
    ...     LineString([(0, 0), (100, 0)]), LineString([(100, 0), (200, 0)]), LineString([(200, 0), (200, 100)])]))
    >>> a = segment_centrality(s, network_from_streets(s), radii=[math.inf])
    >>> a[["angular_reach_inf", "angular_depth_inf", "angular_choice_ordered_inf"]].values.tolist()
    [[3.0, 1.0, 0.0], [3.0, 1.0, 2.0], [3.0, 2.0, 0.0]]
    """
    if pairs not in PAIRS:
        msg = f"pairs={pairs!r}: choose 'ordered' (both directions of a pair, depthmapX's) or 'unordered'"
        raise InputError(msg)
    if tulip_bins is not None and (int(tulip_bins) != tulip_bins or tulip_bins < 2 or tulip_bins % 2):
        msg = f"tulip_bins={tulip_bins!r}: give an even number of bins over 360° (depthmapX uses 1024), or None"
        raise InputError(msg)
    radii = np.asarray([float(r) if r is not None else math.inf for r in radii], dtype=float)
    if radii.size == 0 or not (radii > 0).all():  # NaN fails too
        msg = f"radii must be positive metres (math.inf for radius n), got {list(radii)}"
        raise InputError(msg)
    m = len(streets)
    ok = np.isfinite(net.edge_length)
    rows = np.flatnonzero(ok) if sources is None else np.asarray(sources, dtype=np.int64)
    reach, depth, choice, scale = _run(streets, net, radii, rows, tulip_bins)
    table = {}
    for j, r in enumerate(radii):
        nc = np.full(m, np.nan)
        td = np.full(m, np.nan)
        nc[rows] = reach[:, j]
        td[rows] = depth[:, j] / scale
        ordered = np.where(ok, choice[:, j], np.nan)
        table[column_name("angular_reach", r)] = nc
        table[column_name("angular_depth", r)] = td
        table[column_name(f"angular_choice_{pairs}", r)] = ordered if pairs == "ordered" else ordered / 2.0
        table[column_name("nach", r)] = np.log(ordered + 1.0) / np.log(td + 3.0)
        table[column_name("nain", r)] = nc**1.2 / (td + 2.0)
    return pd.DataFrame(table, index=streets.index)
