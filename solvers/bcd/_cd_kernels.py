"""Numba kernels for proximal coordinate descent epochs on L1 problems (Nutini et al., §4 and §6).

Each kernel runs epochs of cyclic proximal coordinate updates over a working set ``ws``
(Gauss-Southwell-selected in the caller), keeping the linear predictor ``z = A x`` current
by residual updates, so one coordinate update costs O(nnz(a_j)). ``kind`` selects the
datafit: 0 = quadratic 1/(2n)||z - y||^2, 1 = logistic 1/n sum log(1 + exp(-y z)).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ._datafit_kernels import _col_axpy, _col_dot, _log1pexp, _loss_value, _soft


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


@njit(cache=True, nogil=True, fastmath=True)
def lasso_inner(dense: bool, A: np.ndarray, indptr: np.ndarray, indices: np.ndarray, data: np.ndarray,
                y: np.ndarray, x: np.ndarray, z: np.ndarray, ws: np.ndarray, lips: np.ndarray,
                alpha: float, max_epochs: int, inner_tol: float, anderson: int, ep0: int,
                snaps: np.ndarray, ns_io: np.ndarray) -> tuple[int, bool]:
    """Cyclic proximal CD epochs on the working set (paper eq. (22), |b| = 1) with Anderson
    extrapolation every ``anderson`` epochs (kept only when it lowers the objective) and a
    working-set KKT check every 5 epochs; returns (epochs run, KKT tolerance reached).

    Resumable, so the caller can run the epochs in stretches and check its stopping criteria
    between them with the iterates of one long call: ``ep0`` epochs ran before on this working
    set, ``snaps`` ((max(anderson, 1) + 1) x |ws|) and ``ns_io[0]`` (0 at the start) carry the
    Anderson snapshots from one call to the next."""
    n = z.shape[0]
    m = ws.shape[0]
    inv_n = 1.0 / n
    K = max(anderson, 1)
    ns = ns_io[0]
    r = np.empty(n)
    for e in range(max_epochs):
        ep = ep0 + e
        for jj in range(m):
            j = ws[jj]
            L = lips[j]
            if L == 0.0:
                continue
            g = 0.0
            if dense:
                for i in range(n):
                    g += A[i, j] * (z[i] - y[i])
            else:
                for k in range(indptr[j], indptr[j + 1]):
                    g += data[k] * (z[indices[k]] - y[indices[k]])
            old = x[j]
            new = _soft(old - g * inv_n / L, alpha / L)
            if new != old:
                x[j] = new
                _col_axpy(dense, A, indptr, indices, data, j, new - old, z)
        if anderson > 0:
            for jj in range(m):
                snaps[ns, jj] = x[ws[jj]]
            ns += 1
            if ns == K + 1:
                ns = 0
                U = np.empty((K, m))
                for a in range(K):
                    for jj in range(m):
                        U[a, jj] = snaps[a + 1, jj] - snaps[a, jj]
                C = U @ U.T
                tr = 0.0
                for a in range(K):
                    tr += C[a, a]
                if tr > 0.0:
                    for a in range(K):
                        C[a, a] += 1e-10 * tr
                    c = np.linalg.solve(C, np.ones(K))
                    cs = c.sum()
                    ok = np.all(np.isfinite(c)) and cs != 0.0
                    if ok:
                        c /= cs
                        xa = np.zeros(m)
                        for a in range(K):
                            for jj in range(m):
                                xa[jj] += c[a] * snaps[a + 1, jj]
                        for i in range(n):
                            r[i] = z[i]
                        l1_old = 0.0
                        l1_new = 0.0
                        for jj in range(m):
                            j = ws[jj]
                            l1_old += abs(x[j])
                            l1_new += abs(xa[jj])
                            d = xa[jj] - x[j]
                            if d != 0.0:
                                _col_axpy(dense, A, indptr, indices, data, j, d, r)
                        if _loss_value(0, r, y) + alpha * l1_new < _loss_value(0, z, y) + alpha * l1_old:
                            for jj in range(m):
                                x[ws[jj]] = xa[jj]
                            for i in range(n):
                                z[i] = r[i]
        if (ep + 1) % 5 == 0:
            for i in range(n):
                r[i] = (z[i] - y[i]) * inv_n
            worst = 0.0
            for jj in range(m):
                j = ws[jj]
                g = _col_dot(dense, A, indptr, indices, data, j, r)
                if x[j] != 0.0:
                    v = abs(g + alpha * np.sign(x[j]))
                else:
                    v = max(abs(g) - alpha, 0.0)
                if v > worst:
                    worst = v
            if worst <= inner_tol:
                ns_io[0] = ns
                return e + 1, True
    ns_io[0] = ns
    return max_epochs, False
