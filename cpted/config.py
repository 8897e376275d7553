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
    "MAX_CELLS",
    "column_name",
    "cell_count_problem",
]

#: Side of an analysis grid cell, in metres.
CELL_SIZE: float = 5.0
#: Most analysis cells a site may have: above it the grid alone would take gigabytes (about
#: 0.5 kB a cell before any measure), so the site is refused before any cell is built.
#: 1,000,000 cells is 25 km² at 5 m; a 3 ha site may go down to 0.18 m.
MAX_CELLS: int = 1_000_000
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


def cell_count_problem(area: float, bbox_area: float, cell_size: float) -> str | None:
    """Why a grid of ``cell_size`` over a site of ``area`` m² (``bbox_area`` m² for its bounding
    box, where cells are first laid out) would be too large, or None.

    Examples
    --------
    >>> cell_count_problem(30_000, 30_000, 5.0) is None
    True
    >>> cell_count_problem(30_000, 30_000, 0.05)
    'cell_size 0.05 m gives 12,000,000 cells (most allowed: 1,000,000); use cell_size = 0.18 or more for this site'
    """
    import math

    cells = area / cell_size**2
    laid_out = bbox_area / cell_size**2
    if cells <= MAX_CELLS and laid_out <= 4 * MAX_CELLS:
        return None
    smallest = max(math.sqrt(area / MAX_CELLS), math.sqrt(bbox_area / (4 * MAX_CELLS)))
    smallest = math.ceil(smallest * 100) / 100  # to the centimetre, up
    return (f"cell_size {cell_size:g} m gives {max(cells, laid_out / 4):,.0f} cells (most allowed: {MAX_CELLS:,}); "
            f"use cell_size = {smallest:g} or more for this site")


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
