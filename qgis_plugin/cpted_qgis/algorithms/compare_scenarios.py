"""Compare scenarios: an existing and a proposed design of one site, cell by cell."""

from __future__ import annotations

from qgis.core import QgsProcessingOutputNumber, QgsProcessingParameterEnum

from ..bridge import progress
from ..compat import WKB_MULTIPOLYGON
from ..i18n import noop, tr
from .base import CptedAlgorithm, Output

#: The layers a proposed design may replace.
DESIGN = ("streets", "buildings", "entrances", "barriers", "lamps", "pois", "landuse")


class CompareScenarios(CptedAlgorithm):
    NAME = "compare_scenarios"
    DISPLAY = noop("Compare scenarios (existing against proposed)")
    HELP = noop(
        "Audits the existing design and a proposed design of the same site on the same cells, and maps the "
        "change of every score (proposed minus existing). A proposed layer left empty is the existing one; a "
        "proposed layer given replaces the existing one (give the whole proposed layer, e.g. the existing "
        "buildings plus the new ones). Cells the proposed design builds on are flagged built_over. The "
        "changes layer outlines the places whose principle score moved by 5 points or more.")
    INPUTS = DESIGN
    REQUIRED = ("streets",)
    MEASURES = ("surveillance", "access_control", "activity", "territoriality", "maintenance")
    OUTPUTS = (
        Output("DELTAS", noop("Score changes per cell"), "deltas", WKB_MULTIPOLYGON, "deltas"),
        Output("CHANGES", noop("Places that got better or worse"), "changes", WKB_MULTIPOLYGON, "changes"),
    )

    def initAlgorithm(self, config=None):  # noqa: N802 - QGIS API
        super().initAlgorithm(config)
        self.add_layer_inputs("PROPOSED_", DESIGN, (), label=noop("Proposed: "))
        self.addParameter(QgsProcessingParameterEnum(
            "EXISTING_EMPTY", tr("Existing layers surveyed and empty (there is none, e.g. no lamp)"), options=list(DESIGN),
            allowMultiple=True, optional=True))
        self.add_weights()

    def add_other_outputs(self) -> None:
        self.addOutput(QgsProcessingOutputNumber("DELTA_CPTED_INDEX", tr("Change of the site's CPTED index")))

    def compute(self, cpted, parameters, context, feedback):
        _source, crs = self.site_crs(parameters, context)
        existing = self.layers(cpted, parameters, context, feedback, crs)
        empty = {DESIGN[i] for i in self.parameterAsEnums(parameters, "EXISTING_EMPTY", context)}
        proposed = dict(existing)
        changed = set()
        for kind, layer in self.layers(cpted, parameters, context, feedback, crs, prefix="PROPOSED_").items():
            proposed[kind] = layer
            changed.add(kind)
        if not changed:
            feedback.pushWarning(tr("No proposed layer was given: both designs are the same."))
        baseline, design = self.sites(cpted, parameters, context, feedback, [existing, proposed],
                                      known_empty=[empty, empty - changed])
        weights = self.parameterAsFile(parameters, "WEIGHTS", context) or None
        comparison = cpted.compare_designs(baseline, design, weights=cpted.read_weights(weights),
                                           how_to_declare=tr("tick {kind} under 'Existing layers surveyed and empty'"),
                                           progress=progress(feedback, span=90),
                                           **self.audit_options(parameters, context))
        delta = comparison.site.set_index("value")["delta"].get("cpted_index") if len(comparison.site) else None
        return {"deltas": comparison.deltas, "changes": comparison.changes}, {"DELTA_CPTED_INDEX": delta}
