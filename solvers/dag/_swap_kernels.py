"""Numba kernel: the score change of EVERY swap of a topological order at once, from the
Cholesky factor of the permuted Gram matrix (the least-squares inner problem of TOPO, Deng et
al. 2023, eq. 4, with each node regressed on all its predecessors).

Notation: L lower triangular with L L^T = P^T (S + l2 I) P for the order's permutation P; the
node at position r leaves the residual variance L_rr^2 given its predecessors. Swapping the
nodes a (position p) and b (position q > p) changes only the residuals of positions p..q. Let
Lb = L[p:, p:] (conditional covariance of the suffix given the prefix is Lb Lb^T) and T the
factor of the suffix without a: T T^T = Lb[1:, 1:] Lb[1:, 1:]^T + l l^T with l = Lb[1:, 0]
(a rank-1 Cholesky update, O(s^2)). In the swapped order

- b (row k of T, k = q - p - 1) comes first: variance sum_{l <= k} T_kl^2;
- the node x_i between (i < k) is conditioned on b as well:
  T_ii^2 (1 - T_ki^2 / sum_{i <= l <= k} T_kl^2);
- a comes last: Lb_00^2 - sum_{i <= k} z_i^2 with T z = Lb_00 l (forward substitution).

Each pair (p, q) then costs O(q - p) and all pairs O(d^3), against O(d^5) for one Cholesky
factorization per pair.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def all_swap_gains(L: np.ndarray) -> np.ndarray:
    """G[p, q] (p < q): half the decrease of sum_r L_rr^2 when positions p and q swap (the
    l2 score's decrease); 0 on and below the diagonal."""
    d = L.shape[0]
    G = np.zeros((d, d))
    diag2 = np.empty(d)
    for r in range(d):
        diag2[r] = L[r, r] * L[r, r]
    T = np.empty((d, d))
    x = np.empty(d)
    z = np.empty(d)
    for p in range(d - 1):
        s = d - p - 1
        a00 = L[p, p]
        for i in range(s):  # T = Lb[1:, 1:], x = Lb[1:, 0]
            x[i] = L[p + 1 + i, p]
            for j in range(i + 1):
                T[i, j] = L[p + 1 + i, p + 1 + j]
        for k in range(s):  # rank-1 update T T^T + x x^T (lower factor)
            tkk = T[k, k]
            r = np.sqrt(tkk * tkk + x[k] * x[k])
            c = r / tkk
            sn = x[k] / tkk
            T[k, k] = r
            for i in range(k + 1, s):
                T[i, k] = (T[i, k] + sn * x[i]) / c
                x[i] = c * x[i] - sn * T[i, k]
        for i in range(s):  # T z = a00 * Lb[1:, 0]
            acc = a00 * L[p + 1 + i, p]
            for j in range(i):
                acc -= T[i, j] * z[j]
            z[i] = acc / T[i, i]
        old = diag2[p]
        za = 0.0
        for k in range(s):
            q = p + 1 + k
            old += diag2[q]
            za += z[k] * z[k]
            new = a00 * a00 - za  # a last
            tail = 0.0
            for i in range(k, -1, -1):
                t = T[k, i]
                tail += t * t
                if i < k:
                    tii = T[i, i]
                    new += tii * tii * (1.0 - t * t / max(tail, 1e-300))
            new += tail  # b first: sum_{l <= k} T_kl^2
            G[p, q] = 0.5 * (old - new)
    return G
