"""Heights and storey counts written as numbers or text, with units and French forms.

Every loader reads heights through this module, so ``"12.5 m"`` in a GeoPackage column, an
OSM ``height`` tag and a BD TOPO ``HAUTEUR`` mean the same thing.

Heights (metres)
    A number, or text: ``"12"``, ``"12 m"``, ``"12.5m"``, ``"12,5"`` (decimal comma),
    ``"12 mètres"``, ``"40 ft"``, ``"40'"``, ``"6'8\\""`` (feet and inches). Feet are
    0.3048 m, inches 0.0254 m.
Storey counts (``levels``)
    A number (``"4"``, ``"4.5"``), or the French form ``R+n`` (*rez-de-chaussée* plus ``n``
    upper storeys): ``"R+4"`` and ``"RDC+4"`` are 5 levels, ``"R"`` and ``"RDC"`` are 1.
    An attic (``"R+4+C"``, ``"R+4+combles"``) is not counted: ``R+4+C`` is 5 levels, as OSM's
    ``building:levels`` leaves roof storeys out (they go to ``roof:levels``), so a height
    from levels is the height to the eaves.
Unreadable
    Anything else (``"tall"``, ``"12 m;15 m"``, ``"R+"``) is unreadable: it gives NaN and a
    row in the issues, never a default.
Implausible
    A height that is not above 0 m or is over :data:`MAX_HEIGHT` (350 m), and a storey count
    that is not above 0 or gives more than :data:`MAX_HEIGHT` at
    :data:`~cpted.config.STOREY_HEIGHT` per storey, becomes unknown (NaN) with an issue.

A building's height then comes from the first known value of the chain (see
:func:`building_heights` and :func:`cpted.prepare.buildings.assign_heights`): its height, its
storeys × :data:`~cpted.config.STOREY_HEIGHT`, the reference (BD TOPO) footprint that overlaps
most, then :data:`~cpted.config.DEFAULT_BUILDING_HEIGHT`; ``height_source`` says which.

Issues travel with the features in the ``height_issue`` column (:data:`ISSUE_COLUMN`, e.g.
``"unreadable height: 'tall'"``) until :func:`cpted.prepare.clean.layer_hygiene` turns them
into the layer's warnings (count and feature ids) and drops the column.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from cpted.config import STOREY_HEIGHT
from cpted.load.values import _missing

__all__ = ["MAX_HEIGHT", "ISSUE_COLUMN", "parse_height", "parse_levels", "read_heights", "read_levels",
           "building_heights"]

#: Heights over this (metres) are implausible: the tallest building in France is ~231 m.
MAX_HEIGHT = 350.0
#: The column that carries each feature's height issue from a loader to the layer's warnings.
ISSUE_COLUMN = "height_issue"

_NUMBER = r"([+-]?(?:[0-9]+(?:[.,][0-9]*)?|[.,][0-9]+))"
_HEIGHT = re.compile(
    rf"^{_NUMBER}\s*(m|metres?|meters?|mètres?|ft|feet|foot|'|′)?$", re.IGNORECASE
)
_FEET_INCHES = re.compile(r"^([0-9]+)\s*['′]\s*([0-9]+(?:[.,][0-9]+)?)\s*(?:\"|″|'')$")
_LEVELS = re.compile(rf"^{_NUMBER}$")
_FRENCH = re.compile(r"^(?:rdc|r)(?:\s*\+\s*([0-9]+))?(?:\s*\+\s*(?:c|combles?))?$", re.IGNORECASE)


def _number(text: str) -> float:
    return float(text.replace(",", "."))


def _scalar(value) -> float | str:
    """NaN for a missing value or a boolean, a float for a number, else the stripped text to parse."""
    if _missing(value) or isinstance(value, bool | np.bool_):
        return np.nan
    if isinstance(value, int | float | np.integer | np.floating):
        return float(value)
    return str(value).strip()


def parse_height(value) -> float:
    """A height in metres from a number or text; NaN when missing or unreadable.

    Plausibility is not checked here (see :func:`read_heights`).

    Examples
    --------
    >>> parse_height("12"), parse_height("12,5"), parse_height("12.5m"), parse_height(" 7 m ")
    (12.0, 12.5, 12.5, 7.0)
    >>> round(parse_height("40 ft"), 3), round(parse_height("40'"), 3), round(parse_height("6'8\\""), 3)
    (12.192, 12.192, 2.032)
    >>> bool(np.isnan(parse_height("tall"))), bool(np.isnan(parse_height(None)))
    (True, True)
    """
    text = _scalar(value)
    if not isinstance(text, str):
        return text
    m = _HEIGHT.match(text)
    if m:
        number = _number(m.group(1))
        unit = (m.group(2) or "m").lower()
        return number * 0.3048 if unit in {"ft", "feet", "foot", "'", "′"} else number
    m = _FEET_INCHES.match(text)
    if m:
        return int(m.group(1)) * 0.3048 + _number(m.group(2)) * 0.0254
    return np.nan


def parse_levels(value) -> float:
    """A storey count from a number or text (``R+4`` = 5, ``RDC`` = 1); NaN when unreadable.

    Examples
    --------
    >>> parse_levels("4"), parse_levels("4.5"), parse_levels("R+4"), parse_levels("RDC")
    (4.0, 4.5, 5.0, 1.0)
    >>> parse_levels("R"), parse_levels("R+4+C"), parse_levels("r + 2 + combles"), parse_levels(3)
    (1.0, 5.0, 3.0, 3.0)
    >>> bool(np.isnan(parse_levels("R+"))), bool(np.isnan(parse_levels("several")))
    (True, True)
    """
    text = _scalar(value)
    if not isinstance(text, str):
        return text
    m = _LEVELS.match(text)
    if m:
        return _number(m.group(1))
    m = _FRENCH.match(text)
    if m:
        return 1.0 + (int(m.group(1)) if m.group(1) else 0)
    return np.nan


def _read(values, parse, limit: float, what: str) -> tuple[pd.Series, pd.Series]:
    """Parse ``values``; return the numbers (NaN when unusable) and each row's issue (or None)."""
    values = pd.Series(values)
    raw = values.to_numpy(dtype=object)
    number = np.array([parse(v) for v in raw], dtype="float64")
    given = np.array([not _missing(v) for v in raw], dtype=bool)
    unreadable = given & np.isnan(number)
    with np.errstate(invalid="ignore"):
        implausible = ~np.isnan(number) & ((number <= 0) | (number > limit))
    issue = np.full(len(raw), None, dtype=object)
    for mask, kind in ((unreadable, "unreadable"), (implausible, "implausible")):
        for i in np.flatnonzero(mask):
            issue[i] = f"{kind} {what}: {str(raw[i])!r}"
    number[implausible] = np.nan
    return pd.Series(number, index=values.index), pd.Series(issue, index=values.index, dtype=object)


def read_heights(values) -> tuple[pd.Series, pd.Series]:
    """Heights in metres from any column; unreadable and implausible values become NaN.

    Returns
    -------
    tuple
        The heights (float Series aligned to ``values``) and the issue of each row (object
        Series: ``"unreadable height: '...'"``, ``"implausible height: '...'"`` or None).

    Examples
    --------
    >>> h, issue = read_heights(pd.Series(["12 m", "tall", -3, None]))
    >>> h.tolist()[:1], issue.tolist()
    ([12.0], [None, "unreadable height: 'tall'", "implausible height: '-3'", None])
    """
    return _read(values, parse_height, MAX_HEIGHT, "height")


def read_levels(values) -> tuple[pd.Series, pd.Series]:
    """Storey counts from any column, as :func:`read_heights` (``R+4`` = 5).

    Examples
    --------
    >>> lv, issue = read_levels(pd.Series(["R+4", "4", "0", "beaucoup"]))
    >>> lv.tolist()[:2], issue.tolist()[2:]
    ([5.0, 4.0], ["implausible levels: '0'", "unreadable levels: 'beaucoup'"])
    """
    return _read(values, parse_levels, MAX_HEIGHT / STOREY_HEIGHT, "levels")


def building_heights(height=None, levels=None, *, index=None, prefix: str = "attribute") -> pd.DataFrame:
    """The first two steps of the height chain: a height, else storeys × ``STOREY_HEIGHT``.

    Parameters
    ----------
    height, levels
        Source values (numbers or text), or None when the source has none.
    index
        The index of the result (the layer's); taken from ``height`` or ``levels`` if None.
    prefix
        Names the source in ``height_source``: ``<prefix>`` for a height (``osm:height``
        for OSM), ``<prefix>:levels`` for storeys.

    Returns
    -------
    pandas.DataFrame
        ``height_m`` (NaN when neither step gives one: the reference and the default come
        later, in :func:`cpted.prepare.buildings.assign_heights`), ``height_source``,
        ``levels`` and ``height_issue`` (``; ``-joined issues of the row, or None).

    Examples
    --------
    >>> out = building_heights(["12,5 m", "haut", None, "-2"], ["R+3", "2", None, None])
    >>> out["height_m"].tolist()[:2], out["height_source"].tolist()
    ([12.5, 6.0], ['attribute', 'attribute:levels', None, None])
    >>> out["height_issue"].tolist()[1::2]
    ["unreadable height: 'haut'", "implausible height: '-2'"]
    """
    if index is None:
        index = next(pd.Series(v).index for v in (height, levels) if v is not None)
    nothing = pd.Series(np.nan, index=index, dtype="float64")
    none = pd.Series(np.full(len(index), None), index=index, dtype=object)
    h, h_issue = read_heights(pd.Series(height).set_axis(index)) if height is not None else (nothing, none)
    lv, lv_issue = read_levels(pd.Series(levels).set_axis(index)) if levels is not None else (nothing, none)
    from_levels = h.isna() & lv.notna()
    height_m = h.where(h.notna(), lv * STOREY_HEIGHT)
    h_name = "osm:height" if prefix == "osm" else prefix
    source = pd.Series(
        np.where(h.notna(), h_name, np.where(from_levels, f"{prefix}:levels", None)), index=index, dtype=object
    )
    issue = pd.Series(
        ["; ".join(i for i in pair if isinstance(i, str)) or None for pair in zip(h_issue, lv_issue, strict=True)],
        index=index, dtype=object,
    )
    return pd.DataFrame(
        {"height_m": height_m.astype("float64"), "height_source": source.where(source.notna(), None),
         "levels": lv.astype("float64"), ISSUE_COLUMN: issue},
        index=index,
    )
