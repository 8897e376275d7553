"""Angular segment analysis on the directed segment graph with its chains of degree-2 segments contracted.

About half of a street network's segments are *chain members*: at each of their ends they meet exactly one other
segment (a street bent into straight pieces). Each direction of such a segment has one way in and one way out, so
its least cost, its length and its number of least-cost paths follow from the directed segment before it. The
search therefore runs on the *real* directed segments only (all the others), where a chain is one arc from the
directed segment that enters it to the one it leaves onto, with the sum of its turn costs; its members are then
labelled in one sweep along the chain (a *run*), and their choice is read off the run by suffix sums.

What stays exactly as in the uncontracted search (:mod:`cpted.engines._angular`, the reference it is tested
against):

- costs add exactly (tulip costs are integers; exact costs are multiples of 2^-24), so a chain's total equals the
  sum along it;
- lengths are summed along the chain one step after the other from the length of the directed segment entering
  it, in the same order as the uncontracted search adds them, so the radius cut sees the same numbers; a chain is
  an arc of the contracted search only when its whole length fits in the radius (floating-point sums of positive
  numbers never decrease, so the steps before fit too);
- a source inside a chain starts two runs, one each way, which end on real directed segments (the seeds of the
  search); the chain arcs through the source are not used, as no path improves on the source.

At radius n lengths bound nothing and are not computed (every path-length test passes); the least costs, path
counts and hence all outputs are those of the uncontracted search. Choice is a sum of the same shares in another
order, equal to the reference to floating-point rounding.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from cpted.engines._angular import _pred_ok
from cpted.engines._paths import _pop, _push


def contract(m: int, tails: np.ndarray, heads: np.ndarray, cost: np.ndarray, length: np.ndarray) -> tuple:
    """The contracted graph and its chains, from the arcs of the directed segment graph (2m nodes).

    Segments are renumbered (the second result: the new number of each segment, the first the graph in those
    numbers). The graph is the arrays :func:`angular` takes after ``m``: the outgoing and incoming contracted arcs
    in CSR form (``indptr, nbr, cost, len, chain`` with chain -1 for an arc of the original graph) and the chains
    (``ch_ptr, ch_entry, ch_exit, ch_cost, ch_endc, ch_endl, ch_rev`` and per member ``mem_node, mem_c, mem_l,
    mem_twin, mem_chain``, per segment ``seg_mem``: the member index of its first direction, -1 for a real
    segment, and per directed segment ``zin`` and ``chain_out``: whether a zero-cost arc enters it, whether a chain
    leaves it).
    """
    n = 2 * m
    tails = np.asarray(tails, dtype=np.int64)
    heads = np.asarray(heads, dtype=np.int64)
    indeg = np.bincount(heads, minlength=n)
    outdeg = np.bincount(tails, minlength=n)
    one = (indeg == 1) & (outdeg == 1)
    internal = one[0::2] & one[1::2]
    out_arc = np.full(n, -1, dtype=np.int64)
    out_arc[tails] = np.arange(len(tails))  # the only arc out of a chain member's direction
    while True:
        is_int = np.repeat(internal, 2)
        chains = []
        visited = np.zeros(n, dtype=bool)
        for a in np.flatnonzero(~is_int[tails] & is_int[heads]):
            members, cs, ls = [], [cost[a]], [length[a]]
            x = heads[a]
            while is_int[x]:
                members.append(x)
                visited[x] = True
                b = out_arc[x]
                cs.append(cost[b])
                ls.append(length[b])
                x = heads[b]
            chains.append((tails[a], members, cs, ls, x))
        broken = False
        for x0 in np.flatnonzero(is_int & ~visited):  # rings of members only: make one of their segments real
            if visited[x0]:
                continue
            x = x0
            while not visited[x]:
                visited[x] = visited[x ^ 1] = True
                x = heads[out_arc[x]]
            internal[x0 >> 1] = False
            broken = True
        for entry, members, cs, _, ex in chains:  # a chain back to where it starts at no cost: not contracted
            if entry == ex and sum(cs) == 0.0:
                internal[members[0] >> 1] = False
                broken = True
        if not broken:
            break
    # renumber the segments for locality: the real ones first, in reverse Cuthill-McKee order (neighbours close in
    # memory), then the chain members chain after chain
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import reverse_cuthill_mckee

    adj = coo_matrix((np.ones(len(tails)), (tails >> 1, heads >> 1)), shape=(m, m)).tocsr()
    rank = np.empty(m, dtype=np.int64)
    if m:  # (scipy refuses an empty matrix)
        rank[reverse_cuthill_mckee(adj, symmetric_mode=False)] = np.arange(m)
    real = np.flatnonzero(~internal)
    new_id = np.full(m, -1, dtype=np.int64)
    new_id[real[np.argsort(rank[real], kind="stable")]] = np.arange(len(real))
    chains.sort(key=lambda ch: (new_id[ch[0] >> 1], ch[0] & 1, ch[1][0]))
    nxt = len(real)
    for ch in chains:
        for x in ch[1]:
            if new_id[x >> 1] < 0:
                new_id[x >> 1] = nxt
                nxt += 1

    def node(v):
        return 2 * new_id[np.asarray(v) >> 1] + (np.asarray(v) & 1)

    tails, heads = node(tails), node(heads)
    internal = internal[np.argsort(new_id)]
    k = len(chains)
    sizes = np.array([len(c[1]) for c in chains], dtype=np.int64)
    ch_ptr = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    mem_node = node(np.array([x for c in chains for x in c[1]], dtype=np.int64))
    mem_c = np.array([v for c in chains for v in c[2][:-1]], dtype=np.float64)
    mem_l = np.array([v for c in chains for v in c[3][:-1]], dtype=np.float64)
    ch_entry = node(np.array([c[0] for c in chains], dtype=np.int64))
    ch_exit = node(np.array([c[4] for c in chains], dtype=np.int64))
    ch_cost = np.array([sum(c[2]) for c in chains], dtype=np.float64)  # exact: costs are dyadic
    ch_endc = np.array([c[2][-1] for c in chains], dtype=np.float64)
    ch_endl = np.array([c[3][-1] for c in chains], dtype=np.float64)
    mem_chain = np.repeat(np.arange(k, dtype=np.int64), sizes)
    where = np.full(n, -1, dtype=np.int64)
    where[mem_node] = np.arange(len(mem_node))
    mem_twin = where[mem_node ^ 1]
    ch_rev = mem_chain[mem_twin[ch_ptr[1:] - 1]] if k else np.zeros(0, np.int64)
    seg_mem = where[0::2].copy()
    # the contracted arcs: the original arcs between real directed segments, and one per chain
    is_int = np.repeat(internal, 2)
    direct = ~is_int[tails] & ~is_int[heads]
    a_t = np.concatenate([tails[direct], ch_entry])
    a_h = np.concatenate([heads[direct], ch_exit])
    a_c = np.concatenate([cost[direct], ch_cost])
    a_l = np.concatenate([length[direct], np.full(k, np.nan)])
    a_ch = np.concatenate([np.full(direct.sum(), -1, dtype=np.int64), np.arange(k, dtype=np.int64)])

    def csr(frm, to):
        order = np.lexsort((to, frm))
        indptr = np.concatenate([[0], np.cumsum(np.bincount(frm, minlength=n))]).astype(np.int64)
        return (indptr, np.ascontiguousarray(to[order], dtype=np.int32), np.ascontiguousarray(a_c[order]),
                np.ascontiguousarray(a_l[order]), np.ascontiguousarray(a_ch[order], dtype=np.int32))

    zin = np.zeros(n, dtype=np.bool_)
    zin[a_h[a_c == 0.0]] = True
    chain_out = np.zeros(n, dtype=np.bool_)
    chain_out[ch_entry] = True
    return (*csr(a_t, a_h), *csr(a_h, a_t), ch_ptr, ch_entry, ch_exit, ch_cost, ch_endc, ch_endl, ch_rev,
            mem_node, mem_c, mem_l, mem_twin, mem_chain, seg_mem, zin, chain_out), new_id


@njit(cache=True, inline="always")
def _chain_len(d0, ch, ch_ptr, mem_l, ch_endl):
    """Length at the chain's exit, added step by step from ``d0`` as the uncontracted search adds it."""
    x = d0
    for q in range(ch_ptr[ch], ch_ptr[ch + 1]):
        x += mem_l[q]
    return x + ch_endl[ch]


