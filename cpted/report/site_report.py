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
from cpted.report.i18n import as_html, check_lang, number, split_list, tr, tr_list, tr_phrase
from cpted.report.interactive import interactive_map
from cpted.report.maps import TABLE_PLACES, maps_html, site_maps
from cpted.report.method import PRINCIPLE_LABELS, method_appendix
from cpted.report.pdf import PRINT_CSS
from cpted.score.scores import PLACE_MAX_AREA, PRINCIPLES, STREET_NAME_REACH

__all__ = ["write_site_report", "figure_png", "score_chart"]

_LABELS = PRINCIPLE_LABELS
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


def score_chart(summary: dict, *, lang: str = "en") -> str:
    """A bar chart of the principle scores (day, and surveillance at night); a score that could not
    be computed is a grey hatched bar across the chart labelled "no data" (as on the overview page),
    never a bar of length zero."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = [*PRINCIPLES, "surveillance_night"]
    values = np.array([summary.get(f"score_{k}", np.nan) for k in keys], dtype=float)
    known = np.isfinite(values)
    y = np.arange(len(keys))
    fig, ax = plt.subplots(figsize=(6.2, 2.8))
    ax.barh(y[known], values[known], color=[plt.cm.RdYlGn(v / 100) for v in values[known]])
    for i in np.flatnonzero(known):
        ax.text(values[i] + 1, i, f"{values[i]:.0f}", va="center")
    ax.barh(y[~known], 100, color="#eee", edgecolor="#999", hatch="///", linewidth=0.4)
    for i in np.flatnonzero(~known):
        ax.text(50, i, tr("no data", lang), va="center", ha="center", fontsize=9, color="#444",
                bbox={"facecolor": "white", "edgecolor": "none", "pad": 1})
    ax.set_yticks(y, [tr(_LABELS[k], lang) for k in keys])
    ax.set_xlim(0, 105)
    ax.invert_yaxis()
    ax.set_xlabel(tr("score (0-100)", lang))
    index = summary.get("cpted_index", np.nan)
    ax.set_title(tr("CPTED index: {value}", lang, value=tr("n/a", lang) if not np.isfinite(index) else f"{index:.0f}"))
    return figure_png(fig)


def _fmt(value, digits: int = 2, lang: str = "en") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return f'<span class="na">{tr("n/a", lang)}</span>'
    if isinstance(value, float):
        return number(value, f",.{digits}f", lang)
    if isinstance(value, int | np.integer):
        return number(int(value), ",", lang)
    return html.escape(str(value))


def _table(rows: list[tuple[str, object]], lang: str) -> str:
    body = "".join(f"<tr><th>{html.escape(k)}</th><td class='num'>{_fmt(v, lang=lang)}</td></tr>" for k, v in rows)
    return f"<table>{body}</table>"


def _qpv(s, lang: str) -> str:
    """The site's priority neighbourhood (QPV), when the sites file carries it."""
    code, name = (str(s.get(k) or "") for k in ("qpv_code", "qpv_name"))
    if not code or code == "nan":
        return ""
    return (f" {tr('Priority neighbourhood (QPV)', lang)} <code>{html.escape(code)}</code> "
            f"<span translate='no'>{html.escape(name if name != 'nan' else '')}</span>.")


def _known(count, lang: str):
    """A feature count, or "unknown" for a layer without a source (NaN: unknown, not zero)."""
    return tr("unknown", lang) if count is None or (isinstance(count, float) and math.isnan(count)) else count


def _kinds(text, lang: str) -> str:
    """A comma-separated list of layer kinds (``unknown_layers``), each named in ``lang``."""
    if not isinstance(text, str) or not text:
        return tr("none", lang)
    return ", ".join(tr(k, lang) for k in text.split(", "))


def _problems(places, lang: str) -> str:
    if places is None or not len(places):
        return f"<p>{tr('No cluster of low-scoring cells.', lang)}</p>"
    rows = ""
    for _, r in places.iterrows():
        street = (f"<span translate='no'>{html.escape(r['street'])}</span>" if isinstance(r["street"], str)
                  else html.escape(tr("unnamed (no named street within {reach} m)", lang, reach=f"{STREET_NAME_REACH:g}")))
        rows += (f"<tr><td class='num'>{int(r['place_no'])}</td><td>{street}</td>"
                 f"<td class='num'>{r['lon']:.5f}, {r['lat']:.5f}</td><td>{tr(_LABELS.get(r['principle'], r['principle']), lang)}</td>"
                 f"<td class='num'>{_fmt(float(r['area_m2']), 0, lang)}</td><td class='num'>{r['mean_score']:.0f}</td>"
                 f"<td>{html.escape(tr_list(r['drivers'], lang))}</td><td>{html.escape(tr_phrase(r['remedy'], lang))}</td></tr>")
    head = "".join(f"<th>{html.escape(tr(h, lang))}</th>" for h in
                   ("#", "street", "lon, lat", "principle", "m²", "score", "why", "remedy"))
    intro = tr("Places are numbered by priority: area × (40 − mean score), so a large place a little below 40 and a "
               "small place far below it can rank alike; none exceeds {ha} ha.", lang, ha=_fmt(PLACE_MAX_AREA / 1e4, 1, lang))
    return f"<p>{html.escape(intro)}</p><table><tr>{head}</tr>{rows}</table>"


