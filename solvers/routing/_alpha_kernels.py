"""Numba kernels for α-nearness candidate sets (Helsgaun 2000, *An effective implementation of the
Lin-Kernighan traveling salesman heuristic*, §4.1-4.2).

A minimum 1-tree (a spanning tree on the nodes other than the special node 0, plus the two
shortest edges at 0) under the transformed lengths c(i, j) = d(i, j) + π_i + π_j gives the
Held–Karp lower bound w(π) = L(T_π) - 2 Σ π (Held & Karp 1970); subgradient ascent moves π along
the degree excess v = deg - 2 (Held, Wolfe & Crowder 1974) with LKH's step schedule (§4.2:
step doubled while the bound grows in the first period, periods halved, v blended 0.7/0.3 with
the previous one). α(i, j) = c(i, j) - β(i, j), where β(i, j) is the longest tree edge on the
path i..j (for the special node: its second-shortest edge) — the increase of the minimum 1-tree
forced to contain (i, j) (eq. 4.1); β for all j of one i by one walk in topological order.

Everything runs on a sparse symmetric graph in CSR form (``indptr``, ``nbr``, ``base`` = the
edge lengths d): O(n k) memory. The spanning tree is Prim's with a binary heap.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ._ls_kernels import dist


@njit(cache=True, nogil=True)
def one_tree(indptr, nbr, base, pi, dad, dad_w, order, deg):
    """Minimum 1-tree under c = d + π_i + π_j: fills ``dad`` / ``dad_w`` (tree parent and edge
    length; the root 1 and the special node 0 have -1), ``order`` (Prim's order: parents first),
    ``deg``. Returns w(π), or -inf when the graph is disconnected."""
    n = pi.size
    m = nbr.size
    key = np.full(n, np.inf)
    done = np.zeros(n, dtype=np.bool_)
    hk = np.empty(m + n)
    hv = np.empty(m + n, dtype=np.int64)
    dad[:] = -1
    deg[:] = 0
    root = 1
    key[root] = 0.0
    hk[0] = 0.0
    hv[0] = root
    size = 1
    total = 0.0
    cnt = 0
    done[0] = True  # the special node stays out of the tree
    while size > 0:
        k, u = hk[0], hv[0]  # pop the minimum
        size -= 1
        hk[0] = hk[size]
        hv[0] = hv[size]
        h = 0
        while True:
            c = 2 * h + 1
            if c >= size:
                break
            if c + 1 < size and hk[c + 1] < hk[c]:
                c += 1
            if hk[h] <= hk[c]:
                break
            hk[c], hk[h] = hk[h], hk[c]
            hv[c], hv[h] = hv[h], hv[c]
            h = c
        if done[u] or k > key[u]:
            continue
        done[u] = True
        order[cnt] = u
        cnt += 1
        if dad[u] >= 0:
            total += k
            dad_w[u] = k
            deg[u] += 1
            deg[dad[u]] += 1
        for e in range(indptr[u], indptr[u + 1]):
            v = nbr[e]
            if not done[v]:
                c = base[e] + pi[u] + pi[v]
                if c < key[v]:
                    key[v] = c
                    dad[v] = u
                    h = size  # push (c, v)
                    size += 1
                    hk[h] = c
                    hv[h] = v
                    while h > 0:
                        q = (h - 1) // 2
                        if hk[q] <= hk[h]:
                            break
                        hk[q], hk[h] = hk[h], hk[q]
                        hv[q], hv[h] = hv[h], hv[q]
                        h = q
    if cnt < n - 1:
        return -np.inf
    # the two shortest edges at the special node 0
    b1, b2 = np.inf, np.inf
    for e in range(indptr[0], indptr[1]):
        c = base[e] + pi[0] + pi[nbr[e]]
        if c < b1:
            b2 = b1
            b1 = c
        elif c < b2:
            b2 = c
    if b2 == np.inf:
        return -np.inf
    for e in range(indptr[0], indptr[1]):
        c = base[e] + pi[0] + pi[nbr[e]]
        if c <= b2 and deg[0] < 2:
            deg[0] += 1
            deg[nbr[e]] += 1
    order[n - 1] = 0
    return total + b1 + b2 - 2.0 * pi.sum()


@njit(cache=True, nogil=True)
def ascent_alpha(indptr, nbr, base, max_iter, step0, k, want_pi, ub, pi0, lam0):
    """Subgradient ascent on π (Helsgaun 2000, §4.2; stops when the 1-tree is a tour, the
    schedule ends or after ``max_iter`` trees), then the ``k`` α-nearest neighbours of every
    node among its graph neighbours (``want_pi``: none, see ``alpha_dense``). Returns
    (candidates, best w(π) on the graph, iterations, π, λ); no candidates (shape (0, k)) for a
    disconnected graph. w(π) bounds the optimum only when the graph holds the tour's edges.
    Polyak steps resume from ``pi0`` and step factor ``lam0`` (the caller runs the ascent in
    chunks, checking its stop criteria between them); λ = 0 when the ascent has ended."""
    pi, bound, it, lam = _ascent(indptr, nbr, base, max_iter, step0, ub, pi0, lam0)
    if bound == -np.inf or want_pi:  # (the caller computes α on the complete graph)
        return np.full((0, k), -1, dtype=np.int64), bound, it, pi, lam
    return _alpha(indptr, nbr, base, pi, k), bound, it, pi, lam


@njit(cache=True, nogil=True)
def _ascent(indptr, nbr, base, max_iter, step0, ub, pi0, lam0):
    """LKH's schedule (``ub`` <= 0), or Polyak's step λ (ub - w) / |v|^2 towards the tour
    length ``ub`` (Held, Wolfe & Crowder 1974), λ = 2 halved after 30 trees without a better
    bound; v blended 0.7/0.3 with the previous one in both."""
    n = indptr.size - 1
    pi = pi0.copy()
    best_pi = pi.copy()
    dad = np.empty(n, dtype=np.int64)
    dad_w = np.zeros(n)
    order = np.empty(n, dtype=np.int64)
    deg = np.empty(n, dtype=np.int64)
    v_prev = np.zeros(n)
    w = one_tree(indptr, nbr, base, pi, dad, dad_w, order, deg)
    best_w = w
    if w == -np.inf:
        return best_pi, best_w, 0, 0.0
    if ub > 0:
        lam = lam0
        stale = 0
        it = 0
        while it < max_iter and lam > 1e-4:
            norm = 0.0
            for i in range(n):
                vi = deg[i] - 2.0
                v_prev[i] = 0.7 * vi + 0.3 * v_prev[i]
                norm += v_prev[i] * v_prev[i]
            if norm == 0.0:
                return pi, w, it, 0.0
            t = lam * max(ub - w, 1e-9 * abs(ub)) / norm
            for i in range(n):
                pi[i] += t * v_prev[i]
            w = one_tree(indptr, nbr, base, pi, dad, dad_w, order, deg)
            it += 1
            if w > best_w + 1e-12 * abs(best_w):
                best_w = w
                best_pi[:] = pi
                stale = 0
            else:
                stale += 1
                if stale >= 30:  # back to the best π with a shorter step
                    lam *= 0.5
                    stale = 0
                    pi[:] = best_pi
                    v_prev[:] = 0.0
                    w = one_tree(indptr, nbr, base, pi, dad, dad_w, order, deg)
        return best_pi, best_w, it, (lam if lam > 1e-4 else 0.0)
    step = step0
    period0 = max(n // 2, 100)
    period = period0
    first = True
    it = 0
    while period > 0 and step > 1e-12 * step0 and it < max_iter:
        p = 0
        while p < period and it < max_iter:
            norm = 0
            for i in range(n):
                norm += (deg[i] - 2) * (deg[i] - 2)
            if norm == 0:
                return pi, w, it, 0.0
            for i in range(n):
                vi = deg[i] - 2.0
                pi[i] += step * (0.7 * vi + 0.3 * v_prev[i])
                v_prev[i] = vi
            w = one_tree(indptr, nbr, base, pi, dad, dad_w, order, deg)
            it += 1
            if w > best_w + 1e-12 * abs(best_w):
                best_w = w
                best_pi[:] = pi
                if first:
                    step *= 2.0
                if p == period - 1:
                    period = min(2 * period, period0)
            elif first and p > period // 2:
                first = False
                p = 0
                step *= 0.75
            p += 1
        first = False
        period //= 2
        step *= 0.5
    return best_pi, best_w, it, 0.0


@njit(cache=True, nogil=True)
def _alpha(indptr, nbr, base, pi, k):
    """The ``k`` α-nearest neighbours of every node among its graph neighbours (ties by d); -1
    pads rows with fewer neighbours."""
    n = pi.size
    dad = np.empty(n, dtype=np.int64)
    dad_w = np.zeros(n)
    order = np.empty(n, dtype=np.int64)
    deg = np.empty(n, dtype=np.int64)
    one_tree(indptr, nbr, base, pi, dad, dad_w, order, deg)
    # the special node's two tree edges and its second-shortest edge length
    b1, b2, j1, j2 = np.inf, np.inf, -1, -1
    for e in range(indptr[0], indptr[1]):
        c = base[e] + pi[0] + pi[nbr[e]]
        if c < b1:
            b2, j2 = b1, j1
            b1, j1 = c, nbr[e]
        elif c < b2:
            b2, j2 = c, nbr[e]
    beta = np.empty(n)
    mark = np.full(n, -1, dtype=np.int64)
    cand = np.full((n, k), -1, dtype=np.int64)
    cval = np.full((n, k), np.inf)
    for i in range(n):
        if i > 0:
            beta[i] = -np.inf
            mark[i] = i
            u = i
            while dad[u] >= 0:
                d = dad[u]
                beta[d] = max(beta[u], dad_w[u])
                mark[d] = i
                u = d
            for t in range(n - 1):  # order[:n-1]: the tree nodes, parents first
                j = order[t]
                if mark[j] != i:
                    beta[j] = max(beta[dad[j]], dad_w[j])
        lo, hi = indptr[i], indptr[i + 1]
        a = np.empty(hi - lo)
        for e in range(lo, hi):
            j = nbr[e]
            c = base[e] + pi[i] + pi[j]
            if i == 0 or j == 0:
                a[e - lo] = 0.0 if (i == 0 and (j == j1 or j == j2)) or (j == 0 and (i == j1 or i == j2)) \
                    else c - b2
            else:
                a[e - lo] = c - beta[j]
        for e in range(lo, hi):  # insertion into the k best by (alpha, d)
            j = nbr[e]
            key = a[e - lo] + 1e-9 * base[e]
            t = k - 1
            if key >= cval[i, t]:
                continue
            while t > 0 and cval[i, t - 1] > key:
                cval[i, t] = cval[i, t - 1]
                cand[i, t] = cand[i, t - 1]
                t -= 1
            cval[i, t] = key
            cand[i, t] = j
    return cand


@njit(cache=True, nogil=True)
def alpha_dense(coords, matrix, code, pi, k):
    """α on the complete graph for the penalties ``pi`` (found on the sparse graph): Prim's
    minimum 1-tree in O(n^2) time and O(n) memory, its bound w(π) (a valid Held–Karp lower
    bound), and the ``k`` α-nearest neighbours of every node among all nodes (Helsgaun 2000,
    §4.1: β by one walk per node in topological order). Returns (candidates, bound)."""
    n = pi.size
    key = np.full(n, np.inf)
    dad = np.full(n, -1, dtype=np.int64)
    dad_w = np.zeros(n)
    done = np.zeros(n, dtype=np.bool_)
    order = np.empty(n - 1, dtype=np.int64)
    done[0] = True
    key[1] = 0.0
    total = 0.0
    for t in range(n - 1):
        u = -1
        best = np.inf
        for v in range(1, n):
            if not done[v] and key[v] < best:
                best = key[v]
                u = v
        done[u] = True
        order[t] = u
        if dad[u] >= 0:
            total += best
            dad_w[u] = best
        for v in range(1, n):
            if not done[v]:
                c = dist(coords, matrix, code, u, v) + pi[u] + pi[v]
                if c < key[v]:
                    key[v] = c
                    dad[v] = u
    b1, b2, j1, j2 = np.inf, np.inf, -1, -1
    for v in range(1, n):
        c = dist(coords, matrix, code, 0, v) + pi[0] + pi[v]
        if c < b1:
            b2, j2 = b1, j1
            b1, j1 = c, v
        elif c < b2:
            b2, j2 = c, v
    bound = total + b1 + b2 - 2.0 * pi.sum()
    cand = np.full((n, k), -1, dtype=np.int64)
    cval = np.full((n, k), np.inf)
    beta = np.empty(n)
    mark = np.full(n, -1, dtype=np.int64)
    for i in range(n):
        if i > 0:
            beta[i] = -np.inf
            mark[i] = i
            u = i
            while dad[u] >= 0:
                beta[dad[u]] = max(beta[u], dad_w[u])
                mark[dad[u]] = i
                u = dad[u]
            for t in range(n - 1):
                j = order[t]
                if mark[j] != i:
                    beta[j] = max(beta[dad[j]], dad_w[j])
        for j in range(n):
            if j == i:
                continue
            d = dist(coords, matrix, code, i, j)
            c = d + pi[i] + pi[j]
            if i == 0 or j == 0:
                other = j if i == 0 else i
                a = 0.0 if other == j1 or other == j2 else c - b2
            else:
                a = c - beta[j]
            key_ij = a + 1e-9 * d
            t = k - 1
            if key_ij >= cval[i, t]:
                continue
            while t > 0 and cval[i, t - 1] > key_ij:
                cval[i, t] = cval[i, t - 1]
                cand[i, t] = cand[i, t - 1]
                t -= 1
            cval[i, t] = key_ij
            cand[i, t] = j
    return cand, bound
