"""Exactness against CGAL (pyvispoly) on real buildings: Île de Nantes (BD TOPO) and Lorient (OSM)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely

from cpted.engines.visibility import isovists, prepare_scene
from cpted.load.layers import read_layer

pv = pytest.importorskip("pyvispoly", reason="pyvispoly (CGAL) is the reference: pip install pyvispoly")


def _ring(coords: np.ndarray, clockwise: bool):
    pts = coords[:-1]
    twice_area = np.sum(pts[:, 0] * np.roll(pts[:, 1], -1) - np.roll(pts[:, 0], -1) * pts[:, 1])
    if (twice_area < 0) != clockwise:
        pts = pts[::-1]
    return pv.Polygon([pv.Point(float(x), float(y)) for x, y in pts])


def _case(buildings: gpd.GeoDataFrame, n: int = 500, seed: int = 0):
    """Obstacles as CGAL needs them (disjoint, no holes), the domain, and n free observers."""
    merged = [shapely.Polygon(p.exterior) for p in shapely.get_parts(shapely.union_all(buildings.geometry.values))]
    extent = shapely.box(*buildings.total_bounds).buffer(20, join_style="mitre")
    domain = pv.PolygonWithHoles(
        _ring(np.asarray(extent.exterior.coords), False), [_ring(np.asarray(p.exterior.coords), True) for p in merged]
    )
    free = extent.difference(shapely.union_all(merged))
    rng = np.random.default_rng(seed)
    x0, y0, x1, y1 = extent.bounds
    candidates = shapely.points(rng.uniform((x0, y0), (x1, y1), (8 * n, 2)))
    observers = candidates[shapely.contains(free, candidates)][:n]
    assert len(observers) == n
    return gpd.GeoSeries(merged, crs=buildings.crs), extent, pv.VisibilityPolygonCalculator(domain), gpd.GeoSeries(observers, crs=buildings.crs)


def _reference(calc, observers) -> list[shapely.Polygon]:
    out = []
    for p in observers:
        v = calc.compute_visibility_polygon(pv.Point(p.x, p.y))
        out.append(shapely.Polygon([(float(q.x()), float(q.y())) for q in v.boundary()]))
    return out


@pytest.fixture(scope="module", params=["ile_de_nantes", "lorient"])
def case(request, data):
    if request.param == "ile_de_nantes":
        b, _ = read_layer(data / "nantes/ile_de_nantes_bdtopo_buildings.geojson", "buildings", repair=True)
    else:
        b, _ = read_layer(data / "france/lorient_centre.osm.gz", "buildings")
        b = b.to_crs(2154)
    obstacles, extent, calc, observers = _case(b)
    return obstacles, extent, observers, _reference(calc, observers)


def test_unlimited_radius_matches_cgal(case):
    obstacles, extent, observers, reference = case
    ours = isovists(observers, prepare_scene(obstacles, extent=extent), radius=None)
    ref_area = np.array([p.area for p in reference])
    assert np.abs(ours["isovist_area"].to_numpy() - ref_area).max() / ref_area.min() < 1e-6
    np.testing.assert_allclose(ours["isovist_area"].to_numpy(), ref_area, rtol=1e-6)
    np.testing.assert_allclose(ours["isovist_perimeter"].to_numpy(), [p.length for p in reference], rtol=1e-6)
    np.testing.assert_allclose(ours.geometry.area.to_numpy(), ref_area, rtol=1e-6)  # the drawn polygons too


@pytest.mark.parametrize("radius", [50.0, 100.0])
def test_finite_radius_matches_cgal(case, radius):
    obstacles, extent, observers, reference = case
    ours = isovists(observers, prepare_scene(obstacles, extent=extent), radius=radius, geometry=False)
    # the reference disc is a polygon of 16,384 sides: its own relative area error is ~2.5e-8
    discs = shapely.buffer(observers.values, radius, quad_segs=4096)
    ref_area = shapely.area(shapely.intersection(np.array(reference, dtype=object), discs))
    np.testing.assert_allclose(ours["isovist_area"].to_numpy(), ref_area, rtol=1e-6)
