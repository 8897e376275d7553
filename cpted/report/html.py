"""The batch overview page ``index.html``: one row per site, completeness at a glance."""

from __future__ import annotations

import datetime as dt
import html
import math
from pathlib import Path

import numpy as np
import pandas as pd

from cpted import __version__
from cpted.atomic import write_text_atomic
from cpted.report.pdf import PRINT_CSS

__all__ = ["write_index"]

_CSS = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#222;max-width:95rem}
td:last-child{min-width:18rem}
table{border-collapse:collapse;width:100%;font-size:.9rem}
th,td{border-bottom:1px solid #ddd;padding:.35rem .5rem;text-align:left;vertical-align:top}
th{background:#f4f4f4} td.num{text-align:right;font-variant-numeric:tabular-nums}
.bar{background:#eee;width:6rem;height:.7rem;display:inline-block;margin-right:.3rem}
.bar span{display:block;height:100%;background:#3a7d44}
.err{color:#a40000} .na{color:#888} footer{margin-top:2rem;font-size:.8rem;color:#555}
""" + PRINT_CSS + """
@page{size:A4 landscape}
@media print{td:last-child{min-width:0;width:22%} table{font-size:7.5pt} .bar{width:2.5rem}}
"""  # the overview's wide table prints across the page
_SHARES = ("network_coverage", "building_completeness")
_SCORES = ("cpted_index", "score_surveillance", "score_territoriality", "score_access_control", "score_maintenance")
#: How each site status (:data:`cpted.pipeline.STATUSES`) reads in the table.
_STATUS = {"ok": "ok", "partial": '<span class="na" title="some principles could not be scored">partial</span>',
           "no_score": '<span class="err" title="no principle could be scored: see the notes">no score</span>',
           "failed": '<span class="err">failed</span>',
           "timed_out": '<span class="err" title="ran past --site-timeout">timed out</span>'}
_COUNTS = ("n_cells", "n_streets", "n_buildings", "n_entrances", "n_barriers", "n_lamps", "n_pois", "n_trees")


def _share(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return '<span class="na">n/a</span>'
    pct = max(0.0, min(1.0, float(value))) * 100
    return f'<span class="bar"><span style="width:{pct:.0f}%"></span></span>{float(value):.2f}'


def _score(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return '<span class="na">n/a</span>'
    return f"{float(value):.0f}"


def _count(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return '<span class="na" title="no source, or none of this kind in its data for the site: unknown, not zero">unknown</span>'
    return f"{int(value):,}"


def _tally(status: pd.Series) -> str:
    """``3 ok, 1 partial, 1 no score, 0 failed``: how many sites have each status."""
    counts = status.value_counts()
    return ", ".join(f"{int(counts.get(k, 0))} {k.replace('_', ' ')}" for k in ("ok", "partial", "no_score", "failed", "timed_out") if k != "timed_out" or counts.get(k, 0))


def _chart(summary: pd.DataFrame) -> str:
    """The principle scores of every site side by side (an embedded PNG), or nothing."""
    ok = summary[summary["status"].isin(("ok", "partial"))] if "status" in summary else summary
    cols = [c for c in _SCORES if c in ok]
    if ok.empty or not cols or not ok[cols].notna().any().any():
        return ""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from cpted.report.site_report import figure_png

    fig, ax = plt.subplots(figsize=(max(6, 1.3 * len(ok)), 3.2))
    width = 0.8 / len(cols)
    x = np.arange(len(ok))
    for k, col in enumerate(cols):
        ax.bar(x + k * width, ok[col].fillna(0).to_numpy(), width, label=col.replace("score_", "").replace("_", " "))
    ax.set_xticks(x + 0.4 - width / 2, ok["site_id"].tolist(), rotation=20, ha="right")
    ax.set_ylim(0, 100)
    ax.set_ylabel("score")
    ax.legend(fontsize=7, ncols=len(cols), loc="upper center", bbox_to_anchor=(0.5, 1.18), frameon=False)
    return f'<img src="{figure_png(fig)}" alt="scores of every site">'


def write_index(summary: pd.DataFrame, path: str | Path, *, title: str = "cpted audit") -> Path:
    """Write the overview page of a batch, atomically.

    Parameters
    ----------
    summary
        The batch summary (as in ``summary.csv``).
    path
        Output HTML file; per-site outputs are linked relative to it.
    title
        Page title.
    """
    head = ["Site", "Status", "Area (ha)", "CPTED index", "Surveillance", "Territoriality", "Access control", "Maintenance",
            "Network coverage", "Buildings vs reference",
            *[c.removeprefix("n_").capitalize() for c in _COUNTS], "Notes"]
    rows = []
    for _, r in summary.iterrows():
        sid = html.escape(str(r["site_id"]))
        name = html.escape(str(r.get("name", sid)))
        approx = " (approximate boundary)" if r.get("approximate_boundary") == True else ""  # noqa: E712 - numpy bools
        if isinstance(r.get("qpv_code"), str) and r.get("qpv_code"):
            approx += f" · QPV {html.escape(r['qpv_code'])}"
        if r["status"] not in ("failed", "timed_out"):
            cells = [f'<a href="{sid}/report.html">{name}</a><br><small>{sid}{approx} · <a href="{sid}/audit.gpkg">audit.gpkg</a></small>',
                     _STATUS.get(r["status"], html.escape(str(r["status"]))), f'{r.get("area_ha", float("nan")):.1f}']
            cells += [_score(r.get(c)) for c in _SCORES]
            cells += [_share(r.get(c)) for c in _SHARES]
            cells += [_count(r.get(c)) for c in _COUNTS]
            cells.append(html.escape("; ".join(str(r.get(k)) for k in ("notes", "score_notes") if r.get(k) and str(r.get(k)) != "nan")))
        else:
            cells = [f"{name}<br><small>{sid}</small>", _STATUS.get(r["status"], _STATUS["failed"]), ""]
            cells += [""] * (len(_SCORES) + len(_SHARES) + len(_COUNTS))
            cells.append(f'<span class="err">{html.escape(str(r.get("error", "")))}</span>')
        classes = ["", "", "num", *["num"] * len(_SCORES), "", "", *["num"] * len(_COUNTS), ""]
        rows.append("<tr>" + "".join(f'<td class="{k}">{c}</td>' for k, c in zip(classes, cells, strict=True)) + "</tr>")
    attributions = sorted(
        {a.strip() for text in summary.get("attribution", pd.Series(dtype=str)).dropna() for a in str(text).split("|") if a.strip()}
    )
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title><style>{_CSS}</style></head>
<body><h1>{html.escape(title)}</h1>
<p>{len(summary)} sites: {_tally(summary["status"])}. Each site links to its report; its layers
are in its <code>audit.gpkg</code>; every figure is also in <a href="summary.csv">summary.csv</a>.
Scores run from 0 to 100 (docs/methods/scores.md); n/a means too few inputs (see the notes). A site is
<i>ok</i> when its CPTED index is scored, <i>partial</i> when only some principles are, <i>no score</i> when none
is (the notes say why), <i>failed</i> when its audit stopped on an error.
Network coverage is the share of open-space cells within 50&nbsp;m of a walkable street;
buildings vs reference compares loaded footprints with an independent building count.</p>
{_chart(summary)}
<table><thead><tr>{"".join(f"<th>{h}</th>" for h in head)}</tr></thead><tbody>
{chr(10).join(rows)}
</tbody></table>
<footer>Generated by cpted {__version__} on {stamp}.<br>Data: {html.escape("; ".join(attributions)) or "no attribution recorded"}.</footer>
</body></html>
"""
    return write_text_atomic(path, page)
