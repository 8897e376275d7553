"""The reports' two languages: English (the source text) and French.

Every string a report shows goes through :func:`tr`. The English text is the key; French
translations live in ``cpted/report/locale/fr_*.toml`` (one flat table per part of the report,
``"English text" = "Texte français"``), merged when first needed. CSV column names are not
translated: they are a stable interface, documented in both languages in docs/data_model.md.

Example
-------
>>> tr("Natural surveillance", "fr")
'Surveillance naturelle'
>>> tr("Natural surveillance", "en")
'Natural surveillance'
"""

from __future__ import annotations

import functools
import html
import re
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

__all__ = ["LANGS", "check_lang", "tr", "tr_phrase", "tr_list", "catalog", "as_html", "split_list", "number"]

#: The languages a report can be written in.
LANGS = ("en", "fr")


def check_lang(lang: str) -> str:
    """``lang`` if it is one of :data:`LANGS`, else an InputError (a ValueError) that names the choices."""
    from cpted.errors import InputError

    if lang not in LANGS:
        msg = f"Unknown report language {lang!r}: choose one of {', '.join(LANGS)} (e.g. --lang fr)."
        raise InputError(msg)
    return lang


@functools.cache
def catalog(lang: str) -> dict[str, str]:
    """All translations into ``lang``, merged from ``locale/<lang>_*.toml`` (empty for English)."""
    merged: dict[str, str] = {}
    for path in sorted((Path(__file__).parent / "locale").glob(f"{lang}_*.toml")):
        with path.open("rb") as f:
            for key, value in tomllib.load(f).items():
                if key in merged and merged[key] != value:
                    msg = f"{path.name}: {key!r} is translated twice, differently ({merged[key]!r} and {value!r})."
                    raise ValueError(msg)
                merged[key] = value
    return merged


def tr(text: str, lang: str = "en", /, **fields) -> str:
    """``text`` in ``lang``, then ``str.format(**fields)`` if fields are given.

    English returns ``text`` itself. A French report with a string missing from the catalog
    keeps the English text; the test suite fails on any such string (tests/test_i18n.py).
    """
    out = text if lang == "en" else catalog(lang).get(text, text)
    return out.format(**fields) if fields else out


_FIELD = re.compile(r"\{(\w+)\}")
_NUMBER = re.compile(r"-?\d+(\.\d+)?%?\Z")


@functools.cache
def _templates(lang: str) -> list[tuple[re.Pattern, str]]:
    """The catalog's keys with ``{fields}`` as anchored patterns, the most literal text first."""
    out = []
    for key, value in catalog(lang).items():
        if not _FIELD.search(key):
            continue
        parts = _FIELD.split(key)  # literal, name, literal, name, ..., literal
        pattern, seen = "", set()
        for i, part in enumerate(parts):
            if i % 2 == 0:  # literal text, with {{ and }} standing for braces as in str.format
                pattern += re.escape(part.replace("{{", "{").replace("}}", "}"))
            else:  # a field; the same field twice is the same text twice
                pattern += f"(?P={part})" if part in seen else f"(?P<{part}>.+?)"
                seen.add(part)
        literal = sum(len(p) for p in parts[::2])
        out.append((literal, re.compile(pattern + r"\Z", re.DOTALL), value))
    return [(pattern, value) for _, pattern, value in sorted(out, key=lambda t: -t[0])]


def tr_phrase(text: str, lang: str = "en") -> str:
    """A phrase the library stored in English (a note, a reason, a driver), in ``lang``.

    The phrase is looked up whole; failing that, it is matched against the catalog's templated
    keys (``"only {share} of {features} have {attribute} (needs {need})"``): the matching key
    with the most literal text wins, and each field it captured is translated in turn (numbers
    and names not in the catalog stay as they are); the translation may also use a field as
    stored, untranslated, as ``{<field>_en}`` (a layer kind in a line of the sites file). The same
    field twice in a key matches the same text twice. A phrase that matches nothing is returned
    unchanged (and tests/test_i18n.py fails on it).

    Example
    -------
    >>> tr_phrase("no lamps source", "fr")
    'aucune source de lampadaires'
    """
    if lang == "en" or not text:
        return text
    table = catalog(lang)
    if text in table:
        return table[text]
    if _NUMBER.match(text):  # a number a template captured: written as the language writes numbers
        return text.replace(".", ",").replace("%", "\u00a0%") if lang == "fr" else text
    for pattern, value in _templates(lang):
        match = pattern.match(text)
        if match:
            fields = match.groupdict()
            return value.format(**{k: tr_phrase(v, lang) for k, v in fields.items()},
                                **{f"{k}_en": v for k, v in fields.items()})
    parts = text.split(", ")  # a list of names (layer kinds): translated when each is known
    if len(parts) > 1 and all(p in table for p in parts):
        return ", ".join(table[p] for p in parts)
    return text


def tr_list(text: str, lang: str = "en", sep: str = "; ") -> str:
    """A ``sep``-joined list of stored English phrases (``drivers``, ``notes``), each in ``lang``.

    Example
    -------
    >>> tr_list("add lighting; mark boundary", "fr")
    'éclairer; marquer la limite'
    """
    if lang == "en" or not text:
        return text
    return sep.join(tr_phrase(part, lang) for part in split_list(text, sep))


def split_list(text: str, sep: str = "; ") -> list[str]:
    """``text`` cut at each ``sep`` outside parentheses (a reason may hold ``; `` in brackets)."""
    parts, depth, start, i = [], 0, 0, 0
    while i < len(text):
        if text[i] in "([":
            depth += 1
        elif text[i] in ")]":
            depth = max(0, depth - 1)
        elif depth == 0 and text.startswith(sep, i):
            parts.append(text[start:i])
            start = i = i + len(sep)
            continue
        i += 1
    return [*parts, text[start:]]


def as_html(text: str) -> str:
    """``text`` escaped for HTML, its `back-quoted` parts (commands, lines of a sites file) as ``<code>``.

    Example
    -------
    >>> as_html("run `cpted fetch` <now>")
    'run <code>cpted fetch</code> &lt;now&gt;'
    """
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text, quote=False))


def number(value: float, spec: str = "g", lang: str = "en") -> str:
    """``format(value, spec)`` written as ``lang`` writes numbers (French: ``1 234,5``).

    Example
    -------
    >>> number(1234.5, ",.1f", "fr"), number(1234.5, ",.1f", "en")
    ('1\u202f234,5', '1,234.5')
    """
    text = format(value, spec)
    return text.replace(",", "\u202f").replace(".", ",") if lang == "fr" else text