@njit(cache=True, inline="always")
def _arc_ok(v, w, a, ch, c, ln, r, dcost, dlen, done, ch_ok):
    """v → w along contracted arc a is on a least-cost path (within r)."""
    if ch < 0:
        return _pred_ok(v, w, c, ln, r, dcost, dlen, done)
    return ch_ok[ch]


@njit(cache=True)
def _label_run(k0, k1, c0, l0, bounded, r, mem_c, mem_l, lab):
    """Labels members k0..k1-1 of a chain from a start of cost c0 and length l0; returns (reached, end len)."""
    c = c0
    ln = l0
    p = 0
    for q in range(k0, k1):
        c += mem_c[q]
        if bounded:
            ln += mem_l[q]
            if ln > r:
                return p, np.inf
        lab[q] = c
        p += 1
    return p, ln


@njit(cache=True, inline="always")
def _enqueue(w, bw, head, qn, qp, qb):
    """Put node w into bucket bw (taking it out of its bucket first): Dial's queue, one entry per node."""
    if qb[w] >= 0:
        _dequeue(w, head, qn, qp, qb)
    qb[w] = bw
    qp[w] = -1
    x = head[bw]
    qn[w] = x
    if x >= 0:
        qp[x] = w
    head[bw] = w


@njit(cache=True, inline="always")
def _dequeue(w, head, qn, qp, qb):
    p = qp[w]
    x = qn[w]
    if p >= 0:
        qn[p] = x
    else:
        head[qb[w]] = x
    if x >= 0:
        qp[x] = p
    qb[w] = -1


