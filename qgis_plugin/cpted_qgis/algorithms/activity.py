"""Activity support: land-use mix of the places reachable on foot, by day and at night."""

from __future__ import annotations

from ..compat import WKB_MULTIPOLYGON
from ..i18n import noop
from .base import Output
from .principle import PrincipleAlgorithm


class Activity(PrincipleAlgorithm):
    NAME = "activity"
    DISPLAY = noop("Activity and land-use mix")
    HELP = noop(
        "Per place: the points of interest reachable along the walk network within each radius, by category, "
        "their land-use mix (Hill numbers D0, D1, D2 and normalised entropy), and those open at night (from an "
        "opening_hours field). The category field must hold the cpted categories: education, childcare, "
        "culture, sport, park, playground, public_service, social, health, security, transit, parking, shop, "
        "food_drink, worship, community, office, tourism, waste, residential, commercial, industrial, other.")
    INPUTS = ("streets", "pois")
    REQUIRED = ("streets", "pois")
    MEASURES = ("activity",)
    OUTPUTS = (
        Output("CELLS", noop("Activity cells"), "cells", WKB_MULTIPOLYGON, "cells_activity"),
    )
