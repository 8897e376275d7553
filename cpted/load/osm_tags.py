"""OSM tag rules: raw OSM features (tags + geometry) into canonical layers.

The same rules serve OSM files (``.osm``, ``.osm.gz``, ``.osm.bz2``, ``.osm.pbf``) and the
online fetch cache, so a layer means the same thing whatever its origin.

Rules (a tag value ``no`` never counts):

==========  ======================================================================
buildings   areas (closed ways, multipolygon relations) tagged ``building=*``
entrances   nodes tagged ``entrance=*``
barriers    nodes and ways tagged ``barrier=*`` (a closed way's ring is its line)
lamps       nodes tagged ``highway=street_lamp``
trees       nodes tagged ``natural=tree``
pois        features tagged amenity / shop / office / tourism / craft / healthcare,
            leisure (playground, sports, fitness), ``highway=bus_stop`` or
            ``public_transport=platform|stop_position``; areas become their
            representative point
landuse     areas tagged landuse / leisure / amenity (school, parking...) / natural=grass
streets     ways tagged ``highway=*`` passing osmnx's ``walk`` filter (no motorways,
            cycleways, construction, platforms, area=yes, access=private, foot=no,
            service=private, sidewalk=separate), so OSM files and ``cpted fetch`` agree
water       areas tagged ``natural=water|bay|strait``, ``waterway=riverbank|dock|canal|
            boatyard``, ``water=*`` or ``landuse=basin|reservoir`` (kind: that value)
traffic_    railway land: areas tagged ``landuse=railway`` or ``railway=*`` (but not
land        ``platform``), kind ``railway``; carriageways: ways tagged ``highway=motorway|
            motorway_link|trunk|trunk_link``, kind the highway value, ``width_m`` from ``width``
==========  ======================================================================

Tag values (tunnel, bridge, covered, lit, access, foot, opening_hours...) are read by
:mod:`cpted.load.values`: a missing tag is unknown, and values it cannot read are unknown too
and reported by an :class:`~cpted.load.values.UnreadableValueWarning`.
"""

from __future__ import annotations

import re

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from cpted.config import BARRIER_KINDS
from cpted.load.heights import ISSUE_COLUMN, building_heights, parse_height, read_heights
from cpted.load.values import read_categories, read_flags, read_text, warn_unreadable

__all__ = [
    "parse_hstore",
    "parse_length",
    "osm_layers",
    "poi_category",
    "landuse_category",
    "is_walkable",
    "walk_kind",
    "water_kind",
]

_HSTORE = re.compile(r'"((?:[^"\\]|\\.)*)"=>"((?:[^"\\]|\\.)*)"')
_UNESCAPE = re.compile(r"\\(.)")


def parse_hstore(text: str | None) -> dict[str, str]:
    """Parse GDAL's HSTORE tag string into a dict.

    Examples
    --------
    >>> parse_hstore('"building"=>"yes","name"=>"Le \\\\"Lieu\\\\""')
    {'building': 'yes', 'name': 'Le "Lieu"'}
    """
    if not text:
        return {}
    return {
        _UNESCAPE.sub(r"\1", k): _UNESCAPE.sub(r"\1", v) for k, v in _HSTORE.findall(text)
    }


def parse_length(value) -> float:
    """Parse an OSM length such as ``"12"``, ``"12.5 m"``, ``"40'"`` into metres (NaN if not).

    The rules are those of :func:`cpted.load.heights.parse_height`.

    Examples
    --------
    >>> parse_length("12,5 m"), parse_length("10 ft"), bool(np.isnan(parse_length("tall")))
    (12.5, 3.048, True)
    """
    return parse_height(value)


def _has(tags: dict, key: str) -> bool:
    value = tags.get(key)
    return value is not None and value != "no"


