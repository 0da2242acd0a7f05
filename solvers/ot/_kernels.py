"""Fused O(mn) numba passes for log-domain Sinkhorn and Sinkhorn-Newton-Sparse (design.md §3).

Every exponential is taken of (f_i + g_j - C_ij)/eps minus a row or column maximum
(log-sum-exp form), so eps down to 1e-4 with costs of order 1 neither overflows nor NaNs.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ._fastexp import vexp


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


def _bit_tables() -> tuple[np.ndarray, np.ndarray]:
    """For every byte value: the positions of its set bits and their count."""
    pos = np.zeros((256, 8), np.uint8)
    cnt = np.zeros(256, np.int64)
    for mk in range(256):
        bits = [b for b in range(8) if mk >> b & 1]
        cnt[mk] = len(bits)
        pos[mk, : len(bits)] = bits
    return pos, cnt


_BIT_POS, _BIT_CNT = _bit_tables()


@njit(cache=True, nogil=True)
def scaled_sparsify(K: np.ndarray, u: np.ndarray, v: np.ndarray, tau: float):
    """CSR of the plan entries P_ij = u_i K_ij v_j >= tau (paper Alg. 1 line 7, Sparsify(P, rho));
    uint32 column indices (no wraparound test on the gathers of CG).  The plan is never stored.

    Pass 1 (branch-free, vectorizable): one byte per 8 entries of a row, bit b set when entry
    8c + b is kept, and the row counts.  Pass 2 visits only the bytes with a kept entry and
    expands them by table look-up: no per-entry branch to mispredict (the kept entries of a
    plan are scattered), 2x faster than a test-and-append scan."""
    m, n = K.shape
    nc = (n + 7) // 8
    masks = np.zeros(m * nc, np.uint8)
    indptr = np.zeros(m + 1, np.int64)
    for i in range(m):
        t = tau / u[i] if u[i] > 0 else np.inf
        row = 0
        for c in range(nc):
            j0 = 8 * c
            mk = 0
            for b in range(min(8, n - j0)):
                mk |= (K[i, j0 + b] * v[j0 + b] >= t) << b
            masks[i * nc + c] = mk
            row += _BIT_CNT[mk]
        indptr[i + 1] = indptr[i] + row
    cnt = indptr[m]
    indices = np.empty(cnt, np.uint32)
    data = np.empty(cnt)
    k = 0
    for i in range(m):
        ui = u[i]
        for c in range(nc):
            mk = masks[i * nc + c]
            if mk:
                for b in range(_BIT_CNT[mk]):
                    j = 8 * c + _BIT_POS[mk, b]
                    indices[k] = j
                    data[k] = ui * (K[i, j] * v[j])
                    k += 1
    return indptr, indices, data


@njit(cache=True, nogil=True)
def schur_setup(indptr, indices, data, dr, dc, ga, gb, d, rhs) -> None:
    """Row block eliminated from [[diag dr, S], [S^T, diag dc]] (x, y) = (ga, gb): the Schur
    complement is A = diag dc - S^T diag(dr)^-1 S; writes its diagonal ``d`` (the CG
    preconditioner, floored at 1e-14 dc) and the reduced right-hand side rhs = gb - S^T (ga / dr)."""
    m, n = dr.size, dc.size
    for j in range(n):
        d[j] = 0.0
        rhs[j] = gb[j]
    for i in range(m):
        inv = 1.0 / dr[i]
        t = ga[i] * inv
        for k in range(indptr[i], indptr[i + 1]):
            j = indices[k]
            s = data[k]
            d[j] += s * s * inv
            rhs[j] -= s * t
    for j in range(n):
        d[j] = max(dc[j] - d[j], 1e-14 * dc[j])


@njit(cache=True, nogil=True)
def schur_back(indptr, indices, data, dr, ga, y, x) -> None:
    """Eliminated block: x = (ga - S y) / dr."""
    for i in range(dr.size):
        s = ga[i]
        for k in range(indptr[i], indptr[i + 1]):
            s -= data[k] * y[indices[k]]
        x[i] = s / dr[i]


@njit(cache=True, nogil=True)
def schur_pcg_chunk(indptr, indices, data, dr, dc, d, y, res, p, state, maxit):
    """Up to ``maxit`` iterations of CG, preconditioned by its diagonal ``d``, on the Schur
    complement (diag dc - S^T diag(dr)^-1 S) y = rhs of the sparsified Newton system (paper
    Alg. 1 line 8; ``schur_setup``).  The product is one pass over the CSR rows of S
    (t_i = S_i. y / dr_i, then q -= t_i S_i.), the cost of one product with the full
    [[diag dr, S], [S^T, diag dc]]; but the preconditioned Schur complement has the squared
    singular values 1 - s_k^2 where the Jacobi-scaled full matrix has 1 +- s_k, so CG needs about
    half the products (and the diagonal of the complement, not diag dc, cuts more when S carries
    most of a column's mass in few rows).  The complement is positive definite when the system
    is shifted (dr > row sums of S); unshifted, its null vector 1 is orthogonal to rhs.
    The iterate y, residual ``res``, direction ``p`` and ``state`` = [rz, stop threshold on
    |res|^2] are updated in place (chunks between deadline checks).  Returns (its, finished)."""
    m, n = dr.size, dc.size
    q = np.empty(n)
    rz = state[0]
    stop = state[1]
    it = 0
    while it < maxit:
        it += 1
        for j in range(n):
            q[j] = dc[j] * p[j]
        for i in range(m):
            k0, k1 = indptr[i], indptr[i + 1]
            s0 = s1 = s2 = s3 = 0.0  # four partial sums: the gathers overlap (not latency bound)
            k = k0
            while k + 3 < k1:
                s0 += data[k] * p[indices[k]]
                s1 += data[k + 1] * p[indices[k + 1]]
                s2 += data[k + 2] * p[indices[k + 2]]
                s3 += data[k + 3] * p[indices[k + 3]]
                k += 4
            while k < k1:
                s0 += data[k] * p[indices[k]]
                k += 1
            t = ((s0 + s1) + (s2 + s3)) / dr[i]
            for k in range(k0, k1):
                q[indices[k]] -= data[k] * t
        pq = 0.0
        for j in range(n):
            pq += p[j] * q[j]
        if not pq > 0.0:
            state[0] = rz
            return it, True
        alpha = rz / pq
        rn = 0.0
        rz_new = 0.0
        for j in range(n):
            y[j] += alpha * p[j]
            res[j] -= alpha * q[j]
            rn += res[j] * res[j]
            rz_new += res[j] * res[j] / d[j]
        if rn <= stop:
            state[0] = rz_new
            return it, True
        beta = rz_new / rz
        rz = rz_new
        for j in range(n):
            p[j] = res[j] / d[j] + beta * p[j]
    state[0] = rz
    return it, False


@njit(cache=True, nogil=True, fastmath=_FM, error_model="numpy")
def scaling_sweeps(K: np.ndarray, a: np.ndarray, b: np.ndarray, u: np.ndarray, v: np.ndarray,
                   count: int, stop: float, errs: np.ndarray) -> int:
    """Up to ``count`` Sinkhorn sweeps u = a / (K v), v = b / (K^T u) in place, one pass over K
    each: row i gives (K v)_i, hence the new u_i, and while that row is in cache it is added,
    times u_i, into K^T u.  errs[k] is the row error sum_i |u_i (K v)_i - a_i| of the plan
    *before* sweep k (its columns are exact after the previous sweep), free from the u-update.
    Stops, leaving (u, v) as they were before that sweep, as soon as that error is <= ``stop`` or
    not finite (kernel under/overflow for these scalings).  Returns the number of errors written."""
    m, n = K.shape
    unew = np.empty(m)
    KTu = np.empty(n)
    for k in range(count):
        err = 0.0
        KTu[:] = 0.0
        for i in range(m):
            s = 0.0
            for j in range(n):
                s += K[i, j] * v[j]
            err += abs(u[i] * s - a[i])
            ui = a[i] / s
            unew[i] = ui
            for j in range(n):
                KTu[j] += K[i, j] * ui
        errs[k] = err
        if not err > stop or not math.isfinite(err):
            return k + 1
        u[:] = unew
        for j in range(n):
            v[j] = b[j] / KTu[j]
    return count


@njit(cache=True, nogil=True, fastmath=_FM, error_model="numpy")
def sweep_marginals(K: np.ndarray, a: np.ndarray, b: np.ndarray, u: np.ndarray, v: np.ndarray,
                    r: np.ndarray, c: np.ndarray) -> None:
    """One Sinkhorn sweep in place (fused as in ``scaling_sweeps``), then the row and column sums
    r, c of the new plan diag(u) K diag(v): two passes over K instead of three."""
    m, n = K.shape
    KTu = np.zeros(n)
    for i in range(m):
        s = 0.0
        for j in range(n):
            s += K[i, j] * v[j]
        ui = a[i] / s
        u[i] = ui
        for j in range(n):
            KTu[j] += K[i, j] * ui
    for j in range(n):
        v[j] = b[j] / KTu[j]
    scaled_marginals(K, u, v, r, c)


@njit(cache=True, nogil=True)
def build_kernel(C: np.ndarray, f: np.ndarray, g: np.ndarray, eps: float, K: np.ndarray) -> None:
    """K = exp((f_i + g_j - C_ij)/eps) in one pass over C, row by row through the vectorizable
    ``_fastexp.vexp`` (exponents clamped to [-700, 700]: an entry below e^-700 is kept as e^-700,
    worth < e^-500 in any plan while the scalings stay within [e^-100, e^100], so no kernel entry
    is 0 or denormal)."""
    m, n = C.shape
    inv = 1.0 / eps
    xb = np.empty(n)
    tb = np.empty(n)
    for i in range(m):
        fi = f[i]
        for j in range(n):
            xb[j] = (fi + g[j] - C[i, j]) * inv
        vexp(xb, K[i], tb, n)


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


@njit(cache=True, nogil=True)
def scaled_gather(K: np.ndarray, u: np.ndarray, v: np.ndarray, rows: np.ndarray, cols: np.ndarray,
                  out: np.ndarray) -> None:
    """out[k] = u_i K_ij v_j at (i, j) = (rows[k], cols[k]): plan entries on a sample."""
    for k in range(rows.size):
        i, j = rows[k], cols[k]
        out[k] = u[i] * K[i, j] * v[j]


_NBIN = 8 * 64  # sample bins: 8 per octave (3 mantissa bits) over 64 octaves below the maximum


@njit(cache=True, nogil=True)
def sample_threshold(K: np.ndarray, u: np.ndarray, v: np.ndarray, rows: np.ndarray,
                     cols: np.ndarray, lam: float, drop: float) -> float:
    """Sparsification threshold from the plan entries at the sampled positions (rows, cols), no
    sort: the entries are binned by their exponent and top 3 mantissa bits (for positive
    doubles the bit pattern is monotone in the value; bins 2^(1/8) wide), then tau is the lower
    edge of the bin where (a) the count from the top reaches lam * samples, or (b) the mass from
    the bottom would exceed a ``drop`` fraction, whichever is lower.  Whole bins only, so at
    least as many entries are kept as by the exact quantiles of the sample."""
    s = rows.size
    w = np.empty(s)
    scaled_gather(K, u, v, rows, cols, w)
    wmax = w.max() if s else 0.0
    tot = w.sum()
    if not wmax > 0.0:
        return 0.0
    bits = w.view(np.int64)
    top = np.array([wmax]).view(np.int64)[0] >> 49
    cnt = np.zeros(_NBIN + 1, np.int64)
    mass = np.zeros(_NBIN + 1)
    for k in range(s):
        b = min(top - (bits[k] >> 49), _NBIN) if w[k] > 0.0 else _NBIN  # last bin: the rest
        cnt[b] += 1
        mass[b] += w[k]
    need = max(int(round(lam * s)), 1)
    bk = _NBIN
    c = 0
    for b in range(_NBIN + 1):
        c += cnt[b]
        if c >= need:
            bk = b
            break
    lim = drop * tot
    acc = 0.0
    bm = _NBIN + 1  # bins bm, bm + 1, ... can be dropped
    for b in range(_NBIN, 0, -1):
        if acc + mass[b] > lim:
            break
        acc += mass[b]
        bm = b
    keep = max(bk, bm - 1)  # bins 0 .. keep are kept (the lower of the two thresholds)
    if keep >= _NBIN:
        return 0.0
    return np.array([(top - keep) << 49]).view(np.float64)[0]
