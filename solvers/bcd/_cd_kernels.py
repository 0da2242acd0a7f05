"""Numba kernels for proximal coordinate descent on L1 problems (Nutini et al., §4 and §6).

Each kernel runs epochs of cyclic proximal coordinate updates over a working set ``ws``
(Gauss-Southwell-selected in the caller), keeping the linear predictor ``z = A x`` current
by residual updates, so one coordinate update costs O(nnz(a_j)). ``kind`` selects the
datafit: 0 = quadratic 1/(2n)||z - y||^2, 1 = logistic 1/n sum log(1 + exp(-y z)).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def _dloss(kind: int, z: float, y: float, inv_n: float) -> float:
    """Derivative of the per-sample loss with respect to z_i."""
    if kind == 0:
        return (z - y) * inv_n
    return -y * inv_n / (1.0 + np.exp(y * z))


@njit(cache=True, nogil=True)
def _log1pexp(t: float) -> float:
    """log(1 + exp(t)) without overflow."""
    if t > 0.0:
        return t + np.log1p(np.exp(-t))
    return np.log1p(np.exp(t))


@njit(cache=True, nogil=True)
def _soft(u: float, t: float) -> float:
    """Soft-thresholding, the prox of t|.| (proximal coordinate step, paper eq. (22))."""
    if u > t:
        return u - t
    if u < -t:
        return u + t
    return 0.0


@njit(cache=True, nogil=True)
def cd_epochs_dense(A: np.ndarray, y: np.ndarray, x: np.ndarray, z: np.ndarray, ws: np.ndarray,
                    lips: np.ndarray, alpha: float, kind: int, max_epochs: int, tol: float) -> int:
    """Cyclic proximal CD epochs on ``ws`` (dense, Fortran-ordered A); returns epochs run.

    Stops when an epoch's largest scaled prox step L_j |x_j^+ - x_j| (the prox-gradient
    optimality measure) is at most ``tol``.
    """
    n = A.shape[0]
    inv_n = 1.0 / n
    for ep in range(max_epochs):
        worst = 0.0
        for jj in range(ws.shape[0]):
            j = ws[jj]
            L = lips[j]
            if L == 0.0:
                continue
            old = x[j]
            if kind == 0:
                g = 0.0
                for i in range(n):
                    g += A[i, j] * (z[i] - y[i])
                g *= inv_n
                new = _soft(old - g / L, alpha / L)
            else:
                # safeguarded coordinate prox-Newton (paper §4 Newton update, |b| = 1)
                g = 0.0
                h = 0.0
                f0 = 0.0
                for i in range(n):
                    m = y[i] * z[i]
                    s = 1.0 / (1.0 + np.exp(m))
                    g -= A[i, j] * y[i] * s
                    h += A[i, j] * A[i, j] * s * (1.0 - s)
                    f0 += _log1pexp(-m)
                g *= inv_n
                h = max(h * inv_n, 1e-3 * L)
                new = _soft(old - g / h, alpha / h)
                if new != old:
                    d = new - old
                    f1 = 0.0
                    for i in range(n):
                        f1 += _log1pexp(-y[i] * (z[i] + d * A[i, j]))
                    if (f1 - f0) * inv_n + alpha * (abs(new) - abs(old)) > 0.0:
                        new = _soft(old - g / L, alpha / L)
            d = new - old
            if d != 0.0:
                x[j] = new
                for i in range(n):
                    z[i] += d * A[i, j]
                step = abs(d) * L
                if step > worst:
                    worst = step
        if worst <= tol:
            return ep + 1
    return max_epochs


@njit(cache=True, nogil=True)
def cd_epochs_sparse(indptr: np.ndarray, indices: np.ndarray, data: np.ndarray, n: int, y: np.ndarray,
                     x: np.ndarray, z: np.ndarray, ws: np.ndarray, lips: np.ndarray, alpha: float,
                     kind: int, max_epochs: int, tol: float) -> int:
    """As :func:`cd_epochs_dense` for a CSC design given by (indptr, indices, data)."""
    inv_n = 1.0 / n
    for ep in range(max_epochs):
        worst = 0.0
        for jj in range(ws.shape[0]):
            j = ws[jj]
            L = lips[j]
            if L == 0.0:
                continue
            old = x[j]
            g = 0.0
            if kind == 0:
                for k in range(indptr[j], indptr[j + 1]):
                    i = indices[k]
                    g += data[k] * (z[i] - y[i])
                g *= inv_n
                new = _soft(old - g / L, alpha / L)
            else:
                # safeguarded coordinate prox-Newton, only rows with a_ij != 0 change
                h = 0.0
                f0 = 0.0
                for k in range(indptr[j], indptr[j + 1]):
                    i = indices[k]
                    m = y[i] * z[i]
                    s = 1.0 / (1.0 + np.exp(m))
                    g -= data[k] * y[i] * s
                    h += data[k] * data[k] * s * (1.0 - s)
                    f0 += _log1pexp(-m)
                g *= inv_n
                h = max(h * inv_n, 1e-3 * L)
                new = _soft(old - g / h, alpha / h)
                if new != old:
                    d = new - old
                    f1 = 0.0
                    for k in range(indptr[j], indptr[j + 1]):
                        i = indices[k]
                        f1 += _log1pexp(-y[i] * (z[i] + d * data[k]))
                    if (f1 - f0) * inv_n + alpha * (abs(new) - abs(old)) > 0.0:
                        new = _soft(old - g / L, alpha / L)
            d = new - old
            if d != 0.0:
                x[j] = new
                for k in range(indptr[j], indptr[j + 1]):
                    z[indices[k]] += d * data[k]
                step = abs(d) * L
                if step > worst:
                    worst = step
        if worst <= tol:
            return ep + 1
    return max_epochs


@njit(cache=True, nogil=True)
def prox_newton_logistic(indptr: np.ndarray, indices: np.ndarray, data: np.ndarray, n: int,
                         y: np.ndarray, x: np.ndarray, z: np.ndarray, ws: np.ndarray, alpha: float,
                         max_inner: int, tol: float) -> int:
    """One proximal Newton step on the working set (paper §4 Newton update with the L1 prox, §6).

    The block Newton direction minimizes the quadratic model
    uᵀA d + 1/2 dᵀAᵀDA d + alpha ||x + d||_1 (u = dloss/dz, D = loss'' ) by coordinate descent on
    ``ws`` (kept current through v = A d), then Armijo backtracking on the step length. The
    design is CSC (a dense design is passed with full columns). Returns inner epochs run, negated
    when no step was taken (no descent at floating-point precision).
    """
    inv_n = 1.0 / n
    u = np.empty(n)
    D = np.empty(n)
    for i in range(n):
        s = 1.0 / (1.0 + np.exp(y[i] * z[i]))
        u[i] = -y[i] * s * inv_n
        D[i] = max(s * (1.0 - s), 1e-12) * inv_n
    m = ws.shape[0]
    hdiag = np.zeros(m)
    for jj in range(m):
        j = ws[jj]
        h = 0.0
        for k in range(indptr[j], indptr[j + 1]):
            h += data[k] * data[k] * D[indices[k]]
        hdiag[jj] = h
    d = np.zeros(m)
    v = np.zeros(n)
    ep = 0
    for _ in range(max_inner):
        ep += 1
        worst = 0.0
        for jj in range(m):
            h = hdiag[jj]
            if h <= 0.0:
                continue
            j = ws[jj]
            g = 0.0
            for k in range(indptr[j], indptr[j + 1]):
                i = indices[k]
                g += data[k] * (u[i] + D[i] * v[i])
            cur = x[j] + d[jj]
            new = _soft(cur - g / h, alpha / h)
            delta = new - cur
            if delta != 0.0:
                d[jj] += delta
                for k in range(indptr[j], indptr[j + 1]):
                    v[indices[k]] += delta * data[k]
                if abs(delta) * h > worst:
                    worst = abs(delta) * h
        if worst <= tol:
            break
    # Armijo backtracking on F(x + t d)
    f0 = 0.0
    for i in range(n):
        f0 += _log1pexp(-y[i] * z[i])
    f0 *= inv_n
    l1_old = 0.0
    l1_new = 0.0
    lin = 0.0
    for jj in range(m):
        j = ws[jj]
        l1_old += abs(x[j])
        l1_new += abs(x[j] + d[jj])
    for i in range(n):
        lin += u[i] * v[i]
    decr = lin + alpha * (l1_new - l1_old)
    if decr >= 0.0:
        return -ep
    t = 1.0
    for _ in range(30):
        f1 = 0.0
        for i in range(n):
            f1 += _log1pexp(-y[i] * (z[i] + t * v[i]))
        f1 *= inv_n
        l1_t = 0.0
        for jj in range(m):
            l1_t += abs(x[ws[jj]] + t * d[jj])
        if f1 + alpha * l1_t <= f0 + alpha * l1_old + 1e-4 * t * decr:
            break
        t *= 0.5
    else:
        return -ep
    for jj in range(m):
        x[ws[jj]] += t * d[jj]
    for i in range(n):
        z[i] += t * v[i]
    return ep
