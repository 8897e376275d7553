"""Compiled kernels of the network engine: one bounded Dijkstra per source, all radii at once.

For each source the shortest-path search runs once, up to the largest radius, on a compact
array graph (CSR). Every radius is then read off the same search: reach, farness, harmonic
closeness and circuity from the settled distances, and betweenness by Brandes' backward
accumulation restricted, radius by radius, to the targets within it. Predecessors are not
stored: v precedes w exactly when ``cost[v] + c(v, w) == cost[w]``, recomputed in the backward
pass with the same floating-point operation as the forward one (as networkx decides ties).

The search minimises ``cost`` and limits by ``length``: for metric analysis both are the edge
length; for angular analysis the cost is the turn angle and the radius is the metric length of
the least-angle path (depthmapX's convention).

Sources are processed in parallel chunks (numba prange), each with its own work arrays and its
own betweenness accumulators, summed at the end.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

# per-source, per-radius output columns
REACH, FARNESS, HARMONIC, COST_SUM, EUCLID_SUM = range(5)
N_OUT = 5


@njit(cache=True, inline="always")
def _push(hk, hv, size, key, val):
    """Binary min-heap push (keys hk, values hv); returns the new size."""
    i = size
    while i > 0:
        p = (i - 1) >> 1
        if hk[p] <= key:
            break
        hk[i] = hk[p]
        hv[i] = hv[p]
        i = p
    hk[i] = key
    hv[i] = val
    return size + 1


@njit(cache=True, inline="always")
def _pop(hk, hv, size):
    """Binary min-heap pop; returns (key, value, new size)."""
    key = hk[0]
    val = hv[0]
    size -= 1
    last_k = hk[size]
    last_v = hv[size]
    i = 0
    while True:
        c = 2 * i + 1
        if c >= size:
            break
        if c + 1 < size and hk[c + 1] < hk[c]:
            c += 1
        if last_k <= hk[c]:
            break
        hk[i] = hk[c]
        hv[i] = hv[c]
        i = c
    hk[i] = last_k
    hv[i] = last_v
    return key, val, size


@njit(cache=True)
def _search(s, indptr, nbr, cost, length, rmax, dcost, dlen, sigma, done, order, hk, hv, terminal):
    """Bounded Dijkstra from s: fills dcost, dlen, sigma; returns the number settled (in ``order``).

    Nodes flagged ``terminal`` are reached and settled but not expanded (except the source).
    """
    dcost[s] = 0.0
    dlen[s] = 0.0
    sigma[s] = 1.0
    size = _push(hk, hv, 0, 0.0, s)
    n_settled = 0
    while size > 0:
        key, v, size = _pop(hk, hv, size)
        if done[v] or key > dcost[v]:
            continue
        done[v] = True
        order[n_settled] = v
        n_settled += 1
        if terminal[v] and v != s:
            continue
        for a in range(indptr[v], indptr[v + 1]):
            w = nbr[a]
            if done[w]:
                continue
            alt = dcost[v] + cost[a]
            alt_len = dlen[v] + length[a]
            if alt_len > rmax:
                continue
            if alt < dcost[w]:
                dcost[w] = alt
                dlen[w] = alt_len
                sigma[w] = sigma[v]
                size = _push(hk, hv, size, alt, w)
            elif alt == dcost[w]:
                sigma[w] += sigma[v]
                if alt_len < dlen[w]:
                    dlen[w] = alt_len
    return n_settled


@njit(parallel=True, cache=True)
def centrality(indptr, nbr, cost, length, eid, n_edges, xy, radii, sources, outside, chunks,
               rindptr, rnbr, rcost, reid, terminal, target, group):
    """Radius centralities of ``sources`` on the CSR graph.

    ``rindptr, rnbr, rcost, reid`` give the incoming adjacency (the same arrays for an
    undirected graph). Only nodes flagged ``target`` count as destinations (reach, depth,
    pairs of betweenness); nodes flagged ``terminal`` end paths (see :func:`_search`). Nodes of
    one ``group`` stand for one place (the directed halves of a segment): a node gets no
    betweenness from pairs that start or end in its own group.

    Returns
    -------
    per_source : (len(sources), len(radii), N_OUT)
        reach, farness (metric), harmonic closeness (metric), total cost (depth) and the sum of
        straight-line distances to the nodes reached.
    node_btw, edge_btw : (n, k), (n_edges, k)
        Betweenness (pairs counted from both ends: halve for undirected graphs).
    node_thru, edge_thru : same shapes
        The part of it from pairs whose source and target both have ``outside`` set.
    """
    n = indptr.shape[0] - 1
    k = radii.shape[0]
    rmax = radii[k - 1]
    per_source = np.zeros((sources.shape[0], k, N_OUT))
    n_chunks = chunks.shape[0] - 1
    node_btw_c = np.zeros((n_chunks, n, k))
    edge_btw_c = np.zeros((n_chunks, n_edges, k))
    node_thru_c = np.zeros((n_chunks, n, k))
    edge_thru_c = np.zeros((n_chunks, n_edges, k))
    m_adj = nbr.shape[0]
    for c in prange(n_chunks):
        dcost = np.full(n, np.inf)
        dlen = np.full(n, np.inf)
        sigma = np.zeros(n)
        done = np.zeros(n, dtype=np.bool_)
        order = np.empty(n, dtype=np.int64)
        hk = np.empty(m_adj + 1)
        hv = np.empty(m_adj + 1, dtype=np.int64)
        delta = np.zeros((n, k))
        delta_out = np.zeros((n, k))
        own = np.zeros((n, k))
        own_out = np.zeros((n, k))
        for si in range(chunks[c], chunks[c + 1]):
            s = sources[si]
            ns = _search(s, indptr, nbr, cost, length, rmax, dcost, dlen, sigma, done, order, hk, hv, terminal)
            src_out = outside[s]
            for t in range(1, ns):
                w = order[t]
                if not target[w]:
                    continue
                for j in range(k):
                    if dlen[w] <= radii[j]:
                        per_source[si, j, REACH] += 1.0
                        per_source[si, j, FARNESS] += dlen[w]
                        if dlen[w] > 0.0:
                            per_source[si, j, HARMONIC] += 1.0 / dlen[w]
                        per_source[si, j, COST_SUM] += dcost[w]
                        dx = xy[w, 0] - xy[s, 0]
                        dy = xy[w, 1] - xy[s, 1]
                        per_source[si, j, EUCLID_SUM] += np.sqrt(dx * dx + dy * dy)
            # Brandes' accumulation, every radius at once
            for t in range(ns - 1, 0, -1):
                w = order[t]
                w_tgt = 1.0 if target[w] else 0.0
                for a in range(rindptr[w], rindptr[w + 1]):
                    v = rnbr[a]
                    if not done[v] or dcost[v] + rcost[a] != dcost[w]:
                        continue
                    if terminal[v] and v != s:
                        continue
                    ratio = sigma[v] / sigma[w]
                    e = reid[a]
                    w_out = w_tgt if outside[w] else 0.0
                    for j in range(k):
                        if dlen[w] > radii[j]:
                            continue
                        contrib = ratio * (w_tgt + delta[w, j])
                        delta[v, j] += contrib
                        edge_btw_c[c, e, j] += contrib
                        if group[v] == group[w]:  # the pair ends in v's own group
                            own[v, j] += ratio * w_tgt
                        if src_out:
                            contrib_out = ratio * (w_out + delta_out[w, j])
                            delta_out[v, j] += contrib_out
                            edge_thru_c[c, e, j] += contrib_out
                            if group[v] == group[w]:
                                own_out[v, j] += ratio * w_out
                if not terminal[w] and group[w] != group[s]:
                    for j in range(k):
                        node_btw_c[c, w, j] += delta[w, j] - own[w, j]
                        node_thru_c[c, w, j] += delta_out[w, j] - own_out[w, j]
            # reset what this source touched
            for t in range(ns):
                w = order[t]
                done[w] = False
                dcost[w] = np.inf
                dlen[w] = np.inf
                sigma[w] = 0.0
                for j in range(k):
                    delta[w, j] = 0.0
                    delta_out[w, j] = 0.0
                    own[w, j] = 0.0
                    own_out[w, j] = 0.0
                for a in range(indptr[w], indptr[w + 1]):  # neighbours reached but not settled
                    u = nbr[a]
                    dcost[u] = np.inf
                    dlen[u] = np.inf
                    sigma[u] = 0.0
    node_btw = np.zeros((n, k))
    edge_btw = np.zeros((n_edges, k))
    node_thru = np.zeros((n, k))
    edge_thru = np.zeros((n_edges, k))
    for c in range(n_chunks):
        node_btw += node_btw_c[c]
        edge_btw += edge_btw_c[c]
        node_thru += node_thru_c[c]
        edge_thru += edge_thru_c[c]
    return per_source, node_btw, edge_btw, node_thru, edge_thru


@njit(cache=True)
def detour(indptr, nbr, length, eid, u, v, skip_edge, limit):
    """Shortest u-v distance avoiding edge ``skip_edge``, or inf if above ``limit``."""
    n = indptr.shape[0] - 1
    dist = np.full(n, np.inf)
    done = np.zeros(n, dtype=np.bool_)
    hk = np.empty(nbr.shape[0] + 1)
    hv = np.empty(nbr.shape[0] + 1, dtype=np.int64)
    dist[u] = 0.0
    size = _push(hk, hv, 0, 0.0, u)
    while size > 0:
        key, x, size = _pop(hk, hv, size)
        if done[x] or key > dist[x]:
            continue
        if x == v:
            return key
        done[x] = True
        for a in range(indptr[x], indptr[x + 1]):
            if eid[a] == skip_edge:
                continue
            y = nbr[a]
            alt = key + length[a]
            if alt <= limit and alt < dist[y]:
                dist[y] = alt
                size = _push(hk, hv, size, alt, y)
    return np.inf


@njit(cache=True)
def _search_from_edge(a, da, b, db, indptr, nbr, length, rmax, dist, done, order, hk, hv):
    """Dijkstra from a point on an edge: its two ends start at distances da and db."""
    size = 0
    if da <= rmax:
        dist[a] = da
        size = _push(hk, hv, size, da, a)
    if db <= rmax and db < dist[b]:
        dist[b] = db
        size = _push(hk, hv, size, db, b)
    n_settled = 0
    while size > 0:
        key, v, size = _pop(hk, hv, size)
        if done[v] or key > dist[v]:
            continue
        done[v] = True
        order[n_settled] = v
        n_settled += 1
        for e in range(indptr[v], indptr[v + 1]):
            w = nbr[e]
            alt = key + length[e]
            if alt <= rmax and alt < dist[w]:
                dist[w] = alt
                size = _push(hk, hv, size, alt, w)
    return n_settled


@njit(parallel=True, cache=True)
def target_distances(indptr, nbr, length, tgt_a, tgt_da, tgt_b, tgt_db, rmax, chunks, offsets):
    """Network distances from every target (a point on an edge) to the nodes within ``rmax``.

    ``offsets`` reserve room per target (an upper bound, e.g. the nodes within the same
    straight-line distance); the nodes reached from target i and their distances are written
    from offsets[i], and their number is returned.
    """
    n = indptr.shape[0] - 1
    n_chunks = chunks.shape[0] - 1
    counts = np.zeros(tgt_a.shape[0], dtype=np.int64)
    nodes = np.empty(offsets[-1], dtype=np.int64)
    dists = np.empty(offsets[-1])
    for c in prange(n_chunks):
        dist = np.full(n, np.inf)
        done = np.zeros(n, dtype=np.bool_)
        order = np.empty(n, dtype=np.int64)
        hk = np.empty(nbr.shape[0] + 2)
        hv = np.empty(nbr.shape[0] + 2, dtype=np.int64)
        for i in range(chunks[c], chunks[c + 1]):
            settled = _search_from_edge(tgt_a[i], tgt_da[i], tgt_b[i], tgt_db[i], indptr, nbr, length, rmax, dist, done, order, hk, hv)
            ns = min(settled, offsets[i + 1] - offsets[i])  # never past the reserved room (a safe bound)
            counts[i] = ns
            for t in range(ns):
                nodes[offsets[i] + t] = order[t]
                dists[offsets[i] + t] = dist[order[t]]
            for t in range(settled):  # reset what the search touched
                w = order[t]
                done[w] = False
                for e in range(indptr[w], indptr[w + 1]):
                    dist[nbr[e]] = np.inf
                dist[w] = np.inf
            dist[tgt_a[i]] = np.inf
            dist[tgt_b[i]] = np.inf
    return counts, nodes, dists


@njit(parallel=True, cache=True)
def reach_targets(place_edge, place_along, place_offset, edge_u, edge_v, edge_len,
                  node_ptr, node_tgt, node_dist, edge_tptr, edge_tgt, tgt_along, tgt_offset,
                  tgt_cat, n_cat, radii, betas):
    """Targets (POIs) reachable from places along the network, counted by category and radius.

    Places and targets sit on edges at their true position (``along`` from the edge's first
    node, ``offset`` from the edge). A place reaches a target through either end of its edge,
    whose distances to the targets are listed per node (``node_*``, from
    :func:`target_distances`), or directly along a shared edge.

    Returns (counts, weighted): (n_places, n_radii, n_cat) plain counts and counts weighted by
    exp(-beta_r d).
    """
    n = place_edge.shape[0]
    k = radii.shape[0]
    rmax = radii[k - 1]
    n_tgt = tgt_cat.shape[0]
    counts = np.zeros((n, k, n_cat))
    weighted = np.zeros((n, k, n_cat))
    n_chunks = min(n, 64)
    bounds = np.linspace(0, n, n_chunks + 1).astype(np.int64) if n > 0 else np.zeros(1, dtype=np.int64)
    for c in prange(n_chunks):
        best = np.full(n_tgt, np.inf)
        touched = np.empty(n_tgt, dtype=np.int64)
        for p in range(bounds[c], bounds[c + 1]):
            e = place_edge[p]
            if e < 0:
                continue
            m = 0
            base_off = place_offset[p]
            for side in range(2):
                node = edge_u[e] if side == 0 else edge_v[e]
                base = base_off + (place_along[p] if side == 0 else edge_len[e] - place_along[p])
                if base > rmax:
                    continue
                for q in range(node_ptr[node], node_ptr[node + 1]):
                    g = node_tgt[q]
                    d = base + node_dist[q]
                    if d < best[g]:
                        if best[g] == np.inf:
                            touched[m] = g
                            m += 1
                        best[g] = d
            for t in range(edge_tptr[e], edge_tptr[e + 1]):  # along the shared edge
                g = edge_tgt[t]
                d = base_off + abs(tgt_along[g] - place_along[p]) + tgt_offset[g]
                if d < best[g]:
                    if best[g] == np.inf:
                        touched[m] = g
                        m += 1
                    best[g] = d
            for t in range(m):
                g = touched[t]
                d = best[g]
                for j in range(k):
                    if d <= radii[j]:
                        counts[p, j, tgt_cat[g]] += 1.0
                        weighted[p, j, tgt_cat[g]] += np.exp(-betas[j] * d)
                best[g] = np.inf
    return counts, weighted
