"""The faster paths of the batch (issue 18) give the same answers as the exact slow paths they
replace: on real data (Île de Nantes) and in property tests."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely import box

from cpted.measure.territoriality import clip_lines
from cpted.prepare.grid import _cell_ids, union_cells


def _same_clip(lines, area) -> None:
    fast, slow = clip_lines(lines, area), shapely.intersection(lines, area)
    empty = shapely.is_empty(slow)
    assert (shapely.is_empty(fast) == empty).all()
    assert shapely.equals_exact(fast[~empty], slow[~empty], tolerance=0.0).all()


_points = st.lists(st.tuples(st.integers(0, 12), st.integers(0, 12)), min_size=2, max_size=6)


@settings(max_examples=200, deadline=None)
@given(st.lists(_points, min_size=1, max_size=8), st.sets(st.tuples(st.integers(0, 5), st.integers(0, 5)), min_size=1),
       st.sampled_from([0.0, 0.5, 1.0]))
def test_clip_lines_is_the_overlay(paths, squares, grow):
    # lines on a small lattice: self-crossing, repeated points, closed, on the area's edges
    lines = np.array([shapely.LineString(p) for p in paths if len(set(p)) > 1] or [shapely.LineString([(0, 0), (1, 1)])])
    area = shapely.union_all([box(2 * i, 2 * j, 2 * i + 2, 2 * j + 2) for i, j in squares])
    if grow:
        area = area.buffer(grow)
    _same_clip(lines, area)
    _same_clip(np.array([shapely.MultiLineString([[(0, 0), (6, 6)], [(1, 1), (2, 5)]])]), area)


def test_clip_lines_on_ile_de_nantes_streets(data):
    # the real use: the streets of Île de Nantes cut to the public cells (buffered) of its grid
    from cpted.load.graph import read_graphml
    from cpted.load.layers import read_layer
    from cpted.prepare.grid import analysis_grid

    window = box(355000, 6687800, 356600, 6688700)
    buildings, _ = read_layer(data / "nantes/ile_de_nantes_bdtopo_buildings.geojson", "buildings", repair=True)
    cells = analysis_grid(window, crs=2154, cell_size=5, exclude=buildings.to_crs(2154).geometry)
    area = shapely.union_all(cells.geometry.values).buffer(5.0)
    streets = read_graphml(data / "nantes/streets/walk_nantes_commune.graphml.bz2").to_crs(2154)
    local = streets.geometry.values[streets.sindex.query(window, predicate="intersects")]
    assert len(local) > 500
    _same_clip(local, area)
    inside = shapely.contains_properly(area, local)
    assert inside.sum() > 100 and (~inside & shapely.intersects(area, local)).sum() > 50  # both paths taken


def _dwithin_each(points, geoms, distance) -> np.ndarray:
    hit = np.zeros(len(points), dtype=bool)
    idx, _ = shapely.STRtree(geoms).query(points, predicate="dwithin", distance=distance)
    hit[idx] = True
    return hit


_segments = st.lists(st.tuples(*[st.integers(-30, 70)] * 4), min_size=1, max_size=6)


@settings(max_examples=150, deadline=None)
@given(_segments, st.integers(8, 40), st.sampled_from([1.0, 2.5]))
def test_inside_a_distance_by_tiles_is_each_point_tested(segments, distance, spacing):
    # points on a lattice and integer segment ends: many points exactly at the distance limit
    from cpted.prepare.grid import _inside

    xs = np.arange(0, 40, spacing)
    x, y = (a.ravel() for a in np.meshgrid(xs, xs))
    points = shapely.points(x, y)
    geoms = np.array([shapely.LineString([(a, b), (c, d)]) if (a, b) != (c, d) else shapely.Point(a, b)
                      for a, b, c, d in segments])
    assert (_inside(points, geoms, distance=float(distance)) == _dwithin_each(points, geoms, float(distance))).all()


def test_inside_a_distance_on_ile_de_nantes(data):
    # the grid's two reach tests (150 m of any street, 30 m of a walkable way) over Île de Nantes
    from cpted.load.graph import read_graphml
    from cpted.prepare.grid import STREETS_EXTENT, WALK_REACH, _centres, _inside

    window = box(354400, 6687700, 357400, 6688800).buffer(400)
    streets = read_graphml(data / "nantes/streets/walk_nantes_commune.graphml.bz2").to_crs(2154)
    lines = streets.geometry.values[streets.sindex.query(window.buffer(200), predicate="intersects")]
    x, y = _centres(window, 5.0)
    points = shapely.points(x, y)
    for distance in (STREETS_EXTENT, WALK_REACH):
        fast, each = _inside(points, lines, distance=distance), _dwithin_each(points, lines, distance)
        assert (fast == each).all() and 0 < each.sum() < len(points)


def _nan_reasons_each(cells, key, column, completeness, lang):
    """The reasons of the interactive map's NaN cells, cell by cell (the former loop)."""
    from cpted.report.i18n import tr, tr_phrase
    from cpted.report.interactive import _labels
    from cpted.score.scores import MIN_COMPLETENESS, PRINCIPLES, RULES

    if key == "cpted_index":
        metrics, text = [f"score_{p}" for p in PRINCIPLES], "{share} of the principles' weight scored (needs {need})"
    else:
        principle = "surveillance" if key == "surveillance_night" else key
        period = "day" if key == "surveillance_night" else "night"
        metrics = [m for m, r in RULES.items() if r.principle == principle and r.period != period]
        text = "{share} of its inputs have data (needs {need})"
    names = [_labels(lang)[m.removeprefix("score_")] if key == "cpted_index" else m for m in metrics]
    out = []
    for _, row in cells.iterrows():
        if not np.isnan(row[column]):
            out.append("")
            continue
        share = row[completeness]
        parts = [tr(text, lang, share=f"{share:.0%}", need=f"{MIN_COMPLETENESS:.0%}")] if np.isfinite(share) else []
        gone = [name for name, m in zip(names, metrics) if m not in cells or np.isnan(row[m])]
        if gone and any(m in cells for m in metrics):
            parts.append(tr("no data for {metrics}", lang, metrics=", ".join(gone)))
        if row["coverage_reason"]:
            parts.append(tr_phrase(row["coverage_reason"], lang))
        out.append("; ".join(parts) or tr("not scored", lang))
    return out


