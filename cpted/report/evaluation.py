"""The evaluation's outputs: ``evaluation.csv``, ``evaluation_curve.csv``, ``evaluation_pai.png`` and
``evaluation.html`` (English or French, every figure embedded so it opens offline).

See :mod:`cpted.evaluation` for what the numbers are.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import math
from pathlib import Path

from cpted.atomic import atomic_path, write_text_atomic
from cpted.report.i18n import check_lang, tr

__all__ = ["write_evaluation", "format_table", "pai_figure"]

_NAMES = {"cpted_index": "CPTED index", "score_surveillance": "Natural surveillance",
          "score_territoriality": "Territoriality", "score_access_control": "Access control",
          "score_maintenance": "Maintenance / image", "score_surveillance_night": "Surveillance at night"}
_LEVEL = {"cells": "Cells (exposure: area)", "segments": "Street segments (exposure: length)"}
_CSS = """body{font-family:sans-serif;max-width:1100px;margin:auto;padding:1em;color:#222}
table{border-collapse:collapse;margin:.5em 0;font-size:.9em}td,th{border:1px solid #bbb;padding:3px 6px}
td.num{text-align:right}.na{color:#666}img{max-width:100%}"""


def _name(score: str, lang: str) -> str:
    return tr(_NAMES[score], lang) if score in _NAMES else score


def _num(value, spec: str = ".2f") -> str:
    return "n/a" if value is None or not isinstance(value, int | float) or not math.isfinite(value) else format(value, spec)


def _finite(row, key: str) -> bool:
    value = row.get(key)
    return isinstance(value, int | float) and math.isfinite(value)


#: The sentence of each conclusion of :func:`cpted.evaluation.evaluate`.
_READINGS = {
    "low scores associated with incidents": "Low scores are associated with incidents (AUC {auc}, p = {p}).",
    "high scores associated with incidents (the reverse)":
        "High scores are associated with incidents, the reverse of what the audit expects (AUC {auc}, p = {p}).",
    "high values associated with incidents": "High values are associated with incidents (AUC {auc}, p = {p}).",
    "low values associated with incidents": "Low values are associated with incidents (AUC {auc}, p = {p}).",
    "low values associated with incidents (the reverse)":
        "Low values are associated with incidents, the reverse of the end flagged (AUC {auc}, p = {p}).",
    "high values associated with incidents (the reverse)":
        "High values are associated with incidents, the reverse of the end flagged (AUC {auc}, p = {p}).",
    "no association shown": "No association with incidents shown here (AUC {auc}, p = {p}).",
}


def _upper_first(text: str) -> str:
    return text[:1].upper() + text[1:]


def _reading(row, lang: str) -> str:
    """One sentence: what the numbers of ``row`` say, and no more."""
    conclusion = str(row.get("conclusion", ""))
    if not _finite(row, "auc"):
        if conclusion.startswith("too few"):
            return tr("{n} incidents: too few incidents to conclude (at least {m} needed).", lang,
                      n=int(row["n_incidents"]), m=int(row["min_incidents"]))
        if conclusion.startswith("unknown"):
            return tr("Unknown: the audit has no value for this score here (its inputs are missing).", lang)
        return tr("The score is the same everywhere: it ranks nothing.", lang)
    text = _READINGS[conclusion]
    p = row["p_auc_reverse"] if conclusion.endswith("(the reverse)") else row["p_auc"]
    out = tr(text, lang, auc=_num(row["auc"]), p=_num(p, ".3f"))
    if _finite(row, "irr_nb"):
        per = tr("10 points", lang) if str(row.get("irr_per", "")).endswith("points") else tr("one standard deviation", lang)
        out += " " + _upper_first(tr("{per} more: {irr} times the incidents per unit of exposure (negative binomial, 95 % CI {lo} to {hi}).",
                        lang, per=per, irr=_num(row["irr_nb"]), lo=_num(row["irr_nb_lo"]), hi=_num(row["irr_nb_hi"])))
    return out


def format_table(ev) -> str:
    """The table the ``cpted evaluate`` command prints: one line per kind of place and score."""
    s = ev.summary
    lines = [f"{s['n_incidents_given']} incidents given: {s['n_outside_site']} outside the site (ignored), "
             f"{s['n_filtered_out']} left out by the date / time filters, {s['n_in_site']} used; "
             f"{s.get('n_on_cells', 0)} on cells, {s.get('n_on_segments', 0)} on street segments "
             f"(within {s['snap_distance']:g} m)",
             f"{'place':<9}{'score':<26}{'n':>5}{'PAI5':>7}{'PAI10':>7}{'PAI20':>7}{'p5':>7}{'p10':>7}{'p20':>7}"
             f"{'AUC':>7}{'p':>7}  IRR Poisson [95% CI]          IRR NB [95% CI]"]
    for _, r in ev.table.iterrows():
        head = f"{r['level']:<9}{r['score'] + (' (high)' if r['flagged'] == 'high' else ''):<26}{int(r['n_incidents']):>5}"
        if not _finite(r, "auc"):
            lines.append(f"{head}  {r['conclusion']}")
            continue
        nums = "".join(f"{_num(r[f'pai_{k}']):>7}" for k in ("5", "10", "20"))
        nums += "".join(f"{_num(r[f'p_pai_{k}'], '.3f'):>7}" for k in ("5", "10", "20"))
        irr = "".join(f"  {_num(r[f'irr_{m}'])} [{_num(r[f'irr_{m}_lo'])}, {_num(r[f'irr_{m}_hi'])}]".ljust(29)
                      for m in ("poisson", "nb"))
        lines.append(f"{head}{nums}{_num(r['auc']):>7}{_num(r['p_auc'], '.3f'):>7}{irr}  {r['conclusion']}")
    lines.append("IRR: incidence rate ratio per 10 points of a score, per standard deviation of a raw measure. "
                 "Associations only, not causes. p: one-sided permutation p-values "
                 f"({s['permutations']} random relocations, seed {s['seed']}).")
    return "\n".join(lines)


def pai_figure(ev, lang: str = "en"):
    """PAI against the share of exposure flagged, one panel per kind of place, with the 95 % band of
    the random relocations (grey); None when no score has a curve."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curve = ev.curve.dropna(subset=["pai"])
    if not len(curve):
        return None
    levels = list(dict.fromkeys(curve["level"]))
    fig, axes = plt.subplots(1, len(levels), figsize=(6 * len(levels), 4.2), squeeze=False)
    for ax, level in zip(axes[0], levels, strict=True):
        part = curve[curve["level"] == level]
        for i, (score, c) in enumerate(part.groupby("score", sort=False)):
            x = c["share"] * 100
            if i == 0:
                ax.fill_between(x, c["pai_random_lo"], c["pai_random_hi"], color="0.85",
                                label=tr("random relocations, 95 % band", lang) + f" ({_name(score, lang)})")
            flagged = ev.table.loc[(ev.table["level"] == level) & (ev.table["score"] == score), "flagged"]
            high = len(flagged) and flagged.iloc[0] == "high"
            ax.plot(x, c["pai"], label=_name(score, lang) + (tr(" (high values first)", lang) if high else ""))
        ax.axhline(1.0, color="0.4", lw=0.8, ls="--")
        ax.set_xscale("log")
        ax.set_xlabel(tr("share of exposure flagged (lowest scores first), %", lang))
        ax.set_ylabel("PAI")
        ax.set_title(tr(_LEVEL[level], lang))
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def _html_table(ev, level: str, lang: str) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in (
        tr("score evaluated", lang), tr("incidents", lang), "PAI 5 %", "PAI 10 %", "PAI 20 %", "AUC",
        tr("rate ratio, Poisson (95 % CI)", lang), tr("rate ratio, negative binomial (95 % CI)", lang), tr("reading", lang)))
    rows = ""
    for _, r in ev.table[ev.table["level"] == level].iterrows():
        r = {**r.to_dict(), "min_incidents": ev.summary["min_incidents"]}

        def cell(key, pkey=None):
            if not _finite(r, key):
                return "<td class='na'>n/a</td>"
            p = f" <small>(p = {_num(r[pkey], '.3f')})</small>" if pkey else ""
            return f"<td class='num'>{_num(r[key])}{p}</td>"

        irr = "".join(f"<td class='num'>{_num(r[f'irr_{m}'])} ({_num(r[f'irr_{m}_lo'])}–{_num(r[f'irr_{m}_hi'])})</td>"
                      if _finite(r, f"irr_{m}") else "<td class='na'>n/a</td>" for m in ("poisson", "nb"))
        name = _name(r["score"], lang) + (tr(" (high values first)", lang) if r["flagged"] == "high" else "")
        rows += (f"<tr><td>{html.escape(name)}</td><td class='num'>{int(r['n_incidents'])}</td>"
                 f"{cell('pai_5', 'p_pai_5')}{cell('pai_10', 'p_pai_10')}{cell('pai_20', 'p_pai_20')}"
                 f"{cell('auc', 'p_auc')}{irr}<td>{html.escape(_reading(r, lang))}</td></tr>")
    note = tr("Rate ratios per 10 points of a score, per standard deviation of a raw measure; p: permutation test.", lang)
    return f"<table><tr>{head}</tr>{rows}</table><p class='na'>{html.escape(note)}</p>"


def write_evaluation(ev, out: str | Path, *, lang: str = "en") -> dict[str, Path]:
    """Write ``evaluation.csv`` (the table and the counts), ``evaluation_curve.csv``,
    ``evaluation_incidents.gpkg`` (every incident with its ``status``, ``cell_id`` and ``segment``),
    ``evaluation_pai.png`` and ``evaluation.html`` into ``out``; returns their paths."""
    from cpted.report.site_report import figure_png

    check_lang(lang)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    s = ev.summary
    paths = {"table": out / "evaluation.csv", "curve": out / "evaluation_curve.csv", "plot": out / "evaluation_pai.png",
             "report": out / "evaluation.html"}
    table = ev.table.assign(**{k: v for k, v in s.items() if k.startswith("n_") or k in ("site_id", "snap_distance",
                                                                                         "permutations", "seed", "min_incidents")})
    write_text_atomic(paths["table"], table.to_csv(index=False))
    write_text_atomic(paths["curve"], ev.curve.to_csv(index=False))
    if ev.incidents is not None:
        paths["incidents"] = out / "evaluation_incidents.gpkg"
        with atomic_path(paths["incidents"]) as tmp:
            ev.incidents.to_file(tmp, layer="incidents", driver="GPKG")
    fig = pai_figure(ev, lang)
    img = ""
    if fig is not None:
        uri = figure_png(fig)  # drawn once: embedded, and written as the PNG file
        with atomic_path(paths["plot"]) as tmp:
            Path(tmp).write_bytes(base64.b64decode(uri.split(",", 1)[1]))
        img = (f'<figure><img src="{uri}" alt="PAI"><figcaption>'
               f'{html.escape(tr("PAI against the share of exposure flagged; grey: 95 % of the random relocations.", lang))}'
               f"</figcaption></figure>")
    else:
        paths.pop("plot")
    filters = ", ".join(f"{k} {s[k]}" for k in ("date_from", "date_to", "time_of_day") if s.get(k)) or tr("no filter", lang)
    counts = tr("{given} incidents given: {outside} outside the site (counted, then ignored), {filtered} left out by the "
                "filters ({filters}), {used} used: {cells} in the grid's cells, {segments} within {snap} m of a street "
                "segment.", lang, given=s["n_incidents_given"], outside=s["n_outside_site"], filtered=s["n_filtered_out"],
                filters=filters, used=s["n_in_site"], cells=s.get("n_on_cells", 0), segments=s.get("n_on_segments", 0),
                snap=f"{s['snap_distance']:g}")
    levels = [lv for lv in ("cells", "segments") if (ev.table["level"] == lv).any()]
    tables = "".join(f"<h3>{html.escape(tr(_LEVEL[lv], lang))}</h3>{_html_table(ev, lv, lang)}" for lv in levels)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    method = tr("Places are flagged from the lowest score up until k % of the exposure is flagged. Hit rate: the share of the "
                "incidents in the flagged places; PAI: hit rate ÷ share flagged (1 is chance). AUC: the probability that a "
                "place with an incident scores lower than one without (0.5 is chance). p: one-sided permutation test, "
                "{perm} random relocations of the incidents over the scored public space (seed {seed}). Rate ratios: "
                "count models with the exposure as offset. Below {m} incidents no number is given. These are "
                "associations on one site, not causes: a low score is associated with incidents, it does not cause them.",
                lang, perm=s["permutations"], seed=s["seed"], m=s["min_incidents"])
    page = f"""<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8"><title>{html.escape(tr("Evaluation against incidents", lang))}: {html.escape(str(s.get('site_id')))}</title>
<style>{_CSS}</style></head><body>
<section id="evaluation"><h1>{html.escape(tr("Evaluation against incidents", lang))}: <code>{html.escape(str(s.get('site_id')))}</code></h1>
<p>{html.escape(tr("Does the audit point at the places where incidents happen?", lang))}</p>
<p><b>{html.escape(counts)}</b></p>
{tables}
{img}
<h2>{html.escape(tr("Method", lang))}</h2><p>{html.escape(method)}</p>
<p class="na">{html.escape(tr("Written {stamp}.", lang, stamp=stamp))}</p></section>
</body></html>"""
    write_text_atomic(paths["report"], page)
    return paths
