"""Maintenance and image: disorder reports, waste points, dereliction, vegetation."""

from __future__ import annotations

from ..compat import WKB_MULTIPOLYGON
from ..i18n import noop
from .base import Output
from .principle import PrincipleAlgorithm


class Maintenance(PrincipleAlgorithm):
    NAME = "maintenance"
    DISPLAY = noop("Maintenance and image")
    HELP = noop(
        "Per place: the density of disorder reports and walk-audit observations (older reports weigh less, "
        "with a half-life), the waste points nearby (points of interest of category waste), and the maintenance "
        "score, which needs reports. Per site: derelict buildings "
        "and land, and, with a canopy height raster, how much vegetation blocks sightlines at eye level.")
    INPUTS = ("streets", "buildings", "landuse", "reports", "pois")
    MEASURES = ("maintenance",)
    OUTPUTS = (
        Output("CELLS", noop("Maintenance cells"), "cells", WKB_MULTIPOLYGON, "cells_maintenance"),
    )