def write_site_report(result, path: str | Path, *, lang: str = "en", weights: dict | None = None) -> Path:
    """Write ``report.html`` for one audited site: maps of each principle's score and of the
    problem places, a chart of the scores, the data-completeness table, the drivers, the method
    appendix (rules, thresholds, weights, sources), the sources and the data attribution. Every
    figure is embedded: the file opens offline.

    Parameters
    ----------
    result
        An :class:`~cpted.pipeline.AuditResult`.
    path
        The HTML file to write (atomically).
    lang
        The report's language, ``"en"`` or ``"fr"`` (:data:`cpted.report.i18n.LANGS`). Values stored
        in English (drivers, remedies, notes) are translated; the CSV column names shown in
        ``<code>`` stay as they are.
    weights
        The weights the scores used, for the method appendix; the defaults when None.

    Example
    -------
    >>> # write_site_report(cpted.audit(site), "report.html", lang="fr")
    """
    check_lang(lang)
    s = result.summary
    places = result.layers.get("problem_places")
    if places is not None:
        places = places.head(TABLE_PLACES)  # the places of the table, numbered alike on the maps
    figures = maps_html(site_maps(result, places=places, lang=lang))
    completeness = [(tr("features: {kind}", lang, kind=tr(k, lang)), _known(s.get(f"n_{k}"), lang)) for k in LAYER_KINDS]
    completeness += [(tr("unknown layers (values NaN)", lang), _kinds(s.get("unknown_layers"), lang)),
                     (tr("layers surveyed and empty", lang), _kinds(s.get("known_empty_layers"), lang))]
    completeness += [(tr("grid cells", lang), s.get("n_cells")), (tr("network coverage", lang), s.get("network_coverage")),
                     (tr("buildings vs reference", lang), s.get("building_completeness"))]
    completeness += [(tr("score inputs: {principle}", lang, principle=tr(_LABELS[p], lang)), s.get(f"completeness_{p}")) for p in PRINCIPLES]
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    approx = " " + tr("The boundary is a disc around an approximate centre.", lang) if s.get("approximate_boundary") else ""
    notes = "".join(f"<li>{as_html(tr_phrase(n, lang))}</li>" for k in ("notes", "score_notes")
                    if s.get(k) and str(s.get(k)) != "nan" for n in split_list(str(s.get(k))))
    drivers = tr_list(str(s.get("drivers") or ""), lang) or tr("nothing below 50", lang)
    name = html.escape(str(s.get("name")))
    status = str(s.get("status"))
    page = f"""<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8"><title>{tr("CPTED audit:", lang)} {name}</title><style>{_CSS}</style></head>
<body><h1 translate="no">{name}</h1>
<p>{tr("Site", lang)} <code>{html.escape(str(s.get('site_id')))}</code>, {_fmt(float(s.get('area_ha', float('nan'))), 1, lang)} ha, <code>{s.get('crs')}</code>.{approx}{_qpv(s, lang)}</p>
<p><b>{tr("Status:", lang)}</b> {html.escape(tr(_STATUS_TEXT.get(status, status), lang))}</p>
<h2>{tr("Scores", lang)}</h2>
<img src="{score_chart(s, lang=lang)}" alt="{html.escape(tr("scores of the four principles", lang))}">
<p><b>{tr("What pulls the site down:", lang)}</b> {html.escape(drivers)}.</p>
<ul class="na">{notes}</ul>
<h2>{tr("Maps", lang)}</h2><div class="maps">{figures}</div>
<h2>{tr("Interactive map", lang)}</h2>{interactive_map(result, lang=lang)}
<h2>{tr("Problem places", lang)}</h2>{_problems(places, lang)}
<h2>{tr("Data completeness", lang)}</h2>{_table(completeness, lang)}
{method_appendix(weights, lang=lang, cell_size=float(s.get('cell_size', 5) or 5))}
<h2>{tr("Sources", lang)}</h2><ul translate="no">{''.join(f'<li>{html.escape(x)}</li>' for x in _SOURCES)}</ul>
<footer>{html.escape(tr("Generated by cpted {version} on {stamp}.", lang, version=__version__, stamp=stamp))}<br>{tr("Data:", lang)}
<span translate="no">{html.escape(str(s.get('attribution') or ''))}</span>{'' if s.get('attribution') else html.escape(tr('no attribution recorded', lang))}.</footer>
</body></html>
"""
    return write_text_atomic(path, page)
