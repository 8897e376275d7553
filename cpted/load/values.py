"""One reading of tag and attribute values, shared by every loader.

OSM tags (GDAL's OSM driver, ``cpted fetch``), OSMnx GraphML edge attributes and the columns of
plain vector files all reach cpted as text, numbers, booleans, lists (a simplified GraphML edge
merges several ways) or missing values (``None``, ``NaN``, ``pd.NA``: which one depends on the
pandas version and the file format). This module turns each into one normalised value, the same
whatever the source and the pandas version:

=================  ================================  =================================================
tag                normalised value                  read as
=================  ================================  =================================================
tunnel             nullable boolean                  True: yes, true, 1, building_passage, culvert,
                                                     flooded, avalanche_protector; False: no, false, 0
bridge             nullable boolean                  True: yes, true, 1, viaduct, boardwalk, aqueduct,
                                                     movable, cantilever, covered, trestle,
                                                     suspension, low_water_crossing, simple_brunnel;
                                                     False: no, false, 0
covered            nullable boolean                  True: yes, true, 1, arcade, colonnade, roof,
                                                     pergola, awning, canopy, booth;
                                                     False: no, false, 0
lit                nullable boolean                  True: yes, true, 1, 24/7, automatic, limited,
                                                     interval, sunset-sunrise, dusk-dawn and hour
                                                     ranges such as ``18:00-24:00`` (lit part of the
                                                     night counts as lit); False: no, false, 0,
                                                     disused, off
access, foot       text from :data:`ACCESS_VALUES`   lower case; yes / true / 1 / public -> ``yes``,
                                                     no / false / 0 -> ``no``; ``unknown`` -> missing
oneway             text: yes, no, -1, reversible,    true / 1 -> ``yes``, false / 0 -> ``no``,
                   alternating                       reverse -> ``-1``
steps              ``walk_kind == "steps"``          from ``highway=steps`` (no tag of its own)
entrance           text (the ``entrance=*`` kind)    kept as written; ``no`` is no entrance
barrier            text from ``config.BARRIER_KINDS``  others become ``other``; ``no`` is no barrier
opening_hours      text                              kept as written (trimmed); never NaN-as-text
=================  ================================  =================================================

A **missing** value (no tag, an empty string, ``None``, ``NaN``, ``pd.NA``) is *unknown*: ``<NA>``
in a nullable ``"boolean"`` column, ``None`` in a text column; never False and never True. A value
that is present but cannot be read (``lit=maybe``, ``tunnel=yes;no``) is unknown too, and it is
**reported**: each reader returns the unreadable values with their feature ids, and the loaders
warn with :class:`UnreadableValueWarning` naming the layer, the tag, the values and the ids.

A list (one simplified GraphML edge made of several ways) reads as True when any of its
values reads True (part of the edge is a tunnel / bridge / lit), else False when any reads
False, else unknown; for access / foot the most restrictive of ``no`` and ``private`` wins,
else the first value read.
"""

from __future__ import annotations

import ast
import re
import warnings
from typing import NamedTuple

import numpy as np
import pandas as pd

__all__ = [
    "FLAG_TAGS",
    "ACCESS_VALUES",
    "ONEWAY_VALUES",
    "Reading",
    "UnreadableValueWarning",
    "read_flags",
    "read_categories",
    "read_text",
    "known_true",
    "unreadable_message",
    "warn_unreadable",
]

_YES = frozenset({"yes", "true", "1"})
_NO = frozenset({"no", "false", "0"})

#: Tag -> (values read as True, values read as False). Missing values are unknown.
FLAG_TAGS: dict[str, tuple[frozenset, frozenset]] = {
    "tunnel": (_YES | {"building_passage", "culvert", "flooded", "avalanche_protector"}, _NO),
    "bridge": (
        _YES | {"viaduct", "boardwalk", "aqueduct", "movable", "cantilever", "covered", "trestle",
                "suspension", "low_water_crossing", "simple_brunnel"},
        _NO,
    ),
    "covered": (_YES | {"arcade", "colonnade", "roof", "pergola", "awning", "canopy", "booth"}, _NO),
    "lit": (
        _YES | {"24/7", "automatic", "limited", "interval", "sunset-sunrise", "dusk-dawn"},
        _NO | {"disused", "off"},
    ),
}
# lit=18:00-24:00, lit=sunset-23:00, lit=Mo-Su 18:00-01:00: lit part of the night
_HOURS = re.compile(r"^(?:[a-z ,-]*\s)?(?:\d{1,2}:\d{2}|sunset|dusk)\s*-\s*(?:\d{1,2}:\d{2}|sunrise|dawn)"
                    r"(?:\s*[,;]\s*.*)?$")

