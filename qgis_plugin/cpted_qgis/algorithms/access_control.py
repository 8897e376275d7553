"""Access control: centralities, entry points, through-movement, movement predictors, escape routes."""

from __future__ import annotations

from ..compat import WKB_MULTILINE, WKB_MULTIPOLYGON, WKB_POINT
from ..i18n import noop
from .base import Output
from .principle import PrincipleAlgorithm


class AccessControl(PrincipleAlgorithm):
    NAME = "access_control"
    DISPLAY = noop("Access control")
    HELP = noop(
        "On the walk network: harmonic closeness, betweenness and angular choice (NACH, NAIN) within each "
        "radius, the share of through-movement, the entry points of the site (street, footway, steps, gated), "
        "the movement predictors (cut edges of the network leading somewhere, long detours, tunnels, steps) and, "
        "per place, the number of independent escape routes. The streets must cover at least half of the site.")
    INPUTS = ("streets", "barriers")
    MEASURES = ("access_control",)
    OUTPUTS = (
        Output("CELLS", noop("Access control cells"), "cells", WKB_MULTIPOLYGON, "cells_access_control"),
        Output("SEGMENTS", noop("Street segments with centralities"), "segments", WKB_MULTILINE,
               "segments"),
        Output("ENTRY_POINTS", noop("Entry points"), "entry_points", WKB_POINT, "entry_points"),
        Output("MOVEMENT_PREDICTORS", noop("Movement predictors"), "movement_predictors",
               WKB_MULTILINE, "movement_predictors"),
    )
