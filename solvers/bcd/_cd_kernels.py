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
            g = 0.0
            for i in range(n):
                g += A[i, j] * _dloss(kind, z[i], y[i], inv_n)
            old = x[j]
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
            g = 0.0
            for k in range(indptr[j], indptr[j + 1]):
                i = indices[k]
                g += data[k] * _dloss(kind, z[i], y[i], inv_n)
            old = x[j]
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
