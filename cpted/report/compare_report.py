"""The report of a scenario comparison, ``compare.html``: the scores of both designs and where they change."""

from __future__ import annotations

import datetime as dt
import html
import math
from pathlib import Path

from cpted import __version__
from cpted.atomic import write_text_atomic
from cpted.report.i18n import check_lang, number, tr
from cpted.report.method import PRINCIPLE_LABELS, method_appendix
from cpted.report.pdf import PRINT_CSS, PRINT_SCRIPT

__all__ = ["write_compare_report"]

_CSS = """
body{font-family:system-ui,sans-serif;margin:2rem auto;color:#222;max-width:60rem;line-height:1.45}
h2{border-bottom:2px solid #3a7d44;padding-bottom:.2rem;margin-top:2rem}
table{border-collapse:collapse;margin:.5rem 0} th,td{border-bottom:1px solid #ddd;padding:.25rem .6rem;text-align:left}
td.num{text-align:right;font-variant-numeric:tabular-nums} .na{color:#888} .up{color:#1b6b2a} .down{color:#a40000}
footer{margin-top:2rem;font-size:.85rem;color:#555}
""" + PRINT_CSS
#: The site values the report puts first, with how they read (the rest follow under their column names).
_VALUES = {"cpted_index": "CPTED index", "score_surveillance": PRINCIPLE_LABELS["surveillance"],
           "score_surveillance_night": PRINCIPLE_LABELS["surveillance_night"],
           "score_territoriality": PRINCIPLE_LABELS["territoriality"],
           "score_access_control": PRINCIPLE_LABELS["access_control"],
           "score_maintenance": PRINCIPLE_LABELS["maintenance"],
           "overseen_share": "share of the open space overseen", "lux_avg": "mean illuminance (lx)",
           "ambiguous_share": "share of left-over space"}


def _num(value, lang: str, spec: str = ".2f") -> str:
    if value is None or not math.isfinite(value):
        return f'<span class="na">{tr("n/a", lang)}</span>'
    return number(value, spec, lang)


def _row(key: str, r, lang: str) -> str:
    """One site value: its label (the main ones), its column, both designs and the change."""
    label = html.escape(tr(_VALUES[key], lang)) if key in _VALUES else ""
    delta = r["delta"]
    cls = "" if not math.isfinite(delta) or delta == 0 else (" up" if delta > 0 else " down")
    return (f"<tr><td>{label}</td><td><code>{html.escape(key)}</code></td><td class='num'>{_num(r['baseline'], lang)}</td>"
            f"<td class='num'>{_num(r['proposed'], lang)}</td><td class='num{cls}'>{_num(delta, lang, '+.2f')}</td></tr>")


def _moved(change: str, area: float, lang: str) -> str:
    text = number(area, ",.0f", lang)
    if change == "better":
        return tr("better over {area} m²", lang, area=text)
    return tr("worse over {area} m²", lang, area=text)


def write_compare_report(comparison, path: str | Path, *, lang: str = "en", weights: dict | None = None) -> Path:
    """Write the HTML report of a :class:`~cpted.scenario.Comparison`, atomically.

    It gives the site values of the baseline and the proposed design and their difference (the
    main scores first, then every other value under its column name), the area that got better
    or worse per principle, and the method appendix. Scores are compared over the metrics known
    in both designs.

    Parameters
    ----------
    comparison
        The result of :func:`cpted.scenario.compare` or :func:`~cpted.scenario.compare_designs`.
    path
        The HTML file to write.
    lang
        ``"en"`` or ``"fr"``.
    weights
        The weights the scores used, for the method appendix; the defaults when None.

    Example
    -------
    >>> # write_compare_report(compare("sites.toml", "idn", proposed=[...]), "compare.html", lang="fr")
    """
    check_lang(lang)
    s = comparison.baseline.summary
    site = comparison.site.set_index("value")
    head = "".join(f"<th>{html.escape(tr(h, lang))}</th>" for h in ("value", "column", "baseline", "proposed", "change"))
    main = [_row(k, site.loc[k], lang) for k in _VALUES if k in site.index]
    others = [_row(k, site.loc[k], lang) for k in site.index if k not in _VALUES]
    values = f"<table><tr>{head}</tr>{''.join(main)}</table>"
    if others:
        values += (f"<details><summary>{html.escape(tr('Every other value of the site', lang))}</summary>"
                   f"<table><tr>{head}</tr>{''.join(others)}</table></details>")
    changes = comparison.changes
    if len(changes):
        grouped = changes.groupby(["principle", "change"])["area_m2"].sum()
        items = "".join(
            f"<li>{html.escape(tr(PRINCIPLE_LABELS.get(p, p), lang))}: {html.escape(_moved(c, a, lang))}</li>"
            for (p, c), a in grouped.items())
        moved = f"<ul>{items}</ul>"
    else:
        moved = f"<p>{html.escape(tr('No place changed by 5 points or more.', lang))}</p>"
    name = html.escape(str(s.get("name")))
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    intro = tr("The proposed design is audited on the baseline's cells. Both designs are scored over the metrics known in "
               "both, cell by cell, so a change never sets one set of metrics against another. Positive changes are "
               "improvements for the scores; for the other values, see their meaning in the method below.", lang)
    page = f"""<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8"><title>{tr("Design comparison:", lang)} {name}</title><style>{_CSS}</style>{PRINT_SCRIPT}</head>
<body><h1>{tr("Design comparison:", lang)} <span translate="no">{name}</span></h1>
<p>{tr("Site", lang)} <code>{html.escape(str(s.get('site_id')))}</code>. {html.escape(intro)}</p>
<p>{html.escape(tr("The layers of each design are in baseline/audit.gpkg and proposed/audit.gpkg; the changes cell by cell in compare.gpkg; these values in compare.csv.", lang))}</p>
<h2>{tr("Site values", lang)}</h2>
{values}
<h2>{tr("Where the scores change", lang)}</h2>{moved}
{method_appendix(weights, lang=lang, cell_size=float(s.get('cell_size', 5) or 5))}
<footer>{html.escape(tr("Generated by cpted {version} on {stamp}.", lang, version=__version__, stamp=stamp))}<br>{tr("Data:", lang)}
<span translate="no">{html.escape(str(s.get('attribution') or ''))}</span>{'' if s.get('attribution') else html.escape(tr('no attribution recorded', lang))}.</footer>
</body></html>
"""
    return write_text_atomic(path, page)