@settings(max_examples=40, deadline=None)
@given(st.data(), st.sampled_from(["surveillance", "territoriality", "cpted_index"]), st.sampled_from(["en", "fr"]))
def test_nan_reasons_by_groups_are_each_cells_own(data, key, lang):
    import pandas as pd

    from cpted.report.interactive import _nan_reasons
    from cpted.score.scores import PRINCIPLES, RULES

    n = 60
    if key == "cpted_index":
        metrics, column, completeness = [f"score_{p}" for p in PRINCIPLES], "cpted_index", "completeness_index"
    else:
        metrics = [m for m, r in RULES.items() if r.principle == key and r.period != "night"]
        column, completeness = f"score_{key}", f"completeness_{key}"
    pick = lambda values: np.array(data.draw(st.lists(st.sampled_from(values), min_size=n, max_size=n)))  # noqa: E731
    cells = pd.DataFrame({m: pick([np.nan, 10.0, 80.0]) for m in metrics[: len(metrics) - 1]})  # the last one absent
    cells[column] = pick([np.nan, np.nan, 40.0])
    cells[completeness] = pick([np.nan, 0.0, 0.25, 0.5, 0.504, 0.9])
    cells["coverage_reason"] = pick(["", "no building loaded", ""])
    assert _nan_reasons(cells, key, column, completeness, lang) == _nan_reasons_each(cells, key, column, completeness, lang)


