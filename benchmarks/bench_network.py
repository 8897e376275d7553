"""Benchmark: radius centralities and land-use mix of cpted against cityseer, igraph and networkx.

Run on demand (not part of the tests):

    python benchmarks/bench_network.py [--skip-networkx] [--small] [--threads 2]

Graphs: the real Nantes commune walk graph (OSMnx GraphML in ../shared/data, Lambert-93) and
subgraphs around Dervallières (the site + 400 m, and a disc grown to 3,250 nodes or more). First,
the small-graph comparison with cityseer (``--small``: only it), same threads, alternating runs,
printing the ratio. Metrics: harmonic closeness and betweenness at 400, 800 and
1200 m for every node; land-use mix (Hill numbers) of the Nantes Métropole facilities within
the same radii. Every tool gets the same graph; the script prints wall time, cpted's speed-up
and how far each tool's betweenness is from the exact value.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import logging

import geopandas as gpd
import networkx as nx
import numpy as np
import shapely

from cpted.engines.network import network_from_streets, node_centrality
from cpted.load.layers import read_layer
from cpted.measure.activity import land_use_mix
from cpted.prepare.network import node_streets, walk_graph

DATA = Path(os.environ.get("CPTED_DATA_DIR") or Path(__file__).resolve().parents[2] / "shared" / "data")
RADII = [400, 800, 1200]


def commune_streets():
    """The noded streets of the Nantes commune walk graph (parsed once per machine: the parsed-source cache)."""
    from cpted.load.cache import sources_dir
    from cpted.load.sites_file import LayerSpec
    from cpted.prepare.sources import SourceCache

    spec = LayerSpec(path=DATA / "nantes/streets/walk_nantes_commune.graphml.bz2")
    return node_streets(SourceCache(sources_dir()).layer(spec, "streets")[0].to_crs(2154))


def as_graph(s):
    g = nx.Graph(crs="EPSG:2154")
    for u, v, d in walk_graph(s).edges(data=True):
        if u != v and d["length"] > 0:
            if not g.has_edge(u, v) or d["length"] < g[u][v]["length"]:
                g.add_edge(u, v, length=d["length"], geom=d["geometry"])
    for n, d in walk_graph(s).nodes(data=True):
        if n in g:
            g.nodes[n]["x"], g.nodes[n]["y"] = d["x"], d["y"]
    return g


def site_graphs(streets):
    """Subgraphs around Dervallières: the site + 400 m (a 900 m disc, as an audit reads it), and
    the disc grown until it holds 3,250 nodes or more (the size issue 18 quotes)."""
    centre = gpd.GeoSeries([shapely.Point(-1.5965, 47.2232)], crs=4326).to_crs(2154).iloc[0]
    out = {}
    for radius in (900, 2500, 2600, 2800, 3000):
        s = node_streets(streets[streets.intersects(centre.buffer(radius))].reset_index(drop=True))
        g = as_graph(s)
        if radius == 900:
            out["site (Dervallières + 400 m)"] = (g, s)
        elif g.number_of_nodes() >= 3250:
            out[f"Dervallières, {radius} m disc"] = (g, s)
            break
    return out


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def run_cpted(g, threads):
    import numba

    numba.set_num_threads(threads)
    return timed(lambda: node_centrality(g, radii=RADII))


def run_igraph(g):
    import igraph as ig

    nodes = list(g.nodes)
    index = {n: i for i, n in enumerate(nodes)}
    h = ig.Graph(n=len(nodes), edges=[(index[u], index[v]) for u, v in g.edges])
    h.es["length"] = [d["length"] for *_, d in g.edges(data=True)]

    def go():
        out = {}
        for r in RADII:
            out[f"harmonic_{r}"] = np.array(h.harmonic_centrality(cutoff=r, weights="length", normalized=False)) * (len(nodes) - 1)
            out[f"betweenness_{r}"] = np.array(h.betweenness(cutoff=r, weights="length"))
        return out

    return timed(go)


def run_cityseer(g):
    from cityseer.metrics import networks
    from cityseer.tools import io

    mg = nx.relabel_nodes(nx.MultiGraph(g), {n: str(n) for n in g})  # cityseer wants string keys
    mg.graph["crs"] = "EPSG:2154"
    nodes_gdf, _, structure = io.network_structure_from_nx(mg)
    if hasattr(networks, "centrality_shortest"):  # cityseer >= 5: only the two metrics cpted computes, no cycles
        def go():
            return networks.centrality_shortest(structure, nodes_gdf, distances=RADII, closeness={"harmonic": "1/c"},
                                                betweenness={"betweenness": "1"}, cycles=False, postprocess={})
    else:  # cityseer 4
        def go():
            return networks.node_centrality_shortest(structure, nodes_gdf, distances=RADII, compute_closeness=True,
                                                     compute_betweenness=True)
    t, res = timed(go)
    return t, res, nodes_gdf


def run_networkx(g):
    def go():
        out = {}
        for r in RADII:
            out[f"harmonic_{r}"] = {n: sum(1 / d for t, d in nx.single_source_dijkstra_path_length(g, n, cutoff=r, weight="length").items() if t != n) for n in g}
        out["betweenness_inf"] = nx.betweenness_centrality(g, normalized=False, weight="length")
        return out

    return timed(go)


def run_mix(g, streets, pois):
    net = network_from_streets(streets)
    places = gpd.GeoSeries(gpd.points_from_xy([d["x"] for _, d in g.nodes(data=True)], [d["y"] for _, d in g.nodes(data=True)]), crs=2154)
    land_use_mix(places.iloc[:10], pois, streets, net, radii=RADII)  # compile
    return timed(lambda: land_use_mix(places, pois, streets, net, radii=RADII))


def run_cityseer_mix(g, pois):
    from cityseer.metrics import layers
    from cityseer.tools import io

    mg = nx.relabel_nodes(nx.MultiGraph(g), {n: str(n) for n in g})
    mg.graph["crs"] = "EPSG:2154"
    nodes_gdf, _, structure = io.network_structure_from_nx(mg)
    data = pois[["category", "geometry"]].reset_index(drop=True)
    data["uid"] = data.index.astype(str)
    return timed(lambda: layers.compute_mixed_uses(data, "category", nodes_gdf, structure, distances=RADII, compute_hill=True, data_id_col="uid"))


def small_graphs(gs, threads: int, repeats: int) -> None:
    """cpted against cityseer on the small graphs, the same threads, alternating runs: the median
    of each and their ratio. cpted's time includes building its arrays from the networkx graph;
    cityseer's does not include building its network structure."""
    import numba

    numba.set_num_threads(threads)
    print(f"\n== small graphs: node_centrality against cityseer, {threads} thread(s) each (cityseer: "
          f"RAYON_NUM_THREADS={os.environ.get('RAYON_NUM_THREADS', 'all')}), radii {RADII} m, median of {repeats}")
    print(f"{'graph':<34}{'nodes':>7}{'cpted (s)':>11}{'cityseer (s)':>14}{'ratio':>8}")
    for name, (g, _) in gs.items():
        node_centrality(g, radii=RADII)  # load the compiled kernels outside the timing
        run_cityseer(g)
        ours, theirs = [], []
        for _ in range(repeats):
            ours.append(timed(lambda g=g: node_centrality(g, radii=RADII))[0])
            theirs.append(run_cityseer(g)[0])
        a, b = float(np.median(ours)), float(np.median(theirs))
        print(f"{name:<34}{g.number_of_nodes():>7}{a:>11.3f}{b:>14.3f}{b / a:>7.1f}x")