_AMENITY = {
    **dict.fromkeys(
        ["school", "college", "university", "language_school", "music_school", "driving_school"],
        "education",
    ),
    **dict.fromkeys(["kindergarten", "childcare"], "childcare"),
    **dict.fromkeys(
        ["library", "theatre", "cinema", "arts_centre", "studio", "exhibition_centre"], "culture"
    ),
    **dict.fromkeys(
        ["restaurant", "cafe", "bar", "pub", "fast_food", "ice_cream", "biergarten", "food_court"],
        "food_drink",
    ),
    **dict.fromkeys(
        ["pharmacy", "doctors", "dentist", "clinic", "hospital", "veterinary"], "health"
    ),
    **dict.fromkeys(["police", "fire_station"], "security"),
    **dict.fromkeys(
        ["townhall", "post_office", "courthouse", "public_building", "bank", "atm", "toilets"],
        "public_service",
    ),
    **dict.fromkeys(["social_facility", "social_centre", "shelter"], "social"),
    **dict.fromkeys(["community_centre", "events_venue"], "community"),
    "place_of_worship": "worship",
    **dict.fromkeys(["parking", "bicycle_parking", "motorcycle_parking", "parking_entrance"], "parking"),
    **dict.fromkeys(["bus_station", "taxi", "bicycle_rental", "car_sharing", "ferry_terminal"], "transit"),
    **dict.fromkeys(["waste_basket", "recycling", "waste_disposal"], "waste"),
    "marketplace": "shop",
}
_LEISURE = {
    "playground": "playground",
    **dict.fromkeys(["park", "garden", "dog_park", "nature_reserve"], "park"),
    **dict.fromkeys(
        ["pitch", "sports_centre", "fitness_centre", "stadium", "track", "swimming_pool",
         "fitness_station", "sports_hall"],
        "sport",
    ),
}
_POI_LEISURE = {"playground", "sports_centre", "fitness_centre", "fitness_station", "stadium"}


def poi_category(tags: dict) -> str | None:
    """The POI category (config.POI_CATEGORIES) of a tag dict, or None if it is no POI.

    Examples
    --------
    >>> poi_category({"amenity": "cafe"}), poi_category({"shop": "bakery"})
    ('food_drink', 'shop')
    >>> poi_category({"building": "yes"}) is None
    True
    """
    if _has(tags, "amenity"):
        return _AMENITY.get(tags["amenity"], "other")
    if _has(tags, "shop"):
        return "shop"
    if tags.get("leisure") in _POI_LEISURE:
        return _LEISURE[tags["leisure"]]
    if _has(tags, "healthcare"):
        return "health"
    if _has(tags, "office"):
        return "office"
    if _has(tags, "craft"):
        return "shop"
    if _has(tags, "tourism"):
        return "tourism"
    if tags.get("highway") == "bus_stop" or tags.get("public_transport") in {
        "platform",
        "stop_position",
        "station",
    }:
        return "transit"
    return None


_LANDUSE = {
    "residential": "residential",
    **dict.fromkeys(["commercial", "retail"], "commercial"),
    **dict.fromkeys(["industrial", "railway", "garages", "construction", "brownfield"], "industrial"),
    **dict.fromkeys(["grass", "recreation_ground", "village_green", "meadow", "forest",
                     "cemetery", "allotments"], "park"),
    "religious": "worship",
    "education": "education",
}


def landuse_category(tags: dict) -> str | None:
    """The land-use category of an area's tags, or None if it is no land-use area.

    Examples
    --------
    >>> landuse_category({"landuse": "retail"}), landuse_category({"leisure": "park"})
    ('commercial', 'park')
    """
    if _has(tags, "landuse"):
        return _LANDUSE.get(tags["landuse"], "other")
    if _has(tags, "leisure"):
        return _LEISURE.get(tags["leisure"], "other")
    if tags.get("amenity") in _AMENITY and tags.get("amenity") in {
        "school", "college", "university", "kindergarten", "parking", "hospital",
        "place_of_worship", "marketplace",
    }:
        return _AMENITY[tags["amenity"]]
    if tags.get("natural") in {"grass", "scrub", "wood"}:
        return "park"
    return None


# osmnx's "walk" network filter (osmnx._overpass._get_network_filter, with its default
# access rule), as regular expressions that must NOT match the tag's value (Overpass "!~").
_WALK_EXCLUDE = {
    "area": re.compile("yes"),
    "access": re.compile("private"),
    "highway": re.compile(
        "abandoned|bus_guideway|construction|cycleway|motor|no|planned|platform|proposed|"
        "raceway|razed|rest_area|services"
    ),
    "foot": re.compile("no"),
    "service": re.compile("private"),
    "sidewalk": re.compile("separate"),
    "sidewalk:both": re.compile("separate"),
    "sidewalk:left": re.compile("separate"),
    "sidewalk:right": re.compile("separate"),
}
_STREET = {"residential", "living_street", "unclassified", "road", "primary", "primary_link",
           "secondary", "secondary_link", "tertiary", "tertiary_link", "trunk", "trunk_link"}


def is_walkable(tags: dict) -> bool:
    """osmnx's ``walk`` network filter applied to one way's tags.

    Examples
    --------
    >>> is_walkable({"highway": "footway"}), is_walkable({"highway": "motorway"})
    (True, False)
    >>> is_walkable({"highway": "service", "access": "private"})
    False
    """
    if not tags.get("highway"):
        return False
    return not any(
        key in tags and pattern.search(tags[key]) for key, pattern in _WALK_EXCLUDE.items()
    )


