"""Label propagation by block coordinate descent over forest blocks solved by message passing.

Nutini, Laradji & Schmidt, "Let's Make Block Coordinate Descent Converge Faster" (2022), §5:
- partition: the unlabelled graph is split greedily into a few blocks whose induced subgraphs
  are forests (:func:`forest_partition`; about two on a lattice), so every block Hessian
  H_bb = diag(deg_b + reg) - W_bb is a tree-structured SPD matrix;
- update: the exact block minimization H_bb d = -∇_b f is solved in O(|b|) by Gaussian
  elimination leaf-to-root and back-substitution root-to-leaf (:func:`tree_solve`;
  a tree has no fill-in), i.e. message passing;
- the gradient G = H X_U - W_UL Y_L is kept current by residual updates (a block visit costs
  O(nnz of its rows)) and recomputed from scratch before the stopping test is accepted.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np
import scipy.sparse as sp

from problems import LabelPropagation

from ..context import SolveContext
from ..result import Result, Status


@numba.njit(cache=True)
def _find(uf: np.ndarray, v: int) -> int:
    while uf[v] != v:
        uf[v] = uf[uf[v]]
        v = uf[v]
    return v


@numba.njit(cache=True)
def _greedy_forests(indptr: np.ndarray, indices: np.ndarray, order: np.ndarray) -> np.ndarray:
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


def forest_partition(W: Any, order: np.ndarray | None = None) -> list[np.ndarray]:
    """Split the nodes of the symmetric graph ``W`` into a few blocks whose induced subgraphs are
    forests (greedy tree blocks of the paper's §5). Nodes are visited in ``order`` (default: a
    breadth-first order of each component); returns sorted index arrays covering every node once."""
    W = sp.csr_matrix(W)
    n = W.shape[0]
    if W.shape != (n, n):
        raise ValueError(f"W must be square, got shape {W.shape}")
    if n == 0:
        return []
    if order is None:
        order = _bfs_order(W)
    order = np.asarray(order, dtype=np.int64)
    if order.shape != (n,) or not np.array_equal(np.sort(order), np.arange(n)):
        raise ValueError("order must be a permutation of the nodes")
    block = _greedy_forests(W.indptr.astype(np.int64), W.indices.astype(np.int64), order)
    return [np.flatnonzero(block == k) for k in range(int(block.max()) + 1)]


@numba.njit(cache=True)
def _bfs_forest(indptr: np.ndarray, indices: np.ndarray, data: np.ndarray
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


def _bfs_order(W: sp.csr_matrix) -> np.ndarray:
    return _bfs_forest(W.indptr.astype(np.int64), W.indices.astype(np.int64),
                       W.data.astype(np.float64))[0]


def _tree_structure(W: sp.csr_matrix, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(BFS order, parent, weight to parent) of the forest induced by ``nodes`` (global ids)."""
    sub = sp.csr_matrix(W[nodes][:, nodes])
    order, parent_l, wpar = _bfs_forest(sub.indptr.astype(np.int64), sub.indices.astype(np.int64),
                                        sub.data.astype(np.float64))
    parent = np.where(parent_l >= 0, nodes[np.maximum(parent_l, 0)], -1)
    return nodes[order], parent[order], wpar[order]


def tree_solve(parent: np.ndarray, diag: np.ndarray, offdiag: np.ndarray, r: np.ndarray) -> bool:
    """Solve H x = r in place for one forest numbered in BFS order (parent[v] < v, -1 for roots),
    H[v, v] = diag[v], H[v, parent[v]] = offdiag[v] (paper §5, message passing): factor with
    :func:`_factor_forests`, then :func:`_factored_solve`. ``r`` is (n, k), contiguous. Returns
    False (``r`` unspecified) when a pivot is not positive, i.e. H is not positive definite."""
    n = diag.size
    try:
        ipiv, mult = _factor_forests(np.array([0, n], dtype=np.int64), parent, diag, offdiag)
    except ZeroDivisionError:
        return False
    if not np.all(ipiv > 0):  # the pivots of an SPD matrix (its LDLᵀ factor D) are positive
        return False
    _factored_solve(0, n, parent, mult, ipiv, r)
    return True


