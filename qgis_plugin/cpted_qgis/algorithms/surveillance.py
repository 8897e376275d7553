"""Natural surveillance: isovists, eyes on the street, lighting, blind spots."""

from __future__ import annotations

from ..compat import WKB_MULTIPOLYGON
from ..i18n import noop
from .base import Output
from .principle import PrincipleAlgorithm


class Surveillance(PrincipleAlgorithm):
    NAME = "surveillance"
    DISPLAY = noop("Natural surveillance")
    HELP = noop(
        "Per place: the isovist (visible area and shape) within the view radius, visual connectivity, eyes on "
        "the street (entrances and windows that see the place within 15 m and 43 m), illuminance from the lamps "
        "(with building shadows) and its EN 13201 class, and the surveillance score. Also the blind spots, "
        "entrapment spots and recesses. Needs buildings (with heights) and, for lighting, lamps.")
    INPUTS = ("streets", "buildings", "entrances", "barriers", "lamps", "pois")
    MEASURES = ("surveillance",)
    OUTPUTS = (
        Output("CELLS", noop("Surveillance cells"), "cells", WKB_MULTIPOLYGON, "cells_surveillance"),
        Output("BLIND_SPOTS", noop("Blind spots, entrapment spots and recesses"), "blind_spots",
               WKB_MULTIPOLYGON, "blind_spots"),
    )
