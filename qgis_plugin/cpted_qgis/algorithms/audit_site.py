"""Audit site: every principle, scores, problem places and the HTML report."""

from __future__ import annotations

from qgis.core import (
    QgsProcessingOutputNumber,
    QgsProcessingOutputString,
    QgsProcessingParameterFileDestination,
)

from ..bridge import progress
from ..compat import WKB_MULTILINE, WKB_MULTIPOLYGON, WKB_POINT
from ..i18n import noop, report_lang, tr
from .base import LAYERS, CptedAlgorithm, Output


class AuditSite(CptedAlgorithm):
    NAME = "audit_site"
    DISPLAY = noop("Audit site (all principles)")
    HELP = noop(
        "Scores every place of a site (a grid of cells over its public open space) for the four CPTED principles: "
        "natural surveillance, territoriality, access control and maintenance/image, plus activity support; "
        "then the CPTED index, the night surveillance score, the drivers of each score and the ranked problem "
        "places. Layers in another CRS than the site are reprojected to it. Inputs that are not given make "
        "their measures unknown (not zero): the completeness columns and the notes say which. Scores use the "
        "800 m network radius. The HTML report holds the maps, the charts, the completeness table, the method "
        "and the sources.")
    INPUTS = tuple(LAYERS)
    REQUIRED = ("streets",)
    MEASURES = ("surveillance", "access_control", "activity", "territoriality", "maintenance")
    OUTPUTS = (
        Output("CELLS", noop("CPTED cells (scores per place)"), "cells", WKB_MULTIPOLYGON, "cells"),
        Output("PROBLEM_PLACES", noop("Problem places"), "problem_places", WKB_MULTIPOLYGON,
               "problem_places"),
        Output("ENTRY_POINTS", noop("Entry points"), "entry_points", WKB_POINT, "entry_points"),
        Output("MOVEMENT_PREDICTORS", noop("Movement predictors"), "movement_predictors",
               WKB_MULTILINE, "movement_predictors"),
    )

    def initAlgorithm(self, config=None):  # noqa: N802 - QGIS API
        super().initAlgorithm(config)
        self.add_weights()

    def add_other_outputs(self) -> None:
        self.addParameter(QgsProcessingParameterFileDestination(
            "REPORT", tr("HTML report"), tr("HTML files (*.html)"), optional=True))
        self.addOutput(QgsProcessingOutputNumber("CPTED_INDEX", tr("CPTED index of the site (0-100)")))
        self.addOutput(QgsProcessingOutputString("SCORE_NOTES", tr("Why a score is missing")))

    def compute(self, cpted, parameters, context, feedback):
        site = self.site(cpted, parameters, context, feedback)
        weights = self.parameterAsFile(parameters, "WEIGHTS", context) or None
        table = cpted.read_weights(weights)
        result = cpted.audit(site, weights=table, progress=progress(feedback, span=90),
                             **self.audit_options(parameters, context))
        results = {"CPTED_INDEX": result.summary.get("cpted_index"),
                   "SCORE_NOTES": result.summary.get("score_notes", "")}
        report = self.parameterAsFileOutput(parameters, "REPORT", context)
        if report:
            results["REPORT"] = str(cpted.write_site_report(result, report, lang=report_lang(), weights=table))
        return result.layers, results
