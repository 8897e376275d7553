"""The per-site report: one self-contained HTML file (figures embedded), readable offline."""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
import math
from pathlib import Path

import numpy as np

from cpted import __version__
from cpted.atomic import write_text_atomic
from cpted.load.schema import LAYER_KINDS
from cpted.report.i18n import tr
from cpted.report.interactive import interactive_map
from cpted.report.maps import TABLE_PLACES, maps_html, site_maps
from cpted.report.pdf import PRINT_CSS
from cpted.score.scores import PLACE_MAX_AREA, PRINCIPLES, RULES, STREET_NAME_REACH

__all__ = ["write_site_report", "figure_png", "score_chart"]

_LABELS = {"surveillance": "Natural surveillance", "territoriality": "Territoriality",
           "access_control": "Access control", "maintenance": "Maintenance / image",
           "surveillance_night": "Surveillance at night"}
_CSS = """
body{font-family:system-ui,sans-serif;margin:2rem auto;color:#222;max-width:70rem;line-height:1.45}
h1{margin-bottom:.2rem} h2{border-bottom:2px solid #3a7d44;padding-bottom:.2rem;margin-top:2rem}
table{border-collapse:collapse;margin:.5rem 0} th,td{border-bottom:1px solid #ddd;padding:.25rem .6rem;text-align:left}
td.num{text-align:right;font-variant-numeric:tabular-nums}
figure{margin:0} figcaption{font-size:.85rem;color:#555} img{max-width:100%} .na{color:#888}
.maps figure{margin:1.2rem 0} .maps img{display:block;width:100%;height:auto}
.maps .unscored{border-left:4px solid #bdbdbd;padding:.4rem .8rem;background:#f7f7f7}
footer{margin-top:2rem;font-size:.85rem;color:#555}
""" + PRINT_CSS
_SOURCES = [
    "Benedikt (1979), To take hold of space: isovists and isovist fields, EPB 6:47-65",
    "Turner, Doxa, O'Sullivan & Penn (2001), From isovists to visibility graphs, EPB 28:103-121",
    "Desyllas, Connoly & Hebbert (2003), Modelling natural surveillance, EPB 30(5)",
    "van Asten et al. (2023), Eyes on the Street, TU Delft (15 m / 43 m)",
    "EN 13201-2 (road lighting, P-classes); Chalfin et al. (2022), J. Quant. Criminol. 38:127-157",
    "Newman (1972), Defensible Space; Shu (2000), Urban Design International",
    "Hillier, Yang & Turner (2012), Normalising least angle choice in Depthmap, JOSS 3(2)",
    "Davies & Johnson (2015), J. Quant. Criminol. 31:481-507; Johnson & Bowers (2010), J. Quant. Criminol. 26:89-111",
    "Jost (2006), Oikos 113:363 (Hill numbers); Jacobs (1961)",
    "Wilson & Kelling (1982), Broken windows; O'Brien & Sampson (2015), JRCD 52(4); METRAC (1989)",
]


#: What each site status (:data:`cpted.pipeline.STATUSES`) means, as the report says it.
_STATUS_TEXT = {"ok": "ok: the CPTED index is scored.",
                "partial": "partial: some principles could not be scored (see the notes below the chart).",
                "no_score": "no score: no principle could be scored from the data given (see the notes below the chart)."}


def figure_png(fig) -> str:
    """A matplotlib figure as a data: URI (base64 PNG), then closed."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def score_chart(summary: dict) -> str:
    """A bar chart of the principle scores (day, and surveillance at night)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = [*PRINCIPLES, "surveillance_night"]
    values = [summary.get(f"score_{k}", np.nan) for k in keys]
    fig, ax = plt.subplots(figsize=(6.2, 2.8))
    colors = ["#bbb" if not np.isfinite(v) else plt.cm.RdYlGn(v / 100) for v in values]
    ax.barh([_LABELS[k] for k in keys], [0 if not np.isfinite(v) else v for v in values], color=colors)
    for i, v in enumerate(values):
        ax.text(2 if not np.isfinite(v) else v + 1, i, "n/a" if not np.isfinite(v) else f"{v:.0f}", va="center")
    ax.set_xlim(0, 105)
    ax.invert_yaxis()
    ax.set_xlabel("score (0-100)")
    index = summary.get("cpted_index", np.nan)
    ax.set_title("CPTED index: " + ("n/a" if not np.isfinite(index) else f"{index:.0f}"))
    return figure_png(fig)


