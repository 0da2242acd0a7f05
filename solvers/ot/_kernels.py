"""Fused O(mn) numba passes for log-domain Sinkhorn and Sinkhorn-Newton-Sparse (design.md §3).

Every exponential is taken of (f_i + g_j - C_ij)/eps minus a row or column maximum
(log-sum-exp form), so eps down to 1e-4 with costs of order 1 neither overflows nor NaNs.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def update_f(C: np.ndarray, g: np.ndarray, log_a: np.ndarray, eps: float, f: np.ndarray) -> None:
    """Sinkhorn row step: f_i = eps (log a_i - LSE_j (g_j - C_ij)/eps)."""
    m, n = C.shape
    inv = 1.0 / eps
    for i in range(m):
        mx = -np.inf
        for j in range(n):
            v = (g[j] - C[i, j]) * inv
            if v > mx:
                mx = v
        s = 0.0
        for j in range(n):
            s += math.exp((g[j] - C[i, j]) * inv - mx)
        f[i] = eps * (log_a[i] - mx - math.log(s))


@njit(cache=True, nogil=True)
def update_g(C: np.ndarray, f: np.ndarray, log_b: np.ndarray, eps: float, g: np.ndarray) -> None:
    """Sinkhorn column step: g_j = eps (log b_j - LSE_i (f_i - C_ij)/eps), row-major traversal."""
    m, n = C.shape
    inv = 1.0 / eps
    mx = np.full(n, -np.inf)
    for i in range(m):
        for j in range(n):
            v = (f[i] - C[i, j]) * inv
            if v > mx[j]:
                mx[j] = v
    s = np.zeros(n)
    for i in range(m):
        for j in range(n):
            s[j] += math.exp((f[i] - C[i, j]) * inv - mx[j])
    for j in range(n):
        g[j] = eps * (log_b[j] - mx[j] - math.log(s[j]))


# ---------------------------------------------------------------- scaling-form passes (SNS stage 2)
# P = diag(u) K diag(v) with K = exp((f0 + g0 - C)/eps) built once (and again only on absorption):
# the Newton line search and the sparsification then need no exponentials at all.
_FM = {"reassoc", "contract", "nsz", "arcp"}  # vectorized reductions; inf/NaN semantics kept


@njit(cache=True, nogil=True, fastmath=_FM)
def scaled_marginals(K: np.ndarray, u: np.ndarray, v: np.ndarray, r: np.ndarray, c: np.ndarray) -> None:
    """Row sums r = u * (K v) and column sums c = v * (K^T u) of P = diag(u) K diag(v), one pass over K."""
    m, n = K.shape
    c[:] = 0.0
    for i in range(m):
        ui = u[i]
        s = 0.0
        for j in range(n):
            kij = K[i, j]
            s += kij * v[j]
            c[j] += kij * ui
        r[i] = ui * s
    for j in range(n):
        c[j] *= v[j]


@njit(cache=True, nogil=True)
def scaled_sparsify(K: np.ndarray, u: np.ndarray, v: np.ndarray, tau: float):
    """CSR of the plan entries P_ij = u_i K_ij v_j >= tau (paper Alg. 1 line 7, Sparsify(P, rho)).

    Two passes (count, fill); the plan itself is never stored."""
    m, n = K.shape
    cnt = 0
    for i in range(m):
        t = tau / u[i] if u[i] > 0 else np.inf
        for j in range(n):
            if K[i, j] * v[j] >= t:
                cnt += 1
    indptr = np.zeros(m + 1, np.int64)
    indices = np.empty(cnt, np.int64)
    data = np.empty(cnt)
    k = 0
    for i in range(m):
        ui = u[i]
        t = tau / ui if ui > 0 else np.inf
        for j in range(n):
            w = K[i, j] * v[j]
            if w >= t:
                indices[k] = j
                data[k] = ui * w
                k += 1
        indptr[i + 1] = k
    return indptr, indices, data


@njit(cache=True, nogil=True)
def _hmv(indptr, indices, data, r, c, x, y, ox, oy) -> None:
    """(ox, oy) = [[diag r, S], [S^T, diag c]] (x, y) for CSR S, one pass over its entries."""
    m = r.size
    for j in range(c.size):
        oy[j] = c[j] * y[j]
    for i in range(m):
        s = r[i] * x[i]
        xi = x[i]
        for k in range(indptr[i], indptr[i + 1]):
            j = indices[k]
            d = data[k]
            s += d * y[j]
            oy[j] += d * xi
        ox[i] = s


@njit(cache=True, nogil=True)
def pcg_chunk(indptr, indices, data, r, c, x, y, rx, ry, px, py, state, maxit):
    """Up to ``maxit`` Jacobi-preconditioned conjugate-gradient iterations on the sparsified
    Newton system (paper Alg. 1 line 8) [[diag r, S], [S^T, diag c]] (x, y) = rhs.

    The matrix is PSD; its only possible null direction (1, -1) (when S keeps the whole plan)
    is orthogonal to the right-hand side (sum(a - P1) = sum(b - P^T1) = 0), so CG stays in the
    range.  The iterate (x, y), residual (rx, ry), direction (px, py) and ``state`` =
    [rz, stop threshold on |residual|^2] are updated in place, so the caller can run CG in
    chunks and check its deadline between them.  Returns (iterations, finished)."""
    m, n = r.size, c.size
    qx = np.empty(m)
    qy = np.empty(n)
    rz = state[0]
    stop = state[1]
    it = 0
    while it < maxit:
        it += 1
        _hmv(indptr, indices, data, r, c, px, py, qx, qy)
        pq = 0.0
        for i in range(m):
            pq += px[i] * qx[i]
        for j in range(n):
            pq += py[j] * qy[j]
        if not pq > 0.0:
            state[0] = rz
            return it, True
        alpha = rz / pq
        res = 0.0
        rz_new = 0.0
        for i in range(m):
            x[i] += alpha * px[i]
            rx[i] -= alpha * qx[i]
            res += rx[i] * rx[i]
            rz_new += rx[i] * rx[i] / r[i]
        for j in range(n):
            y[j] += alpha * py[j]
            ry[j] -= alpha * qy[j]
            res += ry[j] * ry[j]
            rz_new += ry[j] * ry[j] / c[j]
        if res <= stop:
            state[0] = rz_new
            return it, True
        beta = rz_new / rz
        rz = rz_new
        for i in range(m):
            px[i] = rx[i] / r[i] + beta * px[i]
        for j in range(n):
            py[j] = ry[j] / c[j] + beta * py[j]
    state[0] = rz
    return it, False


@njit(cache=True, nogil=True, fastmath=_FM)
def scaling_sweeps(K: np.ndarray, a: np.ndarray, b: np.ndarray, u: np.ndarray, v: np.ndarray,
                   count: int, stop: float, errs: np.ndarray) -> int:
    """Up to ``count`` Sinkhorn sweeps u = a / (K v), v = b / (K^T u) in place, two passes over K
    each.  errs[k] is the row error sum_i |u_i (K v)_i - a_i| of the plan *before* sweep k (its
    columns are exact after the previous sweep), free from the u-update.  Stops, leaving (u, v)
    as they were before that sweep, as soon as that error is <= ``stop`` or not finite (kernel
    under/overflow for these scalings).  Returns the number of errors written."""
    m, n = K.shape
    unew = np.empty(m)
    KTu = np.empty(n)
    for k in range(count):
        err = 0.0
        for i in range(m):
            s = 0.0
            for j in range(n):
                s += K[i, j] * v[j]
            err += abs(u[i] * s - a[i])
            unew[i] = a[i] / s
        errs[k] = err
        if not err > stop or not math.isfinite(err):
            return k + 1
        KTu[:] = 0.0
        for i in range(m):
            ui = unew[i]
            u[i] = ui
            for j in range(n):
                KTu[j] += K[i, j] * ui
        for j in range(n):
            v[j] = b[j] / KTu[j]
    return count


@njit(cache=True, nogil=True)
def build_kernel(C: np.ndarray, f: np.ndarray, g: np.ndarray, eps: float, K: np.ndarray) -> None:
    """K = exp((f_i + g_j - C_ij)/eps) in one pass."""
    m, n = C.shape
    inv = 1.0 / eps
    for i in range(m):
        fi = f[i]
        for j in range(n):
            K[i, j] = math.exp((fi + g[j] - C[i, j]) * inv)


@njit(cache=True, nogil=True)
def ctransform_start(C: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """f_i = min_j C_ij, g_j = min_i (C_ij - f_i): every entry of exp((f + g - C)/eps) is <= 1 and
    every row and column holds a 1, so no row or column of the kernel underflows."""
    m, n = C.shape
    f = np.empty(m)
    g = np.full(n, np.inf)
    for i in range(m):
        mn = np.inf
        for j in range(n):
            if C[i, j] < mn:
                mn = C[i, j]
        f[i] = mn
        for j in range(n):
            d = C[i, j] - mn
            if d < g[j]:
                g[j] = d
    return f, g


@njit(cache=True, nogil=True)
def scaled_plan(K: np.ndarray, u: np.ndarray, v: np.ndarray, P: np.ndarray, r: np.ndarray,
                c: np.ndarray) -> None:
    """P = diag(u) K diag(v) with its row sums r and column sums c, one pass."""
    m, n = K.shape
    c[:] = 0.0
    for i in range(m):
        ui = u[i]
        s = 0.0
        for j in range(n):
            p = ui * K[i, j] * v[j]
            P[i, j] = p
            s += p
            c[j] += p
        r[i] = s
