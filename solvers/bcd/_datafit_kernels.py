"""Numba kernels shared by the L1 solvers: the datafit, its derivative, soft-thresholding, column
access and one outer step's bookkeeping (gradient, duality gap, GS-s working set).

``kind`` selects the datafit: 0 = quadratic 1/(2n)||z - y||^2, 1 = logistic
1/n sum log(1 + exp(-y z)). A column j is read either from a dense Fortran array ``A``
(``dense``) or from CSC arrays (indptr, indices, data).
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


@njit(cache=True, nogil=True, fastmath=True)
def _col_dot(dense: bool, A: np.ndarray, indptr: np.ndarray, indices: np.ndarray, data: np.ndarray,
             j: int, v: np.ndarray) -> float:
    """a_j . v."""
    s = 0.0
    if dense:
        for i in range(A.shape[0]):
            s += A[i, j] * v[i]
    else:
        for k in range(indptr[j], indptr[j + 1]):
            s += data[k] * v[indices[k]]
    return s


@njit(cache=True, nogil=True, fastmath=True)
def _col_axpy(dense: bool, A: np.ndarray, indptr: np.ndarray, indices: np.ndarray, data: np.ndarray,
              j: int, a: float, v: np.ndarray) -> None:
    """v += a * a_j."""
    if dense:
        for i in range(A.shape[0]):
            v[i] += a * A[i, j]
    else:
        for k in range(indptr[j], indptr[j + 1]):
            v[indices[k]] += a * data[k]


@njit(cache=True, nogil=True)
def _loss_value(kind: int, z: np.ndarray, y: np.ndarray) -> float:
    """Datafit: 1/(2n)||z - y||^2 (kind 0) or 1/n sum log(1 + exp(-y z)) (kind 1)."""
    n = z.shape[0]
    s = 0.0
    if kind == 0:
        for i in range(n):
            s += (z[i] - y[i]) ** 2
        return 0.5 * s / n
    for i in range(n):
        s += _log1pexp(-y[i] * z[i])
    return s / n


@njit(cache=True, nogil=True, fastmath=True)
def l1_gap_and_ws(dense: bool, A: np.ndarray, indptr: np.ndarray, indices: np.ndarray, data: np.ndarray,
                  y: np.ndarray, x: np.ndarray, z: np.ndarray, alpha: float, kind: int,
                  ws_size: int, grow: float = 2.0) -> tuple[float, float, float, np.ndarray]:
    """One outer step's bookkeeping (paper §2 GS-s rule, §6): full gradient from the current
    predictor, primal value, Fenchel duality gap at the rescaled dual point, largest KKT
    violation and the working set (support + the largest violations, max(ws_size, grow * |support|)
    coordinates in all), sorted."""
    n = z.shape[0]
    p = x.shape[0]
    u = np.empty(n)
    for i in range(n):
        u[i] = _dloss(kind, z[i], y[i], 1.0 / n)
    score = np.empty(p)
    corr = 0.0
    l1 = 0.0
    vmax = 0.0
    nsupp = 0
    for j in range(p):
        g = _col_dot(dense, A, indptr, indices, data, j, u)
        if abs(g) > corr:
            corr = abs(g)
        if x[j] != 0.0:
            l1 += abs(x[j])
            v = abs(g + alpha * np.sign(x[j]))
            nsupp += 1
            score[j] = -np.inf
        else:
            v = max(abs(g) - alpha, 0.0)
            score[j] = -v
        if v > vmax:
            vmax = v
    primal = _loss_value(kind, z, y) + alpha * l1
    scale = 1.0
    if alpha > 0.0 and corr > alpha:
        scale = alpha / corr
    # dual at rho = -u * scale
    dual = 0.0
    if kind == 0:
        s2 = 0.0
        yy = 0.0
        for i in range(n):
            r = -u[i] * scale - y[i] / n
            s2 += r * r
            yy += y[i] * y[i]
        dual = 0.5 / n * yy - 0.5 * n * s2
    else:
        for i in range(n):
            s = -n * u[i] * scale * y[i]
            if s > 0.0 and s < 1.0:
                dual -= s * np.log(s) + (1.0 - s) * np.log1p(-s)
        dual /= n
    m = min(p, max(ws_size, int(grow * nsupp), nsupp + 1))  # room for at least one violator
    order = np.argsort(score)[:m]
    return primal, primal - dual, vmax, np.sort(order)
