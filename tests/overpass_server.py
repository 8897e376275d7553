"""A small Overpass API server for tests: it answers osmnx's queries from a real OSM extract.

It implements the part of Overpass QL that osmnx sends: ``node/way/relation`` statements
with tag filters (``["k"]``, ``["k"="v"]``, ``["k"!="v"]``, ``["k"~"re"]``, ``["k"!~"re"]``)
and a ``(poly:"lat lon ...")`` area, unions, recursion down (``>``, ``(._;>;)``) and
``out;`` as JSON. It also answers ``/status`` like the real server. The extract is read with
pyosmium, independently of cpted's own OSM reader.
"""

from __future__ import annotations

import json
import re
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import osmium
import shapely

_FILTER = re.compile(r"""\[\s*(['"])(.*?)\1\s*(?:(!=|=|!~|~)\s*(['"])(.*?)\4)?\s*\]""")
_STATEMENT = re.compile(r"""(node|way|relation)((?:\[[^\]]*\])+)\(poly:\s*(['"])([^'"]*)\3\)""")


class Extract:
    """Nodes, ways and relations of an OSM file, in memory."""

    def __init__(self, path: str):
        self.nodes: dict[int, dict] = {}
        self.ways: dict[int, dict] = {}
        self.relations: dict[int, dict] = {}
        for obj in osmium.FileProcessor(path):
            tags = {t.k: t.v for t in obj.tags}
            if obj.is_node():
                self.nodes[obj.id] = {"type": "node", "id": obj.id, "lat": obj.location.lat, "lon": obj.location.lon, "tags": tags}
            elif obj.is_way():
                self.ways[obj.id] = {"type": "way", "id": obj.id, "nodes": [n.ref for n in obj.nodes], "tags": tags}
            elif obj.is_relation():
                members = [{"type": {"n": "node", "w": "way", "r": "relation"}[m.type], "ref": m.ref, "role": m.role} for m in obj.members]
                self.relations[obj.id] = {"type": "relation", "id": obj.id, "members": members, "tags": tags}

    def _shape(self, element: dict, depth: int = 0):
        if element["type"] == "node":
            return shapely.Point(element["lon"], element["lat"])
        if element["type"] == "way":
            pts = [(self.nodes[n]["lon"], self.nodes[n]["lat"]) for n in element["nodes"] if n in self.nodes]
            return shapely.LineString(pts) if len(pts) > 1 else (shapely.Point(pts[0]) if pts else None)
        if depth > 2:
            return None
        parts = []
        for m in element["members"]:
            table = {"node": self.nodes, "way": self.ways, "relation": self.relations}[m["type"]]
            if m["ref"] in table:
                s = self._shape(table[m["ref"]], depth + 1)
                if s is not None:
                    parts.append(s)
        return shapely.GeometryCollection(parts) if parts else None

    def select(self, kind: str, filters: list[tuple], polygon) -> list[dict]:
        table = {"node": self.nodes, "way": self.ways, "relation": self.relations}[kind]
        out = []
        for element in table.values():
            if all(_match(element["tags"], f) for f in filters):
                shape = self._shape(element)
                if shape is not None and polygon.intersects(shape):
                    out.append(element)
        return out

    def down(self, elements: list[dict]) -> list[dict]:
        """Recurse down: the nodes of ways, the members of relations (and their nodes)."""
        found = {(e["type"], e["id"]): e for e in elements}
        stack = list(elements)
        while stack:
            e = stack.pop()
            children = []
            if e["type"] == "way":
                children = [self.nodes[n] for n in e["nodes"] if n in self.nodes]
            elif e["type"] == "relation":
                for m in e["members"]:
                    table = {"node": self.nodes, "way": self.ways, "relation": self.relations}[m["type"]]
                    if m["ref"] in table:
                        children.append(table[m["ref"]])
            for c in children:
                if (c["type"], c["id"]) not in found:
                    found[(c["type"], c["id"])] = c
                    stack.append(c)
        return list(found.values())


def _match(tags: dict, f: tuple) -> bool:
    key, op, value = f
    if op is None:
        return key in tags
    if op == "=":
        return tags.get(key) == value
    if op == "!=":
        return tags.get(key) != value
    if op == "~":
        return key in tags and re.search(value, tags[key]) is not None
    return not (key in tags and re.search(value, tags[key]) is not None)  # !~


def answer(extract: Extract, query: str) -> dict:
    """Evaluate an osmnx Overpass query against the extract."""
    selected: dict[tuple, dict] = {}
    recurse = ">" in query
    for kind, filter_text, _, poly in _STATEMENT.findall(query):
        filters = [(k, op or None, v) for _, k, op, _, v in _FILTER.findall(filter_text)]
        numbers = [float(x) for x in poly.split()]
        polygon = shapely.Polygon(list(zip(numbers[1::2], numbers[0::2], strict=True)))
        hits = extract.select(kind, filters, polygon)
        if recurse:
            hits = extract.down(hits)
        for e in hits:
            selected[(e["type"], e["id"])] = e
    return {"version": 0.6, "generator": "cpted test Overpass", "elements": list(selected.values())}


class OverpassServer:
    """Serve an extract on 127.0.0.1 in a background thread; use as a context manager."""

    def __init__(self, path: str):
        self.extract = Extract(path)
        self.queries: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def _send(self, code: int, body: bytes, ctype: str) -> None:
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):  # noqa: N802
                if self.path.rstrip("/").endswith("/status"):
                    text = ("Connected as: 1\nCurrent time: 2026-01-01T00:00:00Z\nAnnounced endpoint: none\n"
                            "Rate limit: 2\n2 slots available now.\nCurrently running queries (pid, space limit, time limit, start time):\n")
                    self._send(200, text.encode(), "text/plain")
                else:
                    self._send(404, b"not found", "text/plain")

            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("Content-Length", 0))
                form = urllib.parse.parse_qs(self.rfile.read(length).decode())
                query = form.get("data", [""])[0]
                outer.queries.append(query)
                body = json.dumps(answer(outer.extract, query)).encode()
                self._send(200, body, "application/json")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/api"

    def __enter__(self) -> OverpassServer:
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