@njit(cache=True)
def _search(s, bounded, r, seeds, n_seeds, indptr, nbr, cost, elen, achain, dis0, dis1, ch_ptr, mem_l, ch_endl,
            dcost, dlen, done, dirty, order, hk, hv, head, qn, qp, qb, nb):
    """Restricted least-angle search over the real directed segments from the seeds (node, cost, length).

    Integer costs (``nb`` > 0, more than the largest arc cost) use Dial's bucket queue: a circular array of ``nb``
    buckets, each a doubly linked list of nodes, so that a node is queued once and moved when its cost drops; other
    costs a binary heap with lazy deletion.
    """
    use_buckets = nb > 0
    size = 0
    cur = 0
    bcur = 0
    if use_buckets:
        cur = np.int64(seeds[0, 1])
        for i in range(n_seeds):
            cur = min(cur, np.int64(seeds[i, 1]))
        bcur = cur % nb
    for i in range(n_seeds):
        d = np.int64(seeds[i, 0])
        c = seeds[i, 1]
        ln = seeds[i, 2]
        if c < dcost[d] or (c == dcost[d] and ln < dlen[d]):
            dcost[d] = c
            dlen[d] = ln
            if use_buckets:
                if qb[d] < 0:
                    size += 1
                _enqueue(d, (bcur + np.int64(c) - cur) % nb, head, qn, qp, qb)
            else:
                size = _push(hk, hv, size, c, d)
    ns = 0
    while size > 0:
        if use_buckets:
            while head[bcur] < 0:
                cur += 1
                bcur += 1
                if bcur == nb:
                    bcur = 0
            v = head[bcur]
            _dequeue(v, head, qn, qp, qb)
            size -= 1
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
            ch = achain[a]
            if ch >= 0 and (ch == dis0 or ch == dis1):
                continue  # through the source: never better than the source
            alt = dcost[v] + cost[a]
            if alt > dcost[w]:
                continue
            alt_len = 0.0
            if bounded:
                alt_len = dlen[v] + elen[a] if ch < 0 else _chain_len(dlen[v], ch, ch_ptr, mem_l, ch_endl)
                if alt_len > r:
                    continue
            if alt < dcost[w]:
                dcost[w] = alt
                if bounded:
                    dlen[w] = alt_len
            elif alt_len < dlen[w]:
                dlen[w] = alt_len  # a shorter path of the same cost: a reached w is expanded again
                if not done[w]:
                    continue
                dirty[w] = True
            else:
                continue
            if use_buckets:
                if qb[w] < 0:
                    size += 1
                bw = bcur + np.int64(cost[a])  # alt - cur: the arc's cost, as v was popped at cur
                if bw >= nb:
                    bw -= nb
                _enqueue(w, bw, head, qn, qp, qb)
            else:
                if size >= hk.shape[0]:
                    hk2 = np.empty(2 * hk.shape[0])
                    hv2 = np.empty(2 * hk.shape[0], dtype=np.int64)
                    hk2[:size] = hk[:size]
                    hv2[:size] = hv[:size]
                    hk, hv = hk2, hv2
                size = _push(hk, hv, size, alt, w)
    return ns, hk, hv


