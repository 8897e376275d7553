"""The method appendix of a report, generated from the rules and weights the scores used.

A reader holding only the HTML file sees how every score was made: per principle, each metric's
rule (0 at, 100 at), its weight, when it counts (day, night) and its source, in the report's
language. Nothing links into the repository.
"""

from __future__ import annotations

import html

from cpted.report.i18n import number, tr
from cpted.score.scores import MIN_COMPLETENESS, PRINCIPLES, RULES, read_weights

__all__ = ["method_appendix", "PRINCIPLE_LABELS"]

#: The principles' names, as every report shows them (English keys of the catalog).
PRINCIPLE_LABELS = {"surveillance": "Natural surveillance", "territoriality": "Territoriality",
                    "access_control": "Access control", "maintenance": "Maintenance / image",
                    "surveillance_night": "Surveillance at night"}
#: When each period of :class:`cpted.score.scores.Rule` counts.
_PERIOD = {"day": "day only", "night": "night only", "both": "day and night"}


def method_appendix(weights: dict | None = None, *, lang: str = "en", cell_size: float = 5.0) -> str:
    """The method appendix as an HTML fragment (an ``<h2>`` and one table per principle).

    Parameters
    ----------
    weights
        The weights the scores used (:func:`cpted.score.scores.read_weights`); the defaults when None.
    lang
        ``"en"`` or ``"fr"``.
    cell_size
        The side of the site's cells (m).

    Example
    -------
    >>> "eyes_43" in method_appendix(lang="fr")
    True
    """
    weights = weights or read_weights()
    need = f"{MIN_COMPLETENESS:.0%}".replace("%", "\u00a0%" if lang == "fr" else "%")
    parts = [f"<h2>{tr('Method', lang)}</h2>",
             "<p>" + html.escape(tr(
                 "Every place is a {cell} m cell of the site's public open space. Each metric is scored from 0 to 100 "
                 "by a fixed rule, the same for every site: 0 at or beyond the value in the column '0 at', 100 at or "
                 "beyond the value in the column '100 at', linearly in between. A principle's score is the weighted mean "
                 "of its metric scores that have data, and is left out (n/a) when less than {need} of its weight has "
                 "data. The CPTED index is the weighted mean of the principles' scores, and is n/a when less than {need} "
                 "of the principles' weight is scored. A metric without data is never counted as zero.", lang,
                 cell=number(cell_size, lang=lang), need=need)) + "</p>",
             "<p>" + html.escape(tr(
                 "Surveillance at night uses the surveillance metrics marked 'night only' or 'day and night'; "
                 "daytime surveillance those marked 'day only' or 'day and night'.", lang)) + "</p>"]
    head = "".join(f"<th>{html.escape(tr(h, lang))}</th>" for h in
                   ("metric", "low when", "0 at", "100 at", "weight", "when it counts", "source"))
    for p in PRINCIPLES:
        rules = [r for r in RULES.values() if r.principle == p]
        rows = "".join(
            f"<tr><td><code>{r.column}</code></td><td>{html.escape(tr(r.low, lang))}</td>"
            f"<td class='num'>{number(r.bad, lang=lang)}</td><td class='num'>{number(r.good, lang=lang)}</td>"
            f"<td class='num'>{number(weights['metrics'][r.column], lang=lang)}</td><td>{html.escape(tr(_PERIOD[r.period], lang))}</td>"
            f"<td>{html.escape(tr(r.source, lang))}</td></tr>" for r in rules)
        weight = tr("weight in the CPTED index: {w}", lang, w=number(weights["principles"][p], lang=lang))
        parts.append(f"<h3>{html.escape(tr(PRINCIPLE_LABELS[p], lang))} <small>({html.escape(weight)})</small></h3>"
                     f"<table class='method'><tr>{head}</tr>{rows}</table>")
    return "\n".join(parts)
