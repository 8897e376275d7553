"""Scenario comparison: per-cell and site deltas between two audits on the same grid.

Two designs are compared over the same metrics: a metric unknown (NaN) in one design at a cell
is left out of both designs' scores there (:func:`common_scores`), so a delta never sets one
set of metrics against another.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from cpted.score.scores import PRINCIPLES, RULES, score_cells, site_scores

__all__ = ["DELTA_COLUMNS", "common_scores", "cell_deltas", "site_deltas", "changed_places"]

#: Columns compared cell by cell (scores first, then the metrics behind them).
DELTA_COLUMNS = (
    "cpted_index", *(f"score_{p}" for p in PRINCIPLES), "score_surveillance_night",
    "eyes_15", "eyes_43", "lux", "isovist_area", "connectivity", "mix_d1_800", "through_share_800", "escape_routes",
    "ambiguous", "depth_m", "disorder_density",
)


def common_scores(baseline: pd.DataFrame, proposed: pd.DataFrame, *, weights: dict | None = None
                  ) -> tuple[pd.DataFrame, pd.DataFrame, dict, dict]:
    """Both designs scored over the metrics known in both, cell by cell.

    At each cell (matched by ``cell_id``) a metric of :data:`~cpted.score.scores.RULES` enters
    the scores of both designs only when both have a value there. Returns, for the baseline
    and the proposed design, the cell scores (indexed by ``cell_id``, the columns of
    :func:`~cpted.score.scores.score_cells`) and the site scores
    (:func:`~cpted.score.scores.site_scores`).

    Examples
    --------
    >>> a = pd.DataFrame({"cell_id": ["a"], "eyes_43": [3.0], "eyes_15": [2.0], "isovist_area": [5000.0], "lux": [np.nan]})
    >>> b = a.assign(lux=[0.0])   # lux known in one design only: left out of both
    >>> sa, sb, _, _ = common_scores(a, b)
    >>> float(sa["score_surveillance"].iloc[0]), float(sb["score_surveillance"].iloc[0])
    (100.0, 100.0)
    >>> float(sb["score_surveillance_night"].iloc[0])  # and with no light level, no night score
    nan
    """
    b = baseline.set_index("cell_id")
    p = proposed.set_index("cell_id").reindex(b.index)
    known_b, known_p = {}, {}
    for m in RULES:
        if m in b and m in p:
            both = b[m].notna() & p[m].notna()
            known_b[m], known_p[m] = b[m].where(both), p[m].where(both)
    frames = [pd.DataFrame(known_b, index=b.index), pd.DataFrame(known_p, index=b.index)]
    scored = [score_cells(f, weights) for f in frames]
    return scored[0], scored[1], site_scores(frames[0], scored[0]), site_scores(frames[1], scored[1])


def cell_deltas(baseline: gpd.GeoDataFrame, proposed: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Proposed minus baseline for every compared column, on the baseline's cells.

    Both frames must hold the same cells (``cell_id``). Cells the proposed design builds on
    (NaN there, not in the baseline) are flagged ``built_over``.

    Examples
    --------
    >>> from shapely import box
    >>> a = gpd.GeoDataFrame({"cell_id": ["a", "b"], "eyes_43": [0.0, 2.0]}, geometry=[box(0, 0, 5, 5), box(5, 0, 10, 5)], crs=2154)
    >>> b = a.assign(eyes_43=[1.0, np.nan])
    >>> d = cell_deltas(a, b)
    >>> d["delta_eyes_43"].tolist(), d["built_over"].tolist()
    ([1.0, nan], [False, True])
    """
    b = baseline.set_index("cell_id")
    p = proposed.set_index("cell_id").reindex(b.index)
    out = gpd.GeoDataFrame({"cell_id": b.index.to_numpy()}, geometry=b.geometry.values, crs=baseline.crs)
    built = np.zeros(len(b), dtype=bool)
    for col in DELTA_COLUMNS:
        if col in b and col in p:
            out[f"baseline_{col}"] = b[col].to_numpy(dtype=float)
            out[f"proposed_{col}"] = p[col].to_numpy(dtype=float)
            out[f"delta_{col}"] = out[f"proposed_{col}"] - out[f"baseline_{col}"]
    for col in ("isovist_area", "eyes_43"):
        if col in b and col in p:
            built |= b[col].notna().to_numpy() & p[col].isna().to_numpy()
    out["built_over"] = built
    return out


def site_deltas(baseline: dict, proposed: dict) -> pd.DataFrame:
    """Site values of both designs and their difference, one row per numeric value.

    The delta is NaN unless the value is known (not NaN) in both designs.

    Examples
    --------
    >>> site_deltas({"lux_avg": np.nan, "overseen_share": 0.5}, {"lux_avg": 4.0, "overseen_share": 0.75})["delta"].tolist()
    [nan, 0.25]
    """
    rows = []
    for key, before in baseline.items():
        after = proposed.get(key)
        if isinstance(before, int | float | np.number) and isinstance(after, int | float | np.number) and not isinstance(before, bool):
            both = np.isfinite(float(before)) and np.isfinite(float(after))
            rows.append({"value": key, "baseline": float(before), "proposed": float(after),
                         "delta": float(after) - float(before) if both else np.nan})
    return pd.DataFrame(rows, columns=["value", "baseline", "proposed", "delta"])


def changed_places(deltas: gpd.GeoDataFrame, *, threshold: float = 5.0) -> gpd.GeoDataFrame:
    """Places that got better or worse: touching cells whose principle score moved by at least
    ``threshold`` points, merged per principle and direction."""
    frames = []
    for p in (*PRINCIPLES, "surveillance_night"):
        col = f"delta_score_{p}"
        if col not in deltas:
            continue
        for change, mask in (("better", deltas[col] >= threshold), ("worse", deltas[col] <= -threshold)):
            mask = mask.to_numpy()
            if not mask.any():
                continue
            for poly in shapely.get_parts(shapely.union_all(deltas.geometry.values[mask])):
                inside = mask & shapely.within(shapely.centroid(deltas.geometry.values), poly)
                frames.append({"principle": p, "change": change, "area_m2": poly.area, "cells": int(inside.sum()),
                               "mean_delta": float(deltas.loc[inside, col].mean()), "geometry": poly})
    if not frames:
        return gpd.GeoDataFrame({"principle": [], "change": [], "area_m2": [], "cells": [], "mean_delta": []}, geometry=[], crs=deltas.crs)
    return gpd.GeoDataFrame(frames, geometry="geometry", crs=deltas.crs)
