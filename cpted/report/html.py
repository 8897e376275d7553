"""The batch overview page ``index.html``: the sites side by side, readable on a laptop screen.

One row per site (by name) with its status and scores, day and night; a detail row folds the
counts and the notes (``<details>``), so the table fits 1,366 px without horizontal scrolling.
Above it, one small chart per principle compares the sites, "no data" drawn as such.
"""

from __future__ import annotations

import datetime as dt
import html
import math
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd

from cpted import __version__
from cpted.atomic import write_text_atomic
from cpted.report.i18n import as_html, check_lang, number, tr, tr_list, tr_phrase
from cpted.report.method import PRINCIPLE_LABELS
from cpted.report.pdf import PRINT_CSS, PRINT_SCRIPT

__all__ = ["write_index"]

_CSS = """
body{font-family:system-ui,sans-serif;margin:1.5rem;color:#222;max-width:80rem}
table{border-collapse:collapse;width:100%;font-size:.9rem;table-layout:auto}
th,td{border-bottom:1px solid #ddd;padding:.3rem .45rem;text-align:left;vertical-align:top}
td:first-child{overflow-wrap:anywhere;min-width:12rem} tr.detail td{overflow-wrap:anywhere}
th{background:#f4f4f4;font-weight:600} td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tr.detail td{border-bottom:2px solid #ccc;padding-top:0} details summary{cursor:pointer;color:#335;font-size:.85rem}
details ul{margin:.3rem 0;columns:2;font-size:.85rem} .notes{font-size:.85rem;color:#444;margin:.3rem 0}
.bar{background:#eee;width:3.5rem;height:.6rem;display:inline-block;margin-right:.3rem}
.bar span{display:block;height:100%;background:#3a7d44}
.err{color:#a40000} .na{color:#888} footer{margin-top:2rem;font-size:.8rem;color:#555} img{max-width:100%}
""" + PRINT_CSS + """
@page{size:A4 landscape}
@media print{table{font-size:7.5pt} .bar{width:2.5rem}}
"""  # the overview's wide table prints across the page
_SHARES = ("network_coverage", "building_completeness")
#: The score columns of the table and of the charts, in order, with their headings.
_SCORES = {"cpted_index": "CPTED index", "score_surveillance": "Surveillance", "score_surveillance_night": "Night",
           "score_territoriality": "Territoriality", "score_access_control": "Access control",
           "score_maintenance": "Maintenance"}
#: How each site status (:data:`cpted.pipeline.STATUSES`) reads in the table: (class, text, tooltip).
_STATUS = {"ok": ("", "ok", "the CPTED index is scored"),
           "partial": ("na", "partial", "some principles could not be scored"),
           "no_score": ("err", "no score", "no principle could be scored: see the notes"),
           "failed": ("err", "failed", "the audit stopped on an error"),
           "timed_out": ("err", "timed out", "ran past --site-timeout")}
_COUNTS = ("n_cells", "n_streets", "n_buildings", "n_entrances", "n_barriers", "n_lamps", "n_pois", "n_trees")
_COUNT_LABELS = {"n_cells": "grid cells", "n_streets": "streets", "n_buildings": "buildings", "n_entrances": "entrances",
                 "n_barriers": "barriers", "n_lamps": "lamps", "n_pois": "pois", "n_trees": "trees"}


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _share(value, lang: str) -> str:
    if _missing(value):
        return f'<span class="na">{tr("n/a", lang)}</span>'
    pct = max(0.0, min(1.0, float(value))) * 100
    return f'<span class="bar"><span style="width:{pct:.0f}%"></span></span>{number(float(value), ".2f", lang)}'


def _score(value, lang: str) -> str:
    return f'<span class="na">{tr("n/a", lang)}</span>' if _missing(value) else f"{float(value):.0f}"


def _count(value, lang: str) -> str:
    if _missing(value):
        why = tr("no source, or none of this kind in its data for the site: unknown, not zero", lang)
        return f'<span class="na" title="{html.escape(why)}">{tr("unknown", lang)}</span>'
    return number(int(value), ",", lang)


def _status(status: str, lang: str) -> str:
    cls, text, why = _STATUS.get(status, ("err", status, ""))
    return f'<span class="{cls}" title="{html.escape(tr(why, lang))}">{html.escape(tr(text, lang))}</span>'


def _tally(status: pd.Series, lang: str) -> str:
    """``3 ok, 1 partial, 1 no score, 0 failed``: how many sites have each status."""
    counts = status.value_counts()
    return ", ".join(f"{int(counts.get(k, 0))} {tr(_STATUS[k][1], lang)}"
                     for k in ("ok", "partial", "no_score", "failed", "timed_out") if k != "timed_out" or counts.get(k, 0))


