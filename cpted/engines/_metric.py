"""The compiled kernel of :func:`cpted.engines.network.node_centrality`: metric radius closeness
and node betweenness of an undirected graph, one bounded Dijkstra per source, every radius read
off the same search.

It computes what the general kernel (:func:`cpted.engines._paths.centrality`) computes for an
undirected metric graph whose nodes are all targets, none terminal and each its own group, and
nothing else: no edge betweenness, through-movement, depth or straight-line sums, which
``node_centrality`` does not return. On a site-sized graph (a few thousand nodes) that work was
most of the time. The search is the general kernel's (:func:`cpted.engines._paths._search`), so
the ties are the same: v precedes w exactly when ``dist[v] + length(v, w) == dist[w]``, the
floating-point operation of the forward pass (as networkx decides ties). Settled nodes come in order of distance, so the radii a node is within
are a suffix of the sorted radii: no per-radius test in the loops.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from cpted.engines._paths import _search

# per-source, per-radius output columns
REACH, FARNESS, HARMONIC = range(3)


@njit(cache=True)
def _first_within(radii, d):
    """The first radius index j with d <= radii[j] (radii sorted): len(radii) when none."""
    j = 0
    while j < radii.shape[0] and d > radii[j]:
        j += 1
    return j


@njit(parallel=True, cache=True)
def node_centrality(indptr, nbr, length, radii, sources, chunks):
    """Reach, farness and harmonic closeness of ``sources`` and node betweenness, per radius.

    Returns
    -------
    per_source : (len(sources), len(radii), 3)
        reach, farness, harmonic closeness.
    node_btw : (n, len(radii))
        Betweenness, pairs counted from both ends (halve it for the undirected value).
    """
    n = indptr.shape[0] - 1
    k = radii.shape[0]
    rmax = radii[k - 1]
    per_source = np.zeros((sources.shape[0], k, 3))
    n_chunks = chunks.shape[0] - 1
    btw_c = np.zeros((n_chunks, n, k))
    m_adj = nbr.shape[0]
    for c in prange(n_chunks):
        dist = np.full(n, np.inf)
        sigma = np.zeros(n)
        done = np.zeros(n, dtype=np.bool_)
        order = np.empty(n, dtype=np.int64)
        hk = np.empty(m_adj + 1)
        hv = np.empty(m_adj + 1, dtype=np.int64)
        terminal = np.zeros(n, dtype=np.bool_)
        delta = np.zeros((n, k))
        btw = btw_c[c]
        for si in range(chunks[c], chunks[c + 1]):
            s = sources[si]
            # the general search, with cost = length (one array for both) and no node terminal
            ns = _search(s, indptr, nbr, length, length, rmax, dist, dist, sigma, done, order, hk, hv, terminal)
            for t in range(1, ns):
                d = dist[order[t]]
                for j in range(_first_within(radii, d), k):
                    per_source[si, j, REACH] += 1.0
                    per_source[si, j, FARNESS] += d
                    if d > 0.0:
                        per_source[si, j, HARMONIC] += 1.0 / d
            # Brandes' accumulation, every radius at once
            for t in range(ns - 1, 0, -1):
                w = order[t]
                dw = dist[w]
                j0 = _first_within(radii, dw)
                for a in range(indptr[w], indptr[w + 1]):
                    v = nbr[a]
                    if not done[v] or dist[v] + length[a] != dw:
                        continue
                    ratio = sigma[v] / sigma[w]
                    for j in range(j0, k):
                        delta[v, j] += ratio * (1.0 + delta[w, j])
                for j in range(j0, k):
                    btw[w, j] += delta[w, j]
            # reset what this source touched
            for t in range(ns):
                w = order[t]
                done[w] = False
                dist[w] = np.inf
                sigma[w] = 0.0
                for j in range(k):
                    delta[w, j] = 0.0
                for a in range(indptr[w], indptr[w + 1]):  # neighbours reached but not settled
                    u = nbr[a]
                    dist[u] = np.inf
                    sigma[u] = 0.0
    node_btw = np.zeros((n, k))
    for c in range(n_chunks):
        node_btw += btw_c[c]
    return per_source, node_btw
