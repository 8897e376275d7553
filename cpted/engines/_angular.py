"""Compiled kernel of angular segment analysis: one restricted least-angle search per source and per radius.

This kernel searches every directed segment. :func:`cpted.engines.angular.segment_centrality` runs the contracted
one (:mod:`cpted.engines._angular_chains`), which gives the same values about twice as fast; this one is the
segment-by-segment reference it is tested against (``angular._run(..., contract=False)``).

The graph is the directed segment graph: node ``2i`` is segment i traversed from its first to its last point, node
``2i + 1`` the same segment the other way; an arc is a turn from one segment onto the next, with its turn cost and its
metric length (half of each segment: midpoint to midpoint). A search from segment s starts on both of its directions
at cost 0 and labels each directed segment with its least cost and, among the paths of that cost, the least length;
a directed segment is reached only along paths whose length stays within the radius (depthmapX's restricted
least-angle search; Turner 2007, EPB 34(3)). Each radius has its own search, so a radius's values never depend on
the other radii requested.

Queues: with integer costs (tulip bins) a bucket queue (Dial's algorithm, one bucket per cost value in a circular
array as wide as the largest turn cost + 1) gives every push and pop in O(1); with exact (real) costs a binary heap.

Choice counts ordered pairs (s, t), s ≠ t, by Brandes' accumulation: the share of the least-cost s–t paths through
each segment, ties split equally among equal-cost paths. Predecessors are recomputed (v precedes w when v is reached,
``cost[v] + c(v, w) == cost[w]`` and ``len[v] + l(v, w) <= r``) and taken in a topological order (equal-cost groups
are ordered along their zero-cost arcs), so equal-cost paths are counted exactly, zero-cost turns included.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from cpted.engines._paths import _pop, _push


@njit(cache=True, inline="always")
def _bucket_push(head, nxt, node, free, n_free, cur_cap, key, w, nb):
    """Push w into bucket ``key``; returns (entry pools, n_free, cur_cap) — pools grow when full."""
    if n_free == 0:  # grow the pool
        new_cap = 2 * cur_cap
        nxt2 = np.empty(new_cap, dtype=np.int64)
        node2 = np.empty(new_cap, dtype=np.int64)
        free2 = np.empty(new_cap, dtype=np.int64)
        nxt2[:cur_cap] = nxt
        node2[:cur_cap] = node
        for i in range(new_cap - cur_cap):
            free2[i] = new_cap - 1 - i
        nxt, node, free = nxt2, node2, free2
        n_free = new_cap - cur_cap
        cur_cap = new_cap
    n_free -= 1
    e = free[n_free]
    b = np.int64(key) % nb
    node[e] = w
    nxt[e] = head[b]
    head[b] = e
    return nxt, node, free, n_free, cur_cap


@njit(cache=True)
def _search(s, m, r, indptr, nbr, cost, elen, dcost, dlen, done, dirty, order, hk, hv, head, pool, nb):
    """Restricted least-angle search from segment s within length r; fills dcost/dlen; returns (n reached, pool)."""
    nxt, node, free = pool
    cur_cap = nxt.shape[0]
    n_free = free.shape[0]
    use_buckets = nb > 0
    size = 0
    cur = 0
    for d in (2 * s, 2 * s + 1):
        dcost[d] = 0.0
        dlen[d] = 0.0
        if use_buckets:
            nxt, node, free, n_free, cur_cap = _bucket_push(head, nxt, node, free, n_free, cur_cap, 0.0, d, nb)
            size += 1
        else:
            size = _push(hk, hv, size, 0.0, d)
    ns = 0
    while size > 0:
        if use_buckets:
            b = cur % nb
            while head[b] < 0:
                cur += 1
                b = cur % nb
            e = head[b]
            head[b] = nxt[e]
            v = node[e]
            free[n_free] = e
            n_free += 1
            size -= 1
            key = np.float64(cur)
        else:
            key, v, size = _pop(hk, hv, size)
        if key != dcost[v]:
            continue  # stale
        if done[v]:
            if not dirty[v]:
                continue
        else:
            done[v] = True
            order[ns] = v
            ns += 1
        dirty[v] = False
        for a in range(indptr[v], indptr[v + 1]):
            w = nbr[a]
            alt_len = dlen[v] + elen[a]
            if alt_len > r:
                continue
            alt = dcost[v] + cost[a]
            if alt < dcost[w]:
                dcost[w] = alt
                dlen[w] = alt_len
            elif alt == dcost[w] and alt_len < dlen[w]:
                dlen[w] = alt_len  # a shorter path of the same cost: a reached w is expanded again (zero-cost turns)
                if not done[w]:
                    continue
                dirty[w] = True
            else:
                continue
            if use_buckets:
                nxt, node, free, n_free, cur_cap = _bucket_push(head, nxt, node, free, n_free, cur_cap, alt, w, nb)
                size += 1
            else:
                if size >= hk.shape[0]:
                    hk2 = np.empty(2 * hk.shape[0])
                    hv2 = np.empty(2 * hk.shape[0], dtype=np.int64)
                    hk2[:size] = hk[:size]
                    hv2[:size] = hv[:size]
                    hk, hv = hk2, hv2
                size = _push(hk, hv, size, alt, w)
    return ns, (nxt, node, free), hk, hv


@njit(cache=True, inline="always")
def _pred_ok(v, w, c, ln, r, dcost, dlen, done):
    return done[v] and dcost[v] + c == dcost[w] and dlen[v] + ln <= r


@njit(cache=True)
def _topological(ns, s, m, r, order, topo, cnt, indptr, nbr, cost, elen, rindptr, rnbr, rcost, rlen,
                 dcost, dlen, done):
    """``order`` (by cost) re-ordered so that every predecessor comes first (equal-cost groups along zero-cost arcs)."""
    i = 0
    while i < ns:
        j = i + 1
        while j < ns and dcost[order[j]] == dcost[order[i]]:
            j += 1
        inner = False
        for q in range(i, j if j - i > 1 else i):  # a lone node has no predecessor of its own cost
            w = order[q]
            cnt[w] = 0
            if w >> 1 == s:
                continue
            for a in range(rindptr[w], rindptr[w + 1]):
                v = rnbr[a]
                if dcost[v] == dcost[w] and _pred_ok(v, w, rcost[a], rlen[a], r, dcost, dlen, done):
                    cnt[w] += 1
                    inner = True
        if not inner:
            for q in range(i, j):
                topo[q] = order[q]
        else:  # Kahn's algorithm inside the group
            tail = i
            for q in range(i, j):
                if cnt[order[q]] == 0:
                    topo[tail] = order[q]
                    tail += 1
            h = i
            while h < tail:
                v = topo[h]
                h += 1
                for a in range(indptr[v], indptr[v + 1]):
                    x = nbr[a]
                    if x >> 1 == s or dcost[x] != dcost[v]:
                        continue
                    if _pred_ok(v, x, cost[a], elen[a], r, dcost, dlen, done):
                        cnt[x] -= 1
                        if cnt[x] == 0:
                            topo[tail] = x
                            tail += 1
            if tail < j:  # a cycle of zero-cost turns (not met in street geometry): keep the search's order
                for q in range(i, j):
                    if cnt[order[q]] > 0:
                        topo[tail] = order[q]
                        tail += 1
        i = j


@njit(parallel=True, cache=True)
def angular(m, indptr, nbr, cost, elen, rindptr, rnbr, rcost, rlen, radii, sources, chunks, n_buckets):
    """Node count, total depth and ordered choice of angular segment analysis.

    Parameters
    ----------
    m
        Number of segments (2m directed nodes).
    indptr, nbr, cost, elen
        Outgoing arcs (CSR); ``rindptr, rnbr, rcost, rlen`` the incoming ones, with the same values.
    radii
        Metric radii (``inf`` for radius n); each has its own search.
    sources
        The segments to start from.
    n_buckets
        0 for real costs (binary heap); else costs are integers and this is the largest arc cost + 1.

    Returns
    -------
    reach : (len(sources), k)
        Segments reached, the source included (depthmapX's node count).
    depth : (len(sources), k)
        Sum of the least costs of the segments reached (a segment's cost is the least of its two directions).
    choice : (m, k)
        Ordered choice: for each ordered pair (s, t) of distinct segments with t reached from s, the share of the
        least-cost s–t paths through the segment (neither s nor t), summed.
    """
    n = 2 * m
    k = radii.shape[0]
    reach = np.zeros((sources.shape[0], k))
    depth = np.zeros((sources.shape[0], k))
    n_chunks = chunks.shape[0] - 1
    choice_c = np.zeros((n_chunks, m, k))
    for c in prange(n_chunks):
        dcost = np.full(n, np.inf)
        dlen = np.full(n, np.inf)
        sigma = np.zeros(n)
        delta = np.zeros(n)
        done = np.zeros(n, dtype=np.bool_)
        dirty = np.zeros(n, dtype=np.bool_)
        order = np.empty(n, dtype=np.int64)
        topo = np.empty(n, dtype=np.int64)
        cnt = np.zeros(n, dtype=np.int64)
        best = np.full(m, np.inf)
        sig_t = np.zeros(m)
        seen = np.zeros(m, dtype=np.bool_)
        hk = np.empty(nbr.shape[0] + 2)
        hv = np.empty(nbr.shape[0] + 2, dtype=np.int64)
        head = np.full(max(n_buckets, 1), -1, dtype=np.int64)
        cap = nbr.shape[0] + n + 2
        free = np.empty(cap, dtype=np.int64)
        for i in range(cap):
            free[i] = cap - 1 - i
        pool = (np.empty(cap, dtype=np.int64), np.empty(cap, dtype=np.int64), free)
        for si in range(chunks[c], chunks[c + 1]):
            s = sources[si]
            for j in range(k):
                r = radii[j]
                ns, pool, hk, hv = _search(s, m, r, indptr, nbr, cost, elen, dcost, dlen, done, dirty, order, hk, hv,
                                           head, pool, n_buckets)
                _topological(ns, s, m, r, order, topo, cnt, indptr, nbr, cost, elen, rindptr, rnbr, rcost, rlen,
                             dcost, dlen, done)
                # path counts, in topological order
                for q in range(ns):
                    w = topo[q]
                    if w >> 1 == s:
                        sigma[w] = 1.0
                        continue
                    total = 0.0
                    for a in range(rindptr[w], rindptr[w + 1]):
                        v = rnbr[a]
                        if _pred_ok(v, w, rcost[a], rlen[a], r, dcost, dlen, done):
                            total += sigma[v]
                    sigma[w] = total
                # segments reached: the least cost of their two directions, and its number of paths
                for q in range(ns):
                    w = topo[q]
                    t = w >> 1
                    if dcost[w] < best[t]:
                        best[t] = dcost[w]
                        sig_t[t] = sigma[w]
                    elif dcost[w] == best[t]:
                        sig_t[t] += sigma[w]
                nc = 0.0
                td = 0.0
                for q in range(ns):
                    t = topo[q] >> 1
                    if not seen[t]:
                        seen[t] = True
                        nc += 1.0
                        td += best[t]
                reach[si, j] = nc
                depth[si, j] = td
                # Brandes' accumulation, targets first
                for q in range(ns - 1, -1, -1):
                    w = topo[q]
                    t = w >> 1
                    if t == s:
                        continue
                    tw = sigma[w] / sig_t[t] if dcost[w] == best[t] else 0.0
                    coef = (tw + delta[w]) / sigma[w]
                    choice_c[c, t, j] += delta[w]
                    if coef == 0.0:
                        continue
                    for a in range(rindptr[w], rindptr[w + 1]):
                        v = rnbr[a]
                        if _pred_ok(v, w, rcost[a], rlen[a], r, dcost, dlen, done):
                            delta[v] += sigma[v] * coef
                # reset what this search touched
                for q in range(ns):
                    w = order[q]
                    best[w >> 1] = np.inf
                    sig_t[w >> 1] = 0.0
                    seen[w >> 1] = False
                    done[w] = False
                    dirty[w] = False
                    dcost[w] = np.inf
                    dlen[w] = np.inf
                    sigma[w] = 0.0
                    delta[w] = 0.0
    choice = np.zeros((m, k))
    for c in range(n_chunks):
        choice += choice_c[c]
    return reach, depth, choice