def _chart(summary: pd.DataFrame, lang: str) -> str:
    """One small chart per score (the index, each principle, night): a bar per site, by name;
    a site without that score gets a grey hatched bar labelled "no data". An embedded PNG, or
    nothing when no site was audited."""
    audited = summary[~summary["status"].isin(("failed", "timed_out"))] if "status" in summary else summary
    cols = [c for c in _SCORES if c in audited]
    if audited.empty or not cols:
        return ""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    from cpted.report.site_report import figure_png

    names = [textwrap.fill(textwrap.shorten(str(n), 60, placeholder="…"), 32)
             for n in audited.get("name", audited["site_id"]).fillna(audited["site_id"])]
    n = len(audited)
    ncols = 3
    nrows = math.ceil(len(cols) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(12, nrows * (0.9 + 0.36 * n)), sharey=True, squeeze=False)
    no_data = tr("no data", lang)
    drawn_missing = False
    y = np.arange(n)
    for ax, col in zip(axes.flat, cols, strict=False):
        values = pd.to_numeric(audited[col], errors="coerce").to_numpy(dtype=float)
        known = np.isfinite(values)
        ax.barh(y[known], values[known], color=[plt.cm.RdYlGn(v / 100) for v in values[known]], edgecolor="#444", linewidth=0.4)
        for i in np.flatnonzero(known):
            ax.text(min(values[i] + 1.5, 88), i, f"{values[i]:.0f}", va="center", fontsize=8)
        if (~known).any():
            drawn_missing = True
            ax.barh(y[~known], 100, color="#eee", edgecolor="#999", hatch="///", linewidth=0.4)
            for i in np.flatnonzero(~known):
                ax.text(50, i, no_data, va="center", ha="center", fontsize=8, color="#444",
                        bbox={"facecolor": "white", "edgecolor": "none", "pad": 1})
        ax.set_title(tr(PRINCIPLE_LABELS.get(col.removeprefix("score_"), _SCORES[col]), lang), fontsize=10)
        ax.set_xlim(0, 100)
        ax.set_xticks([0, 50, 100])
        ax.tick_params(labelsize=8)
        ax.grid(axis="x", color="#ddd", linewidth=0.5)
        ax.set_axisbelow(True)
    for ax in axes.flat[len(cols):]:
        ax.set_axis_off()
    axes[0, 0].set_yticks(y, names)
    axes[0, 0].invert_yaxis()
    if drawn_missing:  # the colours are the scores themselves; the legend names only the hatched bars
        fig.legend(handles=[Patch(facecolor="#eee", edgecolor="#999", hatch="///", label=no_data)], loc="lower right",
                   bbox_to_anchor=(1, 0), fontsize=8, frameon=False)
    fig.supxlabel(tr("score (0-100)", lang), fontsize=9)
    fig.tight_layout()
    alt = tr("scores of every site, one chart per principle", lang)
    return f'<img src="{figure_png(fig)}" alt="{html.escape(alt)}">'


def _row(r: pd.Series, lang: str) -> str:
    sid = html.escape(str(r["site_id"]))
    name = html.escape(str(r.get("name") if isinstance(r.get("name"), str) else sid))
    status = str(r["status"])
    ncols = 2 + len(_SCORES) + len(_SHARES)
    if status in ("failed", "timed_out"):
        head = f'<td><span translate="no">{name}</span><br><small><code>{sid}</code></small></td><td>{_status(status, lang)}</td>'
        error = f'<span class="err"><code>{html.escape(str(r.get("error", "")))}</code></span>'
        return (f"<tr>{head}{'<td></td>' * (ncols - 2)}</tr>"
                f'<tr class="detail"><td colspan="{ncols}">{error}</td></tr>')
    extra = []
    if r.get("approximate_boundary") == True:  # noqa: E712 - numpy bools
        extra.append(html.escape(tr("approximate boundary", lang)))
    if isinstance(r.get("qpv_code"), str) and r.get("qpv_code"):
        extra.append(f"QPV <code>{html.escape(r['qpv_code'])}</code>")
    area = "" if _missing(r.get("area_ha")) else f"{number(float(r['area_ha']), '.1f', lang)} ha"
    small = " · ".join([area, *extra, f'<a href="{sid}/audit.gpkg">audit.gpkg</a>'])
    cells = [f'<a href="{sid}/report.html" translate="no">{name}</a><br><small>{small}</small>', _status(status, lang)]
    cells += [_score(r.get(c), lang) for c in _SCORES]
    cells += [_share(r.get(c), lang) for c in _SHARES]
    classes = ["", "", *["num"] * (len(_SCORES) + len(_SHARES))]
    main = "<tr>" + "".join(f'<td class="{k}">{c}</td>' for k, c in zip(classes, cells, strict=True)) + "</tr>"
    counts = "".join(f"<li>{html.escape(tr(_COUNT_LABELS[c], lang))}: {_count(r.get(c), lang)}</li>" for c in _COUNTS)
    notes = "; ".join(tr_list(str(r.get(k)), lang) for k in ("notes", "score_notes") if r.get(k) and str(r.get(k)) != "nan")
    notes_html = f'<p class="notes">{as_html(notes)}</p>' if notes else ""
    summary = tr("Data and notes", lang) if notes else tr("Data", lang)
    return (main + f'<tr class="detail"><td colspan="{ncols}"><details><summary>{html.escape(summary)}</summary>'
            f"<ul>{counts}</ul>{notes_html}</details></td></tr>")