@njit(parallel=True, cache=True)
def angular(m, indptr, nbr, cost, elen, achain, rindptr, rnbr, rcost, rlen, rchain, ch_ptr, ch_entry, ch_exit,
            ch_cost, ch_endc, ch_endl, ch_rev, mem_node, mem_c, mem_l, mem_twin, mem_chain, seg_mem, zin, chain_out,
            radii, sources, chunks, n_buckets):
    """Node count, total depth and ordered choice, as :func:`cpted.engines._angular.angular` computes them.

    The graph is :func:`contract`'s, and ``sources`` and the rows of choice are in its numbering of the segments;
    the other arguments and the results are those of the uncontracted kernel.
    """
    n = 2 * m
    k = radii.shape[0]
    n_ch = ch_entry.shape[0]
    n_mem = mem_node.shape[0]
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
        order = np.empty(n, dtype=np.int32)
        topo = np.empty(n, dtype=np.int32)
        state = np.zeros(n, dtype=np.int8)
        stack = np.empty(n, dtype=np.int32)
        best = np.full(m, np.inf)
        sig_t = np.zeros(m)
        lab = np.full(n_mem, np.inf)
        msig = np.zeros(n_mem)
        mtw = np.zeros(n_mem)
        ch_ok = np.zeros(n_ch, dtype=np.bool_)
        run_of = np.full(n_ch, -1, dtype=np.int64)
        run_ch = np.empty(n_ch + 2, dtype=np.int64)
        run_k0 = np.empty(n_ch + 2, dtype=np.int64)
        run_p = np.empty(n_ch + 2, dtype=np.int64)
        run_org = np.empty(n_ch + 2, dtype=np.int64)
        run_tail = np.zeros(n_ch + 2, dtype=np.bool_)
        run_c = np.zeros(n_ch + 2)
        run_T = np.zeros(n_ch + 2)
        seeds = np.zeros((2, 3))
        plist = np.empty(rnbr.shape[0] + 1, dtype=np.int32)
        pstart = np.empty(n + 1, dtype=np.int32)
        hk = np.empty(nbr.shape[0] + 4)
        hv = np.empty(nbr.shape[0] + 4, dtype=np.int64)
        head = np.full(max(n_buckets, 1), -1, dtype=np.int64)
        qn = np.empty(n, dtype=np.int32)
        qp = np.empty(n, dtype=np.int32)
        qb = np.full(n, -1, dtype=np.int32)
        for si in range(chunks[c], chunks[c + 1]):
            s = sources[si]
            ks = seg_mem[s]
            for j in range(k):
                r = radii[j]
                bounded = r < np.inf
                nr = 0
                dis0 = -1
                dis1 = -1
                n_seeds = 0
                if ks < 0:  # a real segment: both directions at cost 0
                    for d in range(2):
                        seeds[d, 0] = 2 * s + d
                        seeds[d, 1] = 0.0
                        seeds[d, 2] = 0.0
                    n_seeds = 2
                else:  # a chain member: a run each way from it, up to the chain's exit
                    kt = mem_twin[ks]
                    dis0 = mem_chain[ks]
                    dis1 = mem_chain[kt]
                    for kk in (ks, kt):
                        ch = mem_chain[kk]
                        p, ln = _label_run(kk + 1, ch_ptr[ch + 1], 0.0, 0.0, bounded, r, mem_c, mem_l, lab)
                        run_ch[nr] = ch
                        run_k0[nr] = kk + 1
                        run_p[nr] = p
                        run_org[nr] = -1
                        run_T[nr] = 0.0
                        run_tail[nr] = False
                        if p == ch_ptr[ch + 1] - kk - 1:
                            cc = (lab[kk + p] if p > 0 else 0.0) + ch_endc[ch]
                            ln = ln + ch_endl[ch] if bounded else 0.0
                            if ln <= r:
                                run_tail[nr] = True
                                run_c[nr] = cc
                                seeds[n_seeds, 0] = ch_exit[ch]
                                seeds[n_seeds, 1] = cc
                                seeds[n_seeds, 2] = ln
                                n_seeds += 1
                        nr += 1
                n_src_runs = nr
                ns, hk, hv = _search(s, bounded, r, seeds, n_seeds, indptr, nbr, cost, elen, achain, dis0, dis1,
                                     ch_ptr, mem_l, ch_endl, dcost, dlen, done, dirty, order, hk, hv, head, qn, qp,
                                     qb, n_buckets)
                for rr in range(n_src_runs):
                    if run_tail[rr] and dcost[ch_exit[run_ch[rr]]] != run_c[rr]:
                        run_tail[rr] = False
                # the chains entered from the real directed segments reached
                for q in range(ns):
                    v = order[q]
                    if not chain_out[v]:
                        continue
                    for a in range(indptr[v], indptr[v + 1]):
                        ch = achain[a]
                        if ch < 0:
                            continue
                        k0 = ch_ptr[ch]
                        if ch == dis0 or ch == dis1:  # the source's chain, up to the source
                            k1 = ks if ch == dis0 else mem_twin[ks]
                        else:
                            k1 = ch_ptr[ch + 1]
                        p, ln = _label_run(k0, k1, dcost[v], dlen[v] if bounded else 0.0, bounded, r, mem_c, mem_l,
                                           lab)
                        run_ch[nr] = ch
                        run_k0[nr] = k0
                        run_p[nr] = p
                        run_org[nr] = v
                        run_T[nr] = 0.0
                        run_tail[nr] = False
                        if ch != dis0 and ch != dis1:
                            run_of[ch] = nr
                            if p == k1 - k0 and (not bounded or ln + ch_endl[ch] <= r) and \
                                    dcost[v] + ch_cost[ch] == dcost[ch_exit[ch]]:
                                ch_ok[ch] = True
                        nr += 1
                # path counts in topological order (by cost; a node's predecessors of the same cost, along zero-cost
                # arcs, are taken first, depth first), their arcs kept for the accumulation; segments reached: the
                # least cost of their two directions (met first, as costs never decrease along topo), its paths
                nc = 0.0
                td = 0.0
                n_pl = 0
                nt = 0
                for q0 in range(ns):
                    if state[order[q0]] == 2:
                        continue
                    stack[0] = order[q0]
                    state[order[q0]] = 1
                    sp = 1
                    while sp > 0:
                        w = stack[sp - 1]
                        t = w >> 1
                        if t != s and zin[w]:
                            pushed = False
                            for a in range(rindptr[w], rindptr[w + 1]):
                                v = rnbr[a]
                                if state[v] == 0 and done[v] and dcost[v] == dcost[w] and \
                                        _arc_ok(v, w, a, rchain[a], rcost[a], rlen[a], r, dcost, dlen, done, ch_ok):
                                    state[v] = 1
                                    stack[sp] = v
                                    sp += 1
                                    pushed = True
                            if pushed:
                                continue
                        sp -= 1
                        state[w] = 2
                        topo[nt] = w
                        pstart[nt] = n_pl
                        nt += 1
                        if t == s:
                            sigma[w] = 1.0
                        else:
                            total = 0.0
                            for a in range(rindptr[w], rindptr[w + 1]):
                                v = rnbr[a]
                                if _arc_ok(v, w, a, rchain[a], rcost[a], rlen[a], r, dcost, dlen, done, ch_ok):
                                    total += sigma[v]
                                    plist[n_pl] = a
                                    n_pl += 1
                            for rr in range(n_src_runs):
                                if run_tail[rr] and ch_exit[run_ch[rr]] == w:
                                    total += 1.0
                            sigma[w] = total
                        if dcost[w] < best[t]:
                            best[t] = dcost[w]
                            sig_t[t] = sigma[w]
                            nc += 1.0
                            td += dcost[w]
                        elif dcost[w] == best[t]:
                            sig_t[t] += sigma[w]
                pstart[ns] = n_pl
                for rr in range(nr):
                    sg = sigma[run_org[rr]] if run_org[rr] >= 0 else 1.0
                    for q in range(run_k0[rr], run_k0[rr] + run_p[rr]):
                        msig[q] = sg
                # chain members: their segment's least cost (each segment counted from its cheaper direction, or
                # the first of equal ones), their share as targets, summed into the run's origin for Brandes
                for rr in range(nr):
                    acc = 0.0
                    for q in range(run_k0[rr], run_k0[rr] + run_p[rr]):
                        tq = mem_twin[q]
                        lq = lab[q]
                        lt = lab[tq]
                        if lq < lt or (lq == lt and q < tq):
                            nc += 1.0
                            td += lq
                        if lq < lt:
                            mtw[q] = 1.0
                        elif lq == lt:
                            mtw[q] = msig[q] / (msig[q] + msig[tq])
                        else:
                            mtw[q] = 0.0
                        acc += mtw[q]
                    if run_org[rr] >= 0:
                        delta[run_org[rr]] += acc
                if ks >= 0:
                    nc += 1.0  # the source itself, at depth 0
                reach[si, j] = nc
                depth[si, j] = td
                # Brandes' accumulation, targets first (the chain members' shares are in their runs' origins)
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
                    for pa in range(pstart[q], pstart[q + 1]):
                        a = plist[pa]
                        v = rnbr[a]
                        share = sigma[v] * coef
                        delta[v] += share
                        ch = rchain[a]
                        if ch >= 0:
                            run_T[run_of[ch]] = share
                    for rr in range(n_src_runs):
                        if run_tail[rr] and ch_exit[run_ch[rr]] == w:
                            run_T[rr] = coef
                for rr in range(nr):  # a member's share: the members after it on its run, and the run's end
                    acc = run_T[rr]
                    for q in range(run_k0[rr] + run_p[rr] - 1, run_k0[rr] - 1, -1):
                        choice_c[c, mem_node[q] >> 1, j] += acc
                        acc += mtw[q]
                        mtw[q] = 0.0
                        msig[q] = 0.0
                for rr in range(nr):
                    for q in range(run_k0[rr], run_k0[rr] + run_p[rr]):
                        lab[q] = np.inf
                # reset what this search touched
                for q in range(ns):
                    w = order[q]
                    best[w >> 1] = np.inf
                    sig_t[w >> 1] = 0.0
                    state[w] = 0
                    done[w] = False
                    dirty[w] = False
                    dcost[w] = np.inf
                    dlen[w] = np.inf
                    sigma[w] = 0.0
                    delta[w] = 0.0
                for rr in range(nr):
                    ch = run_ch[rr]
                    run_of[ch] = -1
                    ch_ok[ch] = False
                    run_tail[rr] = False
    choice = np.zeros((m, k))
    for c in range(n_chunks):
        choice += choice_c[c]
    return reach, depth, choice
