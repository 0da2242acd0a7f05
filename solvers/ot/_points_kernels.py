"""Online O(m n d) passes for point-cloud entropic OT (design.md §3 without the n^2 matrices).

The cost C_ij = metric(x_i, y_j) / scale is recomputed row by row into a buffer of n doubles
(Y is stored transposed, (d, n), so the coordinate loops vectorize), turned into the exponent
x_ij = (f_i + g_j - C_ij)/eps, shifted by its row maximum (log-sum-exp form: nothing
overflows, whatever the potentials) and exponentiated by a vectorizable exp.  Rows are split
into one chunk per numba thread (``prange``), each with its own column accumulator, summed at
the end: no entry of C, K or P is ever stored beyond one row per thread.

metric codes: 0 squared Euclidean, 1 Euclidean.
"""

from __future__ import annotations

import math

import numpy as np
from numba import get_num_threads, njit, prange

from ._fastexp import vexp


@njit(cache=True, nogil=True, fastmath={"contract", "reassoc", "nsz", "arcp"})
def _exponents(X, Yt, i, fi, g, inv_s, inv_eps, metric, cb, xb) -> float:
    """Row i: cb = C_i. (the cost row), xb = (f_i + g - cb)/eps; returns max_j xb_j."""
    d, n = Yt.shape
    for j in range(n):
        cb[j] = 0.0
    for k in range(d):
        xk = X[i, k]
        for j in range(n):
            t = xk - Yt[k, j]
            cb[j] += t * t
    if metric == 1:
        for j in range(n):
            cb[j] = math.sqrt(cb[j])
    mx = -np.inf
    for j in range(n):
        cb[j] *= inv_s
        v = (fi + g[j] - cb[j]) * inv_eps
        xb[j] = v
        mx = max(mx, v)
    return mx