def test_one_street_attachment_for_every_measure(data, tmp_path):
    # the audit finds each cell's nearest street once and hands it to activity and territoriality:
    # the same cells and site values as when each measure finds it itself
    import pandas as pd

    from cpted.engines.network import RADII
    from cpted.load.sites_file import read_sites_file
    from cpted.measure.activity import activity
    from cpted.measure.territoriality import territoriality
    from cpted.pipeline import _network, load_site

    path = tmp_path / "sites.toml"
    path.write_text(f'''title = "t"
[defaults]
crs = "EPSG:2154"
cell_size = 5
context = 200
[[site]]
id = "le_mans_centre"
bbox = [491100, 6771330, 491760, 6771770]
[site.layers]
osm = "{data}/france/le_mans_centre.osm.pbf"
''', encoding="utf-8")
    site = load_site(read_sites_file(path).site("le_mans_centre"))
    net, _, _, attachment, why = _network(site, 1.0, RADII)
    assert why is None and len(attachment[0]) == len(site.grid)
    for measure, options in ((activity, {"radii": RADII}), (territoriality, {})):
        own, given = measure(site, net, **options), measure(site, net, attachment=attachment, **options)
        pd.testing.assert_frame_equal(own.cells, given.cells, check_exact=True)
        assert own.cells.notna().any().any()
        assert pd.Series(own.summary).equals(pd.Series(given.summary))


@settings(max_examples=100, deadline=None)
@given(st.sets(st.tuples(st.integers(0, 15), st.integers(0, 15)), min_size=1), st.sampled_from([5.0, 0.1, 2.5]),
       st.booleans())
def test_union_cells_is_the_union(nodes, size, overlap):
    """The coverage union of grid cells (holes, cells touching at a corner, Lambert-93 magnitudes)
    equals the general union; squares that overlap, or are not on one lattice, get the general union."""
    x0, y0 = 354300.0, 6687600.0
    squares = np.array([box(x0 + i * size, y0 + j * size, x0 + (i + 1) * size, y0 + (j + 1) * size) for i, j in nodes])
    if overlap:
        squares = np.append(squares, box(x0 + 0.4 * size, y0 + 0.3 * size, x0 + 1.4 * size, y0 + 1.3 * size))
    fast, slow = union_cells(squares), shapely.union_all(squares)
    assert shapely.is_valid(fast)
    assert fast.area == pytest.approx(slow.area, rel=1e-12)
    assert shapely.equals(fast, slow)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(-10**6, 10**7), st.integers(-10**6, 10**7), st.sampled_from([1.0, 2.5, 0.1, 3.7])),
                max_size=40))
def test_cell_ids_are_the_formatted_corners(corners):
    x = np.array([i * step for i, _, step in corners], dtype=float)
    y = np.array([j * step for _, j, step in corners], dtype=float)
    assert _cell_ids(x, y) == [f"{a:.10g}_{b:.10g}" for a, b in zip(x, y, strict=True)]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(st.one_of(st.none(), st.floats(0, 100)), min_size=6, max_size=6), max_size=30))
def test_drivers_are_the_largest_deficits_of_each_cell(rows):
    """The drivers, formatted once per distinct triple of metrics, are those of the cell-by-cell
    rule: the (up to) three metrics scoring below 50 with the largest weighted deficit."""
    import pandas as pd

    from cpted.score.scores import RULES, metric_scores, read_weights, score_cells

    names = ["eyes_43", "eyes_15", "isovist_area", "mix_d1_800", "depth_m", "escape_routes"]
    cells = pd.DataFrame([[np.nan if v is None else v for v in r] for r in rows], columns=names, dtype=float)
    drivers = score_cells(cells)["drivers"].tolist()
    scores = metric_scores(cells)
    deficit = (100.0 - scores).mul(pd.Series(read_weights()["metrics"])[scores.columns], axis=1).where(scores < 50)
    low = {RULES[m].low: m for m in names}
    for i in range(len(cells)):
        d = deficit.iloc[i].dropna()
        positive = d[d > 0]
        named = [low[t] for t in drivers[i].split("; ")] if drivers[i] else []
        assert len(named) == min(3, len(positive)) == len(set(named))
        values = [positive[m] for m in named]  # each named metric has a deficit, largest first
        assert values == sorted(values, reverse=True)
        assert all(v >= positive[m] for v in values for m in positive.index if m not in named)  # ties either way