#: The access / foot values cpted knows (OSM's documented ones), after normalisation.
ACCESS_VALUES: frozenset = frozenset({
    "yes", "no", "private", "permissive", "designated", "destination", "customers", "residents",
    "delivery", "agricultural", "forestry", "discouraged", "use_sidepath", "optional_sidepath",
    "permit", "official", "emergency", "military", "psv", "service", "restricted",
})
_ACCESS_ALIASES = {"true": "yes", "1": "yes", "public": "yes", "false": "no", "0": "no"}
#: The oneway values, after normalisation.
ONEWAY_VALUES: frozenset = frozenset({"yes", "no", "-1", "reversible", "alternating"})
_ONEWAY_ALIASES = {"true": "yes", "1": "yes", "false": "no", "0": "no", "reverse": "-1"}
_RESTRICTIVE = ("no", "private")
_UNREADABLE = object()


class UnreadableValueWarning(UserWarning):
    """A tag or attribute value that cpted cannot read; it counts as unknown."""


class Reading(NamedTuple):
    """The normalised values (aligned to the input) and the raw values that could not be read.

    ``unreadable`` is indexed by feature id (the ``ids`` given, else the input's index).
    """

    values: pd.Series
    unreadable: pd.Series


def _missing(value) -> bool:
    """None, NA, NaN or blank text: no value (shared by the readers of :mod:`cpted.load.heights`)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float | np.floating):
        return bool(np.isnan(value))
    return isinstance(value, str) and not value.strip()


def _items(value) -> list | None:
    """The values of a list (or of its text form ``"['yes', 'no']"`` in GraphML), else None."""
    if isinstance(value, list | tuple | np.ndarray):
        return list(value)
    if isinstance(value, str) and value.startswith("[") and value.endswith("]"):
        try:
            parsed = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            return None
        return list(parsed) if isinstance(parsed, list) else None
    return None


def _flag(value, key: str):
    """True / False / None (missing), or _UNREADABLE."""
    if _missing(value):
        return None
    items = _items(value)
    if items is not None:
        read = [_flag(v, key) for v in items]
        if True in read:
            return True
        if False in read:
            return False
        return _UNREADABLE if any(r is _UNREADABLE for r in read) else None
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | float | np.integer | np.floating):
        return {1: True, 0: False}.get(float(value), _UNREADABLE)
    text = str(value).strip().lower()
    true, false = FLAG_TAGS.get(key, (_YES, _NO))
    if text in true:
        return True
    if text in false:
        return False
    if key == "lit" and _HOURS.match(text):
        return True
    return _UNREADABLE


def _category(value, aliases: dict, known: frozenset, restrictive: tuple = ()):
    if _missing(value):
        return None
    items = _items(value)
    if items is not None:
        read = [_category(v, aliases, known, restrictive) for v in items]
        for r in restrictive:
            if r in read:
                return r
        ok = [r for r in read if r is not None and r is not _UNREADABLE]
        if ok:
            return ok[0]
        return _UNREADABLE if any(r is _UNREADABLE for r in read) else None
    if isinstance(value, bool | np.bool_):
        value = "yes" if value else "no"
    elif isinstance(value, int | float | np.integer | np.floating):
        value = f"{value:g}"
    text = str(value).strip().lower()
    if text == "unknown":
        return None
    text = aliases.get(text, text)
    return text if text in known else _UNREADABLE


def _as_series(values, ids) -> tuple[pd.Series, pd.Index]:
    values = values if isinstance(values, pd.Series) else pd.Series(list(values), dtype=object)
    ids = values.index if ids is None else pd.Index(ids)
    return values, ids


def _split(values: pd.Series, ids: pd.Index, read: list) -> tuple[list, pd.Series]:
    bad = np.array([r is _UNREADABLE for r in read], dtype=bool)
    raw = values.astype(object).to_numpy()
    unreadable = pd.Series(raw[bad], index=ids[bad], dtype=object)
    return [None if r is _UNREADABLE else r for r in read], unreadable


def read_flags(values, key: str, *, ids=None) -> Reading:
    """Read a yes/no tag or attribute (tunnel, bridge, covered, lit...) into a nullable boolean.

    Parameters
    ----------
    values
        A Series (or any sequence) of raw values: text, booleans, 0/1 numbers, lists, missing.
    key
        The tag, which selects its extra values (:data:`FLAG_TAGS`); other keys read yes / no /
        true / false / 1 / 0 only.
    ids
        Feature ids for the report of unreadable values (default: the index of ``values``).

    Returns
    -------
    Reading
        ``values``: pandas ``"boolean"`` Series aligned to the input (``<NA>`` = unknown);
        ``unreadable``: the raw values that could not be read, by feature id.

    Examples
    --------
    >>> r = read_flags(pd.Series(["yes", "building_passage", "no", None, float("nan"), "maybe"]), "tunnel")
    >>> r.values.tolist()
    [True, True, False, <NA>, <NA>, <NA>]
    >>> r.unreadable.to_dict()
    {5: 'maybe'}
    >>> read_flags([True, 0, "24/7", "18:00-24:00", "disused"], "lit").values.tolist()
    [True, False, True, True, False]
    """
    values, ids = _as_series(values, ids)
    read, unreadable = _split(values, ids, [_flag(v, key) for v in values.astype(object).to_numpy()])
    out = pd.Series(pd.array(read, dtype="boolean"), index=values.index, name=values.name)
    return Reading(out, unreadable)


def read_categories(values, key: str, *, ids=None) -> Reading:
    """Read ``access``, ``foot`` or ``oneway`` into normalised text (``None`` = unknown).

    Examples
    --------
    >>> r = read_categories(pd.Series(["Private", "public", "['yes', 'no']", None, "sometimes"]), "access")
    >>> r.values.tolist(), r.unreadable.to_dict()
    (['private', 'yes', 'no', None, None], {4: 'sometimes'})
    >>> read_categories(["true", "-1", "reverse", "reversible"], "oneway").values.tolist()
    ['yes', '-1', '-1', 'reversible']
    """
    if key in {"access", "foot"}:
        aliases, known, restrictive = _ACCESS_ALIASES, ACCESS_VALUES, _RESTRICTIVE
    elif key == "oneway":
        aliases, known, restrictive = _ONEWAY_ALIASES, ONEWAY_VALUES, ()
    else:
        msg = f"no category reading for tag {key!r}; use access, foot or oneway"
        raise ValueError(msg)
    values, ids = _as_series(values, ids)
    raw = values.astype(object).to_numpy()
    read, unreadable = _split(values, ids, [_category(v, aliases, known, restrictive) for v in raw])
    return Reading(pd.Series(read, index=values.index, name=values.name, dtype=object), unreadable)


def read_text(values) -> pd.Series:
    """Free text (opening_hours, names, entrance kinds): trimmed ``str``, or ``None`` when missing.

    Never the text ``"nan"``, whatever the pandas version or the column's dtype. A list keeps
    its first value.

    Examples
    --------
    >>> read_text(pd.Series([" Mo-Fr 09:00-18:00 ", None, float("nan"), "", ["24/7", "off"]])).tolist()
    ['Mo-Fr 09:00-18:00', None, None, None, '24/7']
    """
    values = values if isinstance(values, pd.Series) else pd.Series(list(values), dtype=object)

    def one(v):
        if isinstance(v, list | tuple | np.ndarray):
            v = next((x for x in v if not _missing(x)), None)
        return None if _missing(v) else str(v).strip()

    return pd.Series([one(v) for v in values.astype(object).to_numpy()], index=values.index,
                     name=values.name, dtype=object)


def known_true(flags, key: str = "") -> np.ndarray:
    """Where a flag is known to be True (unknown counts as not known): a numpy bool array.

    ``flags`` may be booleans, a nullable ``"boolean"`` column or raw values, read as
    :func:`read_flags` reads the tag ``key``.

    Examples
    --------
    >>> known_true(pd.array([True, None, False], dtype="boolean")).tolist()
    [True, False, False]
    >>> known_true(["building_passage", None, "no"], "tunnel").tolist()
    [True, False, False]
    """
    values = flags if isinstance(flags, pd.Series) else pd.Series(list(flags), dtype=object)
    if values.dtype == bool:
        return values.to_numpy(dtype=bool)
    if values.dtype != "boolean":
        values = read_flags(values, key).values
    return values.fillna(False).to_numpy(dtype=bool)


def unreadable_message(unreadable: dict, *, layer: str, most: int = 5) -> str | None:
    """One sentence on the unreadable values of a layer (None when there are none).

    Parameters
    ----------
    unreadable
        Tag -> Series of raw values by feature id (:attr:`Reading.unreadable`).
    layer
        How to name the layer.

    Examples
    --------
    >>> unreadable_message({"lit": pd.Series(["maybe", "half"], index=["way 1", "way 2"])}, layer="streets")
    "layer 'streets': 2 value(s) could not be read and count as unknown: lit='half' (way 2), lit='maybe' (way 1); fix..."
    """
    parts, n = [], 0
    for key, bad in unreadable.items():
        if bad is None or bad.empty:
            continue
        n += len(bad)
        for value, ids in bad.groupby(bad.astype(str), sort=True).groups.items():
            more = f" and {len(ids) - most} more" if len(ids) > most else ""
            parts.append(f"{key}={value!r} ({', '.join(map(str, list(ids)[:most]))}{more})")
    if not n:
        return None
    return (f"layer {layer!r}: {n} value(s) could not be read and count as unknown: {', '.join(parts)}; "
            f"fix the tags, or see docs/data_model.md for the values cpted reads")


def warn_unreadable(unreadable: dict, *, layer: str, stacklevel: int = 3) -> None:
    """Warn (:class:`UnreadableValueWarning`) with :func:`unreadable_message`, if any value was unreadable."""
    message = unreadable_message(unreadable, layer=layer)
    if message:
        warnings.warn(message, UnreadableValueWarning, stacklevel=stacklevel)
