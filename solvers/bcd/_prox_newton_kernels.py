"""Numba kernels for one proximal Newton step of L1-logistic regression on a working set
(Nutini et al., §4 Newton update with the L1 prox, §6 Newton on the identified active set).

The quadratic model uᵀA d + 1/2 dᵀAᵀDA d + alpha ||x + d||_1 is minimized by coordinate
descent (column-wise, or with the block Hessian formed explicitly), then Armijo backtracking
on the true objective takes the step; x and z = A x are updated in place.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ._datafit_kernels import _log1pexp, _soft


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
    lin = 0.0
    for i in range(n):
        lin += u[i] * v[i]
    return _armijo_step(y, x, z, ws, d, v, alpha, lin, ep)


@njit(cache=True, nogil=True)
def _armijo_step(y: np.ndarray, x: np.ndarray, z: np.ndarray, ws: np.ndarray, d: np.ndarray,
                 v: np.ndarray, alpha: float, lin: float, ep: int) -> int:
    """Armijo backtracking on the true L1-logistic objective F(x + t d) along the prox-Newton
    direction ``d`` on ``ws`` (v = A_ws d, lin = ∇fᵀd); applies the accepted step to x and
    z = A x. Returns ``ep``, negated when no descent step was found (x, z unchanged)."""
    n = z.shape[0]
    m = ws.shape[0]
    inv_n = 1.0 / n
    f0 = 0.0
    for i in range(n):
        f0 += _log1pexp(-y[i] * z[i])
    f0 *= inv_n
    l1_old = 0.0
    l1_new = 0.0
    for jj in range(m):
        l1_old += abs(x[ws[jj]])
        l1_new += abs(x[ws[jj]] + d[jj])
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


@njit(cache=True, nogil=True, fastmath=True)
def _model_subspace_newton(H: np.ndarray, g: np.ndarray, q: np.ndarray, d: np.ndarray, x: np.ndarray,
                           ws: np.ndarray, alpha: float) -> bool:
    """Exact minimizer of the quadratic model gᵀd + 1/2 dᵀH d + alpha ||x_ws + d||_1 on the
    current support S of x_ws + d with its signs fixed (paper §6: once the active set is
    identified the L1 problem is smooth on it and a Newton step solves the model):
    H_SS δ = -(g_S + (H d)_S + alpha sign_S). The step is cut at the first sign change (those
    coordinates land on 0; the model decreases along the segment); ``q = H d`` is kept current.
    Returns True when the full step was taken (the face's minimizer was reached)."""
    m = ws.shape[0]
    cnt = 0
    for jj in range(m):
        if x[ws[jj]] + d[jj] != 0.0:
            cnt += 1
    if cnt == 0:
        return False
    S = np.empty(cnt, dtype=np.int64)
    k = 0
    for jj in range(m):
        if x[ws[jj]] + d[jj] != 0.0:
            S[k] = jj
            k += 1
    HS = np.empty((cnt, cnt))
    r = np.empty(cnt)
    tr = 0.0
    for a in range(cnt):
        ja = S[a]
        sgn = 1.0 if x[ws[ja]] + d[ja] > 0.0 else -1.0
        r[a] = -(g[ja] + q[ja] + alpha * sgn)
        for b in range(cnt):
            HS[a, b] = H[ja, S[b]]
        tr += HS[a, a]
    for a in range(cnt):
        HS[a, a] += 1e-12 * tr / cnt
    try:
        L = np.linalg.cholesky(HS)
    except Exception:  # noqa: BLE001 - numba raises a generic error on a non-SPD block
        return False
    # forward / back substitution: L Lᵀ delta = r
    w = np.empty(cnt)
    for a in range(cnt):
        s = r[a]
        for b in range(a):
            s -= L[a, b] * w[b]
        w[a] = s / L[a, a]
    delta = np.empty(cnt)
    for a in range(cnt - 1, -1, -1):
        s = w[a]
        for b in range(a + 1, cnt):
            s -= L[b, a] * delta[b]
        delta[a] = s / L[a, a]
    # longest step t <= 1 along delta that keeps every sign (the model is a convex quadratic on
    # the face, so it decreases along the whole segment); coordinates reaching 0 stop there
    t = 1.0
    for a in range(cnt):
        if not np.isfinite(delta[a]):
            return False
        cur = x[ws[S[a]]] + d[S[a]]
        if cur * delta[a] < 0.0 and -cur / delta[a] < t:
            t = -cur / delta[a]
    if t <= 0.0:
        return False
    for a in range(cnt):
        ja = S[a]
        cur = x[ws[ja]] + d[ja]
        da = t * delta[a]
        if cur * delta[a] < 0.0 and -cur / delta[a] <= t:
            da = -cur  # lands exactly on zero
        d[ja] += da
        for ll in range(m):
            q[ll] += da * H[ja, ll]
    return t == 1.0


@njit(cache=True, nogil=True, fastmath=True)
def prox_newton_logistic_gram(dense: bool, A: np.ndarray, indptr: np.ndarray, indices: np.ndarray,
                              data: np.ndarray, y: np.ndarray, x: np.ndarray, z: np.ndarray, ws: np.ndarray,
                              alpha: float, max_inner: int, tol: float, subspace_tries: int = 8) -> int:
    """One proximal Newton step on the working set with the block Hessian formed explicitly
    (paper §4 Newton update with the L1 prox; the "matrix" form of the block step).

    H = A_wsᵀ D A_ws is built once (O(n m²), BLAS); the quadratic model
    gᵀd + 1/2 dᵀH d + alpha ||x_ws + d||_1 is then minimized by coordinate descent in O(m) per
    coordinate (q = H d kept current), followed by Armijo backtracking on the true objective.
    Once a CD epoch leaves the model's support unchanged, the model is minimized exactly on that
    support with fixed signs (``_model_subspace_newton``, the paper's §6 "Newton on the
    identified active set" applied to the quadratic model; at most ``subspace_tries`` times).
    Returns inner epochs run, negated when no descent step was found.
    """
    n = z.shape[0]
    m = ws.shape[0]
    inv_n = 1.0 / n
    u = np.empty(n)
    sD = np.empty(n)
    for i in range(n):
        s = 1.0 / (1.0 + np.exp(y[i] * z[i]))
        u[i] = -y[i] * s * inv_n
        sD[i] = np.sqrt(max(s * (1.0 - s), 1e-12) * inv_n)
    Aw = np.zeros((n, m))
    for jj in range(m):
        j = ws[jj]
        if dense:
            for i in range(n):
                Aw[i, jj] = A[i, j]
        else:
            for k in range(indptr[j], indptr[j + 1]):
                Aw[indices[k], jj] = data[k]
    B = np.empty((n, m))
    for i in range(n):
        for jj in range(m):
            B[i, jj] = Aw[i, jj] * sD[i]
    H = B.T @ B
    g = Aw.T @ u
    return prox_newton_model_step(H, g, Aw, y, x, z, ws, alpha, max_inner, tol, subspace_tries)


@njit(cache=True, nogil=True, fastmath=True)
def prox_newton_model_step(H: np.ndarray, g: np.ndarray, Aw: np.ndarray, y: np.ndarray, x: np.ndarray,
                           z: np.ndarray, ws: np.ndarray, alpha: float, max_inner: int, tol: float,
                           subspace_tries: int) -> int:
    """Minimize the prox-Newton model gᵀd + 1/2 dᵀH d + alpha ||x_ws + d||_1 (H the block Hessian,
    g the block gradient, Aw the block's columns) by coordinate descent with exact subspace
    Newton steps on a settled support, then Armijo backtracking on the true L1-logistic
    objective along d; updates x and z = A x in place. Returns inner epochs, negated when no
    descent step was found."""
    m = ws.shape[0]
    d = np.zeros(m)
    q = np.zeros(m)
    ep = 0
    tries = 0
    for _ in range(max_inner):
        ep += 1
        worst = 0.0
        flips = 0
        for jj in range(m):
            h = H[jj, jj]
            if h <= 0.0:
                continue
            cur = x[ws[jj]] + d[jj]
            new = _soft(cur - (g[jj] + q[jj]) / h, alpha / h)
            delta = new - cur
            if delta != 0.0:
                if (cur == 0.0) != (new == 0.0):
                    flips += 1
                d[jj] += delta
                for ll in range(m):
                    q[ll] += delta * H[jj, ll]  # H symmetric: contiguous row
                if abs(delta) * h > worst:
                    worst = abs(delta) * h
        if worst <= tol:
            break
        if flips == 0 and ep >= 2 and tries < subspace_tries:
            tries += 1
            _model_subspace_newton(H, g, q, d, x, ws, alpha)
    v = Aw @ d
    lin = 0.0
    for jj in range(m):
        lin += g[jj] * d[jj]
    return _armijo_step(y, x, z, ws, d, v, alpha, lin, ep)
