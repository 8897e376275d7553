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
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

__all__ = ["LANGS", "check_lang", "tr", "catalog"]

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
