"""Fused numba kernels for the one-channel fine levels of :class:`~learned.dcdm.lite.LiteSPDNet`
in 2-D (inference only, float32).

On one CPU core the element-wise torch operations of the thin levels (stencil as nine axpys,
gate, strided pooling, nearest-neighbour prolongation, the weighted level sum) dominated an
application: each one is a separate pass over the grid. Here each level is one or two passes:

- restriction (``G_ℓ``): ``h_ℓ = g_ℓ ⊙ (K_ℓ ⋆ P h_{ℓ−1})`` — :func:`pool_stencil_gate`
  (``P`` the 2× average pooling with zero padding of odd sides, as ``layers.pool_even``);
- prolongation (``G_ℓᵀ`` and the level sum): ``a_{ℓ−1} = ¼·Pᵀ(K_ℓᵀ ⋆ (g_ℓ ⊙ a_ℓ)) +
  w_{ℓ−1} h_{ℓ−1}`` — :func:`gate_stencil_up_add` (``Pᵀ`` copies each coarse value to its
  children and crops, the exact adjoint of ``P`` up to the ¼ written out);

``⋆`` is the 3×3 cross-correlation with zero padding (``conv2d(x, K, padding=1)``), and
``Kᵀ`` the flipped kernel, its exact adjoint. The same function as the torch path, to float32
rounding (the summation order differs); tests/test_dcdm.py checks both and the adjoints.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True, inline="always")
def _cell(xu: np.ndarray, xr: np.ndarray, xd: np.ndarray, j: int, jl: int, jr: int, cl: float, cr: float,
          k: np.ndarray) -> float:
    """``(k ⋆ x)`` at column ``j`` of a row (``cl``/``cr`` zero the missing left/right column)."""
    s = k[1, 1] * xr[j] + cl * k[1, 0] * xr[jl] + cr * k[1, 2] * xr[jr]
    s += k[0, 1] * xu[j] + cl * k[0, 0] * xu[jl] + cr * k[0, 2] * xu[jr]
    s += k[2, 1] * xd[j] + cl * k[2, 0] * xd[jl] + cr * k[2, 2] * xd[jr]
    return s


@njit(cache=True, nogil=True)
def stencil_gate(x: np.ndarray, k: np.ndarray, g: np.ndarray, out: np.ndarray,
                 gated: bool = True) -> None:
    """``out = g ⊙ (k ⋆ x)`` (``out = k ⋆ x`` if not ``gated``): 3×3 cross-correlation with
    zero padding, then the gate. The interior of each row is a branch-free (vectorizable)
    loop; missing neighbour rows read a zero row, the two edge columns are done apart."""
    n, m = x.shape
    k00, k01, k02 = k[0, 0], k[0, 1], k[0, 2]
    k10, k11, k12 = k[1, 0], k[1, 1], k[1, 2]
    k20, k21, k22 = k[2, 0], k[2, 1], k[2, 2]
    zrow = np.zeros(m, dtype=x.dtype)
    one = x.dtype.type(1.0)
    zero = x.dtype.type(0.0)
    for i in range(n):
        orow = out[i]
        grow = g[i]
        xr = x[i]
        xu = x[i - 1] if i > 0 else zrow
        xd = x[i + 1] if i < n - 1 else zrow
        for j in range(1, m - 1):
            s = (k11 * xr[j] + k10 * xr[j - 1] + k12 * xr[j + 1]
                 + k01 * xu[j] + k00 * xu[j - 1] + k02 * xu[j + 1]
                 + k21 * xd[j] + k20 * xd[j - 1] + k22 * xd[j + 1])
            orow[j] = grow[j] * s if gated else s
        for j in (0, m - 1) if m > 1 else (0, 0):
            s = _cell(xu, xr, xd, j, max(j - 1, 0), min(j + 1, m - 1),
                      one if j > 0 else zero, one if j < m - 1 else zero, k)
            orow[j] = grow[j] * s if gated else s


@njit(cache=True, nogil=True)
def pool_even(x: np.ndarray, out: np.ndarray) -> None:
    """``out = P x``: mean of each 2×2 block after zero-padding odd sides (``layers.pool_even``)."""
    n, m = x.shape
    nc, mc = out.shape
    q = np.float32(0.25)
    for I in range(nc):
        i0 = 2 * I
        i1 = i0 + 1
        for J in range(mc):
            j0 = 2 * J
            j1 = j0 + 1
            s = x[i0, j0]
            if i1 < n:
                s += x[i1, j0]
            if j1 < m:
                s += x[i0, j1]
                if i1 < n:
                    s += x[i1, j1]
            out[I, J] = s * q


@njit(cache=True, nogil=True)
def pool_stencil_gate(x: np.ndarray, k: np.ndarray, g: np.ndarray, tmp: np.ndarray,
                      out: np.ndarray) -> None:
    """``out = g ⊙ (k ⋆ P x)`` (one restriction level); ``tmp`` has the coarse shape."""
    pool_even(x, tmp)
    stencil_gate(tmp, k, g, out)


@njit(cache=True, nogil=True)
def up_add(z: np.ndarray, h: np.ndarray, w: float, out: np.ndarray) -> None:
    """``out = ¼·Pᵀ z + w·h`` on the fine grid of ``h`` (``layers.pool_adjoint`` plus the level sum)."""
    n, m = h.shape
    q = np.float32(0.25)
    wf = np.float32(w)
    half = m // 2
    for i in range(n):
        zr = z[i // 2]
        hr = h[i]
        orow = out[i]
        for jj in range(half):
            zq = zr[jj] * q
            orow[2 * jj] = zq + hr[2 * jj] * wf
            orow[2 * jj + 1] = zq + hr[2 * jj + 1] * wf
        if m % 2:
            orow[m - 1] = zr[half] * q + hr[m - 1] * wf


@njit(cache=True, nogil=True)
def gate_stencil_up_add(a: np.ndarray, g: np.ndarray, kt: np.ndarray, h: np.ndarray, w: float,
                        tmp: np.ndarray, tmp2: np.ndarray, out: np.ndarray) -> None:
    """``out = ¼·Pᵀ(kt ⋆ (g ⊙ a)) + w·h`` (one prolongation level); ``tmp``, ``tmp2`` have the
    coarse shape of ``a``, ``out`` the fine shape of ``h``."""
    n, m = a.shape
    for i in range(n):
        for j in range(m):
            tmp[i, j] = g[i, j] * a[i, j]
    stencil_gate(tmp, kt, g, tmp2, False)
    up_add(tmp2, h, w, out)


@njit(cache=True, nogil=True)
def gate_stencil_gate(a: np.ndarray, g: np.ndarray, kt: np.ndarray, m: np.ndarray, tmp: np.ndarray,
                      out: np.ndarray) -> None:
    """``out = m ⊙ (kt ⋆ (g ⊙ a))`` (the last prolongation step, masked to the fluid cells)."""
    n, mm = a.shape
    for i in range(n):
        for j in range(mm):
            tmp[i, j] = g[i, j] * a[i, j]
    stencil_gate(tmp, kt, m, out)


# ---- 3-D (27-point stencil, 2×2×2 pooling): the same level kernels on (n0, n1, n2) grids ----


@njit(cache=True, nogil=True)
def stencil_gate3(x: np.ndarray, k: np.ndarray, g: np.ndarray, out: np.ndarray,
                  gated: bool = True) -> None:
    """3-D ``out = g ⊙ (k ⋆ x)`` (``k ⋆ x`` if not ``gated``), 3×3×3 cross-correlation with
    zero padding: ``x`` copied into a zero-padded buffer, then per output line nine
    branch-free three-tap passes (3× faster than a branchy or nine-line loop here)."""
    n0, n1, n2 = x.shape
    xp = np.zeros((n0 + 2, n1 + 2, n2 + 2), dtype=x.dtype)
    xp[1:n0 + 1, 1:n1 + 1, 1:n2 + 1] = x
    for i in range(n0):
        for j in range(n1):
            o = out[i, j]
            o[:] = 0.0
            for a in range(3):
                for b in range(3):
                    r = xp[i + a, j + b]
                    k0, k1, k2 = k[a, b, 0], k[a, b, 1], k[a, b, 2]
                    for t in range(n2):
                        o[t] += k0 * r[t] + k1 * r[t + 1] + k2 * r[t + 2]
            if gated:
                gl = g[i, j]
                for t in range(n2):
                    o[t] *= gl[t]


@njit(cache=True, nogil=True)
def pool_even3(x: np.ndarray, out: np.ndarray) -> None:
    """3-D ``out = P x``: mean of each 2×2×2 block after zero-padding odd sides."""
    n0, n1, n2 = x.shape
    c0, c1, c2 = out.shape
    q = np.float32(0.125)
    for I in range(c0):
        for J in range(c1):
            for K in range(c2):
                s = x.dtype.type(0.0)
                for a in range(2):
                    i = 2 * I + a
                    if i >= n0:
                        continue
                    for b in range(2):
                        j = 2 * J + b
                        if j >= n1:
                            continue
                        for c in range(2):
                            t = 2 * K + c
                            if t < n2:
                                s += x[i, j, t]
                out[I, J, K] = s * q


@njit(cache=True, nogil=True)
def up_add3(z: np.ndarray, h: np.ndarray, w: float, out: np.ndarray) -> None:
    """3-D ``out = ⅛·Pᵀ z + w·h`` on the fine grid of ``h``."""
    n0, n1, n2 = h.shape
    q = np.float32(0.125)
    wf = np.float32(w)
    for i in range(n0):
        for j in range(n1):
            zr = z[i // 2, j // 2]
            hr = h[i, j]
            o = out[i, j]
            for t in range(n2):
                o[t] = zr[t // 2] * q + hr[t] * wf


@njit(cache=True, nogil=True)
def pool_stencil_gate3(x: np.ndarray, k: np.ndarray, g: np.ndarray, tmp: np.ndarray,
                       out: np.ndarray) -> None:
    """3-D restriction level ``out = g ⊙ (k ⋆ P x)``."""
    pool_even3(x, tmp)
    stencil_gate3(tmp, k, g, out)


@njit(cache=True, nogil=True)
def gate_stencil_up_add3(a: np.ndarray, g: np.ndarray, kt: np.ndarray, h: np.ndarray, w: float,
                         tmp: np.ndarray, tmp2: np.ndarray, out: np.ndarray) -> None:
    """3-D prolongation level ``out = ⅛·Pᵀ(kt ⋆ (g ⊙ a)) + w·h``."""
    np.multiply(g, a, tmp)
    stencil_gate3(tmp, kt, g, tmp2, False)
    up_add3(tmp2, h, w, out)


@njit(cache=True, nogil=True)
def gate_stencil_gate3(a: np.ndarray, g: np.ndarray, kt: np.ndarray, m: np.ndarray, tmp: np.ndarray,
                       out: np.ndarray) -> None:
    """3-D last prolongation step ``out = m ⊙ (kt ⋆ (g ⊙ a))``."""
    np.multiply(g, a, tmp)
    stencil_gate3(tmp, kt, m, out)