def main() -> int:
    logging.getLogger("cityseer").setLevel(logging.WARNING)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--skip-networkx", action="store_true", help="networkx takes minutes even on the site graph")
    ap.add_argument("--small", action="store_true", help="only the small-graph comparison with cityseer")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                    help="threads of both tools in the small-graph comparison (sets RAYON_NUM_THREADS for cityseer)")
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()
    os.environ.setdefault("RAYON_NUM_THREADS", str(args.threads))  # before cityseer is imported
    os.environ.setdefault("CITYSEER_QUIET_MODE", "1")  # no progress bars
    if not DATA.is_dir():
        print(f"data not found at {DATA}; set CPTED_DATA_DIR", file=sys.stderr)
        return 1
    streets = commune_streets()
    small_graphs(site_graphs(streets), args.threads, args.repeats)
    if args.small:
        return 0
    pois, _ = read_layer(DATA / "nantes/equipements_2014.gpkg", "pois")
    pois = pois.to_crs(2154)
    cores = os.cpu_count() or 1
    for name, (g, streets) in {"Nantes commune": (as_graph(streets), streets), **site_graphs(streets)}.items():
        print(f"\n== {name}: {g.number_of_nodes()} nodes, {g.number_of_edges()} edges; radii {RADII} m; {cores} cores")
        node_centrality(g.subgraph(list(g)[:50]).copy(), radii=RADII)  # compile outside the timing
        t1, ours = run_cpted(g, 1)
        tn, _ = run_cpted(g, cores)
        rows = [("cpted, 1 thread", t1, 0.0), (f"cpted, {cores} threads", tn, 0.0)]
        try:
            t, ig_res = run_igraph(g)
            err = max(np.max(np.abs(ig_res[f"betweenness_{r}"] - ours[f"betweenness_{r}"].to_numpy()) / np.maximum(ours[f"betweenness_{r}"].to_numpy(), 1)) for r in RADII)
            rows.append(("igraph (cutoff), 1 thread", t, err))
        except ImportError as exc:
            print(f"igraph skipped: {exc}")
        try:
            t, cs, nodes_gdf = run_cityseer(g)
            order = [ours.index.get_loc(int(n)) for n in nodes_gdf.index]
            err = 0.0
            for r in RADII:
                col = next(c for c in cs.columns if c.startswith("cc_betweenness") and c.endswith(f"_{r}"))
                mine = ours[f"betweenness_{r}"].to_numpy()[order]
                err = max(err, float(np.max(np.abs(cs[col].to_numpy() - mine) / np.maximum(mine, 1))))
            rows.append((f"cityseer, {cores} threads", t, err))
        except ImportError as exc:
            print(f"cityseer skipped: {exc}")
        if not args.skip_networkx and g.number_of_nodes() < 5000:
            t, _ = run_networkx(g)
            rows.append(("networkx (global betweenness)", t, float("nan")))
        print(f"{'tool':<34}{'seconds':>9}{'cpted speed-up (same threads)':>31}{'max betweenness error':>24}")
        for tool, t, err in rows:
            same = tn if (str(cores) in tool and "cpted" not in tool) else t1
            print(f"{tool:<34}{t:>9.2f}{t / same:>30.1f}x{err:>24.2e}")
        t_mix, _ = run_mix(g, streets, pois)
        line = f"land-use mix of {len(pois)} facilities at every node: cpted {t_mix:.2f} s"
        try:
            t_cs, _ = run_cityseer_mix(g, pois)
            line += f", cityseer {t_cs:.2f} s ({t_cs / t_mix:.1f}x)"
        except ImportError:
            pass
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