def walk_kind(highway) -> str:
    """Group an OSM ``highway`` value into the streets layer's ``walk_kind``.

    Examples
    --------
    >>> walk_kind("residential"), walk_kind(["steps", "footway"]), walk_kind(None)
    ('street', 'steps', 'other')
    """
    if isinstance(highway, list | tuple):
        highway = highway[0] if highway else None
    if highway in _STREET:
        return "street"
    if highway in {"footway", "corridor"}:
        return "footway"
    if highway in {"pedestrian", "path", "steps", "service", "track", "cycleway"}:
        return highway
    if highway == "bridleway":
        return "path"
    return "other"


_WATER_NATURAL = {"water", "bay", "strait"}
_WATER_WATERWAY = {"riverbank", "dock", "canal", "boatyard"}
_CARRIAGEWAYS = {"motorway", "motorway_link", "trunk", "trunk_link"}


def water_kind(tags: dict) -> str | None:
    """The water kind of an area's tags, or None if it is no water area.

    Examples
    --------
    >>> water_kind({"natural": "water", "water": "river"}), water_kind({"waterway": "dock"})
    ('river', 'dock')
    >>> water_kind({"landuse": "basin"}), water_kind({"waterway": "river"}) is None
    ('basin', True)
    """
    if _has(tags, "water"):
        return tags["water"]
    if tags.get("natural") in _WATER_NATURAL:
        return tags["natural"]
    if tags.get("waterway") in _WATER_WATERWAY:
        return tags["waterway"]
    if tags.get("landuse") in {"basin", "reservoir"}:
        return tags["landuse"]
    return None


def _traffic_kind(tags: dict, area: bool) -> str | None:
    """``railway`` for railway land (areas), the highway value for carriageways (lines)."""
    if area:
        if tags.get("landuse") == "railway" or (_has(tags, "railway") and tags["railway"] != "platform"):
            return "railway"
        return None
    highway = tags.get("highway")
    return highway if highway in _CARRIAGEWAYS else None


def _derelict(tags: dict) -> bool:
    """Vacant or derelict: building=ruins, abandoned/disused flags or keys, brownfield land.

    Examples
    --------
    >>> _derelict({"building": "ruins"}), _derelict({"disused:shop": "bakery"}), _derelict({"shop": "bakery"})
    (True, True, False)
    """
    if tags.get("building") == "ruins" or tags.get("landuse") in {"brownfield", "vacant"}:
        return True
    if tags.get("abandoned") == "yes" or tags.get("disused") == "yes" or tags.get("ruins") == "yes":
        return True
    return any(k.startswith(("disused:", "abandoned:")) for k in tags)