def _source_notes(notes, lang: str) -> str:
    """The shared sources' warnings (:class:`cpted.pipeline.SourceNote`), once each, under the
    table (:func:`write_index`)."""
    if not notes:
        return ""
    items = []
    for note in notes:
        sites = (tr("every site", lang) if note.sites is None
                 else f'{tr("sites", lang)} <span translate="no">{html.escape(", ".join(note.sites))}</span>')
        items.append(f"<li>{html.escape(tr_phrase(note.warning, lang))} "
                     f"({html.escape(tr('read by', lang))} {sites})</li>")
    head = html.escape(tr("Notes on the sources shared by the sites (said once here, not under each site):", lang))
    return f'<div class="notes"><p>{head}</p><ul>{"".join(items)}</ul></div>'


def write_index(summary: pd.DataFrame, path: str | Path, *, title: str = "cpted audit", lang: str = "en",
                source_notes: list | None = None) -> Path:
    """Write the overview page of a batch, atomically.

    Parameters
    ----------
    summary
        The batch summary (as in ``summary.csv``).
    path
        Output HTML file; per-site outputs are linked relative to it.
    title
        Page title (as the sites file gives it: not translated).
    lang
        The page's language, ``"en"`` or ``"fr"``.
    source_notes
        The warnings of the sources the sites share, each once with the sites that read it
        (:attr:`cpted.pipeline.BatchResult.source_notes`), listed under the table.

    Example
    -------
    >>> # write_index(batch_result.summary, "out/index.html", lang="fr")
    """
    check_lang(lang)
    head = [tr("Site", lang), tr("Status", lang), *(tr(h, lang) for h in _SCORES.values()),
            tr("Network coverage", lang), tr("Buildings vs reference", lang)]
    rows = [_row(r, lang) for _, r in summary.iterrows()]
    attributions = sorted(
        {a.strip() for text in summary.get("attribution", pd.Series(dtype=str)).dropna() for a in str(text).split("|") if a.strip()}
    )
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    intro = tr(
        "Each site links to its report; its layers are in its audit.gpkg; every figure is also in summary.csv. Scores "
        "run from 0 (poor) to 100 (good); n/a means too few inputs (the notes under each site say why). A site is ok "
        "when its CPTED index is scored, partial when only some principles are, no score when none is, failed when "
        "its audit stopped on an error. Night is natural surveillance after dark. Network coverage is the share of "
        "open-space cells within 50 m of a walkable street; buildings vs reference compares the loaded footprints "
        "with an independent building count.", lang)
    data = (f'<span translate="no">{html.escape("; ".join(attributions))}</span>' if attributions
            else html.escape(tr("no attribution recorded", lang)))
    page = f"""<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>{html.escape(title)}</title><style>{_CSS}</style>{PRINT_SCRIPT}</head>
<body><h1 translate="no">{html.escape(title)}</h1>
<p><b>{html.escape(tr("{n} sites: {tally}.", lang, n=len(summary), tally=_tally(summary["status"], lang)))}</b>
{html.escape(intro)} <a href="summary.csv">summary.csv</a></p>
{_chart(summary, lang)}
<table><thead><tr>{"".join(f"<th>{html.escape(h)}</th>" for h in head)}</tr></thead><tbody>
{chr(10).join(rows)}
</tbody></table>
{_source_notes(source_notes or [], lang)}
<footer>{html.escape(tr("Generated by cpted {version} on {stamp}.", lang, version=__version__, stamp=stamp))}<br>{tr("Data:", lang)} {data}.</footer>
</body></html>
"""
    return write_text_atomic(path, page)
