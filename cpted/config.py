"""Defaults, vocabularies and the one column-naming function.

Every default used anywhere in cpted is defined here, with its unit, so a reader
finds in one place what an audit assumes.
"""

from __future__ import annotations

import math

from types import MappingProxyType

__all__ = [
    "CELL_SIZE",
    "CONTEXT",
    "SITE_RADIUS",
    "STOREY_HEIGHT",
    "DEFAULT_BUILDING_HEIGHT",
    "COVERAGE_DISTANCE",
    "MIN_NETWORK_COVERAGE",
    "POI_CATEGORIES",
    "REPORT_CATEGORIES",
    "BARRIER_KINDS",
    "ATTRIBUTION",
    "column_name",
]

#: Side of an analysis grid cell, in metres.
CELL_SIZE: float = 5.0
#: Width of the context ring around a site, in metres. Network metrics use the
#: site + ring so that values inside the site are free of edge effects.
CONTEXT: float = 400.0
#: Radius of a site given by its centre only, in metres.
SITE_RADIUS: float = 500.0
#: Storey height used to turn OSM ``building:levels`` into a height, in metres
#: (a common value for French housing; CEREMA / IGN use 3 m per level).
STOREY_HEIGHT: float = 3.0
#: Height given to a building with no height information, in metres
#: (three storeys of STOREY_HEIGHT). Recorded as ``height_source = "default"``.
DEFAULT_BUILDING_HEIGHT: float = 9.0
#: A grid cell counts as covered by the walk network when a walkable edge lies
#: within this distance, in metres.
COVERAGE_DISTANCE: float = 50.0

#: Below this network coverage (share of cells within COVERAGE_DISTANCE of a walkable street)
#: network measures (access control, activity support) are NaN: too little network to judge.
MIN_NETWORK_COVERAGE: float = 0.5

#: The one vocabulary of POI / land-use categories (``category`` column).
POI_CATEGORIES: tuple[str, ...] = (
    "education",
    "childcare",
    "culture",
    "sport",
    "park",
    "playground",
    "public_service",
    "social",
    "health",
    "security",
    "transit",
    "parking",
    "shop",
    "food_drink",
    "worship",
    "community",
    "office",
    "tourism",
    "waste",
    "residential",
    "commercial",
    "industrial",
    "other",
)

#: The one vocabulary of report / walk-audit observation categories.
REPORT_CATEGORIES: tuple[str, ...] = (
    "graffiti",
    "bulky_waste",
    "broken_lamp",
    "damaged_furniture",
    "abandoned_vehicle",
    "litter",
    "other",
)

#: Barrier kinds kept as they are; any other OSM ``barrier=*`` value becomes "other".
BARRIER_KINDS: tuple[str, ...] = (
    "fence",
    "wall",
    "hedge",
    "gate",
    "retaining_wall",
    "city_wall",
    "guard_rail",
    "handrail",
    "bollard",
    "kerb",
    "lift_gate",
    "swing_gate",
    "entrance",
    "block",
    "other",
)

#: Attribution strings that outputs derived from each data family must carry.
ATTRIBUTION = MappingProxyType(
    {
        "osm": "© OpenStreetMap contributors, ODbL 1.0",
        "nantes": "Nantes Métropole, ODbL 1.0",
        "bdtopo": "IGN BD TOPO, Licence Ouverte 2.0 (Etalab)",
    }
)


def column_name(metric: str, radius: float | None = None) -> str:
    """Name the output column of a metric, optionally within a radius.

    Parameters
    ----------
    metric
        Metric name in snake case, e.g. ``"harmonic_closeness"``.
    radius
        Radius in metres, appended as an integer when given; ``math.inf`` (radius n, the
        whole network) is appended as ``inf``.

    Returns
    -------
    str
        The column name used in every output.

    Examples
    --------
    >>> column_name("harmonic_closeness", 800)
    'harmonic_closeness_800'
    >>> column_name("network_coverage")
    'network_coverage'
    >>> column_name("angular_reach", math.inf)  # radius n
    'angular_reach_inf'
    """
    if radius is None:
        return metric
    if math.isinf(radius):  # radius n: the whole network
        return f"{metric}_inf"
    if radius != int(radius):
        msg = f"radius must be a whole number of metres for column names, got {radius!r}"
        raise ValueError(msg)
    return f"{metric}_{int(radius)}"