def osm_layers(raw: gpd.GeoDataFrame, *, name: str = "OSM") -> dict[str, gpd.GeoDataFrame]:
    """Apply the tag rules to raw OSM features.

    Parameters
    ----------
    raw
        Columns ``osm_type`` (node/way/relation), ``osm_id``, ``tags`` (dict) and geometry,
        as returned by :func:`cpted.load.osm.read_osm_raw`.
    name
        How to name the source in the warning about unreadable tag values.

    Returns
    -------
    dict
        Layer kind -> GeoDataFrame in the raw CRS, with canonical columns plus ``osm_type``
        and ``osm_id``. Streets are whole ways, not yet split at junctions.
    """
    tags = raw["tags"]
    geom = raw.geometry.values
    dims = shapely.get_dimensions(geom)
    is_node = (raw["osm_type"] == "node").to_numpy()
    is_area = dims == 2
    is_line = dims == 1

    def frame(mask, columns: dict, geometry=None) -> gpd.GeoDataFrame:
        mask = np.asarray(mask, dtype=bool)
        data = {"osm_type": raw["osm_type"].to_numpy()[mask], "osm_id": raw["osm_id"].to_numpy()[mask]}
        # object columns stay object (None = missing): pandas 3 would infer str with NaN
        data.update({k: pd.Series(np.asarray(v)[mask], dtype=object) if np.asarray(v).dtype == object
                     else np.asarray(v)[mask] for k, v in columns.items()})
        g = geom[mask] if geometry is None else geometry[mask]
        return gpd.GeoDataFrame(data, geometry=g, crs=raw.crs).reset_index(drop=True)

    # object dtype: under pandas 3, Series.map returning None/str gives NaN in a str column
    get = lambda key: np.array([t.get(key) for t in tags], dtype=object)  # noqa: E731
    ids = raw["osm_type"].astype(object) + " " + raw["osm_id"].astype(str).astype(object)
    unreadable: dict[str, dict[str, pd.Series]] = {}

    def flags(mask, key):
        reading = read_flags(pd.Series(get(key)[mask], dtype=object), key, ids=ids[mask])
        unreadable.setdefault(layer_of[key], {})[key] = reading.unreadable
        return reading.values.array

    def category(mask, key, layer):
        reading = read_categories(pd.Series(get(key)[mask], dtype=object), key, ids=ids[mask])
        unreadable.setdefault(layer, {})[key] = reading.unreadable
        return reading.values.to_numpy(dtype=object)

    def text(mask, key):
        return read_text(pd.Series(get(key)[mask], dtype=object)).to_numpy(dtype=object)

    def full(mask, values):  # a column computed on the layer's rows only, spread to all rows for frame()
        out = np.full(len(raw), None, dtype=object)
        out[np.asarray(mask, dtype=bool)] = values
        return out

    layer_of = dict.fromkeys(("tunnel", "bridge", "covered", "lit"), "streets")
    has = lambda key: tags.map(lambda t: _has(t, key)).to_numpy(dtype=bool)  # noqa: E731
    height, height_issue = read_heights(get("height"))
    b_heights = building_heights(get("height"), get("building:levels"), prefix="osm")

    layers: dict[str, gpd.GeoDataFrame] = {}
    b = has("building") & is_area
    derelict = np.array([_derelict(t) for t in tags], dtype=bool)
    layers["buildings"] = frame(
        b,
        {**{c: b_heights[c].to_numpy() for c in b_heights.columns}, "kind": get("building"), "derelict": derelict},
    )
    ent = has("entrance") & is_node
    layers["entrances"] = frame(ent, {"kind": full(ent, text(ent, "entrance")),
                                      "access": full(ent, category(ent, "access", "entrances"))})
    bar = has("barrier") & (raw["osm_type"] != "relation").to_numpy()
    kinds = np.array([k if k in BARRIER_KINDS else "other" for k in get("barrier")], dtype=object)
    ring_geom = np.where(is_area, shapely.boundary(geom), geom)
    layers["barriers"] = frame(bar, {"kind": kinds, "height_m": height, ISSUE_COLUMN: height_issue}, geometry=ring_geom)
    highway = get("highway")
    layers["lamps"] = frame((highway == "street_lamp") & is_node, {"height_m": height, ISSUE_COLUMN: height_issue})
    layers["trees"] = frame((get("natural") == "tree") & is_node, {"height_m": height, ISSUE_COLUMN: height_issue})

    poi_cat = np.array([poi_category(t) for t in tags], dtype=object)
    poi = pd.notna(poi_cat) & (is_node | is_area)
    points = np.where(is_area, shapely.point_on_surface(geom), geom)
    source = np.array(
        [next((f"{k}={t[k]}" for k in ("amenity", "shop", "leisure", "healthcare", "office",
                                        "craft", "tourism", "highway", "public_transport")
               if k in t), None) for t in tags],
        dtype=object,
    )
    layers["pois"] = frame(
        poi,
        {"category": poi_cat, "name": get("name"), "source_category": source,
         "opening_hours": full(poi, text(poi, "opening_hours"))},
        geometry=points,
    )
    lu_cat = np.array([landuse_category(t) if a else None for t, a in zip(tags, is_area, strict=True)], dtype=object)
    lu = pd.notna(lu_cat)
    layers["landuse"] = frame(lu, {"category": lu_cat, "access": full(lu, category(lu, "access", "landuse")),
                                   "derelict": derelict})
    walk = np.array([is_walkable(t) for t in tags], dtype=bool) & is_line
    layers["streets"] = frame(
        walk,
        {
            "highway": highway,
            "name": get("name"),
            "walk_kind": np.array([walk_kind(h) for h in highway], dtype=object),
            "access": full(walk, category(walk, "access", "streets")),
            "foot": full(walk, category(walk, "foot", "streets")),
        },
    )
    for key in ("tunnel", "bridge", "covered", "lit"):  # nullable booleans: <NA> is unknown
        layers["streets"][key] = flags(walk, key)
    for layer, found in unreadable.items():
        warn_unreadable(found, layer=f"{layer} ({name})")
    layers["water"] = frame(
        np.array([a and water_kind(t) is not None for t, a in zip(tags, is_area, strict=True)], dtype=bool),
        {"kind": np.array([water_kind(t) for t in tags], dtype=object)},
    )
    traffic = np.array(
        [_traffic_kind(t, a) if (a or ln) else None for t, a, ln in zip(tags, is_area, is_line, strict=True)],
        dtype=object,
    )
    layers["traffic_land"] = frame(
        np.array([k is not None for k in traffic], dtype=bool),
        {"kind": traffic, "width_m": np.array([parse_length(t.get("width")) for t in tags], dtype=float)},
    )
    return layers