def solve_tree_system(order: np.ndarray, parent: np.ndarray, diag: np.ndarray, offdiag: np.ndarray,
                      rhs: np.ndarray) -> np.ndarray:
    """Solve H x = rhs for a forest-structured SPD H in O(n) (paper §5, message passing).

    ``order``: the nodes 0..n-1 in an order where every parent precedes its children (BFS);
    ``parent[v]``: the parent of v, -1 for roots; ``diag[v] = H[v, v]``; ``offdiag[v] =
    H[v, parent[v]]``; ``rhs``: (n,) or (n, k)."""
    order = np.asarray(order, dtype=np.int64)
    parent = np.asarray(parent, dtype=np.int64)
    diag = np.asarray(diag, dtype=np.float64)
    offdiag = np.asarray(offdiag, dtype=np.float64)
    b = np.asarray(rhs, dtype=np.float64)
    n = diag.size
    if order.shape != (n,) or parent.shape != (n,) or offdiag.shape != (n,) or b.shape[:1] != (n,):
        raise ValueError("order, parent, diag, offdiag and rhs must have n = len(diag) rows")
    if b.ndim not in (1, 2):
        raise ValueError("rhs must be 1-D or 2-D")
    if not np.array_equal(np.sort(order), np.arange(n)):
        raise ValueError("order must be a permutation of 0..n-1")
    pos = np.empty(n, dtype=np.int64)
    pos[order] = np.arange(n)
    has = parent >= 0
    if np.any(parent >= n) or np.any(pos[parent[has]] >= pos[has]):
        raise ValueError("every parent must precede its children in order")
    # renumber the nodes in ``order`` (parents first), as the block sweep stores them
    new_parent = np.where(has, pos[np.maximum(parent, 0)], -1)[order]
    r = np.ascontiguousarray(b.reshape(n, -1)[order])
    if not tree_solve(new_parent, diag[order], offdiag[order], r):
        raise ValueError("the tree system is singular or indefinite (a pivot <= 0): "
                         "H must be positive definite")
    x = np.empty_like(r)
    x[order] = r
    return x.reshape(b.shape)


