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


# ---------------------------------------------------------------------------------------------
# Whole outer iterations in numba (no per-iteration numpy temporaries or column copies).
# A column j is read either from a dense Fortran array ``A`` (``dense``) or from CSC arrays.
# ---------------------------------------------------------------------------------------------


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


@njit(cache=True, nogil=True, fastmath=True)
def lasso_inner(dense: bool, A: np.ndarray, indptr: np.ndarray, indices: np.ndarray, data: np.ndarray,
                y: np.ndarray, x: np.ndarray, z: np.ndarray, ws: np.ndarray, lips: np.ndarray,
                alpha: float, max_epochs: int, inner_tol: float, anderson: int) -> int:
    """Cyclic proximal CD epochs on the working set (paper eq. (22), |b| = 1) with Anderson
    extrapolation every ``anderson`` epochs (kept only when it lowers the objective) and a
    working-set KKT check every 5 epochs; returns the epochs run."""
    n = z.shape[0]
    m = ws.shape[0]
    inv_n = 1.0 / n
    K = max(anderson, 1)
    snaps = np.empty((K + 1, m))
    ns = 0
    r = np.empty(n)
    for ep in range(max_epochs):
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
                return ep + 1
    return max_epochs


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
