"""The area an OSM file covers, as its header declares it.

An extract (osmium extract, Geofabrik, the OSM website's export, Overpass) is cut at a box or a
polygon, and says so in its header: the PBF ``HeaderBBox``, or the XML ``<bounds>`` element.
Beyond it the file knows nothing: no building there is no proof of open ground
(:func:`cpted.prepare.coverage.building_coverage`). GDAL's OSM driver does not expose the
header, so it is read here: the first blob of a PBF file (the `PBF format
<https://wiki.openstreetmap.org/wiki/PBF_Format>`_), or the head of an XML file.
"""

from __future__ import annotations

import bz2
import gzip
import re
import struct
import zlib
from pathlib import Path

__all__ = ["osm_header_bounds"]

#: The XML head searched for ``<bounds>`` (it comes before the first node).
_XML_HEAD = 1 << 16
_BOUNDS = re.compile(rb"<bounds\b([^>]*)>")
#: The PBF format's limits on a blob header and a blob (bytes): a larger size is not OSM data.
_MAX_BLOB_HEADER = 64 * 1024
_MAX_BLOB = 32 * 1024 * 1024
_ATTR = re.compile(rb"""(minlat|minlon|maxlat|maxlon)\s*=\s*["']([-+0-9.eE]+)["']""")


def osm_header_bounds(path: str | Path) -> tuple[float, float, float, float] | None:
    """The bounding box an OSM file's header declares, (min lon, min lat, max lon, max lat) in
    degrees; None when the header declares none (or the file is not OSM data: its reader says so).
    An XML file with several ``<bounds>`` (one per area JOSM downloaded) gives the box holding them all.

    Parameters
    ----------
    path
        An ``.osm.pbf`` (``.pbf``), ``.osm``, ``.osm.gz`` or ``.osm.bz2`` file.

    Examples
    --------
    >>> osm_header_bounds(DATA / "france/le_mans_centre.osm.pbf")
    (0.19768, 48.00928, 0.20574, 48.01281)
    >>> osm_header_bounds(DATA / "france/lorient_centre.osm.gz")
    (-3.3654, 47.743, -3.3454, 47.7554)
    """
    path = Path(path)
    try:
        if path.name.lower().endswith(".pbf"):
            return _pbf_bounds(path)
        return _xml_bounds(path)
    except (OSError, EOFError, ValueError, IndexError, struct.error, zlib.error):
        return None


def _xml_bounds(path: Path) -> tuple[float, float, float, float] | None:
    name = path.name.lower()
    opener = gzip.open if name.endswith(".gz") else bz2.open if name.endswith(".bz2") else open
    with opener(path, "rb") as f:
        head = f.read(_XML_HEAD)
    boxes = []
    for found in _BOUNDS.finditer(head.split(b"<node", 1)[0]):  # JOSM writes one per area downloaded
        attrs = {k.decode(): float(v) for k, v in _ATTR.findall(found.group(1))}
        if len(attrs) != 4:
            return None
        boxes.append(_checked((attrs["minlon"], attrs["minlat"], attrs["maxlon"], attrs["maxlat"])))
    if not boxes or None in boxes:
        return None
    return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))


def _pbf_bounds(path: Path) -> tuple[float, float, float, float] | None:
    with open(path, "rb") as f:
        (size,) = struct.unpack(">I", f.read(4))
        if size > _MAX_BLOB_HEADER:
            return None
        header = dict(_fields(f.read(size)))
        if header.get(1) != b"OSMHeader" or not 0 < header.get(3, 0) <= _MAX_BLOB:
            return None
        blob = dict(_fields(f.read(header[3])))
    if 1 in blob:
        block = blob[1]
    elif 3 in blob:
        block = zlib.decompress(blob[3])
    else:  # lzma, lz4, zstd: rare for headers; no box rather than a new dependency
        return None
    box = dict(_fields(block)).get(1)
    if box is None:
        return None
    nano = {k: _unzigzag(v) * 1e-9 for k, v in _fields(box)}  # left, right, top, bottom
    if len(nano) != 4:
        return None
    return _checked((round(nano[1], 9), round(nano[4], 9), round(nano[2], 9), round(nano[3], 9)))


def _checked(box: tuple[float, float, float, float]) -> tuple[float, float, float, float] | None:
    west, south, east, north = box
    if -180 <= west < east <= 180 and -90 <= south < north <= 90:
        return box
    return None


def _varint(data: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[i]
        i += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, i
        shift += 7


def _unzigzag(value: int) -> int:
    return (value >> 1) ^ -(value & 1)


def _fields(data: bytes):
    """The (field number, value) pairs of a protobuf message: ints for varints, bytes otherwise."""
    i = 0
    while i < len(data):
        key, i = _varint(data, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(data, i)
        elif wire == 2:
            length, i = _varint(data, i)
            value, i = data[i:i + length], i + length
        elif wire in (1, 5):
            width = 8 if wire == 1 else 4
            value, i = data[i:i + width], i + width
        else:
            msg = f"protobuf wire type {wire}"
            raise ValueError(msg)
        yield number, value