def _fmt(value, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return '<span class="na">n/a</span>'
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return html.escape(str(value))


def _table(rows: list[tuple[str, object]]) -> str:
    body = "".join(f"<tr><th>{html.escape(k)}</th><td class='num'>{_fmt(v)}</td></tr>" for k, v in rows)
    return f"<table>{body}</table>"


def _qpv(s) -> str:
    """The site's priority neighbourhood (QPV), when the sites file carries it."""
    code, name = (str(s.get(k) or "") for k in ("qpv_code", "qpv_name"))
    if not code or code == "nan":
        return ""
    return f" Priority neighbourhood (QPV) <code>{html.escape(code)}</code> {html.escape(name if name != 'nan' else '')}."


def write_site_report(result, path: str | Path, *, lang: str = "en") -> Path:
    """Write ``report.html`` for one audited site: maps of each principle's score and of the
    problem places, a chart of the scores, the data-completeness table, the drivers, the method,
    the sources and the data attribution. Every figure is embedded: the file opens offline."""
    s = result.summary
    places = result.layers.get("problem_places")
    if places is not None:
        places = places.head(TABLE_PLACES)  # the places of the table, numbered alike on the maps
    figures = maps_html(site_maps(result, places=places, lang=lang))  # the maps in lang; the rest: i18n branch
    completeness = [(f"features: {k}", s.get(f"n_{k}")) for k in LAYER_KINDS]
    completeness += [("unknown layers (values NaN)", s.get("unknown_layers") or "none"),
                     ("layers surveyed and empty", s.get("known_empty_layers") or "none")]
    completeness += [("grid cells", s.get("n_cells")), ("network coverage", s.get("network_coverage")),
                     ("buildings vs reference", s.get("building_completeness"))]
    completeness += [(f"score inputs: {_LABELS[p]}", s.get(f"completeness_{p}")) for p in PRINCIPLES]
    problem_rows = ""
    if places is not None and len(places):
        for _, r in places.iterrows():
            street = r["street"] if isinstance(r["street"], str) else f"unnamed (no named street within {STREET_NAME_REACH:g} m)"
            problem_rows += (f"<tr><td class='num'>{int(r['place_no'])}</td><td>{html.escape(street)}</td>"
                             f"<td class='num'>{r['lon']:.5f}, {r['lat']:.5f}</td><td>{_LABELS.get(r['principle'], r['principle'])}</td>"
                             f"<td class='num'>{r['area_m2']:,.0f}</td><td class='num'>{r['mean_score']:.0f}</td>"
                             f"<td>{html.escape(r['drivers'])}</td><td>{html.escape(r['remedy'])}</td></tr>")
    problems = (f"<p>Places are numbered by priority: area × (40 − mean score), so a large place a little below 40 "
                f"and a small place far below it can rank alike; none exceeds {PLACE_MAX_AREA / 1e4:g} ha.</p>"
                f"<table><tr><th>#</th><th>street</th><th>lon, lat</th><th>principle</th><th>m²</th><th>score</th>"
                f"<th>why</th><th>remedy</th></tr>{problem_rows}</table>"
                if problem_rows else "<p>No cluster of low-scoring cells.</p>")
    rules = "".join(f"<tr><td>{r.column}</td><td>{_LABELS[r.principle]}</td><td class='num'>{r.bad:g}</td>"
                    f"<td class='num'>{r.good:g}</td><td>{html.escape(r.source)}</td></tr>" for r in RULES.values())
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    approx = " The boundary is a disc around an approximate centre." if s.get("approximate_boundary") else ""
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>CPTED audit: {html.escape(str(s.get('name')))}</title><style>{_CSS}</style></head>
<body><h1>{html.escape(str(s.get('name')))}</h1>
<p>Site <code>{html.escape(str(s.get('site_id')))}</code>, {s.get('area_ha', float('nan')):.1f} ha, {s.get('crs')}.{approx}{_qpv(s)}</p>
<p><b>Status:</b> {html.escape(_STATUS_TEXT.get(str(s.get('status')), str(s.get('status'))))}</p>
<h2>Scores</h2>
<img src="{score_chart(s)}" alt="scores of the four principles">
<p><b>What pulls the site down:</b> {html.escape(str(s.get('drivers') or 'nothing below 50'))}.</p>
<p class="na">{html.escape("; ".join(str(s.get(k)) for k in ("notes", "score_notes") if s.get(k) and str(s.get(k)) != "nan"))}</p>
<h2>Maps</h2><div class="maps">{figures}</div>
<h2>{tr("Interactive map")}</h2>{interactive_map(result)}
<h2>Problem places</h2>{problems}
<h2>Data completeness</h2>{_table(completeness)}
<h2>Method</h2>
<p>Every place is a {s.get('cell_size', 5):g} m cell of the site's public open space. Each metric is scored from 0 to 100 by a
fixed rule (below), the same for every site; a principle's score is the weighted mean of its metrics that have data,
and is left out (n/a) when less than half of its weight has data. The CPTED index is the weighted mean of the four
principles. The full definitions are in the project's <code>docs/methods/</code> pages.</p>
<table><tr><th>metric</th><th>principle</th><th>0 at</th><th>100 at</th><th>source</th></tr>{rules}</table>
<h2>Sources</h2><ul>{''.join(f'<li>{html.escape(x)}</li>' for x in _SOURCES)}</ul>
<footer>Generated by cpted {__version__} on {stamp}.<br>Data: {html.escape(str(s.get('attribution') or 'no attribution recorded'))}.</footer>
</body></html>
"""
    return write_text_atomic(path, page)
