"""Territoriality: boundary definition, frontage, depth from public streets, ambiguous space."""

from __future__ import annotations

from ..compat import WKB_MULTILINE, WKB_MULTIPOLYGON
from ..i18n import noop
from .base import Output
from .principle import PrincipleAlgorithm


class Territoriality(PrincipleAlgorithm):
    NAME = "territoriality"
    DISPLAY = noop("Territoriality")
    HELP = noop(
        "Per place: its depth from public streets and whether it is ambiguous space (far from any door or "
        "front), and the territoriality score. Per site: how much of the public/private edge is defined by "
        "fences, walls or hedges, entrances per 100 m of street, fronted and blank shares, and how many "
        "entrances see each other. Private plots come from the land-use layer (access private, or residential "
        "of at most 1 ha).")
    INPUTS = ("streets", "buildings", "entrances", "barriers", "landuse")
    MEASURES = ("territoriality",)
    OUTPUTS = (
        Output("CELLS", noop("Territoriality cells"), "cells", WKB_MULTIPOLYGON, "cells_territoriality"),
        Output("BOUNDARIES", noop("Boundary pieces of the public/private edge"), "boundaries",
               WKB_MULTILINE),
        Output("AMBIGUOUS_SPACE", noop("Ambiguous space"), "ambiguous_space", WKB_MULTIPOLYGON),
    )