def chunks(m: int) -> np.ndarray:
    """Row chunk boundaries, one chunk per numba thread (at least 64 rows each)."""
    t = max(1, min(get_num_threads(), m // 64))
    return np.linspace(0, m, t + 1).astype(np.int64)


@njit(cache=True, nogil=True, parallel=True, fastmath={"reassoc", "contract", "nsz", "arcp"})
def sweep(X, Yt, f, g, a, eps, inv_s, metric, bounds, s_old, colsum) -> None:
    """Fused Sinkhorn row update (design.md §3 stage 1): for every row
    s_i = sum_j exp((f_i + g_j - C_ij)/eps) (the row sum of the current plan, into ``s_old``),
    f_i += eps (log a_i - log s_i) (in place), and the new plan row, a_i exp(x_ij - max) / sum,
    added into the column sums ``colsum`` (so the g-update needs no second pass)."""
    n = Yt.shape[1]
    nt = bounds.size - 1
    acc = np.zeros((nt, n))
    inv_eps = 1.0 / eps
    for t in prange(nt):
        cb = np.empty(n)
        xb = np.empty(n)
        eb = np.empty(n)
        tb = np.empty(n)
        col = acc[t]
        for i in range(bounds[t], bounds[t + 1]):
            mx = _exponents(X, Yt, i, f[i], g, inv_s, inv_eps, metric, cb, xb)
            for j in range(n):
                xb[j] -= mx
            vexp(xb, eb, tb, n)
            s = 0.0
            for j in range(n):
                s += eb[j]
            s_old[i] = math.exp(mx) * s
            w = a[i] / s
            for j in range(n):
                col[j] += eb[j] * w
            f[i] += eps * (math.log(a[i]) - mx - math.log(s))
    for j in range(n):
        tot = 0.0
        for t in range(nt):
            tot += acc[t, j]
        colsum[j] = tot


@njit(cache=True, nogil=True, parallel=True, fastmath={"reassoc", "contract", "nsz", "arcp"})
def marginals(X, Yt, f, g, eps, inv_s, metric, bounds, r, c) -> float:
    """Row sums r and column sums c of P = exp((f_i + g_j - C_ij)/eps); returns <C, P>."""
    n = Yt.shape[1]
    nt = bounds.size - 1
    acc = np.zeros((nt, n))
    cost = np.zeros(nt)
    inv_eps = 1.0 / eps
    for t in prange(nt):
        cb = np.empty(n)
        xb = np.empty(n)
        eb = np.empty(n)
        tb = np.empty(n)
        col = acc[t]
        ct = 0.0
        for i in range(bounds[t], bounds[t + 1]):
            mx = _exponents(X, Yt, i, f[i], g, inv_s, inv_eps, metric, cb, xb)
            for j in range(n):
                xb[j] -= mx
            vexp(xb, eb, tb, n)
            w = math.exp(mx)
            s = 0.0
            sc = 0.0
            for j in range(n):
                p = eb[j] * w
                s += p
                sc += p * cb[j]
                col[j] += p
            r[i] = s
            ct += sc
        cost[t] = ct
    for j in range(n):
        tot = 0.0
        for t in range(nt):
            tot += acc[t, j]
        c[j] = tot
    return cost.sum()


@njit(cache=True, nogil=True, parallel=True, fastmath={"reassoc", "contract", "nsz", "arcp"})
def lse_update(X, Yt, g, log_a, eps, inv_s, metric, bounds, f) -> None:
    """Exact log-domain Sinkhorn half-step f_i = eps (log a_i - LSE_j (g_j - C_ij)/eps), any
    starting f (the start, and the fallback when a fused column sum underflows).  The column
    half-step is the same call with the clouds' roles swapped."""
    n = Yt.shape[1]
    nt = bounds.size - 1
    inv_eps = 1.0 / eps
    for t in prange(nt):
        cb = np.empty(n)
        xb = np.empty(n)
        eb = np.empty(n)
        tb = np.empty(n)
        for i in range(bounds[t], bounds[t + 1]):
            mx = _exponents(X, Yt, i, 0.0, g, inv_s, inv_eps, metric, cb, xb)
            for j in range(n):
                xb[j] -= mx
            vexp(xb, eb, tb, n)
            s = 0.0
            for j in range(n):
                s += eb[j]
            f[i] = eps * (log_a[i] - mx - math.log(s))


@njit(cache=True, nogil=True, parallel=True, fastmath={"contract"})
def top_k(X, Yt, f, g, eps, inv_s, metric, bounds, k, indices, data, kept) -> None:
    """The k largest entries of every plan row (paper Alg. 1 line 7, Sparsify, per row): their
    column indices (sorted) into ``indices[i]`` (uint32) and values into ``data[i]``, a CSR
    matrix with k entries a row; ``kept[i]`` = the kept share of the row's mass."""
    n = Yt.shape[1]
    nt = bounds.size - 1
    inv_eps = 1.0 / eps
    for t in prange(nt):
        cb = np.empty(n)
        xb = np.empty(n)
        eb = np.empty(n)
        tb = np.empty(n)
        for i in range(bounds[t], bounds[t + 1]):
            mx = _exponents(X, Yt, i, f[i], g, inv_s, inv_eps, metric, cb, xb)
            if k < n:
                thr = np.partition(xb, n - k)[n - k]  # the k-th largest exponent
            else:
                thr = -np.inf
            for j in range(n):
                xb[j] -= mx
            vexp(xb, eb, tb, n)
            w = math.exp(mx)
            tot = 0.0
            q = 0
            kp = 0.0
            thr_s = thr - mx
            for j in range(n):
                tot += eb[j]
                if q < k and xb[j] >= thr_s:
                    indices[i, q] = j
                    data[i, q] = eb[j] * w
                    kp += eb[j]
                    q += 1
            for qq in range(q, k):  # fewer than k (rounding of the threshold): pad with zeros
                indices[i, qq] = 0
                data[i, qq] = 0.0
            kept[i] = kp / tot if tot > 0 else 1.0


@njit(cache=True, nogil=True, parallel=True, fastmath={"reassoc", "contract", "nsz", "arcp"})
def max_cost(X, Yt, inv_s, metric, bounds) -> float:
    """max_ij C_ij (for scale='max' and the eps ladder)."""
    n = Yt.shape[1]
    nt = bounds.size - 1
    out = np.zeros(nt)
    zero = np.zeros(n)
    for t in prange(nt):
        cb = np.empty(n)
        xb = np.empty(n)
        best = 0.0
        for i in range(bounds[t], bounds[t + 1]):
            _exponents(X, Yt, i, 0.0, zero, inv_s, 1.0, metric, cb, xb)
            for j in range(n):
                best = max(best, cb[j])
        out[t] = best
    return out.max()
