"""What every measure module returns, and the one way a missing input becomes NaN with a reason.

A layer is *known* (it has features in the site's area), *known empty* (declared surveyed and
empty: no lamps, so no light) or *unknown* (no source, or a source with no feature in the area);
see :meth:`cpted.prepare.site.Site.layer_state`. A measure module starts from a
:class:`MeasureResult` whose values are all NaN (:meth:`MeasureResult.unknown`), asks for each
input with :func:`need` (the layer when known or known empty, else None and the reason recorded)
and fills in what its inputs allow. A measure of an attribute (opening hours, heights) asks
:func:`need_attribute` whether enough features carry it.

Principle modules may import this module; it imports no principle.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd

from cpted.load.schema import empty_layer

__all__ = ["MeasureResult", "need", "need_attribute", "attribute_share", "MIN_ATTRIBUTE_SHARE"]

#: An attribute measure (night-time POIs from opening hours...) needs at least this share of
#: its features to carry the attribute; below it the measure is NaN with the share and a reason.
MIN_ATTRIBUTE_SHARE = 0.5


@dataclass
class MeasureResult:
    """The result of one measure module on a site.

    Attributes
    ----------
    cells
        Columns to join to the site grid (aligned to ``site.grid.index``).
    layers
        Output layers (name -> GeoDataFrame).
    summary
        Site-level values (NaN where unknown).
    reasons
        Why values are NaN, each prefixed with what it concerns (``"lighting: ..."``).
    """

    cells: pd.DataFrame
    layers: dict[str, gpd.GeoDataFrame] = field(default_factory=dict)
    summary: dict[str, object] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)

    @classmethod
    def unknown(cls, index: pd.Index, columns: Iterable[str], summary: Iterable[str], *,
                reason: str | None = None) -> MeasureResult:
        """A result whose every cell column and summary value is NaN (with ``reason`` if given).

        Examples
        --------
        >>> r = MeasureResult.unknown(pd.RangeIndex(2), ["lux"], ["lux_avg"], reason="lighting: no lamps source")
        >>> r.cells["lux"].isna().all(), r.summary, r.reasons
        (np.True_, {'lux_avg': nan}, ['lighting: no lamps source'])
        """
        cells = pd.DataFrame(np.nan, index=index, columns=list(columns))
        return cls(cells=cells, summary=dict.fromkeys(summary, np.nan), reasons=[reason] if reason else [])

    def missing(self, what: str, why: str) -> None:
        """Record that ``what`` is NaN because ``why``."""
        text = f"{what}: {why}"
        if text not in self.reasons:
            self.reasons.append(text)


def need(site, kind: str, result: MeasureResult, *, what: str) -> gpd.GeoDataFrame | None:
    """The layer ``kind`` when known or known empty; else None, with the reason recorded in
    ``result`` under ``what`` (the values that stay NaN).

    Examples
    --------
    >>> from shapely import Point, box
    >>> from cpted.prepare.site import Site
    >>> lamp = gpd.GeoDataFrame(geometry=[Point(5, 5)], crs=2154)
    >>> site = Site.from_layers("s", box(0, 0, 20, 20), crs=2154, layers={"lamps": lamp}, known_empty=["trees"])
    >>> r = MeasureResult.unknown(site.grid.index, [], [])
    >>> len(need(site, "lamps", r, what="lighting")), len(need(site, "trees", r, what="shade"))
    (1, 0)
    >>> need(site, "entrances", r, what="doors"), r.reasons
    (None, ['doors: no entrances source'])
    """
    state, why = site.layer_state(kind)
    if why is not None:
        result.missing(what, why)
        return None
    return site.layers[kind] if kind in site.layers else empty_layer(kind, crs=site.crs)


def attribute_share(layer: gpd.GeoDataFrame, columns: Iterable[str]) -> float:
    """Share of the features of ``layer`` that carry a value in any of ``columns`` (NaN with no feature).

    Examples
    --------
    >>> attribute_share(pd.DataFrame({"opening_hours": ["24/7", None, None, " "]}), ["opening_hours"])
    0.25
    """
    if len(layer) == 0:
        return np.nan
    has = np.zeros(len(layer), dtype=bool)
    for column in columns:
        if column in layer:
            values = layer[column]
            text = values.astype(object).map(lambda v: v.strip() if isinstance(v, str) else v)
            has |= (text.notna() & text.ne("")).to_numpy(dtype=bool)
    return float(has.mean())


def need_attribute(layer: gpd.GeoDataFrame, columns: Iterable[str], result: MeasureResult, *, what: str,
                   features: str, attribute: str, min_share: float = MIN_ATTRIBUTE_SHARE) -> tuple[float, bool]:
    """The share of ``layer``'s features carrying ``columns`` and whether it reaches ``min_share``.

    Below it (or with no feature to judge by), the reason is recorded under ``what``, naming
    the ``features`` and the ``attribute``.

    Examples
    --------
    >>> r = MeasureResult.unknown(pd.RangeIndex(1), [], [])
    >>> need_attribute(pd.DataFrame({"h": [3.0, None, None]}), ["h"], r, what="windows", features="buildings",
    ...                attribute="a height")
    (0.3333333333333333, False)
    >>> r.reasons
    ['windows: only 33% of buildings have a height (needs 50%)']
    """
    share = attribute_share(layer, columns)
    if not share >= min_share:
        why = (f"no {features} to judge by" if np.isnan(share)
               else f"only {share:.0%} of {features} have {attribute} (needs {min_share:.0%})")
        result.missing(what, why)
        return share, False
    return share, True
