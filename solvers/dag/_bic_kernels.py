"""Numba kernel: one node's Gaussian BIC fit on a parent set, from the Gram matrix S = X^T X / n
(the inner problem of TOPO, Deng et al. 2023, eq. 4, for the non-equal-variance score).

Node score (per sample): 1/2 log(sigma^2) + log(n) / (2n) |support|, sigma^2 the residual
variance of the least-squares fit on the support. The support is found by backward
elimination on the full fit's t-statistics: dropping parent k raises sigma^2 by the factor
1 + w_k^2 / ([G^{-1}]_kk sigma^2), so the BIC falls exactly when log of that factor is below
log(n) / n; all such parents are dropped, the rest refitted, until none qualifies.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def _chol_solve_invdiag(G: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
    m = c.size
    L = np.zeros((m, m))
    for i in range(m):
        for j in range(i + 1):
            acc = G[i, j]
            for k in range(j):
                acc -= L[i, k] * L[j, k]
            if i == j:
                if acc <= 0.0:
                    return np.zeros(m), np.ones(m), False
                L[i, i] = np.sqrt(acc)
            else:
                L[i, j] = acc / L[j, j]
    y = np.empty(m)
    for i in range(m):
        acc = c[i]
        for k in range(i):
            acc -= L[i, k] * y[k]
        y[i] = acc / L[i, i]
    w = np.empty(m)
    for i in range(m - 1, -1, -1):
        acc = y[i]
        for k in range(i + 1, m):
            acc -= L[k, i] * w[k]
        w[i] = acc / L[i, i]
    inv_diag = np.zeros(m)  # diag(G^{-1}) = column sums of squares of L^{-1}
    col = np.empty(m)
    for k in range(m):
        for i in range(m):
            if i < k:
                col[i] = 0.0
            elif i == k:
                col[i] = 1.0 / L[i, i]
            else:
                acc = 0.0
                for t in range(k, i):
                    acc -= L[i, t] * col[t]
                col[i] = acc / L[i, i]
        s = 0.0
        for i in range(k, m):
            s += col[i] * col[i]
        inv_diag[k] = s
    return w, inv_diag, True


@njit(cache=True, nogil=True)
def bic_fit(S: np.ndarray, j: int, parents: np.ndarray, protect: np.ndarray, l2: float,
            n: int) -> tuple[float, np.ndarray]:
    """(BIC node score, weights on ``parents``, 0 where eliminated; ``protect``ed parents,
    the required edges, are never eliminated)."""
    k = parents.size
    out = np.zeros(k)
    keep = np.ones(k, dtype=np.bool_)
    penalty = np.log(n) / n
    s2 = S[j, j]
    m = 0
    for _ in range(k + 1):
        idx = np.flatnonzero(keep)
        m = idx.size
        if m == 0:
            s2 = S[j, j]
            break
        sub = parents[idx]
        G = np.empty((m, m))
        c = np.empty(m)
        for a in range(m):
            c[a] = S[sub[a], j]
            for b in range(m):
                G[a, b] = S[sub[a], sub[b]]
            G[a, a] += l2
        w, inv_diag, ok = _chol_solve_invdiag(G, c)
        if not ok:
            return np.inf, out
        s2 = S[j, j]
        for a in range(m):
            s2 -= w[a] * c[a] + l2 * w[a] * w[a]
        s2 = max(s2, 1e-300)
        dropped = False
        for a in range(m):
            if not protect[idx[a]] and np.log1p(w[a] * w[a] / (inv_diag[a] * s2)) < penalty:
                keep[idx[a]] = False
                dropped = True
        if not dropped:
            out[:] = 0.0
            for a in range(m):
                out[idx[a]] = w[a]
            break
    return 0.5 * np.log(s2) + 0.5 * penalty * m, out
