"""Numba kernels: incomplete Cholesky IC(0) and its triangular solves.

IC(0) (Meijerink & van der Vorst 1977; Saad, *Iterative Methods for Sparse Linear Systems*,
2nd ed., Algorithm 10.4 restricted to the symmetric case): ``A ≈ L Lᵀ`` with ``L`` keeping the
sparsity pattern of the lower triangle of ``A``. Row ``i`` of ``L`` is computed from
``L_ik = (a_ik − Σ_{j<k} L_ij L_kj) / L_kk`` and ``L_ii = sqrt(a_ii − Σ_{j<i} L_ij²)``.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def ic0_factor(indptr: np.ndarray, indices: np.ndarray, data: np.ndarray, shift: float) -> np.ndarray:
    """Values of ``L`` on the pattern of ``tril(A)`` (CSR, sorted columns, diagonal last in
    each row), factoring ``A + shift·diag(A)``. Returns an empty array on breakdown
    (a non-positive pivot), so the caller can retry with a larger shift."""
    n = indptr.size - 1
    L = data.copy()
    for i in range(n):
        start, end = indptr[i], indptr[i + 1]
        for p in range(start, end):
            k = indices[p]
            # s = Σ_{j<k} L_ij L_kj : merge the sorted rows i and k over columns < k
            s = 0.0
            a, b = start, indptr[k]
            bend = indptr[k + 1]
            while a < p and b < bend:
                ca, cb = indices[a], indices[b]
                if cb >= k:
                    break
                if ca == cb:
                    s += L[a] * L[b]
                    a += 1
                    b += 1
                elif ca < cb:
                    a += 1
                else:
                    b += 1
            if k < i:
                L[p] = (L[p] - s) / L[indptr[k + 1] - 1]
            else:
                d = L[p] * (1.0 + shift) - s
                if not d > 0.0:
                    return np.empty(0)
                L[p] = np.sqrt(d)
    return L


@njit(cache=True, nogil=True)
def ic0_solve(indptr: np.ndarray, indices: np.ndarray, L: np.ndarray, r: np.ndarray) -> np.ndarray:
    """``z = (L Lᵀ)⁻¹ r``: forward substitution with ``L``, then backward with ``Lᵀ``
    (column-oriented over the rows of ``L``)."""
    n = r.size
    y = r.copy()
    for i in range(n):
        s = y[i]
        end = indptr[i + 1] - 1
        for p in range(indptr[i], end):
            s -= L[p] * y[indices[p]]
        y[i] = s / L[end]
    for i in range(n - 1, -1, -1):
        end = indptr[i + 1] - 1
        y[i] /= L[end]
        zi = y[i]
        for p in range(indptr[i], end):
            y[indices[p]] -= L[p] * zi
    return y
