"""Message passing on forests (Nutini, Laradji & Schmidt §5): a tree-structured SPD system
H x = r is solved in O(n) by Gaussian elimination leaf-to-root and back-substitution
root-to-leaf (a tree has no fill-in). Used by the forest blocks of label propagation and by the
block Newton step of sparse designs (:func:`solvers.bcd.updates.forest_newton`)."""

from __future__ import annotations

import numpy as np

from ._forest_kernels import factor_forests, factored_solve


def tree_solve(parent: np.ndarray, diag: np.ndarray, offdiag: np.ndarray, r: np.ndarray) -> bool:
    """Solve H x = r in place for one forest numbered in BFS order (parent[v] < v, -1 for roots),
    H[v, v] = diag[v], H[v, parent[v]] = offdiag[v] (paper §5, message passing): factor with
    :func:`factor_forests`, then :func:`factored_solve`. ``r`` is (n, k), contiguous. Returns
    False (``r`` unspecified) when a pivot is not positive, i.e. H is not positive definite."""
    n = diag.size
    try:
        ipiv, mult = factor_forests(np.array([0, n], dtype=np.int64), parent, diag, offdiag)
    except ZeroDivisionError:
        return False
    if not np.all(ipiv > 0):  # the pivots of an SPD matrix (its LDLᵀ factor D) are positive
        return False
    factored_solve(0, n, parent, mult, ipiv, r)
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
