"""Numba kernels of the forest blocks (Nutini, Laradji & Schmidt §5): the greedy forest partition
(union-find), breadth-first forests, and message passing on pre-factored trees (LDLᵀ elimination
leaf-to-root, back-substitution root-to-leaf) with the residual-updated block sweep of label
propagation."""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True)
def _find(uf: np.ndarray, v: int) -> int:
    while uf[v] != v:
        uf[v] = uf[uf[v]]
        v = uf[v]
    return v


@numba.njit(cache=True)
def greedy_forests(indptr: np.ndarray, indices: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Block id per node: pass k visits the unassigned nodes in ``order`` and adds a node to
    block k when its neighbours already in block k lie in distinct trees (union-find), so the
    induced subgraph of block k stays acyclic; passes repeat until every node is assigned."""
    n = indptr.size - 1
    block = -np.ones(n, dtype=np.int64)
    uf = np.arange(n)
    roots = np.empty(n, dtype=np.int64)
    left = n
    k = 0
    while left > 0:
        for v in range(n):
            uf[v] = v
        for v in order:
            if block[v] >= 0:
                continue
            nr = 0
            ok = True
            for p in range(indptr[v], indptr[v + 1]):
                u = indices[p]
                if u == v or block[u] != k:
                    continue
                r = _find(uf, u)
                for q in range(nr):
                    if roots[q] == r:
                        ok = False
                        break
                if not ok:
                    break
                roots[nr] = r
                nr += 1
            if ok:
                block[v] = k
                left -= 1
                for q in range(nr):
                    uf[roots[q]] = v
        k += 1
    return block


@numba.njit(cache=True)
def bfs_forest(indptr: np.ndarray, indices: np.ndarray, data: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Breadth-first (order, parent, weight to parent) over every component, in linear time."""
    n = indptr.size - 1
    order = np.empty(n, dtype=np.int64)
    parent = -np.ones(n, dtype=np.int64)
    wpar = np.zeros(n)
    seen = np.zeros(n, dtype=np.bool_)
    tail = 0
    for root in range(n):
        if seen[root]:
            continue
        seen[root] = True
        head = tail
        order[tail] = root
        tail += 1
        while head < tail:
            v = order[head]
            head += 1
            for q in range(indptr[v], indptr[v + 1]):
                u = indices[q]
                if not seen[u]:
                    seen[u] = True
                    parent[u] = v
                    wpar[u] = data[q]
                    order[tail] = u
                    tail += 1
    return order, parent, wpar


@numba.njit(cache=True)
def factor_forests(bptr: np.ndarray, parent: np.ndarray, diag: np.ndarray, offdiag: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray]:
    """LDLᵀ elimination leaf-to-root of every block (paper §5), done once: the block Hessians of
    label propagation do not change, so a sweep only passes the messages. Returns (1 / pivot,
    multiplier offdiag[v] / pivot[v]) per node."""
    n = diag.size
    piv = diag.copy()
    for b in range(bptr.size - 1):
        for v in range(bptr[b + 1] - 1, bptr[b] - 1, -1):
            p = parent[v]
            if p >= 0:
                piv[p] -= offdiag[v] * offdiag[v] / piv[v]
    mult = np.zeros(n)
    ipiv = np.empty(n)
    for v in range(n):
        ipiv[v] = 1.0 / piv[v]
        if parent[v] >= 0:
            mult[v] = offdiag[v] / piv[v]
    return ipiv, mult


@numba.njit(cache=True, inline="always")  # not inlined, the call made the sweep 2x slower
def factored_solve(lo: int, hi: int, parent: np.ndarray, mult: np.ndarray, ipiv: np.ndarray,
                   r: np.ndarray) -> None:
    """Message passing with a pre-factored forest (:func:`factor_forests`) on nodes lo..hi-1,
    numbered in BFS order (parent[v] < v): messages leaf-to-root, then back-substitution
    root-to-leaf. ``r`` holds the right-hand side on entry and the solution on exit."""
    k = r.shape[1]
    for v in range(hi - 1, lo - 1, -1):
        p = parent[v]
        if p >= 0:
            f = mult[v]
            for c in range(k):
                r[p, c] -= f * r[v, c]
    for v in range(lo, hi):
        p = parent[v]
        f = mult[v]
        iv = ipiv[v]
        for c in range(k):
            s = r[v, c] * iv
            if p >= 0:
                s -= f * r[p, c]
            r[v, c] = s


@numba.njit(cache=True)
def sweep(bptr: np.ndarray, parent: np.ndarray, mult: np.ndarray, ipiv: np.ndarray,
           cindptr: np.ndarray, cindices: np.ndarray, cdata: np.ndarray, B: np.ndarray, X: np.ndarray,
           G: np.ndarray, r: np.ndarray, blocks: np.ndarray, measure: bool) -> tuple[float, float]:
    """Visit ``blocks`` in turn: the exact block step d = -H_bb⁻¹ G_b by message passing with the
    pre-factored block (forward messages leaf-to-root, back-substitution root-to-leaf), X_b += d,
    and the residual update of the gradient G = H X - B (H = diag - W_UU): G_b becomes 0 (the
    block is minimized exactly) and only the neighbours across the block boundary change, through
    the cut edges (cindptr, cindices, cdata). Nodes are numbered block by block in BFS order
    (block b is bptr[b]:bptr[b+1], parent[v] < v), so the passes run over contiguous memory.
    Returns (||G||_inf, <X, G - B>) after the visits when ``measure`` (else (-1, 0))."""
    k = X.shape[1]
    for b in blocks:
        lo, hi = bptr[b], bptr[b + 1]
        for v in range(lo, hi):
            for c in range(k):
                r[v, c] = -G[v, c]
        factored_solve(lo, hi, parent, mult, ipiv, r)  # r[v] becomes d[v]
        for v in range(lo, hi):
            for c in range(k):
                X[v, c] += r[v, c]
                G[v, c] = 0.0
            for q in range(cindptr[v], cindptr[v + 1]):
                u = cindices[q]
                w = cdata[q]
                for c in range(k):
                    G[u, c] -= w * r[v, c]
    if not measure:
        return -1.0, 0.0
    gmax = 0.0
    xg = 0.0
    for v in range(X.shape[0]):
        for c in range(k):
            a = abs(G[v, c])
            if a > gmax:
                gmax = a
            xg += X[v, c] * (G[v, c] - B[v, c])
    return gmax, xg