@numba.njit(cache=True)
def _factor_forests(bptr: np.ndarray, parent: np.ndarray, diag: np.ndarray, offdiag: np.ndarray
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
def _factored_solve(lo: int, hi: int, parent: np.ndarray, mult: np.ndarray, ipiv: np.ndarray,
                    r: np.ndarray) -> None:
    """Message passing with a pre-factored forest (:func:`_factor_forests`) on nodes lo..hi-1,
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
def _sweep(bptr: np.ndarray, parent: np.ndarray, mult: np.ndarray, ipiv: np.ndarray,
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
        _factored_solve(lo, hi, parent, mult, ipiv, r)  # r[v] becomes d[v]
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


def check_label_propagation_options(rule: str, tol: float) -> None:
    """Block rule and tolerance of both label-propagation paths (forest and red-black)."""
    if rule not in ("cyclic", "random", "gs"):
        raise ValueError(f"rule must be 'cyclic', 'random' or 'gs' for label propagation, got {rule!r}")
    if not tol > 0:
        raise ValueError(f"tol must be positive, got {tol!r}")


def solve_forest_bcd(problem: LabelPropagation, ctx: SolveContext, tol: float = 1e-8,
                     max_iter: int = 100_000, rule: str = "cyclic") -> Result:
    """BCD over forest blocks with exact message-passing block updates (paper §5).

    ``rule``: 'cyclic' (blocks in turn), 'random' (uniform) or 'gs' (largest ||∇_b f||).
    ``max_iter`` counts block visits; ``tol`` is on ||∇f||_inf, checked once per sweep (one
    sweep = as many visits as blocks), where the history is also recorded."""
    check_label_propagation_options(rule, tol)
    W = sp.csr_matrix(problem.W)
    unl = problem.unlabelled
    m = unl.size
    Xf = problem.clamped()
    f0 = problem.objective(Xf)  # f at X_U = 0; f(X_U) = f0 + 1/2 <X_U, G - B>
    W_UU = sp.csr_matrix(W[unl][:, unl])
    blocks = forest_partition(W_UU)
    nb = len(blocks)
    parts = [_tree_structure(W_UU, b) for b in blocks]
    bptr = np.zeros(nb + 1, dtype=np.int64)
    bptr[1:] = np.cumsum([b.size for b in blocks])
    # renumber the unlabelled nodes block by block in BFS order: perm[new] = old
    perm = np.concatenate([p[0] for p in parts]) if nb else np.zeros(0, dtype=np.int64)
    new_of = np.empty(m, dtype=np.int64)
    new_of[perm] = np.arange(m)
    parent = np.concatenate([np.where(p[1] >= 0, new_of[np.maximum(p[1], 0)], -1) for p in parts]) \
        if nb else np.zeros(0, dtype=np.int64)
    offdiag = -np.concatenate([p[2] for p in parts]) if nb else np.zeros(0)
    uidx = unl[perm]
    deg = np.asarray(W.sum(axis=1)).ravel()[uidx] + problem.reg
    B = np.asarray(W[uidx] @ Xf)  # W_UL Y_L: the linear term (X_U = 0 in Xf)
    Wp = sp.csr_matrix(W_UU[perm][:, perm])
    Wp.sort_indices()
    # cut edges (endpoints in different blocks): the only residual updates a block step needs
    bid = np.repeat(np.arange(nb), np.diff(bptr))
    rows = np.repeat(np.arange(m), np.diff(Wp.indptr))
    cut = sp.csr_matrix((Wp.data * (bid[rows] != bid[Wp.indices]), Wp.indices.copy(), Wp.indptr.copy()),
                        shape=Wp.shape)
    cut.eliminate_zeros()
    cut.sort_indices()
    cindptr, cindices, cdata = cut.indptr.astype(np.int64), cut.indices.astype(np.int64), cut.data
    ipiv, mult = _factor_forests(bptr, parent, deg, offdiag)
    if not np.all(ipiv > 0):
        raise ValueError("a block Hessian of label propagation is not positive definite "
                         "(a component without labels needs reg > 0)")
    X = np.zeros((m, Xf.shape[1]))
    G = -B
    r = np.empty_like(X)
    all_blocks = np.arange(nb, dtype=np.int64)
    status = Status.ITERATION_LIMIT
    it = 0
    gnorm = float(np.max(np.abs(G))) if G.size else 0.0
    try:
        while True:
            if gnorm <= tol:
                G = deg[:, None] * X - Wp @ X - B  # drift check: accept only the exact gradient
                gnorm = float(np.max(np.abs(G))) if G.size else 0.0
                if gnorm <= tol:
                    status = Status.CONVERGED
                    break
            if it >= int(max_iter) or ctx.should_stop():
                break
            n_visit = min(nb, int(max_iter) - it)
            if rule == "cyclic":
                todo = all_blocks[:n_visit]
            elif rule == "random":
                todo = ctx.rng.integers(nb, size=n_visit).astype(np.int64)
            else:  # Gauss-Southwell: the block with the largest gradient norm, visit by visit
                for _ in range(n_visit - 1):
                    j = int(np.argmax([np.sum(G[bptr[i]:bptr[i + 1]] ** 2) for i in range(nb)]))
                    _sweep(bptr, parent, mult, ipiv, cindptr, cindices, cdata, B, X, G, r,
                           all_blocks[j:j + 1], False)
                j = int(np.argmax([np.sum(G[bptr[i]:bptr[i + 1]] ** 2) for i in range(nb)]))
                todo = all_blocks[j:j + 1]
            gnorm, xg = _sweep(bptr, parent, mult, ipiv, cindptr, cindices, cdata, B, X, G, r, todo, True)
            it += n_visit
            ctx.record(f0 + 0.5 * xg, iteration=it)
    except KeyboardInterrupt:
        ctx.interrupted = True
    if status is not Status.CONVERGED:
        status = ctx.stop_status(status)
    Xf[uidx] = X
    return ctx.result(solution=Xf, objective=problem.objective(Xf), status=status, iterations=it,
                      stats={"grad_norm": gnorm, "n_blocks": nb, "partition": "forest"})
